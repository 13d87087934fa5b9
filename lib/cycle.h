/*
 * cycle.h - one cycle of the daemon (DESIGN §2): every mailbox, each under
 * its advisory lock and with its own health (a mailbox that failed waits a
 * growing pause while the others go on), then the timers (escalation,
 * auto-close: timers.h), then the senders.  `ticketd --once`
 * is one cycle; the daemon runs one per poll interval.
 *
 * The health of the mailboxes lives in struct cycle from one cycle to the
 * next.  The cycle logs what it did and what failed; its result says what
 * the caller must do about it.
 */
#ifndef TICKETD_CYCLE_H
#define TICKETD_CYCLE_H

#include <time.h>

#include "config.h"
#include "db.h"

enum cycle_result {
	CYCLE_OK,
	CYCLE_DB_LOST,        /* the database connection broke: reconnect */
	CYCLE_CONFIG_REFUSED, /* the database refuses this config (a queue with
				  tickets gone from it): nothing was taken */
};

struct cycle;

/* stop: set (by SIGTERM) to finish the message in hand and end the cycle. */
struct cycle *cycle_new(volatile const int *stop);
void cycle_free(struct cycle **cycle);

/* One cycle at now (the cycle's time: DESIGN §2, time is an input). */
enum cycle_result cycle_run(struct cycle *cycle, struct db *db, const struct ticketd_config *cfg,
			    time_t now);

#endif
