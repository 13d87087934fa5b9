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
	{ "ticket_get", "SELECT id, queue_id, requestor, status FROM tickets WHERE id = $1" },
	{ "ticket_has_cc", "SELECT 1 FROM ticket_cc WHERE ticket_id = $1 AND address = $2" },
	/* The ticket and its "create" event in one round trip. */
	{ "ticket_insert",
	  "WITH t AS (INSERT INTO tickets (queue_id, subject, requestor, requestor_name, priority, "
	  "origin, created, updated, last_customer_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) "
	  "RETURNING id), e AS (INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT id, $7, $8, 'create', NULL, 'new' FROM t) SELECT id FROM t" },
	{ "ticket_insert_id",
	  "WITH t AS (INSERT INTO tickets (id, queue_id, subject, requestor, requestor_name, "
	  "priority, origin, created, updated, last_customer_at) VALUES ($9, $1, $2, $3, $4, $5, "
	  "$6, $7, $7, $7) RETURNING id) INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT id, $7, $8, 'create', NULL, 'new' FROM t" },
	{ "ticket_cc_insert",
	  "INSERT INTO ticket_cc (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING" },
	{ "ticket_message_insert",
	  "INSERT INTO messages (ticket_id, raw_id, direction, kind, message_id, in_reply_to, "
	  "refs, from_addr, from_name, to_addrs, cc_addrs, subject, body, created) VALUES "
	  "($1, CASE WHEN $15 THEN currval('raw_messages_id_seq') ELSE $2::bigint END, $3, $4, "
	  "$5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14)" },
	/* right after its message, in the same session */
	{ "ticket_attachment_insert",
	  "INSERT INTO attachments (message_id, filename, content_type, size, content) "
	  "VALUES (currval('messages_id_seq'), $1, $2, $3, $4)" },
	{ "ticket_followup",
	  "UPDATE tickets SET updated = $2, last_customer_at = $2, "
	  "status = CASE WHEN status IN ('resolved', 'closed') THEN 'reopened' ELSE status END, "
	  "closed_at = CASE WHEN status IN ('resolved', 'closed') THEN NULL ELSE closed_at END "
	  "WHERE id = $1" },
	{ "ticket_event_insert",
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) VALUES ($1, $2, $3, $4, $5, $6)" },
};

static const char *const status_names[TICKET_STATUS_COUNT] = {
	[TICKET_NEW] = "new",           [TICKET_ASSIGNED] = "assigned",
	[TICKET_ANSWERED] = "answered", [TICKET_ON_HOLD] = "on-hold",
	[TICKET_REOPENED] = "reopened", [TICKET_RESOLVED] = "resolved",
	[TICKET_CLOSED] = "closed",
};

static const char *const kind_names[MESSAGE_KIND_COUNT] = {
	[MESSAGE_CUSTOMER] = "customer",
	[MESSAGE_AUTOMATIC] = "automatic",
	[MESSAGE_STAFF_ANSWER] = "staff-answer",
	[MESSAGE_INTERNAL_NOTE] = "internal-note",
	[MESSAGE_AUTO_RESPONSE] = "auto-response",
	[MESSAGE_NOTIFICATION] = "notification",
	[MESSAGE_SYSTEM] = "system",
};

const char *ticket_status_name(enum ticket_status status)
{
	if ((unsigned)status >= TICKET_STATUS_COUNT)
		log_panic("ticket status %d out of range", (int)status);
	return status_names[status];
}

const char *message_kind_name(enum message_kind kind)
{
	if ((unsigned)kind >= MESSAGE_KIND_COUNT)
		log_panic("message kind %d out of range", (int)kind);
	return kind_names[kind];
}

