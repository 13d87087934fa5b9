/*
 * ticket-query.c - the reads behind ticketctl (ticket-query.h).
 *
 * Each query's columns are a static table whose order is the SELECT's, so
 * a row of a PGresult becomes a row of a format table as it is.
 */
#include "ticket-query.h"
#include "util.h"

#define ISO(col)      "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const char ticket_select[] =
	"SELECT t.id, q.name, t.status, t.priority, t.subject, t.requestor, s.login, t.sticky, " ISO(
		"t.created") ", " ISO("t.updated") " "
						   "FROM tickets t JOIN queues q ON q.id = t.queue_id "
						   "LEFT JOIN staff s ON s.id = t.assignee_id ";

/* What a viewer sees (DESIGN §1), with the viewer's login and, for an
 * admin, its queues as parameters $N and $N+1 (NULL login: everything;
 * NULL queues: only the viewer's own tickets). */
#define VISIBLE(login, queues)                                                                     \
	"(" login "::text IS NULL OR s.login = " login "::text OR COALESCE(q.name = ANY(" queues   \
	"::text[]), false)) "

static const struct format_column ticket_columns[] = {
	{ "id", FORMAT_NUMBER, 0 },     { "queue", FORMAT_TEXT, 0 },
	{ "status", FORMAT_TEXT, 0 },   { "priority", FORMAT_NUMBER, 0 },
	{ "subject", FORMAT_TEXT, 40 }, { "requestor", FORMAT_TEXT, 30 },
	{ "assignee", FORMAT_TEXT, 0 }, { "sticky", FORMAT_BOOLEAN, 0 },
	{ "created", FORMAT_TEXT, 0 },  { "updated", FORMAT_TEXT, 0 },
};

static const struct format_column string_column[] = { { "value", FORMAT_TEXT, 0 } };

static const struct format_column message_columns[] = {
	{ "id", FORMAT_NUMBER, 0 },    { "direction", FORMAT_TEXT, 0 },
	{ "kind", FORMAT_TEXT, 0 },    { "from", FORMAT_TEXT, 0 },
	{ "to", FORMAT_TEXT, 0 },      { "subject", FORMAT_TEXT, 0 },
	{ "text", FORMAT_LONG, 0 },    { "message_id", FORMAT_TEXT, 0 },
	{ "created", FORMAT_TEXT, 0 }, { "attachments", FORMAT_NUMBER, 0 },
};

static const struct format_column event_columns[] = {
	{ "at", FORMAT_TEXT, 0 },  { "actor", FORMAT_TEXT, 0 }, { "type", FORMAT_TEXT, 0 },
	{ "old", FORMAT_TEXT, 0 }, { "new", FORMAT_TEXT, 0 },
};

static const struct format_column failed_columns[] = {
	{ "id", FORMAT_NUMBER, 0 },   { "source", FORMAT_TEXT, 40 },
	{ "uid", FORMAT_TEXT, 30 },   { "received", FORMAT_TEXT, 0 },
	{ "size", FORMAT_NUMBER, 0 }, { "reason", FORMAT_TEXT, 60 },
};

/* The parameters of VISIBLE for viewer (NULL: everything); *queues_r is
 * the caller's to g_free. */
static void viewer_params(const struct staff_viewer *viewer, const char **login_r, char **queues_r)
{
	GPtrArray *names;

	*login_r = viewer != NULL ? viewer->login : NULL;
	*queues_r = NULL;
	if (viewer == NULL || !viewer->admin)
		return;
	names = g_ptr_array_new();
	for (const char **q = viewer->queues; q != NULL && *q != NULL; q++)
		g_ptr_array_add(names, (char *)*q);
	*queues_r = db_text_array(names);
	g_ptr_array_free(names, TRUE);
}

/* Runs sql and returns its rows as a table of columns (as many as the
 * SELECT has), or NULL with the reason. */
static struct format_table *query(struct db *db, const char *sql, int nparams,
				  const char *const *values, const struct format_column *columns,
				  size_t ncolumns, enum db_status *status_r, char **error_r)
{
	PGresult *res = db_exec(db, sql, nparams, values, status_r, error_r);
	struct format_table *table;
	const char **cells;

	if (res == NULL)
		return NULL;
	if ((size_t)PQnfields(res) != ncolumns)
		log_panic("ticket-query: %d fields for %zu columns", PQnfields(res), ncolumns);
	table = format_table_new(columns, ncolumns);
	cells = g_new(const char *, ncolumns);
	for (int r = 0; r < PQntuples(res); r++) {
		for (size_t c = 0; c < ncolumns; c++)
			cells[c] = PQgetisnull(res, r, (int)c) ? NULL : PQgetvalue(res, r, (int)c);
		format_table_add_row(table, cells);
	}
	g_free(cells);
	PQclear(res);
	*status_r = DB_OK;
	return table;
}

