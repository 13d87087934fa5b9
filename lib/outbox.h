/*
 * outbox.h - mail waiting to be sent.  A row is written in the transaction
 * of the change that caused it (so a ticket change and its mail are never
 * out of step); sender.c sends it after the commit.  This module only
 * queues: outbox_enqueue() and the auto-response rate-limit lookup, both
 * pipelined in the caller's transaction.
 *
 * Memory: nothing is kept; item's strings and raw are read during the call
 * (libpq copies them).  Errors: an enum db_status with the reason in
 * *error_r; in pipeline mode a statement's error comes with the next sync.
 */
#ifndef TICKETD_OUTBOX_H
#define TICKETD_OUTBOX_H

#include <glib.h>
#include <stdbool.h>

#include "db.h"

struct outbox_item {
	long long ticket_id;
	long long message_id;      /* the messages row of this mail */
	bool message_is_last;      /* or the one this connection inserted last */
	const char *kind;          /* "auto-response", ... */
	const char *envelope_from; /* "" for the null sender */
	const char *recipient;
	const GByteArray *raw; /* the whole message, CRLF */
	const char *now;
};

/* Prepares the statements below (before pipeline mode begins). */
enum db_status outbox_prepare(struct db *db, char **error_r);
/* Queued (db_send): in pipeline mode an error comes with the next sync. */
enum db_status outbox_enqueue(struct db *db, const struct outbox_item *item, char **error_r);
/* How many auto-responses went to recipient at or after since: pipelined,
 * read with outbox_count_result() after db_sync(). */
enum db_status outbox_ask_autoresponses_since(struct db *db, const char *recipient,
					      const char *since, int *handle_r, char **error_r);
long long outbox_count_result(struct db *db, int handle);

#endif
