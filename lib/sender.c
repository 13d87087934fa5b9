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
	/* the row and its delivery-failed event in one statement: each
	 * outcome is its own (autocommit) transaction */
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

/* Queued: its outcome comes with the next claim's round trip. */
static enum db_status update_row(struct db *db, const char *name, int n, const char *const *values,
				 char **error_r)
{
	return db_send(db, name, n, values, NULL, 0, NULL, error_r);
}

/* Delivers one claimed row and records the outcome. */
static enum db_status deliver_row(struct db *db, struct transport *tr, PGresult *res, int row,
				  time_t now, struct sender_stats *stats, char **error_r)
{
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
	tres = transport_send(tr, envelope, rcpts, raw, rawlen, &reason);
	PQfreemem(raw);
	if (tres == TRANSPORT_TEMPFAIL && attempts >= SENDER_MAX_ATTEMPTS)
		tres = TRANSPORT_PERMFAIL;
	switch (tres) {
	case TRANSPORT_OK:
		stats->sent++;
		st = update_row(db, "sender_sent", 2, (const char *const[]){ id, nowtext },
				error_r);
		break;
	case TRANSPORT_TEMPFAIL:
		stats->deferred++;
		log_warning("outbox=%s to=%s deferred: %s", id, rcpts[0], reason);
		time_iso(now + sender_backoff(attempts), nexttext, sizeof(nexttext));
		st = update_row(db, "sender_deferred", 3,
				(const char *const[]){ id, reason, nexttext }, error_r);
		break;
	case TRANSPORT_PERMFAIL:
	default:
		stats->failed++;
		log_error("outbox=%s to=%s failed: %s", id, rcpts[0], reason);
		st = update_row(db, "sender_failed", 3,
				(const char *const[]){ id, reason, nowtext }, error_r);
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
	char nowtext[32], lease[32], limit[16];
	enum db_status st = DB_OK;
	bool more = true;

	/* A few due rows are leased at a time (one short transaction; other
	 * senders skip them).  Each row's outcome is then its own statement
	 * and transaction, pipelined right after its mail went and not waited
	 * for: a crash leaves at most the mail in flight without its
	 * outcome, to be sent again when its lease runs out; the rest of
	 * the lease is free again then too.  Outcomes are committed without
	 * waiting for the disk (db_async_commit: for this loop only):
	 * losing one takes a crash of the database server itself, and then
	 * means a mail sent twice, never one lost.  A lease lasts
	 * SENDER_LEASE; rows not begun within half of it are given back and
	 * leased again. */
	time_iso(now, nowtext, sizeof(nowtext));
	g_snprintf(lease, sizeof(lease), "%d seconds", SENDER_LEASE);
	g_snprintf(limit, sizeof(limit), "%d", SENDER_LEASE_ROWS);
	if ((st = db_pipeline_begin(db, error_r)) != DB_OK)
		return st;
	st = db_async_commit(db, true, error_r);
	while (more && st == DB_OK && !(stop != NULL && *stop)) {
		PGresult *res = db_run(db, "sender_lease", 3,
				       (const char *const[]){ nowtext, lease, limit }, NULL, 0, &st,
				       error_r);
		time_t leased = time(NULL);
		int rows, i;

		if (res == NULL)
			break;
		rows = PQntuples(res);
		more = rows == SENDER_LEASE_ROWS;
		for (i = 0; i < rows && st == DB_OK; i++) {
			if ((stop != NULL && *stop) || time(NULL) - leased > SENDER_LEASE / 2)
				break;
			st = deliver_row(db, tr, res, i, now, stats, error_r);
			db_flush(db);
		}
		if (st == DB_OK && i < rows) {
			st = release(db, res, i, error_r);
			more = true;
		}
		PQclear(res);
	}
	if (st == DB_OK)
		st = db_sync(db, error_r); /* the last outcomes */
	if (db_async_commit(db, false, st == DB_OK ? error_r : NULL) != DB_OK && st == DB_OK)
		st = DB_ERR_CONNECTION;
	if (db_pipeline_end(db, st == DB_OK ? error_r : NULL) != DB_OK && st == DB_OK)
		st = DB_ERR_CONNECTION;
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
