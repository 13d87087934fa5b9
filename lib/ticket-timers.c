/*
 * ticket-timers.c - the escalation and auto-close statements, each over a
 * set of tickets (the predicates match the partial indexes of
 * sql/007_timers.sql word for word, or the planner cannot use them).
 */
#include "ticket-timers.h"
#include "ticket-message.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define OPEN_STATUSES "('new', 'assigned', 'reopened')"

static const struct db_statement statements[] = {
	{ "ticket_escalation_stamp",
	  "WITH c AS (UPDATE queues q SET escalation = r.stamp FROM unnest($1::int[], $2::text[]) "
	  "r(id, stamp) WHERE q.id = r.id AND q.escalation IS DISTINCT FROM r.stamp RETURNING q.id) "
	  "UPDATE tickets t SET escalate_next = '-infinity' FROM c WHERE t.queue_id = c.id AND "
	  "t.escalate_from IS NOT NULL AND t.status IN " OPEN_STATUSES },
	{ "ticket_escalation_due",
	  "SELECT " TICKET_INFO_COLUMNS ", coalesce(t.base_priority, t.priority), "
	  "floor(extract(epoch FROM t.escalate_from))::bigint FROM " TICKET_INFO_FROM " WHERE "
	  "t.escalate_from IS NOT NULL AND t.status IN " OPEN_STATUSES " AND t.escalate_next <= $1 "
	  "ORDER BY t.escalate_next, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED" },
	{ "ticket_escalate",
	  "WITH r(id, old, base, priority, next) AS (SELECT * FROM unnest($1::bigint[], $2::int[], "
	  "$3::int[], $4::int[], $5::timestamptz[])), "
	  "u AS (UPDATE tickets t SET priority = r.priority, base_priority = r.base, "
	  "escalate_next = r.next, updated = CASE WHEN r.priority <> r.old THEN $6::timestamptz "
	  "ELSE t.updated END FROM r WHERE t.id = r.id) "
	  "INSERT INTO events (ticket_id, at, actor, type, old, new) SELECT id, $6, 'ticketd', "
	  "'priority', old::text, priority::text FROM r WHERE priority <> old" },
	/* the close, its events, and per closed ticket what its response
	 * needs: the latest message the customer has seen to thread to (not
	 * a notification, nor staff mail to the queue), whether the
	 * customer's side last wrote as a person (not automatic mail), the
	 * rate limit.  The selection goes per queue, its oldest answers
	 * first: a range of tickets_answered each, also in the generic plan
	 * (one join over the arrays walked the whole primary key). */
	{ "ticket_autoclose",
	  "WITH q(id, cutoff) AS (SELECT * FROM unnest($1::int[], $2::timestamptz[])), "
	  "d AS (SELECT a.id FROM q CROSS JOIN LATERAL (SELECT t.id FROM tickets t WHERE "
	  "t.queue_id = q.id AND t.status = 'answered' AND t.last_answer_at <= q.cutoff "
	  "ORDER BY t.last_answer_at LIMIT $5 FOR UPDATE OF t SKIP LOCKED) a LIMIT $5), "
	  "u AS (UPDATE tickets t SET status = 'closed', closed_at = $3, updated = $3, "
	  "escalate_from = NULL, escalate_next = '-infinity' FROM d WHERE t.id = d.id RETURNING "
	  "t.*), "
	  "e AS (INSERT INTO events (ticket_id, at, actor, type, old, new) SELECT id, $3, "
	  "'ticketd', 'status', 'answered', 'closed' FROM u) "
	  "SELECT t.id, t.queue_id, t.requestor, t.status, t.requestor_name, t.subject, "
	  "t.priority, coalesce(t.assignee_id, 0), s.login, t.sticky, lm.message_id, "
	  "array_to_string(lm.refs, ' '), coalesce(li.kind = 'customer', false), "
	  "(SELECT count(*) FROM outbox o WHERE o.kind = 'auto-response' AND o.recipient = "
	  "t.requestor AND o.created >= $4) "
	  "FROM u t LEFT JOIN staff s ON s.id = t.assignee_id "
	  "LEFT JOIN LATERAL (SELECT message_id, refs FROM messages m WHERE m.ticket_id = t.id "
	  "AND (m.direction = 'in' AND m.kind = 'customer' OR m.direction = 'out' AND m.kind IN "
	  "('staff-answer', 'auto-response')) ORDER BY m.id DESC LIMIT 1) lm ON true "
	  "LEFT JOIN LATERAL (SELECT kind FROM messages m WHERE m.ticket_id = t.id AND "
	  "m.kind IN ('customer', 'automatic') ORDER BY m.id DESC LIMIT 1) li ON true ORDER BY t.id" },
};

enum db_status ticket_timers_prepare(struct db *db, char **error_r)
{
	return db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
}

