/*
 * sender.h - sends what the outbox holds (DESIGN §2: sender ──SMTP──▶
 * world).  sender_run_all() is the daemon cycle's one call: it runs
 * transport.sessions senders at once, the first on the caller's database
 * connection, the others in threads, each with its own database connection
 * and transport session.  A sender leases a few due rows at a time (FOR
 * UPDATE SKIP LOCKED, then leased_until/leased_by: several senders and
 * daemons may share one database), sends each, records its outcome,
 * retries temporary failures with exponential backoff and records permanent
 * ones on the ticket as an event.  Each outcome is its own transaction,
 * committed (durably, as the server's synchronous_commit says) before the
 * same sender's next mail can be delivered (struct transport_hook): a crash
 * of ticketd resends at most one mail per sender, the one in flight.
 *
 * Memory: nothing returned needs freeing but *error_r (g_free).  Errors: an
 * enum db_status with the reason in *error_r; a mail's own failure is its
 * outcome (deferred or failed), logged with outbox= and to=, not an error.
 */
#ifndef TICKETD_SENDER_H
#define TICKETD_SENDER_H

#include <time.h>

#include "config.h"
#include "db.h"
#include "transport.h"

struct sender_stats {
	unsigned sent, deferred, failed;
};

/* A sender leases this many due rows at a time, for this long (seconds):
 * after a crash of ticketd, the rows it had leased wait at most that
 * long to be sent by the next run (at once when its database session is
 * gone, as it is after a kill). */
#define SENDER_LEASE_ROWS 32
#define SENDER_LEASE      300
/* Attempts after which a temporary failure becomes permanent. */
#define SENDER_MAX_ATTEMPTS 12

/* Seconds to wait after the attempts-th failed attempt (1, 2, ...): 60 s,
 * doubling, at most 4 hours. */
long sender_backoff(int attempts);

/* Prepares the sender's statements (before pipeline mode begins). */
enum db_status sender_prepare(struct db *db, char **error_r);

/* One sender on db and tr: sends every row that is due at now; stops early
 * when *stop (may be NULL) becomes true. */
enum db_status sender_deliver(struct db *db, struct transport *tr, time_t now,
			      volatile const int *stop, struct sender_stats *stats, char **error_r);

/* Every sender of cfg->transport (sessions of them) until nothing is due
 * or *stop; *stats gets the sum.  Returns DB_OK, or the main sender's
 * status: DB_ERR_CONNECTION when db, the caller's connection, was lost
 * (reconnect), DB_ERR_FAILED for anything else (the transport could not be
 * opened, a statement failed), with the reason in *error_r.  The other
 * senders' errors are logged: they have nobody else to tell. */
enum db_status sender_run_all(struct db *db, const struct ticketd_config *cfg, time_t now,
			      volatile const int *stop, struct sender_stats *stats, char **error_r);

#endif
