/*
 * sender.c - lease due outbox rows, send them, record the outcomes, back
 * off; several senders at once (transport.sessions), each with its own
 * database connection and transport session.
 */
#include "sender.h"
#include "util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>

static const struct {
	const char *name, *sql;
} statements[] = {
	/* The lease is taken on the database's clock (real time, across
	 * daemons); $1 is the cycle's "now" for what is due.  A lease whose
	 * holder's session is gone (a killed ticketd) is void. */
	{ "sender_lease",
	  "WITH c AS (UPDATE outbox SET leased_until = clock_timestamp() + $2::interval, "
	  "leased_by = pg_backend_pid() "
	  "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= $1 "
	  "AND (leased_until IS NULL OR leased_until < clock_timestamp() "
	  "OR leased_by NOT IN (SELECT pid FROM pg_stat_activity)) "
	  "ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
	  "RETURNING id, ticket_id, envelope_from, recipient, raw, attempts, next_attempt) "
	  "SELECT id, ticket_id, envelope_from, recipient, raw, attempts FROM c "
	  "ORDER BY next_attempt, id" },
	{ "sender_release", "UPDATE outbox SET leased_until = NULL WHERE id = ANY($1::bigint[])" },
	{ "sender_sent",
	  "UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, "
	  "last_error = NULL, leased_until = NULL WHERE id = $1" },
	{ "sender_deferred",
	  "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt = $3, "
	  "leased_until = NULL WHERE id = $1" },
	/* the row and its delivery-failed event in one statement */
	{ "sender_failed",
	  "WITH u AS (UPDATE outbox SET status = 'failed', attempts = attempts + 1, "
	  "last_error = $2, leased_until = NULL WHERE id = $1 RETURNING ticket_id, recipient) "
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT ticket_id, $3, 'ticketd', 'delivery-failed', recipient, $2 FROM u "
	  "WHERE ticket_id IS NOT NULL" },
};

long sender_backoff(int attempts)
{
	long delay = 60;

	for (int i = 1; i < attempts && delay < 4 * 3600; i++)
		delay *= 2;
	return delay < 4 * 3600 ? delay : 4 * 3600;
}

enum db_status sender_prepare(struct db *db, char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; i < G_N_ELEMENTS(statements) && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	return st;
}

/* One sender's link to the database while it sends.  The outcome of the
 * mail that went last is sent with its own Sync (its own transaction) and
 * not waited for at once: it is confirmed while the next mail's envelope
 * is on its way, before that mail can be delivered (before_delivery).
 * So at any moment at most one mail that the world has is not recorded
 * as sent: after a crash, only it goes twice. */
struct sender_link {
	struct db *db;
	bool in_flight;    /* an outcome and its Sync are sent, not confirmed */
	enum db_status st; /* of confirming it, as before_delivery() found */
	char *error;       /* and why not */
};

/* Waits until the outcome sent last is committed. */
static enum db_status settle(struct sender_link *link, char **error_r)
{
	enum db_status st;

	if (!link->in_flight)
		return DB_OK;
	st = db_sync(link->db, error_r);
	link->in_flight = false;
	return st;
}

/* transport_hook: nothing more may be delivered before the last outcome
 * is known to be committed. */
static int before_delivery(void *context, char **error_r)
{
	struct sender_link *link = context;

	if (link->st == DB_OK)
		link->st = settle(link, &link->error);
	if (link->st == DB_OK)
		return 0;
	error_set(error_r, "not sent, the outcome of the mail before is not recorded: %s",
		  link->error);
	return -1;
}

/* An outcome: its own transaction, sent with a Sync and not waited for. */
static enum db_status record(struct sender_link *link, const char *name, int n,
			     const char *const *values, char **error_r)
{
	enum db_status st = db_send(link->db, name, n, values, NULL, 0, NULL, error_r);

	if (st == DB_OK)
		st = db_sync_send(link->db, error_r);
	if (st == DB_OK)
		link->in_flight = true;
	return st;
}