/* '{1,2,3}' for an int[] or bigint[] parameter. */
static char *number_array(const long long *v, size_t n)
{
	GString *s = g_string_new("{");

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%lld", i > 0 ? "," : "", v[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

enum db_status ticket_escalation_stamp(struct db *db, const int *ids, char *const *stamps, size_t n,
				       char **error_r)
{
	long long *v = g_new(long long, n + 1);
	GPtrArray *texts = g_ptr_array_new();
	char *idtext, *stamptext;
	enum db_status st;

	for (size_t i = 0; i < n; i++) {
		v[i] = ids[i];
		g_ptr_array_add(texts, stamps[i]);
	}
	idtext = number_array(v, n);
	stamptext = db_text_array(texts);
	st = db_send(db, "ticket_escalation_stamp", 2, (const char *const[]){ idtext, stamptext },
		     NULL, 0, NULL, error_r);
	g_free(v);
	g_ptr_array_free(texts, TRUE);
	g_free(idtext);
	g_free(stamptext);
	return st;
}

enum db_status ticket_escalation_due(struct db *db, const char *now, int limit, GArray **due_r,
				     char **error_r)
{
	char limittext[16];
	enum db_status st;
	PGresult *res;

	*due_r = g_array_new(FALSE, TRUE, sizeof(struct ticket_due));
	g_snprintf(limittext, sizeof(limittext), "%d", limit);
	res = db_run(db, "ticket_escalation_due", 2, (const char *const[]){ now, limittext }, NULL,
		     0, &st, error_r);
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		struct ticket_due d = { 0 };

		ticket_info_from_row(res, i, &d.info);
		d.base = atoi(PQgetvalue(res, i, 10));
		d.from = (time_t)strtoll(PQgetvalue(res, i, 11), NULL, 10);
		g_array_append_val(*due_r, d);
	}
	PQclear(res);
	return st;
}

void ticket_due_free(GArray **due)
{
	if (*due == NULL)
		return;
	for (guint i = 0; i < (*due)->len; i++)
		ticket_info_clear(&g_array_index(*due, struct ticket_due, i).info);
	g_array_free(*due, TRUE);
	*due = NULL;
}

enum db_status ticket_escalate(struct db *db, const struct ticket_escalation *e, size_t n,
			       const char *now, char **error_r)
{
	long long *v[4];
	char *arrays[5];
	GString *next = g_string_new("{");
	enum db_status st;

	if (n == 0)
		return DB_OK;
	for (size_t k = 0; k < 4; k++)
		v[k] = g_new(long long, n);
	for (size_t i = 0; i < n; i++) {
		char when[32];

		v[0][i] = e[i].id;
		v[1][i] = e[i].old_priority;
		v[2][i] = e[i].base;
		v[3][i] = e[i].priority;
		g_string_append_printf(next, "%s\"%s\"", i > 0 ? "," : "",
				       e[i].next == TICKET_NEVER
					       ? "infinity"
					       : time_iso(e[i].next, when, sizeof(when)));
	}
	g_string_append_c(next, '}');
	for (size_t k = 0; k < 4; k++)
		arrays[k] = number_array(v[k], n);
	arrays[4] = g_string_free(next, FALSE);
	st = db_send(db, "ticket_escalate", 6,
		     (const char *const[]){ arrays[0], arrays[1], arrays[2], arrays[3], arrays[4],
					    now },
		     NULL, 0, NULL, error_r);
	for (size_t k = 0; k < 4; k++)
		g_free(v[k]);
	for (size_t k = 0; k < 5; k++)
		g_free(arrays[k]);
	return st;
}

static void closed_free(gpointer p)
{
	struct ticket_closed *c = p;

	ticket_info_clear(&c->info);
	g_free(c->thread_id);
	if (c->thread_refs != NULL)
		g_ptr_array_free(c->thread_refs, TRUE);
	g_free(c);
}

enum db_status ticket_autoclose(struct db *db, const int *ids, const char *const *cutoffs, size_t n,
				const char *now, const char *since, int limit, GPtrArray **closed_r,
				char **error_r)
{
	long long *v = g_new(long long, n + 1);
	GPtrArray *texts = g_ptr_array_new();
	char *idtext, *cutofftext, limittext[16];
	enum db_status st;
	PGresult *res;

	*closed_r = g_ptr_array_new_with_free_func(closed_free);
	for (size_t i = 0; i < n; i++) {
		v[i] = ids[i];
		g_ptr_array_add(texts, (gpointer)cutoffs[i]);
	}
	idtext = number_array(v, n);
	cutofftext = db_text_array(texts);
	g_snprintf(limittext, sizeof(limittext), "%d", limit);
	res = db_run(db, "ticket_autoclose", 5,
		     (const char *const[]){ idtext, cutofftext, now, since, limittext }, NULL, 0,
		     &st, error_r);
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		struct ticket_closed *c = g_new0(struct ticket_closed, 1);

		ticket_info_from_row(res, i, &c->info);
		c->thread_id = PQgetisnull(res, i, 10) ? NULL : g_strdup(PQgetvalue(res, i, 10));
		c->thread_refs = ticket_message_refs_parse(PQgetvalue(res, i, 11));
		c->customer_wrote = PQgetvalue(res, i, 12)[0] == 't';
		c->autoresponses = strtoll(PQgetvalue(res, i, 13), NULL, 10);
		g_ptr_array_add(*closed_r, c);
	}
	PQclear(res);
	g_free(v);
	g_ptr_array_free(texts, TRUE);
	g_free(idtext);
	g_free(cutofftext);
	return st;
}

void ticket_closed_free(GPtrArray **closed)
{
	if (*closed != NULL)
		g_ptr_array_free(*closed, TRUE);
	*closed = NULL;
}