static int name_index(const char *const *names, int count, const char *name)
{
	for (int i = 0; name != NULL && i < count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int ticket_status_parse(const char *name, enum ticket_status *status_r)
{
	int i = name_index(status_names, TICKET_STATUS_COUNT, name);

	if (i < 0)
		return -1;
	*status_r = (enum ticket_status)i;
	return 0;
}

int message_kind_parse(const char *name, enum message_kind *kind_r)
{
	int i = name_index(kind_names, MESSAGE_KIND_COUNT, name);

	if (i < 0)
		return -1;
	*kind_r = (enum message_kind)i;
	return 0;
}

bool ticket_status_is_done(enum ticket_status status)
{
	return status == TICKET_RESOLVED || status == TICKET_CLOSED;
}

enum db_status ticket_prepare(struct db *db, char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; i < G_N_ELEMENTS(statements) && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	return st;
}

/* The first column of the first row as a bigint, 0 without a row. */
long long ticket_id_result(struct db *db, int handle)
{
	PGresult *res = db_take(db, handle);
	long long id = 0;

	if (res != NULL && PQntuples(res) > 0)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

enum db_status ticket_ask_by_message_ids(struct db *db, GPtrArray *msgids, int *handle_r,
					 char **error_r)
{
	char *array = db_text_array(msgids);
	enum db_status st;

	/* Not a prepared statement: a generic plan made while the table was
	 * small (a scan and a sort) stayed in use as it grew, and made intake
	 * quadratic (2.3 ms a lookup after 10,000 messages).  Planned each
	 * time with the real values, it uses the message_id index; OFFSET 0
	 * keeps it from walking the whole table backwards by id instead.  The
	 * ticket is looked up by the id found (a join was planned as a hash
	 * of all tickets while the statistics were behind: 4.7 ms). */
	st = db_send_sql(db,
			 "SELECT id, queue_id, requestor, status FROM tickets WHERE id = "
			 "(SELECT ticket_id FROM (SELECT ticket_id, id FROM messages "
			 "WHERE message_id = ANY($1::text[]) OFFSET 0) m ORDER BY id DESC LIMIT 1)",
			 1, (const char *const[]){ array }, handle_r, error_r);
	g_free(array);
	return st;
}

enum db_status ticket_ask_incoming_copy(struct db *db, const char *message_id,
					const char *from_addr, const char *body, int *handle_r,
					char **error_r)
{
	return db_send(db, "ticket_incoming_copy", 3,
		       (const char *const[]){ message_id, from_addr, body }, NULL, 0, handle_r,
		       error_r);
}

enum db_status ticket_ask_get(struct db *db, long long id, int *handle_r, char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_get", 1, (const char *const[]){ idtext }, NULL, 0, handle_r,
		       error_r);
}

bool ticket_get_result(struct db *db, int handle, struct ticket_info *info)
{
	PGresult *res = db_take(db, handle);
	bool found = res != NULL && PQntuples(res) == 1;

	if (found) {
		info->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		info->queue_id = atoi(PQgetvalue(res, 0, 1));
		info->requestor = g_strdup(PQgetvalue(res, 0, 2));
		if (ticket_status_parse(PQgetvalue(res, 0, 3), &info->status) < 0)
			log_panic("ticket %lld: status '%s' is not in enum ticket_status", info->id,
				  PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return found;
}

void ticket_info_clear(struct ticket_info *info)
{
	g_free(info->requestor);
	memset(info, 0, sizeof(*info));
}

enum db_status ticket_ask_has_cc(struct db *db, long long id, const char *addr, int *handle_r,
				 char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_has_cc", 2, (const char *const[]){ idtext, addr }, NULL, 0,
		       handle_r, error_r);
}

enum db_status ticket_event(struct db *db, long long id, const char *now, const char *actor,
			    const char *type, const char *old_value, const char *new_value,
			    char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_event_insert", 6,
		       (const char *const[]){ idtext, now, actor, type, old_value, new_value },
		       NULL, 0, NULL, error_r);
}

enum db_status ticket_create(struct db *db, const struct ticket_new *t, long long *id_r,
			     char **error_r)
{
	char queue[16], prio[16];
	enum db_status st;
	PGresult *res;

	g_snprintf(queue, sizeof(queue), "%d", t->queue_id);
	g_snprintf(prio, sizeof(prio), "%d", t->priority);
	if (t->id > 0) {
		char idtext[24];

		g_snprintf(idtext, sizeof(idtext), "%lld", t->id);
		*id_r = t->id;
		return db_send(db, "ticket_insert_id", 9,
			       (const char *const[]){ queue, t->subject, t->requestor,
						      t->requestor_name, prio, t->origin, t->now,
						      t->actor, idtext },
			       NULL, 0, NULL, error_r);
	}
	res = db_run(db, "ticket_insert", 8,
		     (const char *const[]){ queue, t->subject, t->requestor, t->requestor_name,
					    prio, t->origin, t->now, t->actor },
		     NULL, 0, &st, error_r);
	*id_r = res != NULL && PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return st;
}

enum db_status ticket_add_cc(struct db *db, long long id, const char *addr, char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_cc_insert", 2, (const char *const[]){ idtext, addr }, NULL, 0,
		       NULL, error_r);
}

#define ATTACHMENT_COPY_THRESHOLD (1024 * 1024)

static enum db_status add_attachment(struct db *db, const struct mail_attachment *att,
				     char **error_r)
{
	gsize size;
	const char *data = g_bytes_get_data(att->data, &size);
	char sizetext[24], msg_id[24];
	const char *values[5] = { msg_id, att->filename, att->content_type, sizetext,
				  data != NULL ? data : "" };
	int lengths[4] = { 0, 0, 0, (int)size };
	enum db_status st;
	PGresult *res;

	g_snprintf(sizetext, sizeof(sizetext), "%zu", (size_t)size);
	if (size <= ATTACHMENT_COPY_THRESHOLD)
		return db_send(db, "ticket_attachment_insert", 4, values + 1, lengths, 1u << 3,
			       NULL, error_r);
	/* streamed: libpq would otherwise copy it whole once more */
	res = db_exec(db, "SELECT currval('messages_id_seq')", 0, NULL, &st, error_r);
	if (res == NULL)
		return st;
	g_strlcpy(msg_id, PQgetvalue(res, 0, 0), sizeof(msg_id));
	PQclear(res);
	size_t copy_lengths[5] = { 0, 0, 0, 0, size };
	return db_copy_row(db,
			   "COPY attachments (message_id, filename, content_type, size, content) "
			   "FROM STDIN",
			   5, values, copy_lengths, 1u << 4, error_r);
}

enum db_status ticket_add_message(struct db *db, const struct ticket_message *m, char **error_r)
{
	char ticket[24], raw[24];
	char *refs = db_text_array(m->references);
	enum db_status st;

	g_snprintf(ticket, sizeof(ticket), "%lld", m->ticket_id);
	g_snprintf(raw, sizeof(raw), "%lld", m->raw_id);
	st = db_send(db, "ticket_message_insert", 15,
		     (const char *const[]){
			     ticket, m->raw_id > 0 ? raw : NULL, m->direction,
			     message_kind_name(m->kind), m->message_id, m->in_reply_to, refs,
			     m->from_addr ? m->from_addr : "", m->from_name ? m->from_name : "",
			     m->to_addrs ? m->to_addrs : "", m->cc_addrs ? m->cc_addrs : "",
			     m->subject ? m->subject : "", m->body ? m->body : "", m->now,
			     m->raw_is_last ? "t" : "f" },
		     NULL, 0, NULL, error_r);
	g_free(refs);
	for (guint i = 0; st == DB_OK && m->attachments != NULL && i < m->attachments->len; i++)
		st = add_attachment(db, g_ptr_array_index(m->attachments, i), error_r);
	return st;
}

enum db_status ticket_customer_followup(struct db *db, const struct ticket_info *info,
					const char *now, const char *actor, char **error_r)
{
	char idtext[24];
	enum db_status st;

	g_snprintf(idtext, sizeof(idtext), "%lld", info->id);
	st = db_send(db, "ticket_followup", 2, (const char *const[]){ idtext, now }, NULL, 0, NULL,
		     error_r);
	if (st != DB_OK)
		return st;
	if (ticket_status_is_done(info->status))
		st = ticket_event(db, info->id, now, actor, "status",
				  ticket_status_name(info->status),
				  ticket_status_name(TICKET_REOPENED), error_r);
	return st;
}
