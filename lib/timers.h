/*
 * timers.h - escalation and auto-close (DESIGN §4, issue 17).
 *
 * Escalation: an open ticket (new, assigned, reopened) that no answer has
 * followed since the customer wrote grows from its base priority by the
 * queue's escalation.step for every full escalation.every since the oldest
 * such customer message, up to escalation.max (and 99).  ticket_change()
 * keeps the clock: an answer, on-hold, resolved or closed stops it, the
 * next customer message starts it again from the priority of the moment,
 * a manual priority change is the new base.  Crossing escalation.notify_at
 * sends one escalation notice (notify.h).
 *
 * Auto-close: per queue autoclose, 0 closes an answered ticket at the next
 * sweep (the cycle of its answer), a duration closes it once the answer is
 * that old with no customer mail since (a customer's reply makes it
 * assigned or reopened, no longer answered), -1 never.  Closing sends the
 * queue's closed-ticket auto-response (closed_response), with the RFC 3834
 * policy and rate limit of autoresponse.h.
 *
 * The arithmetic is pure (below); timers_sweep() applies it at now, the
 * cycle's time and never the clock, through ticket-timers.h: a handful of
 * statements over the due tickets, one transaction, under an advisory lock
 * so that two daemons on one database never sweep at once.  A sweep at the
 * same now as the last changes nothing.
 */
#ifndef TICKETD_TIMERS_H
#define TICKETD_TIMERS_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "ticket-timers.h"

/* The priority at now of a ticket of queue q whose clock started at from
 * with base; *next_r: when it would change next, TICKET_NEVER when it
 * cannot grow any more (or q has no escalation: then base is returned). */
int timers_priority(const struct config_queue *q, int base, time_t from, time_t now,
		    time_t *next_r);

/* Whether growing from old to new reaches q's escalation.notify_at. */
bool timers_notice_due(const struct config_queue *q, int old_priority, int new_priority);

/* The latest answer that auto-close closes at now; false: q never closes. */
bool timers_close_cutoff(const struct config_queue *q, time_t now, time_t *cutoff_r);

/* q's escalation rules as stamped on its row of the queues table
 * ("3600/5/99"), NULL when it has none; newly allocated. */
char *timers_escalation_stamp(const struct config_queue *q);

/* Whether a ticket auto-close closed gets the closed-ticket response:
 * the queue sends it, the requestor's latest mail on the ticket was not
 * automatic, and recent responses to them are within the rate limit. */
bool timers_closed_response(const struct ticketd_config *cfg, const struct config_queue *q,
			    bool customer_wrote, long long recent);

struct timers_stats {
	unsigned looked;    /* due tickets looked at */
	unsigned escalated; /* priorities raised */
	unsigned notices;   /* escalation notices written */
	unsigned closed;
	unsigned responses; /* closed-ticket responses written */
	bool skipped;       /* another daemon held the timers' lock */
};

/* One sweep at now: queue_ids[i] is cfg->queues[i]'s row, staff_ids[i]
 * cfg->staff[i]'s.  The caller is not in a transaction. */
enum db_status timers_sweep(struct db *db, const struct ticketd_config *cfg, const int *queue_ids,
			    time_t now, struct timers_stats *stats, char **error_r);

#endif
