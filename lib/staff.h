/*
 * staff.h - the database side of staff: the config's staff mirrored into
 * the staff and staff_queues tables, the least-loaded choice of assignee
 * (DESIGN §4) and who may see which tickets (DESIGN §1).
 *
 * staff_sync() inserts or updates a row per configured member (by login)
 * and fills ids[i] for cfg->staff[i]; a member gone from the config is
 * marked active = false, never deleted (tickets and events name it).  It
 * reads first: when nothing changed, nothing is written.
 *
 * Auto-assignment, pipelined: staff_ask_assign_lock() then
 * staff_ask_least_loaded(), db_sync(), staff_least_loaded_result().  The
 * lock is transaction-level and per queue, so two daemons assigning in one
 * queue at once take turns: the second asks after the first committed and
 * counts its assignment.  The statements must be prepared with
 * staff_prepare() before pipeline mode begins.
 *
 * "Waited longest" is read from the events: an assignment is an event of
 * type 'assign' whose new value is the assignee's login (ticket.c writes
 * it), so no second record of it can drift from the history.
 *
 * staff_viewer_for() is a pure decision over the config (no database).
 *
 * Memory: a viewer's strings point into the config, its queues array is
 * freed with staff_viewer_clear().  Errors: enum db_status or int 0/-1,
 * the reason in *error_r (g_free).
 */
#ifndef TICKETD_STAFF_H
#define TICKETD_STAFF_H

#include "config.h"
#include "db.h"

/* Statements of this module, prepared once per connection. */
enum db_status staff_prepare(struct db *db, char **error_r);

/* queue_ids is queue_sync()'s result (parallel to cfg->queues); ids gets a
 * staff row id per cfg->staff[i]. */
enum db_status staff_sync(struct db *db, const struct ticketd_config *cfg, const int *queue_ids,
			  int *ids, char **error_r);

/* Pipelines pg_advisory_xact_lock for queue_id's assignments: taken inside
 * the caller's transaction, held until it ends.  Ask it before
 * staff_ask_least_loaded() in the same transaction. */
enum db_status staff_ask_assign_lock(struct db *db, int queue_id, char **error_r);
/* Pipelines the question: the active, available member entitled to
 * queue_id with the fewest open (not resolved or closed) assigned tickets
 * in any queue; ties go to the one whose latest assignment is oldest
 * (never assigned first), then to the first login. */
enum db_status staff_ask_least_loaded(struct db *db, int queue_id, int *handle_r, char **error_r);
/* After the sync: 1 and *staff_id_r, or 0 when nobody is available. */
int staff_least_loaded_result(struct db *db, int handle, int *staff_id_r);

/* Who looks at the tickets (ticketctl --as). */
struct staff_viewer {
	const char *login;
	bool admin;
	/* For an admin: the queues it sees whole, its own and the default one
	 * (NULL-terminated, duplicates removed).  NULL for support. */
	const char **queues;
};
/* The viewer for login; -1 with the reason when no member has it. */
int staff_viewer_for(const struct ticketd_config *cfg, const char *login,
		     struct staff_viewer *viewer_r, char **error_r);
void staff_viewer_clear(struct staff_viewer *viewer);

#endif
