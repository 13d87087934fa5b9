/*
 * timers.c - the escalation and auto-close arithmetic, and the sweep that
 * applies it at the cycle's now.
 */
#include "timers.h"
#include "autoresponse.h"
#include "mailout.h"
#include "notify.h"
#include "util.h"

#include <string.h>

/* First key of the timers' two-key advisory lock ("tdtm"); the second is
 * 0.  The two-key form is a lock space apart from the one-key locks of
 * intake and migrations. */
#define TIMERS_LOCK_CLASS "1952740461"

/* Due tickets looked at, and answered tickets closed, per statement: a
 * bound on what one statement locks and returns (the sweep goes on with
 * the next batch until one comes back short). */
#define TIMERS_BATCH 5000

static int cap_of(const struct config_queue *q)
{
	return q->escalation_max < 99 ? q->escalation_max : 99;
}

int timers_priority(const struct config_queue *q, int base, time_t from, time_t now, time_t *next_r)
{
	long long periods, grown;
	int cap;

	*next_r = TICKET_NEVER;
	if (q == NULL || q->escalation_every <= 0)
		return base;
	cap = cap_of(q);
	if (base >= cap)
		return base; /* escalation never lowers a priority */
	periods = now > from ? (long long)(now - from) / q->escalation_every : 0;
	grown = (long long)base + periods * q->escalation_step;
	if (grown >= cap)
		return cap;
	*next_r = from + (time_t)((periods + 1) * q->escalation_every);
	return (int)grown;
}

bool timers_notice_due(const struct config_queue *q, int old_priority, int new_priority)
{
	return q != NULL && q->escalation_every > 0 && q->escalation_notify_at > 0 &&
	       old_priority < q->escalation_notify_at && new_priority >= q->escalation_notify_at;
}

bool timers_close_cutoff(const struct config_queue *q, time_t now, time_t *cutoff_r)
{
	if (q->autoclose < 0)
		return false;
	*cutoff_r = now - q->autoclose;
	return true;
}

char *timers_escalation_stamp(const struct config_queue *q)
{
	if (q->escalation_every <= 0)
		return NULL;
	return g_strdup_printf("%ld/%d/%d", q->escalation_every, q->escalation_step, cap_of(q));
}

bool timers_closed_response(const struct ticketd_config *cfg, const struct config_queue *q,
			    bool customer_wrote, long long recent)
{
	return q->closed_response && customer_wrote && autoresponse_within_limit(cfg, recent);
}

/* The sweep's state. */
struct sweep {
	struct db *db;
	const struct ticketd_config *cfg;
	const int *queue_ids;
	time_t now;
	char nowtext[32];
	struct timers_stats *stats;
};

static const struct config_queue *queue_of(const struct sweep *w, int id)
{
	for (size_t i = 0; i < w->cfg->queue_count; i++)
		if (w->queue_ids[i] == id)
			return &w->cfg->queues[i];
	return NULL; /* a queue of another daemon's config: no rules here */
}

/* The mail about ticket t of queue q that both kinds of timer mail start
 * from. */
static void mail_base(const struct sweep *w, const struct config_queue *q,
		      const struct ticket_info *t, struct mailout *m)
{
	const struct config_staff *assignee = config_staff_by_login(w->cfg, t->assignee, NULL);

	*m = (struct mailout){
		.cfg = w->cfg,
		.queue = q,
		.ticket_id = t->id,
		.ticket_subject = t->subject,
		.ticket_status = t->status,
		.ticket_priority = t->priority,
		.requestor_addr = t->requestor,
		.requestor_name = t->requestor_name,
		.assignee = assignee != NULL ? assignee->name : NULL,
		.requestor_tickets = "(not listed)",
		.now = w->now,
	};
}

