/*
 * ticketctl - the administration panel on the command line (DESIGN §5).
 *
 *   ticketctl [-c FILE] db migrate
 *   ticketctl [-c FILE] list [--queue NAME] [--all] [--limit N] [--format=table|json]
 *   ticketctl [-c FILE] show N [--format=table|json]
 *   ticketctl [-c FILE] failed list [--format=table|json]
 *
 * Exit codes follow sysexits(3): 64 usage, 65 no such ticket, 69 database
 * unreachable, 78 bad config.
 */
#include "config.h"
#include "db.h"
#include "json.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/ticketd/ticketd.conf"

enum format {
	FORMAT_TABLE,
	FORMAT_JSON
};

/* A column of a listing: its name, its JSON type ('s' string, 'i' number,
 * 'b' boolean) and its widest table cell (0: no limit). */
struct column {
	const char *name;
	char type;
	int max_width;
};

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char ticket_select[] =
	"SELECT t.id, q.name, t.status, t.priority, t.subject, t.requestor, s.login, t.sticky, " ISO(
		"t.created") ", " ISO("t.updated") " FROM tickets t JOIN queues q ON q.id = t.queue_id "
						   "LEFT JOIN staff s ON s.id = t.assignee_id ";
static const struct column ticket_columns[] = {
	{ "id", 'i', 0 },       { "queue", 's', 0 },    { "status", 's', 0 },
	{ "priority", 'i', 0 }, { "subject", 's', 40 }, { "requestor", 's', 30 },
	{ "assignee", 's', 0 }, { "sticky", 'b', 0 },   { "created", 's', 0 },
	{ "updated", 's', 0 },  { NULL, 0, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ticketctl [-c FILE] db migrate\n"
		"       ticketctl [-c FILE] list [--queue NAME] [--all] [--limit N] [--format=table|json]\n"
		"       ticketctl [-c FILE] show N [--format=table|json]\n"
		"       ticketctl [-c FILE] failed list [--format=table|json]\n");
}

static void append_value(GString *out, const PGresult *res, int row, int col, char type)
{
	const char *v = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
		g_string_append(out, "null");
	else if (type == 'i')
		g_string_append(out, v);
	else if (type == 'b')
		g_string_append(out, v[0] == 't' ? "true" : "false");
	else
		json_append_string(out, v);
}

/* Appends row as a JSON object, without the closing brace. */
static void append_object(GString *out, const PGresult *res, int row, const struct column *cols)
{
	g_string_append_c(out, '{');
	for (int c = 0; cols[c].name != NULL; c++) {
		if (c > 0)
			g_string_append(out, ", ");
		json_append_string(out, cols[c].name);
		g_string_append(out, ": ");
		append_value(out, res, row, c, cols[c].type);
	}
}

static void append_array(GString *out, const PGresult *res, const struct column *cols)
{
	g_string_append_c(out, '[');
	for (int r = 0; r < PQntuples(res); r++) {
		g_string_append(out, r > 0 ? ",\n  " : "\n  ");
		append_object(out, res, r, cols);
		g_string_append_c(out, '}');
	}
	g_string_append(out, PQntuples(res) > 0 ? "\n]" : "]");
}

/* A table cell: one line, control characters replaced, cut to max. */
static char *cell(const PGresult *res, int row, int col, const struct column *c)
{
	char *text;

	if (PQgetisnull(res, row, col))
		return g_strdup("-");
	text = log_sanitize(PQgetvalue(res, row, col), 4096);
	if (c->max_width > 0 && g_utf8_strlen(text, -1) > c->max_width) {
		char *cut = g_utf8_substring(text, 0, c->max_width - 1);
		g_free(text);
		text = g_strconcat(cut, "…", NULL);
		g_free(cut);
	}
	return text;
}

static void print_table(const PGresult *res, const struct column *cols)
{
	int ncols = 0, rows = PQntuples(res);
	long width[32] = { 0 };

	while (cols[ncols].name != NULL)
		ncols++;
	for (int c = 0; c < ncols; c++)
		width[c] = (long)strlen(cols[c].name);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < ncols; c++) {
			char *t = cell(res, r, c, &cols[c]);
			width[c] = MAX(width[c], g_utf8_strlen(t, -1));
			g_free(t);
		}
	for (int r = -1; r < rows; r++) {
		GString *line = g_string_new(NULL);
		for (int c = 0; c < ncols; c++) {
			char *t =
				r < 0 ? g_ascii_strup(cols[c].name, -1) : cell(res, r, c, &cols[c]);
			g_string_append(line, t);
			if (c + 1 < ncols)
				for (long pad = g_utf8_strlen(t, -1); pad <= width[c]; pad++)
					g_string_append_c(line, ' ');
			g_free(t);
		}
		puts(line->str);
		g_string_free(line, TRUE);
	}
}

