/*
 * test-ticket.c - the ticket status and message kind enums against the
 * schema: the CHECK lists of the embedded migrations (the last statement
 * that sets one wins), so that a status added to one and not the other
 * fails here rather than at the first INSERT.
 */
#include "db.h"
#include "ticket.h"

#include "tap.h"

#include <glib.h>
#include <string.h>

/* The quoted names of the last "COLUMN IN ('a', 'b' ...)" in a statement
 * on table, over every migration in order; NULL when none sets it. */
static GPtrArray *schema_check_list(const char *table, const char *column)
{
	GPtrArray *found = NULL;
	char *create = g_strdup_printf("CREATE TABLE %s (", table);
	char *alter = g_strdup_printf("ALTER TABLE %s ", table);
	char *in = g_strdup_printf("%s IN", column);

	for (const struct db_migration *m = db_migrations; m->sql != NULL; m++) {
		char **stmts = g_strsplit(m->sql, ";", -1);
		for (size_t i = 0; stmts[i] != NULL; i++) {
			const char *s = stmts[i], *p, *end;
			if (strstr(s, create) == NULL && strstr(s, alter) == NULL)
				continue;
			if ((p = strstr(s, in)) == NULL || (p = strchr(p, '(')) == NULL ||
			    (end = strchr(p, ')')) == NULL)
				continue;
			if (found != NULL)
				g_ptr_array_free(found, TRUE);
			found = g_ptr_array_new_with_free_func(g_free);
			for (const char *q = p;
			     q < end && (q = strchr(q, '\'')) != NULL && q < end;) {
				const char *close = strchr(q + 1, '\'');
				g_ptr_array_add(found, g_strndup(q + 1, close - q - 1));
				q = close + 1;
			}
		}
		g_strfreev(stmts);
	}
	g_free(create);
	g_free(alter);
	g_free(in);
	return found;
}

static void test_statuses(void)
{
	GPtrArray *list = schema_check_list("tickets", "status");

	ok(list != NULL, "the schema has a CHECK list of ticket statuses");
	if (list == NULL)
		return;
	is_int(list->len, TICKET_STATUS_COUNT, "as many statuses as enum ticket_status");
	for (guint i = 0; i < list->len; i++) {
		const char *name = g_ptr_array_index(list, i);
		enum ticket_status st;
		char *what = g_strdup_printf("status '%s' parses and names itself", name);
		ok(ticket_status_parse(name, &st) == 0 && strcmp(ticket_status_name(st), name) == 0,
		   what);
		g_free(what);
	}
	g_ptr_array_free(list, TRUE);
}

static void test_kinds(void)
{
	GPtrArray *list = schema_check_list("messages", "kind");

	ok(list != NULL, "the schema has a CHECK list of message kinds");
	if (list == NULL)
		return;
	is_int(list->len, MESSAGE_KIND_COUNT, "as many kinds as enum message_kind");
	for (guint i = 0; i < list->len; i++) {
		const char *name = g_ptr_array_index(list, i);
		enum message_kind k;
		char *what = g_strdup_printf("kind '%s' parses and names itself", name);
		ok(message_kind_parse(name, &k) == 0 && strcmp(message_kind_name(k), name) == 0,
		   what);
		g_free(what);
	}
	g_ptr_array_free(list, TRUE);
}

static void test_parse(void)
{
	enum ticket_status st = TICKET_NEW;
	enum message_kind k = MESSAGE_CUSTOMER;

	ok(ticket_status_parse("Closed", &st) < 0, "status names are exact");
	ok(ticket_status_parse(NULL, &st) < 0, "no status from NULL");
	ok(message_kind_parse("note", &k) < 0, "an unknown kind is refused");
	ok(ticket_status_is_done(TICKET_CLOSED) && ticket_status_is_done(TICKET_RESOLVED) &&
		   !ticket_status_is_done(TICKET_REOPENED),
	   "resolved and closed are done, reopened is not");
}

/* The sticky rule of DESIGN §4 on a customer's reply. */
static void test_followup(void)
{
	struct ticket_info t = { .id = 7,
				 .status = TICKET_ANSWERED,
				 .priority = 50,
				 .assignee_id = 3,
				 .assignee = "bob",
				 .sticky = true };
	struct ticket_state s;

	ticket_followup_state(&t, &s);
	ok(s.assignee_id == 3 && s.status == TICKET_ASSIGNED,
	   "sticky: stays with its assignee, who is to act again");
	t.status = TICKET_ON_HOLD;
	ticket_followup_state(&t, &s);
	ok(s.assignee_id == 3 && s.status == TICKET_ON_HOLD, "sticky and on hold: stays on hold");
	t.sticky = false;
	t.status = TICKET_ANSWERED;
	ticket_followup_state(&t, &s);
	ok(s.assignee_id == 0 && s.assignee == NULL && s.status == TICKET_REOPENED,
	   "not sticky: back to nobody, reopened");
	t.assignee_id = 0;
	t.assignee = NULL;
	t.status = TICKET_CLOSED;
	ticket_followup_state(&t, &s);
	is_int(s.status, TICKET_REOPENED, "closed and nobody's: reopened");
	t.status = TICKET_NEW;
	ticket_followup_state(&t, &s);
	is_int(s.status, TICKET_NEW, "new stays new");
	is_int(s.priority, 50, "the priority is not the reply's business");
}

int main(void)
{
	test_followup();
	test_statuses();
	test_kinds();
	test_parse();
	return tap_done();
}
