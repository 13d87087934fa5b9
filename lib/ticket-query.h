/*
 * ticket-query.h - what ticketctl reads: listings of tickets and of failed
 * messages, and one ticket with its cc, tags, messages and events (DESIGN
 * §5).  Reads only; ticket.c is the one writer of tickets.
 *
 * Every result is a format.h table or record with the field names of
 * DESIGN §5's JSON, times as ISO 8601 UTC, so format.c can print it as a
 * table, JSON or CSV without knowing what a ticket is.
 *
 * Memory: the caller frees results with format_table_free() or
 * format_record_free().  Errors: enum db_status, the reason in *error_r
 * (g_free); DB_ERR_CONNECTION when the database went away.
 */
#ifndef TICKETD_TICKET_QUERY_H
#define TICKETD_TICKET_QUERY_H

#include "db.h"
#include "format.h"
#include "staff.h"

struct ticket_filter {
	const char *queue; /* NULL: every queue */
	bool all;          /* include resolved and closed tickets */
	long long limit;   /* at most this many; -1: no limit */
	/* Only what this member may see (staff_viewer_for); NULL: everything. */
	const struct staff_viewer *viewer;
};

/* Tickets by priority (highest first), then id. */
enum db_status ticket_query_list(struct db *db, const struct ticket_filter *filter,
				 struct format_table **table_r, char **error_r);
/* Ticket id with its children; *record_r is NULL (and DB_OK returned) when
 * there is no such ticket, or viewer (NULL: everything) may not see it:
 * the two are not told apart, so its existence is not revealed.
 *
 * Each message has the nests "signature" (its own: status, fingerprint;
 * null when unsigned) and "secure_parts" (the metadata of its decrypted
 * sections: section, part, kind, filename, content_type, size, sig_status,
 * sig_fingerprint).  The plaintext is not even selected unless flags has
 * TICKET_SHOW_DECRYPT: then each secure part has "content" too, UTF-8 text
 * for a text part or a text/... attachment that is valid UTF-8, else
 * base64, as "content_encoding" says ("utf-8" or "base64").  Recording
 * that it was read (the decrypt-viewed event) is the caller's. */
#define TICKET_SHOW_DECRYPT 1u
enum db_status ticket_query_show(struct db *db, long long id, const struct staff_viewer *viewer,
				 unsigned flags, struct format_record **record_r, char **error_r);
/* What a ticket_query_show() record holds of secure parts, for its event:
 * "message 12: sections 1,2; message 14: section 1" (newly allocated), or
 * NULL when none. */
char *ticket_query_sections_text(const struct format_record *record);

/* A stored incoming message with its raw copy (ticketctl decrypt-retry). */
struct ticket_incoming {
	long long message_id;
	long long raw_id;
	GArray *sections; /* unsigned: the sections it has secure parts of */
};
/* Ticket id's incoming messages that have a raw copy, oldest first: a new
 * GArray of struct ticket_incoming (g_array_unref frees their members).
 * lock (inside a transaction): their rows are locked FOR UPDATE until it
 * ends, so that two retries do not both add the same section. */
enum db_status ticket_query_incoming(struct db *db, long long id, bool lock, GArray **incoming_r,
				     char **error_r);
bool ticket_incoming_has(const struct ticket_incoming *in, unsigned section);
/* The raw bytes of raw_messages row raw_id (*raw_r NULL when there is no
 * such row). */
enum db_status ticket_query_raw(struct db *db, long long raw_id, GBytes **raw_r, char **error_r);
/* Raw messages that could not be parsed, with the reason. */
enum db_status ticket_query_failed(struct db *db, struct format_table **table_r, char **error_r);

#endif
