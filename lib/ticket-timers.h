/*
 * ticket-timers.h - the timers' writes to tickets (DESIGN §4): what
 * timers.c decides, applied to a set of tickets per statement.  Like every
 * writer of tickets, they run in the caller's transaction, write an event
 * for each change (actor "ticketd"), and return an enum db_status with the
 * reason in *error_r.  Times are ISO 8601 text, the sweep's "now".
 *
 * Three columns (sql/007_timers.sql) carry a ticket's escalation clock:
 * ticket_change() starts, stops and rebases it, these functions read and
 * advance it.  The sweeps lock what they take with SKIP LOCKED: a ticket
 * another transaction is changing waits for the next sweep instead of
 * making either wait (so neither deadlocks).
 */
#ifndef TICKETD_TICKET_TIMERS_H
#define TICKETD_TICKET_TIMERS_H

#include <glib.h>
#include <time.h>

#include "db.h"
#include "ticket.h"

/* A time that never comes ('infinity' in the database). */
#define TICKET_NEVER ((time_t)G_MAXINT64)

enum db_status ticket_timers_prepare(struct db *db, char **error_r);

/* Stamps queue ids[i] with stamps[i] (its escalation rules as text, NULL:
 * none); the open tickets of every queue whose stamp changed are due for a
 * new look, so that a reload's rules apply from the next sweep. */
enum db_status ticket_escalation_stamp(struct db *db, const int *ids, char *const *stamps, size_t n,
				       char **error_r);

/* An open ticket whose escalation is due. */
struct ticket_due {
	struct ticket_info info;
	int base;    /* the priority its clock grows from */
	time_t from; /* the oldest customer message no answer has followed */
};

/* Up to limit due tickets (escalate_next at or before now), locked, into
 * *due_r (struct ticket_due; free with ticket_due_free()). */
enum db_status ticket_escalation_due(struct db *db, const char *now, int limit, GArray **due_r,
				     char **error_r);
void ticket_due_free(GArray **due);

/* What the sweep computed for one due ticket. */
struct ticket_escalation {
	long long id;
	int old_priority, base, priority;
	time_t next; /* the next look, TICKET_NEVER: never */
};

/* Writes each ticket's priority and next look, and a "priority" event for
 * every priority that changed (updated too). */
enum db_status ticket_escalate(struct db *db, const struct ticket_escalation *e, size_t n,
			       const char *now, char **error_r);

/* A ticket the auto-close closed, with what its closed-ticket response
 * needs. */
struct ticket_closed {
	struct ticket_info info;
	char *thread_id;         /* the latest message the customer saw, or NULL */
	GPtrArray *thread_refs;  /* its References (char *) */
	bool customer_wrote;     /* the customer's latest mail was not automatic */
	long long autoresponses; /* to the requestor since the rate limit's start */
};

/* Closes up to limit answered tickets of queue ids[i] last answered at or
 * before cutoffs[i] (status event answered → closed), into *closed_r
 * (struct ticket_closed *; free with ticket_closed_free()).  since: the
 * start of the auto-response rate limit's period. */
enum db_status ticket_autoclose(struct db *db, const int *ids, const char *const *cutoffs, size_t n,
				const char *now, const char *since, int limit, GPtrArray **closed_r,
				char **error_r);
void ticket_closed_free(GPtrArray **closed);

#endif
