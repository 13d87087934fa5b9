/*
 * cycle.c - mailboxes with their health, the timers, the senders.
 */
#include "cycle.h"
#include "intake.h"
#include "mailbox.h"
#include "sender.h"
#include "timers.h"
#include "util.h"

#include <string.h>

/* A mailbox that failed is tried again after a growing pause, while the
 * other queues go on: poll interval × 2^(failures-1), at most an hour.
 * Real time, not the cycle's "now": it paces retries of a server. */
struct mailbox_health {
	unsigned failures;
	time_t next_try;
};

struct cycle {
	volatile const int *stop;
	GHashTable *health; /* source → struct mailbox_health */
};

struct cycle *cycle_new(volatile const int *stop)
{
	struct cycle *c = g_new0(struct cycle, 1);

	c->stop = stop;
	c->health = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return c;
}

void cycle_free(struct cycle **cp)
{
	if (*cp == NULL)
		return;
	g_hash_table_destroy((*cp)->health);
	g_free(*cp);
	*cp = NULL;
}

static bool stopping(const struct cycle *c)
{
	return c->stop != NULL && *c->stop;
}

static bool mailbox_due(struct cycle *c, const char *source)
{
	struct mailbox_health *h = g_hash_table_lookup(c->health, source);

	return h == NULL || time(NULL) >= h->next_try;
}

static void mailbox_result(struct cycle *c, const char *source, bool ok, long poll_interval)
{
	struct mailbox_health *h = g_hash_table_lookup(c->health, source);
	long pause = poll_interval;

	if (ok) {
		if (h != NULL && h->failures > 0)
			log_info("source=%s works again", source);
		g_hash_table_remove(c->health, source);
		return;
	}
	if (h == NULL) {
		h = g_new0(struct mailbox_health, 1);
		g_hash_table_insert(c->health, g_strdup(source), h);
	}
	h->failures++;
	for (unsigned i = 1; i < h->failures && pause < 3600; i++)
		pause *= 2;
	pause = MIN(pause, 3600);
	h->next_try = time(NULL) + pause;
	log_warning("source=%s failed %u time%s in a row; next try in %lds", source, h->failures,
		    h->failures == 1 ? "" : "s", pause);
}

/* The queues that share mailbox url (a shared mailbox: DESIGN §1). */
static size_t queues_of_mailbox(const struct ticketd_config *cfg, const char *url,
				const struct config_queue **out)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->queue_count; i++)
		if (cfg->queues[i].mailbox.url != NULL &&
		    strcmp(cfg->queues[i].mailbox.url, url) == 0)
			out[n++] = &cfg->queues[i];
	return n;
}

/* Takes what waits in one mailbox, under its advisory lock.  Returns false
 * when the database connection was lost. */
static bool poll_mailbox(struct cycle *c, struct intake *in, const struct config_mailbox *mcfg,
			 const struct config_queue **queues, size_t n)
{
	struct mailbox *box = NULL;
	char *error = NULL, *source = mailbox_source(mcfg);
	bool locked = false, ok = false, db_ok = true;

	if (!mailbox_due(c, source))
		goto out;
	if (intake_lock_mailbox(in, source, &locked, &error) != DB_OK) {
		log_error("source=%s: %s", source, error);
		db_ok = false;
		goto out;
	}
	if (!locked) {
		log_debug("source=%s is being polled by another ticketd", source);
		goto out;
	}
	if (mailbox_open(mcfg, &box, &error) < 0) {
		log_error("queue=%s mailbox: %s", queues[0]->name, error);
		mailbox_result(c, source, false, in->cfg->poll_interval);
		goto out;
	}
	ok = intake_mailbox(in, box, (const struct config_queue *const *)queues, n, &error) == 0;
	if (!ok) {
		log_error("queue=%s: %s", queues[0]->name, error);
		db_ok = PQstatus(db_conn(in->db)) == CONNECTION_OK;
	}
	if (db_ok)
		mailbox_result(c, source, ok, in->cfg->poll_interval);
out:
	mailbox_close(&box);
	if (locked && db_ok)
		intake_unlock_mailbox(in, source);
	g_free(error);
	g_free(source);
	return db_ok;
}

/* Every mailbox, a shared one once (with its first queue).  Returns false
 * when the database connection was lost. */