static enum db_status notice(struct sweep *w, const struct config_queue *q,
			     const struct ticket_info *t, int priority, char **error_r)
{
	struct notify_target targets[NOTIFY_MAX];
	size_t n = notify_targets(w->cfg, q, NOTIFY_ESCALATION, t->assignee, NULL, targets);
	struct mailout m;
	unsigned count = 0;
	enum db_status st;

	mail_base(w, q, t, &m);
	m.ticket_priority = priority;
	st = notify_write(w->db, &m, NOTIFY_ESCALATION, targets, n, &count, error_r);
	w->stats->notices += count;
	return st;
}

/* One batch of due tickets; *more_r: the batch was full. */
static enum db_status escalate_batch(struct sweep *w, bool *more_r, char **error_r)
{
	GArray *due = NULL;
	struct ticket_escalation *e;
	enum db_status st;

	*more_r = false;
	st = ticket_escalation_due(w->db, w->nowtext, TIMERS_BATCH, &due, error_r);
	if (st != DB_OK || due->len == 0) {
		ticket_due_free(&due);
		return st;
	}
	e = g_new0(struct ticket_escalation, due->len);
	for (guint i = 0; i < due->len; i++) {
		const struct ticket_due *d = &g_array_index(due, struct ticket_due, i);
		const struct config_queue *q = queue_of(w, d->info.queue_id);

		e[i].id = d->info.id;
		e[i].old_priority = d->info.priority;
		e[i].base = d->base;
		if (q != NULL && q->escalation_every > 0)
			e[i].priority = timers_priority(q, d->base, d->from, w->now, &e[i].next);
		else { /* no rules: left as it is until a reload brings some */
			e[i].priority = d->info.priority;
			e[i].next = TICKET_NEVER;
		}
		if (e[i].priority != e[i].old_priority)
			w->stats->escalated++;
	}
	w->stats->looked += due->len;
	st = ticket_escalate(w->db, e, due->len, w->nowtext, error_r);
	for (guint i = 0; i < due->len && st == DB_OK; i++) {
		const struct ticket_due *d = &g_array_index(due, struct ticket_due, i);
		const struct config_queue *q = queue_of(w, d->info.queue_id);

		if (timers_notice_due(q, e[i].old_priority, e[i].priority))
			st = notice(w, q, &d->info, e[i].priority, error_r);
	}
	if (st == DB_OK)
		st = db_sync(w->db, error_r);
	*more_r = due->len == TIMERS_BATCH;
	g_free(e);
	ticket_due_free(&due);
	return st;
}

/* The closed-ticket response to one ticket auto-close closed. */
static enum db_status closed_response(struct sweep *w, const struct ticket_closed *c,
				      GHashTable *sent, char **error_r)
{
	const struct config_queue *q = queue_of(w, c->info.queue_id);
	long long recent =
		c->autoresponses + GPOINTER_TO_INT(g_hash_table_lookup(sent, c->info.requestor));
	struct mailout m;
	bool written = false;
	enum db_status st;

	if (q == NULL || !timers_closed_response(w->cfg, q, c->customer_wrote, recent))
		return DB_OK;
	mail_base(w, q, &c->info, &m);
	m.template = TEMPLATE_CLOSED;
	m.kind = MESSAGE_AUTO_RESPONSE;
	m.automatic = true;
	m.to_addr = c->info.requestor;
	m.to_name = c->info.requestor_name;
	m.thread_id = c->thread_id;
	m.thread_refs = c->thread_refs;
	st = mailout_write(w->db, &m, &written, error_r);
	if (written) {
		w->stats->responses++;
		/* the rate limit's count in the database does not see this
		 * sweep's own responses yet */
		g_hash_table_insert(sent, c->info.requestor,
				    GINT_TO_POINTER(recent - c->autoresponses + 1));
	}
	return st;
}

static enum db_status autoclose(struct sweep *w, char **error_r)
{
	const struct ticketd_config *cfg = w->cfg;
	int *ids = g_new(int, cfg->queue_count + 1);
	char **cutoffs = g_new0(char *, cfg->queue_count + 1);
	char since[32];
	size_t n = 0;
	GPtrArray *closed = NULL;
	/* requestor → responses written in this sweep (keys borrowed from
	 * the batch's rows, so one table per batch) */
	GHashTable *sent = NULL;
	enum db_status st = DB_OK;
	bool more = true;

