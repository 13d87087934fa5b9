/*
 * ticket-message.h - the messages stored on a ticket (DESIGN §1: append-only,
 * never edited once stored) and their attachments.  Nobody else writes the
 * messages and attachments tables, except mailout.c, whose one statement
 * writes an outgoing mail's message row together with its outbox row.
 *
 * Writes and lookups are pipelined (db_send) in the caller's transaction;
 * in pipeline mode their errors come with the next synchronous call.  They
 * return an enum db_status with the reason in *error_r.  The lookups' answers
 * are read after db_sync() with ticket_get_result()/ticket_id_result().
 */
#ifndef TICKETD_TICKET_MESSAGE_H
#define TICKETD_TICKET_MESSAGE_H

#include <glib.h>
#include <stdbool.h>

#include "db.h"
#include "ticket.h"

struct secure_part;

struct ticket_message {
	long long ticket_id;
	long long raw_id;      /* its raw_messages row, 0: none */
	const char *direction; /* "in" | "out" */
	enum message_kind kind;
	const char *message_id;
	const char *in_reply_to;
	GPtrArray *references; /* char *, may be NULL */
	const char *from_addr, *from_name;
	const char *to_addrs, *cc_addrs;
	const char *subject;
	const char *body;
	GPtrArray *attachments; /* struct mail_attachment *, may be NULL */
	/* incoming mail (secure.h): its signature ("good" ... NULL: unsigned)
	 * and its decrypted sections (struct secure_part *, may be NULL) */
	const char *sig_status, *sig_fingerprint;
	GPtrArray *secure_parts;
	const char *now;
};

enum db_status ticket_message_prepare(struct db *db, char **error_r);

/* Stores the message and its attachments (those over 1 MiB by streamed
 * COPY, which leaves the pipeline for a moment). */
enum db_status ticket_message_add(struct db *db, const struct ticket_message *m, char **error_r);

/* One secure part of the stored message message_id, unless that message
 * has it already (ticketctl decrypt-retry adds what is missing; messages
 * are never edited).  part: struct secure_part * (secure.h). */
enum db_status ticket_message_add_secure(struct db *db, long long message_id,
					 const struct secure_part *part, const char *now,
					 char **error_r);

/* The newest ticket holding a message with one of these Message-IDs
 * (read with ticket_get_result()). */
enum db_status ticket_message_ask_by_ids(struct db *db, GPtrArray *msgids, int *handle_r,
					 char **error_r);
/* The ticket that already holds an incoming message with this Message-ID
 * from this sender and with this text: a second copy of one delivery, e.g.
 * To support@ and Cc billing@ (read with ticket_id_result()). */
enum db_status ticket_message_ask_incoming_copy(struct db *db, const char *message_id,
						const char *from_addr, const char *body,
						int *handle_r, char **error_r);

/* The customer's latest message on the ticket: what an answer quotes and
 * threads to (read with ticket_message_last_result()). */
enum db_status ticket_message_ask_last_customer(struct db *db, long long ticket_id, int *handle_r,
						char **error_r);
struct ticket_message_ref {
	char *message_id;      /* NULL when it had none */
	GPtrArray *references; /* char *, oldest first */
	char *body;
};
/* false when the ticket holds no customer message. */
bool ticket_message_last_result(struct db *db, int handle, struct ticket_message_ref *ref);
void ticket_message_ref_clear(struct ticket_message_ref *ref);
/* The References of a stored message, from array_to_string(refs, ' '):
 * a new array of char *. */
GPtrArray *ticket_message_refs_parse(const char *text);

#endif
