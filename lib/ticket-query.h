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
 * the two are not told apart, so its existence is not revealed. */
enum db_status ticket_query_show(struct db *db, long long id, const struct staff_viewer *viewer,
				 struct format_record **record_r, char **error_r);
/* Raw messages that could not be parsed, with the reason. */
enum db_status ticket_query_failed(struct db *db, struct format_table **table_r, char **error_r);

#endif
