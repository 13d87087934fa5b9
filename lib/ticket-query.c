/*
 * ticket-query.c - the reads behind ticketctl (ticket-query.h).
 *
 * Each query's columns are a static table whose order is the SELECT's, so
 * a row of a PGresult becomes a row of a format table as it is.
 */
#include "ticket-query.h"
#include "secure.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

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

/* A message's own signature (a single nest of the messages, keyed by the
 * message's id). */
static const struct format_column signature_columns[] = {
	{ "message", FORMAT_NUMBER, 0 },
	{ "status", FORMAT_TEXT, 0 },
	{ "fingerprint", FORMAT_TEXT, 0 },
};

/* A message's secure parts: their metadata, and with TICKET_SHOW_DECRYPT
 * the last two columns, the content (UTF-8 text, or base64) and which of
 * the two it is.  Keyed by the message's id. */
#define SECURE_META_COLUMNS 9
static const struct format_column secure_columns[] = {
	{ "message", FORMAT_NUMBER, 0 },        { "section", FORMAT_NUMBER, 0 },
	{ "part", FORMAT_NUMBER, 0 },           { "kind", FORMAT_TEXT, 0 },
	{ "filename", FORMAT_TEXT, 0 },         { "content_type", FORMAT_TEXT, 0 },
	{ "size", FORMAT_NUMBER, 0 },           { "sig_status", FORMAT_TEXT, 0 },
	{ "sig_fingerprint", FORMAT_TEXT, 0 },  { "content", FORMAT_LONG, 0 },
	{ "content_encoding", FORMAT_TEXT, 0 },
};
enum {
	SP_MESSAGE,
	SP_SECTION,
	SP_PART,
	SP_KIND,
	SP_FILENAME,
	SP_CONTENT_TYPE,
	SP_SIZE,
	SP_SIG_STATUS,
	SP_SIG_FINGERPRINT,
	SP_CONTENT,
	SP_ENCODING,
};

/* What the metadata query selects: never the content. */
#define SECURE_META_SELECT                                                                         \
	"SELECT p.message_id, p.section, p.part, p.kind, p.filename, p.content_type, p.size, "     \
	"p.sig_status, p.sig_fingerprint "
#define SECURE_FROM                                                                                \
	"FROM secure_parts p JOIN messages m ON m.id = p.message_id WHERE m.ticket_id = $1 "       \
	"ORDER BY p.message_id, p.section, p.part"

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

/* The table kind's line of a signature: "good by FPR". */
static char *signature_line(const struct format_table *t, size_t row)
{
	const char *status = format_table_cell(t, row, 1), *fpr = format_table_cell(t, row, 2);

	return g_strdup_printf("%s%s%s", status != NULL ? status : "-", fpr != NULL ? " by " : "",
			       fpr != NULL ? fpr : "");
}

/* Content that prints as text: a text part, or an attachment of type
 * text/..., that is UTF-8 without NUL bytes. */
static bool is_text_content(const char *kind, const char *content_type, const void *data,
			    size_t len)
{
	if (strcmp(kind, "text") != 0 && g_ascii_strncasecmp(content_type, "text/", 5) != 0)
		return false;
	return g_utf8_validate(data, (gssize)len, NULL);
}

/* The table kind's text of a secure part: "[encrypted section 1] text
 * 123 bytes, signed: good by FPR", and when the content was read, the
 * text below it, or "(binary, N bytes)". */
