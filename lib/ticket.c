/*
 * ticket.c - ticket state changes and stored messages, with their events.
 */
#include "ticket.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *sql;
} statements[] = {
	{ "ticket_incoming_copy",
	  "SELECT ticket_id FROM messages WHERE message_id = $1 AND direction = 'in' "
	  "AND from_addr = $2 AND body = $3 LIMIT 1" },
	{ "ticket_get", "SELECT queue_id, requestor, status FROM tickets WHERE id = $1" },
	{ "ticket_has_cc", "SELECT 1 FROM ticket_cc WHERE ticket_id = $1 AND address = $2" },
	/* The ticket and its "create" event in one round trip. */
	{ "ticket_insert",
	  "WITH t AS (INSERT INTO tickets (queue_id, subject, requestor, requestor_name, priority, "
	  "origin, created, updated, last_customer_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) "
	  "RETURNING id), e AS (INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT id, $7, $8, 'create', NULL, 'new' FROM t) SELECT id FROM t" },
	{ "ticket_cc_insert",
	  "INSERT INTO ticket_cc (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING" },
	{ "ticket_message_insert",
	  "INSERT INTO messages (ticket_id, raw_id, direction, kind, message_id, in_reply_to, "
	  "refs, from_addr, from_name, to_addrs, cc_addrs, subject, body, created) VALUES "
	  "($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14) RETURNING id" },
	{ "ticket_attachment_insert",
	  "INSERT INTO attachments (message_id, filename, content_type, size, content) "
	  "VALUES ($1, $2, $3, $4, $5)" },
	{ "ticket_followup",
	  "UPDATE tickets SET updated = $2, last_customer_at = $2, "
	  "status = CASE WHEN status IN ('resolved', 'closed') THEN 'reopened' ELSE status END, "
	  "closed_at = CASE WHEN status IN ('resolved', 'closed') THEN NULL ELSE closed_at END "
	  "WHERE id = $1" },
	{ "ticket_event_insert",
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) VALUES ($1, $2, $3, $4, $5, $6)" },
};

enum db_status ticket_prepare(struct db *db, char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; i < G_N_ELEMENTS(statements) && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	return st;
}

/* Runs a prepared statement whose result is one bigint (or no row → 0). */
static enum db_status run_id(struct db *db, const char *name, int n, const char *const *values,
			     long long *id_r, char **error_r)
{
	enum db_status st;
	PGresult *res = db_run(db, name, n, values, NULL, 0, &st, error_r);

	*id_r = 0;
	if (res == NULL)
		return st;
	if (PQntuples(res) > 0)
		*id_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return DB_OK;
}

enum db_status ticket_find_by_message_ids(struct db *db, GPtrArray *msgids, long long *id_r,
					  char **error_r)
{
	enum db_status st;
	PGresult *res;
	char *array;

	*id_r = 0;
	if (msgids == NULL || msgids->len == 0)
		return DB_OK;
	/* Not a prepared statement: a generic plan made while the table was
	 * small (a scan and a sort) stayed in use as it grew, and made intake
	 * quadratic (2.3 ms a lookup after 10,000 messages).  Planned each
	 * time with the real values, it uses the message_id index; OFFSET 0
	 * keeps it from walking the whole table backwards by id instead. */
	array = db_text_array(msgids);
	res = db_exec(db,
		      "SELECT ticket_id FROM (SELECT ticket_id, id FROM messages "
		      "WHERE message_id = ANY($1::text[]) OFFSET 0) m ORDER BY id DESC LIMIT 1",
		      1, (const char *const[]){ array }, &st, error_r);
	g_free(array);
	if (res == NULL)
		return st;
	if (PQntuples(res) > 0)
		*id_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return DB_OK;
}

enum db_status ticket_find_incoming_copy(struct db *db, const char *message_id,
					 const char *from_addr, const char *body, long long *id_r,
					 char **error_r)
{
	*id_r = 0;
	if (message_id == NULL)
		return DB_OK;
	return run_id(db, "ticket_incoming_copy", 3,
		      (const char *const[]){ message_id, from_addr, body },
		      id_r, error_r);
}

enum db_status ticket_get(struct db *db, long long id, struct ticket_info *info, bool *found_r,
			  char **error_r)
{
	char idtext[24];
	enum db_status st;
	PGresult *res;

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	res = db_run(db, "ticket_get", 1, (const char *const[]){ idtext }, NULL, 0, &st, error_r);
	*found_r = false;
	if (res == NULL)
		return st;
	if (PQntuples(res) == 1) {
		info->id = id;
		info->queue_id = atoi(PQgetvalue(res, 0, 0));
		info->requestor = g_strdup(PQgetvalue(res, 0, 1));
		info->status = g_strdup(PQgetvalue(res, 0, 2));
		*found_r = true;
	}
	PQclear(res);
	return DB_OK;
}

void ticket_info_clear(struct ticket_info *info)
{
	g_free(info->requestor);
	g_free(info->status);
	memset(info, 0, sizeof(*info));
}