static bool take_mail(struct cycle *c, struct intake *in, const struct ticketd_config *cfg)
{
	const struct config_queue **queues = g_new0(const struct config_queue *, cfg->queue_count);
	bool db_ok = true;

	for (size_t i = 0; i < cfg->queue_count && !stopping(c) && db_ok; i++) {
		const struct config_queue *q = &cfg->queues[i];
		size_t n;

		if (q->mailbox.url == NULL)
			continue;
		n = queues_of_mailbox(cfg, q->mailbox.url, queues);
		if (queues[0] != q)
			continue;
		db_ok = poll_mailbox(c, in, &q->mailbox, queues, n);
	}
	g_free(queues);
	const struct intake_stats *s = &in->stats;
	if (s->new_tickets + s->followups + s->duplicates + s->failed + s->already > 0)
		log_info("intake: %u new tickets, %u follow-ups, %u automatic, %u duplicates, "
			 "%u failed, %u already stored, %u auto-responses queued",
			 s->new_tickets, s->followups, s->automatic, s->duplicates, s->failed,
			 s->already, s->autoresponses);
	if (s->pgp_messages > 0)
		log_info("intake: pgp: %u messages, %u sections decrypted, %u not, %.3f s in GnuPG "
			 "(%.1f ms a message)",
			 s->pgp_messages, s->decrypted, s->undecrypted, s->pgp_seconds,
			 s->pgp_seconds * 1000.0 / s->pgp_messages);
	return db_ok;
}

/* Escalation and auto-close at now.  Returns false when the database
 * connection was lost; any other failure is logged and tried again by the
 * next cycle (the sweep is one transaction: nothing of it stays). */
static bool run_timers(struct db *db, const struct ticketd_config *cfg, const int *queue_ids,
		       time_t now)
{
	struct timers_stats st;
	char *error = NULL;
	gint64 start = g_get_monotonic_time();
	enum db_status status = timers_sweep(db, cfg, queue_ids, now, &st, &error);

	if (status != DB_OK)
		log_error("timers: %s", error);
	else if (st.skipped)
		log_info("timers: another ticketd is sweeping; skipped");
	else if (st.looked + st.closed > 0)
		log_info("timers: %u looked at, %u escalated, %u escalation notices, %u closed, "
			 "%u closed-ticket responses in %.1f ms",
			 st.looked, st.escalated, st.notices, st.closed, st.responses,
			 (double)(g_get_monotonic_time() - start) / 1000.0);
	g_free(error);
	return status != DB_ERR_CONNECTION;
}

/* Sends what is due with every sender of the transport.  Returns false
 * when the database connection was lost. */
static bool send_mail(struct cycle *c, struct db *db, const struct ticketd_config *cfg, time_t now)
{
	struct sender_stats st = { 0 };
	char *error = NULL;
	enum db_status status = sender_run_all(db, cfg, now, c->stop, &st, &error);

	if (status != DB_OK)
		log_error("outbox: %s", error);
	if (st.sent + st.deferred + st.failed > 0)
		log_info("outbox: %u sent, %u deferred, %u failed", st.sent, st.deferred,
			 st.failed);
	g_free(error);
	return status != DB_ERR_CONNECTION;
}

enum cycle_result cycle_run(struct cycle *c, struct db *db, const struct ticketd_config *cfg,
			    time_t now)
{
	struct intake in;
	char *error = NULL;
	bool db_ok;

	if (intake_init(&in, db, cfg, now, &error) < 0) {
		log_error("%s", error);
		g_free(error);
		if (PQstatus(db_conn(db)) != CONNECTION_OK)
			return CYCLE_DB_LOST;
		/* nothing is taken until the config is fixed */
		return CYCLE_CONFIG_REFUSED;
	}
	in.stop = c->stop;
	db_ok = take_mail(c, &in, cfg);
	/* The timers run after the intake, so that a customer's reply of
	 * this cycle counts, and before the senders, so that their mails go
	 * out in the same cycle. */
	if (db_ok && !stopping(c))
		db_ok = run_timers(db, cfg, in.queue_ids, now);
	intake_deinit(&in);
	if (db_ok && !stopping(c))
		db_ok = send_mail(c, db, cfg, now);
	return db_ok ? CYCLE_OK : CYCLE_DB_LOST;
}