static char *secure_line(const struct format_table *t, size_t row)
{
	const char *kind = format_table_cell(t, row, SP_KIND),
		   *filename = format_table_cell(t, row, SP_FILENAME),
		   *sig = format_table_cell(t, row, SP_SIG_STATUS),
		   *fpr = format_table_cell(t, row, SP_SIG_FINGERPRINT);
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, SECURE_PLACEHOLDER_FMT " %s",
			       (unsigned)strtoul(format_table_cell(t, row, SP_SECTION), NULL, 10),
			       kind);
	if (strcmp(kind, "text") != 0) {
		g_string_append_printf(s, " %s", format_table_cell(t, row, SP_PART));
		if (filename != NULL)
			g_string_append_printf(s, " \"%s\"", filename);
		g_string_append_printf(s, " %s", format_table_cell(t, row, SP_CONTENT_TYPE));
	}
	g_string_append_printf(s, " %s bytes, ", format_table_cell(t, row, SP_SIZE));
	if (sig == NULL)
		g_string_append(s, "unsigned");
	else
		g_string_append_printf(s, "signed: %s%s%s", sig, fpr != NULL ? " by " : "",
				       fpr != NULL ? fpr : "");
	if (t->ncolumns > SP_CONTENT) {
		const char *content = format_table_cell(t, row, SP_CONTENT),
			   *encoding = format_table_cell(t, row, SP_ENCODING);

		if (strcmp(encoding, "utf-8") == 0)
			g_string_append_printf(s, "\n%s", content);
		else
			g_string_append_printf(s, "\n(binary, %s bytes)",
					       format_table_cell(t, row, SP_SIZE));
	}
	return g_string_free(s, FALSE);
}

/* The secure parts of ticket id with their content: the metadata columns
 * as they are, the content as text or base64 (PQunescapeBytea of the
 * bytea's text form). */
static struct format_table *secure_content(struct db *db, const char *id, enum db_status *status_r,
					   char **error_r)
{
	const char *const param[] = { id };
	PGresult *res = db_exec(db, SECURE_META_SELECT ", p.content " SECURE_FROM, 1, param,
				status_r, error_r);
	struct format_table *table;

	if (res == NULL)
		return NULL;
	table = format_table_new(secure_columns, N_ELEMENTS(secure_columns));
	for (int r = 0; r < PQntuples(res); r++) {
		const char *cells[N_ELEMENTS(secure_columns)];
		size_t len = 0;
		unsigned char *data =
			PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, SP_CONTENT),
					&len);
		char *text;

		if (data == NULL)
			log_panic("ticket-query: out of memory for a secure part");
		for (int c = 0; c < SP_CONTENT; c++)
			cells[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		if (is_text_content(cells[SP_KIND], cells[SP_CONTENT_TYPE], data, len)) {
			text = g_strndup((const char *)data, len);
			cells[SP_ENCODING] = "utf-8";
		} else {
			text = g_base64_encode(data, len);
			cells[SP_ENCODING] = "base64";
		}
		cells[SP_CONTENT] = text;
		format_table_add_row(table, cells);
		/* the plaintext leaves no copies behind but the table's */
		memset(data, 0, len);
		PQfreemem(data);
		memset(text, 0, strlen(text));
		g_free(text);
	}
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
				 unsigned flags, struct format_record **record_r, char **error_r)
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
		  "SELECT id, sig_status, sig_fingerprint FROM messages "
		  "WHERE ticket_id = $1 AND sig_status IS NOT NULL ORDER BY id",
		  1, param, signature_columns, N_ELEMENTS(signature_columns), &st, error_r);
	if (t == NULL)
		goto out;
	format_record_nest(rec, "messages", "signature", t, true, signature_line);
	if (flags & TICKET_SHOW_DECRYPT)
		t = secure_content(db, ids, &st, error_r);
	else
		t = query(db, SECURE_META_SELECT SECURE_FROM, 1, param, secure_columns,
			  SECURE_META_COLUMNS, &st, error_r);
	if (t == NULL)
		goto out;
	format_record_nest(rec, "messages", "secure_parts", t, false, secure_line);
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

