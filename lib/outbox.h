/*
 * outbox.h - mail waiting to be sent.  A row is written in the transaction
 * of the change that caused it (so a ticket change and its mail are never
 * out of step), by mailout.c's one statement together with the mail's
 * message row; sender.c sends it after the commit.  This module answers
 * what the outbox knows: the auto-response rate limit's count, pipelined in
 * the caller's transaction.
 *
 * Errors: an enum db_status with the reason in *error_r; in pipeline mode a
 * statement's error comes with the next sync.
 */
#ifndef TICKETD_OUTBOX_H
#define TICKETD_OUTBOX_H

#include "db.h"

/* Prepares the statements below (before pipeline mode begins). */
enum db_status outbox_prepare(struct db *db, char **error_r);
/* How many auto-responses went to recipient at or after since: pipelined,
 * read with outbox_count_result() after db_sync(). */
enum db_status outbox_ask_autoresponses_since(struct db *db, const char *recipient,
					      const char *since, int *handle_r, char **error_r);
long long outbox_count_result(struct db *db, int handle);

#endif
