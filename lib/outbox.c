/*
 * outbox.c - enqueue mail in the caller's transaction; deliver it afterwards.
 */
#include "outbox.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *sql;
} statements[] = {
	{ "outbox_insert",
	  "INSERT INTO outbox (ticket_id, message_id, kind, envelope_from, recipient, raw, created, "
	  "next_attempt) VALUES ($1, CASE WHEN $8 THEN currval('messages_id_seq') "
	  "ELSE $2::bigint END, $3, $4, $5, $6, $7, $7)" },
	/* kind is written out, not a parameter: only then can the generic
	 * plan use the partial index outbox_recipient (else: a scan of the
	 * whole outbox per new ticket) */
	{ "outbox_autoresponses_since",
	  "SELECT count(*) FROM outbox WHERE kind = 'auto-response' AND recipient = $1 "
	  "AND created >= $2" },
	/* The lease is taken on the database's clock (real time, across
	 * daemons); $1 is the cycle's "now" for what is due.  A lease whose
	 * holder's session is gone (a killed ticketd) is void. */
	{ "outbox_lease",
	  "WITH c AS (UPDATE outbox SET leased_until = clock_timestamp() + $2::interval, "
	  "leased_by = pg_backend_pid() "
	  "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= $1 "
	  "AND (leased_until IS NULL OR leased_until < clock_timestamp() "
	  "OR leased_by NOT IN (SELECT pid FROM pg_stat_activity)) "
	  "ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
	  "RETURNING id, ticket_id, envelope_from, recipient, raw, attempts, next_attempt) "
	  "SELECT id, ticket_id, envelope_from, recipient, raw, attempts FROM c "
	  "ORDER BY next_attempt, id" },
	{ "outbox_release", "UPDATE outbox SET leased_until = NULL WHERE id = ANY($1::bigint[])" },
	{ "outbox_sent",
	  "UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, "
	  "last_error = NULL, leased_until = NULL WHERE id = $1" },
	{ "outbox_deferred",
	  "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt = $3, "
	  "leased_until = NULL WHERE id = $1" },
	/* the row and its delivery-failed event in one statement: each
	 * outcome is its own (autocommit) transaction */
	{ "outbox_failed",
	  "WITH u AS (UPDATE outbox SET status = 'failed', attempts = attempts + 1, "
	  "last_error = $2, leased_until = NULL WHERE id = $1 RETURNING ticket_id, recipient) "
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT ticket_id, $3, 'ticketd', 'delivery-failed', recipient, $2 FROM u "
	  "WHERE ticket_id IS NOT NULL" },
};

long outbox_backoff(int attempts)
{
	long delay = 60;

	for (int i = 1; i < attempts && delay < 4 * 3600; i++)
		delay *= 2;
	return delay < 4 * 3600 ? delay : 4 * 3600;
}

enum db_status outbox_prepare(struct db *db, char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; i < G_N_ELEMENTS(statements) && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	return st;
}

enum db_status outbox_enqueue(struct db *db, const struct outbox_item *item, char **error_r)
{
	char ticket[24], msg[24];
	const char *values[8] = { ticket,          item->message_id > 0 ? msg : NULL,
				  item->kind,      item->envelope_from,
				  item->recipient, (const char *)item->raw->data,
				  item->now,       item->message_is_last ? "t" : "f" };
	int lengths[8] = { 0, 0, 0, 0, 0, (int)item->raw->len, 0, 0 };

	g_snprintf(ticket, sizeof(ticket), "%lld", item->ticket_id);
	g_snprintf(msg, sizeof(msg), "%lld", item->message_id);
	return db_send(db, "outbox_insert", 8, values, lengths, 1u << 5, NULL, error_r);
}

enum db_status outbox_ask_autoresponses_since(struct db *db, const char *recipient,
					      const char *since, int *handle_r, char **error_r)
{
	return db_send(db, "outbox_autoresponses_since", 2,
		       (const char *const[]){ recipient, since }, NULL, 0, handle_r, error_r);
}

long long outbox_count_result(struct db *db, int handle)
{
	PGresult *res = db_take(db, handle);
	long long count = res != NULL ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;

	PQclear(res);
	return count;
}

/* Queued: its outcome comes with the next claim's round trip. */
static enum db_status update_row(struct db *db, const char *name, int n, const char *const *values,
				 char **error_r)
{
	return db_send(db, name, n, values, NULL, 0, NULL, error_r);
}

/* Delivers one claimed row and records the outcome. */
static enum db_status deliver_row(struct db *db, struct transport *tr, PGresult *res, int row,
				  time_t now, struct outbox_stats *stats, char **error_r)
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
	if (tres == TRANSPORT_TEMPFAIL && attempts >= OUTBOX_MAX_ATTEMPTS)
		tres = TRANSPORT_PERMFAIL;
	switch (tres) {
	case TRANSPORT_OK:
		stats->sent++;
		st = update_row(db, "outbox_sent", 2, (const char *const[]){ id, nowtext },
				error_r);
		break;
	case TRANSPORT_TEMPFAIL:
		stats->deferred++;
		log_warning("outbox=%s to=%s deferred: %s", id, rcpts[0], reason);
		time_iso(now + outbox_backoff(attempts), nexttext, sizeof(nexttext));
		st = update_row(db, "outbox_deferred", 3,
				(const char *const[]){ id, reason, nexttext }, error_r);
		break;
	case TRANSPORT_PERMFAIL:
	default:
		stats->failed++;
		log_error("outbox=%s to=%s failed: %s", id, rcpts[0], reason);
		st = update_row(db, "outbox_failed", 3,
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
	st = db_send(db, "outbox_release", 1, (const char *const[]){ array }, NULL, 0, NULL,
		     error_r);
	g_free(array);
	g_ptr_array_free(ids, TRUE);
	return st;
}

enum db_status outbox_deliver(struct db *db, struct transport *tr, time_t now,
			      volatile const int *stop, struct outbox_stats *stats, char **error_r)
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
	 * OUTBOX_LEASE; rows not begun within half of it are given back and
	 * leased again. */
	time_iso(now, nowtext, sizeof(nowtext));
	g_snprintf(lease, sizeof(lease), "%d seconds", OUTBOX_LEASE);
	g_snprintf(limit, sizeof(limit), "%d", OUTBOX_LEASE_ROWS);
	if ((st = db_pipeline_begin(db, error_r)) != DB_OK)
		return st;
	st = db_async_commit(db, true, error_r);
	while (more && st == DB_OK && !(stop != NULL && *stop)) {
		PGresult *res = db_run(db, "outbox_lease", 3,
				       (const char *const[]){ nowtext, lease, limit }, NULL, 0, &st,
				       error_r);
		time_t leased = time(NULL);
		int rows, i;

		if (res == NULL)
			break;
		rows = PQntuples(res);
		more = rows == OUTBOX_LEASE_ROWS;
		for (i = 0; i < rows && st == DB_OK; i++) {
			if ((stop != NULL && *stop) || time(NULL) - leased > OUTBOX_LEASE / 2)
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
