/*
 * outbox.c - enqueue mail in the caller's transaction, and count what was
 * queued for the auto-response rate limit.  Sending is sender.c's.
 */
#include "outbox.h"
#include "util.h"

#include <stdlib.h>

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
};

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