	for (size_t i = 0; i < cfg->queue_count; i++) {
		time_t cutoff;

		if (!timers_close_cutoff(&cfg->queues[i], w->now, &cutoff))
			continue;
		ids[n] = w->queue_ids[i];
		cutoffs[n] = g_malloc(32);
		time_iso(cutoff, cutoffs[n], 32);
		n++;
	}
	time_iso(w->now - cfg->autoresponse_per, since, sizeof(since));
	while (n > 0 && more && st == DB_OK) {
		st = ticket_autoclose(w->db, ids, (const char *const *)cutoffs, n, w->nowtext,
				      since, TIMERS_BATCH, &closed, error_r);
		sent = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; st == DB_OK && i < closed->len; i++)
			st = closed_response(w, g_ptr_array_index(closed, i), sent, error_r);
		if (st == DB_OK)
			st = db_sync(w->db, error_r);
		w->stats->closed += closed->len;
		more = closed->len == TIMERS_BATCH;
		g_hash_table_destroy(sent);
		ticket_closed_free(&closed);
	}
	g_strfreev(cutoffs);
	g_free(ids);
	return st;
}

static enum db_status sweep(struct sweep *w, char **error_r)
{
	const struct ticketd_config *cfg = w->cfg;
	char **stamps = g_new0(char *, cfg->queue_count + 1);
	enum db_status st;
	bool more = true;

	for (size_t i = 0; i < cfg->queue_count; i++)
		stamps[i] = timers_escalation_stamp(&cfg->queues[i]);
	st = ticket_escalation_stamp(w->db, w->queue_ids, stamps, cfg->queue_count, error_r);
	for (size_t i = 0; i < cfg->queue_count; i++)
		g_free(stamps[i]);
	g_free(stamps);
	while (st == DB_OK && more)
		st = escalate_batch(w, &more, error_r);
	if (st == DB_OK)
		st = autoclose(w, error_r);
	return st;
}

enum db_status timers_sweep(struct db *db, const struct ticketd_config *cfg, const int *queue_ids,
			    time_t now, struct timers_stats *stats, char **error_r)
{
	struct sweep w = {
		.db = db, .cfg = cfg, .queue_ids = queue_ids, .now = now, .stats = stats
	};
	enum db_status st;
	PGresult *res;
	bool locked = false;

	memset(stats, 0, sizeof(*stats));
	time_iso(now, w.nowtext, sizeof(w.nowtext));
	/* prepared first: pipeline mode prepares nothing */
	if ((st = ticket_timers_prepare(db, error_r)) != DB_OK ||
	    (st = mailout_prepare(db, error_r)) != DB_OK)
		return st;
	/* pipelined, so that the mails of a sweep (one statement each) do not
	 * wait a round trip each */
	if ((st = db_pipeline_begin(db, error_r)) != DB_OK)
		return st;
	if ((st = db_begin(db, error_r)) == DB_OK) {
		res = db_exec(db, "SELECT pg_try_advisory_xact_lock(" TIMERS_LOCK_CLASS ", 0)", 0,
			      NULL, &st, error_r);
		locked = res != NULL && PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
	}
	/* Another daemon sweeps now, at its own now: nothing is left for
	 * this one that the next cycle would not find. */
	stats->skipped = st == DB_OK && !locked;
	if (st == DB_OK && locked)
		st = sweep(&w, error_r);
	if (st == DB_OK && locked)
		st = db_commit(db, error_r);
	else
		db_rollback(db); /* a failed COMMIT has ended it too */
	if (st == DB_OK)
		st = db_pipeline_end(db, error_r);
	else
		(void)db_pipeline_end(db, NULL);
	if (st != DB_OK)
		memset(stats, 0, sizeof(*stats)); /* none of it stays */
	return st;
}
