/*
 * outbox.h - mail waiting to be sent.  A row is written in the transaction
 * of the change that caused it (so a ticket change and its mail are never
 * out of step) and delivered after the commit by outbox_deliver(), which
 * leases a few due rows at a time (FOR UPDATE SKIP LOCKED, then
 * leased_until/leased_by: several daemons and senders may share one
 * database), records each outcome in its own small transaction pipelined
 * without waiting, retries temporary failures with exponential backoff and
 * records permanent ones on the ticket as an event.
 *
 * Functions return an enum db_status with the reason in *error_r.
 */
#ifndef TICKETD_OUTBOX_H
#define TICKETD_OUTBOX_H

#include <glib.h>
#include <stdbool.h>
#include <time.h>

#include "db.h"
#include "util.h"
#include "transport.h"

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

struct outbox_stats {
	unsigned sent, deferred, failed;
};

enum db_status outbox_prepare(struct db *db, char **error_r);
/* Queued (db_send): in pipeline mode an error comes with the next sync. */
enum db_status outbox_enqueue(struct db *db, const struct outbox_item *item, char **error_r);
/* How many auto-responses went to recipient at or after since: pipelined,
 * read with outbox_count_result() after db_sync(). */
enum db_status outbox_ask_autoresponses_since(struct db *db, const char *recipient,
					      const char *since, int *handle_r, char **error_r);
long long outbox_count_result(struct db *db, int handle);
/* A sender leases this many due rows at a time, for this long (seconds):
 * after a crash of ticketd, the rows it had leased wait at most that
 * long to be sent by the next run. */
#define OUTBOX_LEASE_ROWS 32
#define OUTBOX_LEASE      300

/* Sends every row that is due at now, each outcome in its own transaction
 * (a crash resends at most the one in flight); stops early when *stop
 * becomes true. */
enum db_status outbox_deliver(struct db *db, struct transport *tr, time_t now,
			      volatile const int *stop, struct outbox_stats *stats, char **error_r);

/* Seconds to wait after the attempts-th failed attempt (1, 2, ...). */
long outbox_backoff(int attempts);
/* Attempts after which a temporary failure becomes permanent. */
#define OUTBOX_MAX_ATTEMPTS 12

#endif