char *ticket_query_sections_text(const struct format_record *record)
{
	const struct format_table *t = format_record_nest_table(record, "secure_parts");
	GString *s = g_string_new(NULL);
	const char *message = NULL, *section = NULL;
	unsigned count = 0;
	gsize mark = 0;

	for (size_t r = 0; t != NULL && r < format_table_rows(t); r++) {
		const char *m = format_table_cell(t, r, SP_MESSAGE),
			   *sec = format_table_cell(t, r, SP_SECTION);

		if (message == NULL || strcmp(m, message) != 0) {
			if (count > 1)
				g_string_insert_c(s, (gssize)mark + 7, 's'); /* "section" */
			g_string_append_printf(s, "%smessage %s: ", s->len > 0 ? "; " : "", m);
			mark = s->len;
			g_string_append_printf(s, "section %s", sec);
			message = m;
			section = sec;
			count = 1;
		} else if (strcmp(sec, section) != 0) {
			g_string_append_printf(s, ",%s", sec);
			section = sec;
			count++;
		}
	}
	if (count > 1)
		g_string_insert_c(s, (gssize)mark + 7, 's');
	return g_string_free(s, s->len == 0);
}

#define INCOMING_SELECT                                                                            \
	"SELECT m.id, m.raw_id, array_to_string(ARRAY(SELECT DISTINCT p.section "                  \
	"FROM secure_parts p WHERE p.message_id = m.id ORDER BY 1), ',') "                         \
	"FROM messages m WHERE m.ticket_id = $1 AND m.direction = 'in' "                           \
	"AND m.raw_id IS NOT NULL ORDER BY m.id"

static void incoming_clear(void *p)
{
	struct ticket_incoming *in = p;

	g_array_unref(in->sections);
}

enum db_status ticket_query_incoming(struct db *db, long long id, bool lock, GArray **incoming_r,
				     char **error_r)
{
	char ids[24];
	const char *const param[] = { ids };
	enum db_status st;
	PGresult *res;

	*incoming_r = NULL;
	g_snprintf(ids, sizeof(ids), "%lld", id);
	res = db_exec(db, lock ? INCOMING_SELECT " FOR UPDATE OF m" : INCOMING_SELECT, 1, param,
		      &st, error_r);
	if (res == NULL)
		return st;
	*incoming_r = g_array_new(FALSE, TRUE, sizeof(struct ticket_incoming));
	g_array_set_clear_func(*incoming_r, incoming_clear);
	for (int r = 0; r < PQntuples(res); r++) {
		struct ticket_incoming in = {
			.message_id = strtoll(PQgetvalue(res, r, 0), NULL, 10),
			.raw_id = strtoll(PQgetvalue(res, r, 1), NULL, 10),
			.sections = g_array_new(FALSE, FALSE, sizeof(unsigned)),
		};
		char **list = g_strsplit(PQgetvalue(res, r, 2), ",", -1);

		for (char **p = list; *p != NULL; p++) {
			unsigned section = (unsigned)strtoul(*p, NULL, 10);
			if (**p != '\0')
				g_array_append_val(in.sections, section);
		}
		g_strfreev(list);
		g_array_append_val(*incoming_r, in);
	}
	PQclear(res);
	return DB_OK;
}

bool ticket_incoming_has(const struct ticket_incoming *in, unsigned section)
{
	for (guint i = 0; i < in->sections->len; i++)
		if (g_array_index(in->sections, unsigned, i) == section)
			return true;
	return false;
}

enum db_status ticket_query_raw(struct db *db, long long raw_id, GBytes **raw_r, char **error_r)
{
	char ids[24];
	const char *const param[] = { ids };
	PGresult *res;
	enum db_status st;

	*raw_r = NULL;
	g_snprintf(ids, sizeof(ids), "%lld", raw_id);
	/* binary result: the bytes as they are, not twice their size in hex */
	res = PQexecParams(db_conn(db), "SELECT raw FROM raw_messages WHERE id = $1", 1, NULL,
			   param, NULL, NULL, 1);
	if ((st = db_result_status(db, res, error_r)) == DB_OK && PQntuples(res) == 1)
		*raw_r = g_bytes_new(PQgetvalue(res, 0, 0), (gsize)PQgetlength(res, 0, 0));
	PQclear(res);
	return st;
}