static PGresult *query(struct db *db, const char *sql, int n, const char *const *values)
{
	char *error = NULL;
	enum db_status st;
	PGresult *res = db_exec(db, sql, n, values, &st, &error);

	if (res == NULL) {
		fprintf(stderr, "ticketctl: %s\n", error);
		exit(st == DB_ERR_CONNECTION ? EX_UNAVAILABLE : EX_SOFTWARE);
	}
	return res;
}

static int cmd_migrate(struct db *db)
{
	char *error = NULL;
	int applied = 0, version = 0;

	if (db_migrate(db, &applied, &error) != DB_OK) {
		fprintf(stderr, "ticketctl: %s\n", error);
		g_free(error);
		return EX_SOFTWARE;
	}
	db_schema_version(db, &version, &error);
	printf("schema at version %d (%d migration%s applied)\n", version, applied,
	       applied == 1 ? "" : "s");
	return EX_OK;
}

static int cmd_list(struct db *db, enum format fmt, const char *queue, bool all, const char *limit)
{
	GString *sql = g_string_new(ticket_select);
	PGresult *res;

	g_string_append(sql, "WHERE ($1::text IS NULL OR q.name = $1) "
			     "AND ($2::boolean OR t.status NOT IN ('resolved', 'closed')) "
			     "ORDER BY t.priority DESC, t.id LIMIT $3::bigint");
	res = query(db, sql->str, 3, (const char *const[]){ queue, all ? "t" : "f", limit });
	g_string_free(sql, TRUE);
	if (fmt == FORMAT_JSON) {
		GString *out = g_string_new(NULL);
		append_array(out, res, ticket_columns);
		puts(out->str);
		g_string_free(out, TRUE);
	} else {
		print_table(res, ticket_columns);
	}
	PQclear(res);
	return EX_OK;
}

static const struct column message_columns[] = {
	{ "id", 'i', 0 },          { "direction", 's', 0 },  { "kind", 's', 0 },
	{ "from", 's', 0 },        { "to", 's', 0 },         { "subject", 's', 0 },
	{ "text", 's', 0 },        { "message_id", 's', 0 }, { "created", 's', 0 },
	{ "attachments", 'i', 0 }, { NULL, 0, 0 },
};
static const struct column event_columns[] = {
	{ "at", 's', 0 },  { "actor", 's', 0 }, { "type", 's', 0 },
	{ "old", 's', 0 }, { "new", 's', 0 },   { NULL, 0, 0 },
};

static void append_string_list(GString *out, const PGresult *res)
{
	g_string_append_c(out, '[');
	for (int r = 0; r < PQntuples(res); r++) {
		if (r > 0)
			g_string_append(out, ", ");
		json_append_string(out, PQgetvalue(res, r, 0));
	}
	g_string_append_c(out, ']');
}