/* Delivers one leased row and records the outcome. */
static enum db_status deliver_row(struct sender_link *link, struct transport *tr, PGresult *res,
				  int row, time_t now, struct sender_stats *stats, char **error_r)
{
	const struct transport_hook hook = { before_delivery, link };
	const char *id = PQgetvalue(res, row, 0);
	const char *envelope = PQgetvalue(res, row, 2);
	const char *rcpts[2] = { PQgetvalue(res, row, 3), NULL };
	int attempts = atoi(PQgetvalue(res, row, 5)) + 1;
	char nowtext[32], nexttext[32];
	char *reason = NULL;
	size_t rawlen;
	unsigned char *raw =
		PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 4), &rawlen);
	enum transport_result tres;
	enum db_status st;

	time_iso(now, nowtext, sizeof(nowtext));
	if (raw == NULL) {
		error_set(error_r, "outbox %s: cannot decode the stored message", id);
		return DB_ERR_FAILED;
	}
	tres = transport_send_hooked(tr, envelope, rcpts, raw, rawlen, &hook, &reason);
	PQfreemem(raw);
	if (link->st != DB_OK) {
		/* the database went away before this mail could go: it was
		 * not delivered, and there is nowhere to record that */
		g_free(reason);
		error_set(error_r, "%s", link->error);
		return link->st;
	}
	if (tres == TRANSPORT_TEMPFAIL && attempts >= SENDER_MAX_ATTEMPTS)
		tres = TRANSPORT_PERMFAIL;
	switch (tres) {
	case TRANSPORT_OK:
		stats->sent++;
		st = record(link, "sender_sent", 2, (const char *const[]){ id, nowtext }, error_r);
		break;
	case TRANSPORT_TEMPFAIL:
		stats->deferred++;
		log_warning("outbox=%s to=%s deferred: %s", id, rcpts[0], reason);
		time_iso(now + sender_backoff(attempts), nexttext, sizeof(nexttext));
		st = record(link, "sender_deferred", 3,
			    (const char *const[]){ id, reason, nexttext }, error_r);
		break;
	case TRANSPORT_PERMFAIL:
	default:
		stats->failed++;
		log_error("outbox=%s to=%s failed: %s", id, rcpts[0], reason);
		st = record(link, "sender_failed", 3, (const char *const[]){ id, reason, nowtext },
			    error_r);
		break;
	}
	g_free(reason);
	return st;
}

/* Gives back the leases of rows first.. of res that were not sent. */
static enum db_status release(struct db *db, PGresult *res, int first, char **error_r)
{
	GPtrArray *ids = g_ptr_array_new();
	enum db_status st;
	char *array;

	for (int i = first; i < PQntuples(res); i++)
		g_ptr_array_add(ids, PQgetvalue(res, i, 0));
	array = db_text_array(ids);
	st = db_send(db, "sender_release", 1, (const char *const[]){ array }, NULL, 0, NULL,
		     error_r);
	g_free(array);
	g_ptr_array_free(ids, TRUE);
	return st;
}