enum db_status ticket_has_cc(struct db *db, long long id, const char *addr, bool *has_r,
			     char **error_r)
{
	char idtext[24];
	long long one;
	enum db_status st;

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	st = run_id(db, "ticket_has_cc", 2, (const char *const[]){ idtext, addr }, &one, error_r);
	*has_r = one == 1;
	return st;
}

enum db_status ticket_event(struct db *db, long long id, const char *now, const char *actor,
			    const char *type, const char *old_value, const char *new_value,
			    char **error_r)
{
	char idtext[24];
	enum db_status st;
	PGresult *res;

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	res = db_run(db, "ticket_event_insert", 6,
		     (const char *const[]){ idtext, now, actor, type, old_value, new_value }, NULL, 0,
		     &st, error_r);
	PQclear(res);
	return st;
}

enum db_status ticket_create(struct db *db, const struct ticket_new *t, long long *id_r,
			     char **error_r)
{
	char queue[16], prio[16];

	g_snprintf(queue, sizeof(queue), "%d", t->queue_id);
	g_snprintf(prio, sizeof(prio), "%d", t->priority);
	return run_id(db, "ticket_insert", 8,
		      (const char *const[]){ queue, t->subject, t->requestor, t->requestor_name, prio,
					     t->origin, t->now, t->actor },
		      id_r, error_r);
}

enum db_status ticket_add_cc(struct db *db, long long id, const char *addr, char **error_r)
{
	char idtext[24];
	enum db_status st;
	PGresult *res;

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	res = db_run(db, "ticket_cc_insert", 2, (const char *const[]){ idtext, addr }, NULL, 0, &st,
		     error_r);
	PQclear(res);
	return st;
}

#define ATTACHMENT_COPY_THRESHOLD (1024 * 1024)

static enum db_status add_attachment(struct db *db, const char *msg_id,
				     const struct mail_attachment *att, char **error_r)
{
	gsize size;
	const char *data = g_bytes_get_data(att->data, &size);
	char sizetext[24];
	const char *values[5] = { msg_id, att->filename, att->content_type, sizetext,
				  data != NULL ? data : "" };
	int lengths[5] = { 0, 0, 0, 0, (int)size };
	enum db_status st;
	PGresult *res;

	g_snprintf(sizetext, sizeof(sizetext), "%zu", (size_t)size);
	if (size > ATTACHMENT_COPY_THRESHOLD) {
		/* streamed: libpq would otherwise copy it whole once more */
		size_t copy_lengths[5] = { 0, 0, 0, 0, size };
		return db_copy_row(db,
				   "COPY attachments (message_id, filename, content_type, size, "
				   "content) FROM STDIN",
				   5, values, copy_lengths, 1u << 4, error_r);
	}
	res = db_run(db, "ticket_attachment_insert", 5, values, lengths, 1u << 4, &st, error_r);
	PQclear(res);
	return st;
}

enum db_status ticket_add_message(struct db *db, const struct ticket_message *m,
				  long long *msg_id_r, char **error_r)
{
	char ticket[24], raw[24], msgid[24];
	char *refs = db_text_array(m->references);
	enum db_status st;

	g_snprintf(ticket, sizeof(ticket), "%lld", m->ticket_id);
	g_snprintf(raw, sizeof(raw), "%lld", m->raw_id);
	st = run_id(db, "ticket_message_insert", 14,
		    (const char *const[]){ ticket, m->raw_id > 0 ? raw : NULL, m->direction, m->kind,
					   m->message_id, m->in_reply_to, refs,
					   m->from_addr ? m->from_addr : "",
					   m->from_name ? m->from_name : "",
					   m->to_addrs ? m->to_addrs : "",
					   m->cc_addrs ? m->cc_addrs : "", m->subject ? m->subject : "",
					   m->body ? m->body : "", m->now },
		    msg_id_r, error_r);
	g_free(refs);
	g_snprintf(msgid, sizeof(msgid), "%lld", *msg_id_r);
	for (guint i = 0; st == DB_OK && m->attachments != NULL && i < m->attachments->len; i++)
		st = add_attachment(db, msgid, g_ptr_array_index(m->attachments, i), error_r);
	return st;
}

enum db_status ticket_customer_followup(struct db *db, const struct ticket_info *info,
					const char *now, const char *actor, char **error_r)
{
	char idtext[24];
	enum db_status st;
	PGresult *res;

	g_snprintf(idtext, sizeof(idtext), "%lld", info->id);
	res = db_run(db, "ticket_followup", 2, (const char *const[]){ idtext, now }, NULL, 0, &st,
		     error_r);
	PQclear(res);
	if (st != DB_OK)
		return st;
	if (strcmp(info->status, "resolved") == 0 || strcmp(info->status, "closed") == 0)
		st = ticket_event(db, info->id, now, actor, "status", info->status, "reopened",
				  error_r);
	return st;
}