static int cmd_show(struct db *db, enum format fmt, const char *id)
{
	GString *sql = g_string_new(ticket_select);
	PGresult *t, *cc, *tags, *msgs, *events;

	if (strspn(id, "0123456789") != strlen(id) || id[0] == '\0' || strlen(id) > 18) {
		fprintf(stderr, "ticketctl: show: not a ticket number: %s\n", id);
		return EX_USAGE;
	}
	g_string_append(sql, "WHERE t.id = $1");
	t = query(db, sql->str, 1, &id);
	g_string_free(sql, TRUE);
	if (PQntuples(t) == 0) {
		fprintf(stderr, "ticketctl: no ticket %s\n", id);
		PQclear(t);
		return EX_DATAERR;
	}
	cc = query(db, "SELECT address FROM ticket_cc WHERE ticket_id = $1 ORDER BY address", 1,
		   &id);
	tags = query(db, "SELECT tag FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag", 1, &id);
	msgs = query(
		db,
		"SELECT m.id, m.direction, m.kind, m.from_addr, m.to_addrs, m.subject, m.body, "
		"m.message_id, " ISO(
			"m.created") ", "
				     "(SELECT count(*) FROM attachments a WHERE a.message_id = m.id) "
				     "FROM messages m WHERE m.ticket_id = $1 ORDER BY m.id",
		1, &id);
	events = query(db,
		       "SELECT " ISO("at") ", actor, type, old, new FROM events "
					   "WHERE ticket_id = $1 ORDER BY id",
		       1, &id);
	if (fmt == FORMAT_JSON) {
		GString *out = g_string_new(NULL);
		append_object(out, t, 0, ticket_columns);
		g_string_append(out, ",\n \"cc\": ");
		append_string_list(out, cc);
		g_string_append(out, ",\n \"tags\": ");
		append_string_list(out, tags);
		g_string_append(out, ",\n \"messages\": ");
		append_array(out, msgs, message_columns);
		g_string_append(out, ",\n \"events\": ");
		append_array(out, events, event_columns);
		g_string_append(out, "}");
		puts(out->str);
		g_string_free(out, TRUE);
	} else {
		for (int c = 0; ticket_columns[c].name != NULL; c++) {
			char *v = PQgetisnull(t, 0, c) ? g_strdup("-")
						       : log_sanitize(PQgetvalue(t, 0, c), 4096);
			printf("%-10s %s\n", ticket_columns[c].name, v);
			g_free(v);
		}
		printf("%-10s", "cc");
		for (int r = 0; r < PQntuples(cc); r++)
			printf(" %s", PQgetvalue(cc, r, 0));
		printf("\n");
		for (int r = 0; r < PQntuples(msgs); r++) {
			printf("\n--- message %s (%s, %s) %s\nFrom: %s\nTo: %s\nSubject: %s\n",
			       PQgetvalue(msgs, r, 0), PQgetvalue(msgs, r, 1),
			       PQgetvalue(msgs, r, 2), PQgetvalue(msgs, r, 8),
			       PQgetvalue(msgs, r, 3), PQgetvalue(msgs, r, 4),
			       PQgetvalue(msgs, r, 5));
			if (strcmp(PQgetvalue(msgs, r, 9), "0") != 0)
				printf("Attachments: %s\n", PQgetvalue(msgs, r, 9));
			printf("\n%s\n", PQgetvalue(msgs, r, 6));
		}
		printf("\n--- events\n");
		print_table(events, event_columns);
	}
	PQclear(t);
	PQclear(cc);
	PQclear(tags);
	PQclear(msgs);
	PQclear(events);
	return EX_OK;
}

static const struct column failed_columns[] = {
	{ "id", 'i', 0 },   { "source", 's', 40 }, { "uid", 's', 30 }, { "received", 's', 0 },
	{ "size", 'i', 0 }, { "reason", 's', 60 }, { NULL, 0, 0 },
};

static int cmd_failed_list(struct db *db, enum format fmt)
{
	PGresult *res =
		query(db,
		      "SELECT id, source, source_uid, " ISO(
			      "received") ", size, reason "
					  "FROM raw_messages WHERE status = 'failed' ORDER BY id",
		      0, NULL);

	if (fmt == FORMAT_JSON) {
		GString *out = g_string_new(NULL);
		append_array(out, res, failed_columns);
		puts(out->str);
		g_string_free(out, TRUE);
	} else {
		print_table(res, failed_columns);
	}
	PQclear(res);
	return EX_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'F' },
		{ "queue", required_argument, NULL, 'q' },
		{ "all", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG, *queue = NULL, *limit = NULL;
	struct ticketd_config *cfg = NULL;
	enum format fmt = FORMAT_TABLE;
	struct db *db = NULL;
	char *error = NULL;
	bool all = false;
	int c, code = EX_USAGE;

	/* GNU getopt permutes: options may follow the command words. */
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "json") == 0)
				fmt = FORMAT_JSON;
			else if (strcmp(optarg, "table") == 0)
				fmt = FORMAT_TABLE;
			else {
				fprintf(stderr, "ticketctl: --format: table or json\n");
				return EX_USAGE;
			}
			break;
		case 'q':
			queue = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'l':
			if (strspn(optarg, "0123456789") != strlen(optarg) || optarg[0] == '\0') {
				fprintf(stderr, "ticketctl: --limit: not a number: %s\n", optarg);
				return EX_USAGE;
			}
			limit = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if (config_load(config_path, &cfg, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		g_free(error);
		return EX_CONFIG;
	}
	if (db_connect(cfg->conninfo, &db, &error) != DB_OK) {
		fprintf(stderr, "ticketctl: %s\n", error);
		g_free(error);
		config_free(&cfg);
		return EX_UNAVAILABLE;
	}
	if (argc == 2 && strcmp(argv[0], "db") == 0 && strcmp(argv[1], "migrate") == 0)
		code = cmd_migrate(db);
	else if (argc == 1 && strcmp(argv[0], "list") == 0)
		code = cmd_list(db, fmt, queue, all, limit);
	else if (argc == 2 && strcmp(argv[0], "show") == 0)
		code = cmd_show(db, fmt, argv[1]);
	else if (argc == 2 && strcmp(argv[0], "failed") == 0 && strcmp(argv[1], "list") == 0)
		code = cmd_failed_list(db, fmt);
	else
		usage(stderr);
	db_close(&db);
	config_free(&cfg);
	return code;
}