enum db_status sender_deliver(struct db *db, struct transport *tr, time_t now,
			      volatile const int *stop, struct sender_stats *stats, char **error_r)
{
	struct sender_link link = { .db = db, .in_flight = false, .st = DB_OK, .error = NULL };
	char nowtext[32], lease[32], limit[16];
	enum db_status st = DB_OK;
	bool more = true;

	/* A few due rows are leased at a time (one short transaction; other
	 * senders skip them).  Each row's outcome is then its own
	 * transaction, committed as the server's synchronous_commit says,
	 * and confirmed before the next mail can be delivered (struct
	 * sender_link): a crash leaves at most the mail in flight without
	 * its outcome, to be sent again; the rest of the lease is free again
	 * at once (its holder's session is gone).  A lease lasts
	 * SENDER_LEASE; rows not begun within half of it are given back and
	 * leased again. */
	time_iso(now, nowtext, sizeof(nowtext));
	g_snprintf(lease, sizeof(lease), "%d seconds", SENDER_LEASE);
	g_snprintf(limit, sizeof(limit), "%d", SENDER_LEASE_ROWS);
	if ((st = db_pipeline_begin(db, error_r)) != DB_OK)
		return st;
	while (more && st == DB_OK && !(stop != NULL && *stop)) {
		PGresult *res;
		time_t leased;
		int rows, i;

		/* settles the last outcome too */
		link.in_flight = false;
		res = db_run(db, "sender_lease", 3, (const char *const[]){ nowtext, lease, limit },
			     NULL, 0, &st, error_r);
		if (res == NULL)
			break;
		leased = time(NULL);
		rows = PQntuples(res);
		more = rows == SENDER_LEASE_ROWS;
		for (i = 0; i < rows && st == DB_OK; i++) {
			if ((stop != NULL && *stop) || time(NULL) - leased > SENDER_LEASE / 2)
				break;
			st = deliver_row(&link, tr, res, i, now, stats, error_r);
		}
		if (st == DB_OK && i < rows) {
			st = release(db, res, i, error_r);
			more = true;
		}
		PQclear(res);
	}
	if (st == DB_OK)
		st = db_sync(db, error_r); /* the last outcome, the release */
	if (db_pipeline_end(db, st == DB_OK ? error_r : NULL) != DB_OK && st == DB_OK)
		st = DB_ERR_CONNECTION;
	g_free(link.error);
	return st;
}

/* A sender besides the main one: its own database connection and
 * transport session, in a thread. */
struct sender_thread {
	const struct ticketd_config *cfg;
	time_t now;
	volatile const int *stop;
	struct sender_stats stats;
	GThread *thread;
};

static gpointer sender_thread_run(gpointer arg)
{
	struct sender_thread *snd = arg;
	struct transport *tr = NULL;
	struct db *db = NULL;
	char *error = NULL;

	if (db_connect(snd->cfg->conninfo, &db, &error) != DB_OK ||
	    sender_prepare(db, &error) != DB_OK) {
		log_error("outbox sender: %s", error);
		goto out;
	}
	if (transport_open(&snd->cfg->transport, &tr, &error) < 0) {
		log_error("transport: %s", error);
		goto out;
	}
	if (sender_deliver(db, tr, snd->now, snd->stop, &snd->stats, &error) != DB_OK)
		log_error("outbox: %s", error);
out:
	transport_close(&tr);
	db_close(&db);
	g_free(error);
	return NULL;
}

enum db_status sender_run_all(struct db *db, const struct ticketd_config *cfg, time_t now,
			      volatile const int *stop, struct sender_stats *stats, char **error_r)
{
	int extra = cfg->transport.sessions > 1 ? cfg->transport.sessions - 1 : 0;
	struct sender_thread *senders = g_new0(struct sender_thread, extra > 0 ? extra : 1);
	struct transport *tr = NULL;
	enum db_status st;

	/* Rows are leased FOR UPDATE SKIP LOCKED, so the senders share the
	 * work without talking to each other. */
	*stats = (struct sender_stats){ 0 };
	if ((st = sender_prepare(db, error_r)) != DB_OK)
		goto out;
	if (transport_open(&cfg->transport, &tr, error_r) < 0) {
		st = DB_ERR_FAILED;
		goto out;
	}
	for (int i = 0; i < extra; i++) {
		senders[i].cfg = cfg;
		senders[i].now = now;
		senders[i].stop = stop;
		senders[i].thread =
			g_thread_try_new("sender", sender_thread_run, &senders[i], NULL);
		if (senders[i].thread == NULL)
			log_warning("outbox: cannot start sender %d of %d", i + 2, extra + 1);
	}
	st = sender_deliver(db, tr, now, stop, stats, error_r);
	for (int i = 0; i < extra; i++) {
		if (senders[i].thread == NULL)
			continue;
		g_thread_join(senders[i].thread);
		stats->sent += senders[i].stats.sent;
		stats->deferred += senders[i].stats.deferred;
		stats->failed += senders[i].stats.failed;
	}
	if (st != DB_OK && st != DB_ERR_CONNECTION && PQstatus(db_conn(db)) != CONNECTION_OK)
		st = DB_ERR_CONNECTION;
out:
	transport_close(&tr);
	g_free(senders);
	return st;
}