enum db_status ticket_query_list(struct db *db, const struct ticket_filter *filter,
				 struct format_table **table_r, char **error_r)
{
	char *sql =
		g_strconcat(ticket_select,
			    "WHERE ($1::text IS NULL OR q.name = $1) "
			    "AND ($2::boolean OR t.status NOT IN ('resolved', 'closed')) "
			    "AND " VISIBLE("$4",
					   "$5") "ORDER BY t.priority DESC, t.id LIMIT $3::bigint",
			    NULL);
	char *limit = filter->limit < 0 ? NULL : g_strdup_printf("%lld", filter->limit), *queues;
	const char *login;
	enum db_status st;

	viewer_params(filter->viewer, &login, &queues);
	*table_r = query(db, sql, 5,
			 (const char *const[]){ filter->queue, filter->all ? "t" : "f", limit,
						login, queues },
			 ticket_columns, N_ELEMENTS(ticket_columns), &st, error_r);
	g_free(queues);
	g_free(limit);
	g_free(sql);
	return st;
}

enum db_status ticket_query_show(struct db *db, long long id, const struct staff_viewer *viewer,
				 struct format_record **record_r, char **error_r)
{
	char *ids = g_strdup_printf("%lld", id),
	     *sql = g_strconcat(ticket_select, "WHERE t.id = $1 AND " VISIBLE("$2", "$3"), NULL),
	     *queues;
	const char *const param[] = { ids }, *login;
	struct format_record *rec = g_new0(struct format_record, 1);
	struct format_table *t;
	enum db_status st;

	*record_r = NULL;
	viewer_params(viewer, &login, &queues);
	rec->fields = query(db, sql, 3, (const char *const[]){ ids, login, queues }, ticket_columns,
			    N_ELEMENTS(ticket_columns), &st, error_r);
	g_free(queues);
	if (rec->fields == NULL || format_table_rows(rec->fields) == 0)
		goto out;
	t = query(db, "SELECT address FROM ticket_cc WHERE ticket_id = $1 ORDER BY address", 1,
		  param, string_column, 1, &st, error_r);
	if (t == NULL)
		goto out;
	format_record_add(rec, "cc", "cc", t, true);
	t = query(db, "SELECT tag FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag", 1, param,
		  string_column, 1, &st, error_r);
	if (t == NULL)
		goto out;
	format_record_add(rec, "tags", "tags", t, true);
	t = query(
		db,
		"SELECT m.id, m.direction, m.kind, m.from_addr, m.to_addrs, m.subject, m.body, "
		"m.message_id, " ISO(
			"m.created") ", "
				     "(SELECT count(*) FROM attachments a WHERE a.message_id = m.id) "
				     "FROM messages m WHERE m.ticket_id = $1 ORDER BY m.id",
		1, param, message_columns, N_ELEMENTS(message_columns), &st, error_r);
	if (t == NULL)
		goto out;
	format_record_add(rec, "messages", "message", t, false);
	t = query(db,
		  "SELECT " ISO("at") ", actor, type, old, new FROM events "
				      "WHERE ticket_id = $1 ORDER BY id",
		  1, param, event_columns, N_ELEMENTS(event_columns), &st, error_r);
	if (t == NULL)
		goto out;
	format_record_add(rec, "events", "events", t, false);
	*record_r = rec;
	rec = NULL;
out:
	format_record_free(&rec);
	g_free(sql);
	g_free(ids);
	return st;
}

enum db_status ticket_query_failed(struct db *db, struct format_table **table_r, char **error_r)
{
	enum db_status st;

	*table_r =
		query(db,
		      "SELECT id, source, source_uid, " ISO(
			      "received") ", size, reason "
					  "FROM raw_messages WHERE status = 'failed' ORDER BY id",
		      0, NULL, failed_columns, N_ELEMENTS(failed_columns), &st, error_r);
	return st;
}
