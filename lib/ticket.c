/*
 * ticket.c - ticket state changes, each with its event, and the lookups of
 * tickets by number (the messages on them are ticket-message.c's).
 */
#include "ticket.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The status a change leaves: its own, or the row's when it changes none. */
#define NEW_STATUS "(CASE WHEN $2::text <> $11::text THEN $2::text ELSE status END)"

static const struct db_statement statements[] = {
	{ "ticket_get",
	  "SELECT " TICKET_INFO_COLUMNS " FROM " TICKET_INFO_FROM " WHERE t.id = $1" },
	{ "ticket_has_cc", "SELECT 1 FROM ticket_cc WHERE ticket_id = $1 AND address = $2" },
	/* The ticket and its "create" event in one round trip. */
	{ "ticket_insert",
	  "WITH t AS (INSERT INTO tickets (queue_id, subject, requestor, requestor_name, priority, "
	  "origin, created, updated, last_customer_at, base_priority, escalate_from) VALUES ($1, "
	  "$2, $3, $4, $5, $6, $7, $7, $7, $5, $7) "
	  "RETURNING id), e AS (INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT id, $7, $8, 'create', NULL, 'new' FROM t) SELECT id FROM t" },
	{ "ticket_insert_id",
	  "WITH t AS (INSERT INTO tickets (id, queue_id, subject, requestor, requestor_name, "
	  "priority, origin, created, updated, last_customer_at, base_priority, escalate_from) "
	  "VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $7, $7, $5, $7) RETURNING id) "
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT id, $7, $8, 'create', NULL, 'new' FROM t" },
	{ "ticket_cc_insert",
	  "INSERT INTO ticket_cc (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING" },
	{ "ticket_cc_list", "SELECT address FROM ticket_cc WHERE ticket_id = $1 ORDER BY address" },
	{ "ticket_recent",
	  "SELECT id, status, subject FROM tickets WHERE requestor = $1 ORDER BY id DESC LIMIT " G_STRINGIFY(
		  TICKET_RECENT_MAX) },
	/* Only the fields this change changes are written ($11..$16: their
	 * values as read), so that a concurrent change of another field (a
	 * sweep's escalation in another daemon, between this read and this
	 * write) is kept, not overwritten with what was read. */
	{ "ticket_update",
	  "UPDATE tickets SET status = " NEW_STATUS ", "
	  "assignee_id = CASE WHEN $3::integer <> $12::integer THEN NULLIF($3::integer, 0) "
	  "ELSE assignee_id END, "
	  "priority = CASE WHEN $4::integer <> $13::integer THEN $4::integer ELSE priority END, "
	  "sticky = CASE WHEN $5::boolean <> $14::boolean THEN $5::boolean ELSE sticky END, "
	  "queue_id = CASE WHEN $6::integer <> $15::integer THEN $6::integer ELSE queue_id END, "
	  "requestor = CASE WHEN $7::text <> $16::text THEN $7::text ELSE requestor END, "
	  "updated = $8, "
	  "last_customer_at = CASE WHEN $9 THEN $8 ELSE last_customer_at END, "
	  "last_answer_at = CASE WHEN $10 THEN $8 ELSE last_answer_at END, "
	  "closed_at = CASE WHEN " NEW_STATUS " = 'closed' THEN coalesce(closed_at, $8) END, "
	  /* The escalation clock (sql/007_timers.sql) stands unless the
	   * ticket is open and unanswered; a customer's message starts it,
	   * from the priority of the moment; a manual priority change is a
	   * new base and starts it again.  Any change: the sweep looks again. */
	  "base_priority = CASE WHEN $4::integer <> $13::integer THEN $4::integer "
	  "WHEN escalate_from IS NULL THEN priority ELSE base_priority END, "
	  "escalate_from = CASE WHEN " NEW_STATUS " NOT IN ('new', 'assigned', 'reopened') OR $10 "
	  "THEN NULL WHEN escalate_from IS NULL THEN CASE WHEN $9 THEN $8::timestamptz END "
	  "WHEN $4::integer <> $13::integer THEN $8::timestamptz ELSE escalate_from END, "
	  "escalate_next = '-infinity' WHERE id = $1" },
	{ "ticket_tag_insert",
	  "WITH t AS (INSERT INTO ticket_tags (ticket_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING "
	  "RETURNING ticket_id) INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT ticket_id, $3, $4, 'tag', NULL, $2 FROM t" },
	{ "ticket_link_insert",
	  "WITH l AS (INSERT INTO ticket_links (ticket_id, other_id) VALUES ($1, $2), ($2, $1) "
	  "ON CONFLICT DO NOTHING RETURNING ticket_id, other_id) "
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT ticket_id, $3, $4, 'link', NULL, other_id::text FROM l" },
	{ "ticket_cc_insert_by",
	  "WITH c AS (INSERT INTO ticket_cc (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO "
	  "NOTHING RETURNING ticket_id) INSERT INTO events (ticket_id, at, actor, type, old, new) "
	  "SELECT ticket_id, $3, $4, 'cc', NULL, $2 FROM c" },
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
	return db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
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

enum db_status ticket_ask_get(struct db *db, long long id, int *handle_r, char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_get", 1, (const char *const[]){ idtext }, NULL, 0, handle_r,
		       error_r);
}

void ticket_info_from_row(const PGresult *res, int row, struct ticket_info *info)
{
	info->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	info->queue_id = atoi(PQgetvalue(res, row, 1));
	info->requestor = g_strdup(PQgetvalue(res, row, 2));
	if (ticket_status_parse(PQgetvalue(res, row, 3), &info->status) < 0)
		log_panic("ticket %lld: status '%s' is not in enum ticket_status", info->id,
			  PQgetvalue(res, row, 3));
	info->requestor_name = g_strdup(PQgetvalue(res, row, 4));
	info->subject = g_strdup(PQgetvalue(res, row, 5));
	info->priority = atoi(PQgetvalue(res, row, 6));
	info->assignee_id = atoi(PQgetvalue(res, row, 7));
	info->assignee = PQgetisnull(res, row, 8) ? NULL : g_strdup(PQgetvalue(res, row, 8));
	info->sticky = PQgetvalue(res, row, 9)[0] == 't';
}

bool ticket_get_result(struct db *db, int handle, struct ticket_info *info)
{
	PGresult *res = db_take(db, handle);
	bool found = res != NULL && PQntuples(res) == 1;

	if (found)
		ticket_info_from_row(res, 0, info);
	PQclear(res);
	return found;
}

void ticket_info_clear(struct ticket_info *info)
{
	g_free(info->requestor);
	g_free(info->requestor_name);
	g_free(info->subject);
	g_free(info->assignee);
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

void ticket_state_of(const struct ticket_info *t, struct ticket_state *s)
{
	*s = (struct ticket_state){
		.status = t->status,
		.assignee_id = t->assignee_id,
		.assignee = t->assignee,
		.priority = t->priority,
		.sticky = t->sticky,
		.queue_id = t->queue_id,
		.requestor = t->requestor,
	};
}

void ticket_followup_state(const struct ticket_info *t, struct ticket_state *s)
{
	ticket_state_of(t, s);
	if (t->assignee_id != 0 && t->sticky) {
		if (s->status != TICKET_ON_HOLD)
			s->status = TICKET_ASSIGNED;
		return;
	}
	if (t->assignee_id != 0) {
		s->assignee_id = 0;
		s->assignee = NULL;
		s->status = TICKET_REOPENED;
		return;
	}
	if (ticket_status_is_done(t->status) || t->status == TICKET_ANSWERED)
		s->status = TICKET_REOPENED;
}

static bool same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

enum db_status ticket_change(struct db *db, const struct ticket_info *t,
			     const struct ticket_state *s, enum ticket_touch touch,
			     const char *actor, const char *now, char **error_r)
{
	char id[24], assignee[16], prio[16], queue[16], oldnum[16], newnum[16];
	char was_assignee[16], was_prio[16], was_queue[16];
	enum db_status st;

	g_snprintf(id, sizeof(id), "%lld", t->id);
	g_snprintf(assignee, sizeof(assignee), "%d", s->assignee_id);
	g_snprintf(prio, sizeof(prio), "%d", s->priority);
	g_snprintf(queue, sizeof(queue), "%d", s->queue_id);
	g_snprintf(was_assignee, sizeof(was_assignee), "%d", t->assignee_id);
	g_snprintf(was_prio, sizeof(was_prio), "%d", t->priority);
	g_snprintf(was_queue, sizeof(was_queue), "%d", t->queue_id);
	st = db_send(db, "ticket_update", 16,
		     (const char *const[]){ id, ticket_status_name(s->status), assignee, prio,
					    s->sticky ? "t" : "f", queue, s->requestor, now,
					    touch == TICKET_TOUCH_CUSTOMER ? "t" : "f",
					    touch == TICKET_TOUCH_ANSWER ? "t" : "f",
					    ticket_status_name(t->status), was_assignee, was_prio,
					    t->sticky ? "t" : "f", was_queue, t->requestor },
		     NULL, 0, NULL, error_r);
	if (st == DB_OK && s->status != t->status)
		st = ticket_event(db, t->id, now, actor, "status", ticket_status_name(t->status),
				  ticket_status_name(s->status), error_r);
	if (st == DB_OK && s->assignee_id != t->assignee_id)
		st = ticket_event(db, t->id, now, actor, s->assignee_id != 0 ? "assign" : "release",
				  t->assignee, s->assignee, error_r);
	if (st == DB_OK && s->priority != t->priority) {
		g_snprintf(oldnum, sizeof(oldnum), "%d", t->priority);
		g_snprintf(newnum, sizeof(newnum), "%d", s->priority);
		st = ticket_event(db, t->id, now, actor, "priority", oldnum, newnum, error_r);
	}
	if (st == DB_OK && s->sticky != t->sticky)
		st = ticket_event(db, t->id, now, actor, "sticky", t->sticky ? "on" : "off",
				  s->sticky ? "on" : "off", error_r);
	if (st == DB_OK && s->queue_id != t->queue_id) {
		g_snprintf(oldnum, sizeof(oldnum), "%d", t->queue_id);
		st = ticket_event(db, t->id, now, actor, "queue", oldnum,
				  s->queue != NULL ? s->queue : queue, error_r);
	}
	if (st == DB_OK && !same_text(s->requestor, t->requestor))
		st = ticket_event(db, t->id, now, actor, "requestor", t->requestor, s->requestor,
				  error_r);
	return st;
}

enum db_status ticket_ask_cc(struct db *db, long long id, int *handle_r, char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, "ticket_cc_list", 1, (const char *const[]){ idtext }, NULL, 0, handle_r,
		       error_r);
}

char **ticket_cc_result(struct db *db, int handle)
{
	PGresult *res = db_take(db, handle);
	int n = res != NULL ? PQntuples(res) : 0;
	char **cc = g_new0(char *, n + 1);

	for (int i = 0; i < n; i++)
		cc[i] = g_strdup(PQgetvalue(res, i, 0));
	PQclear(res);
	return cc;
}

enum db_status ticket_ask_recent(struct db *db, const char *requestor, int *handle_r,
				 char **error_r)
{
	return db_send(db, "ticket_recent", 1, (const char *const[]){ requestor }, NULL, 0,
		       handle_r, error_r);
}

char *ticket_recent_result(struct db *db, int handle)
{
	PGresult *res = db_take(db, handle);
	GString *out = g_string_new(NULL);

	for (int i = 0; res != NULL && i < PQntuples(res); i++)
		g_string_append_printf(out, "%s#%s %-9s %s", i > 0 ? "\n" : "",
				       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				       PQgetvalue(res, i, 2));
	if (out->len == 0)
		g_string_append(out, "(none)");
	PQclear(res);
	return g_string_free(out, FALSE);
}

/* One of the additions: its statement writes the row and its event. */
static enum db_status add_with_event(struct db *db, const char *name, long long id,
				     const char *value, const char *actor, const char *now,
				     char **error_r)
{
	char idtext[24];

	g_snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_send(db, name, 4, (const char *const[]){ idtext, value, now, actor }, NULL, 0,
		       NULL, error_r);
}

enum db_status ticket_add_tag(struct db *db, long long id, const char *tag, const char *actor,
			      const char *now, char **error_r)
{
	return add_with_event(db, "ticket_tag_insert", id, tag, actor, now, error_r);
}

enum db_status ticket_add_link(struct db *db, long long id, long long other, const char *actor,
			       const char *now, char **error_r)
{
	char othertext[24];

	g_snprintf(othertext, sizeof(othertext), "%lld", other);
	return add_with_event(db, "ticket_link_insert", id, othertext, actor, now, error_r);
}

enum db_status ticket_add_cc_by(struct db *db, long long id, const char *addr, const char *actor,
				const char *now, char **error_r)
{
	return add_with_event(db, "ticket_cc_insert_by", id, addr, actor, now, error_r);
}
