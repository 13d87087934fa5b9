/*
 * db.c - the PostgreSQL connection: statements, transactions, savepoints,
 * migrations, and the one place where SQLSTATEs are classified.
 */
#include "db.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>


struct db {
	PGconn *conn;
	GHashTable *prepared; /* statement name → (void *)1 */
};

static void db_notice(void *arg, const char *message)
{
	/* Server notices (e.g. "relation already exists, skipping") are noise
	 * at info level. */
	(void)arg;
	(void)message;
}

enum db_status db_connect(const char *conninfo, struct db **db_r, char **error_r)
{
	struct db *db;
	PGconn *conn = PQconnectdb(conninfo);

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		error_set(error_r, "database connection failed: %s",
			  conn ? g_strchomp(PQerrorMessage(conn)) : "out of memory");
		PQfinish(conn);
		return DB_ERR_CONNECTION;
	}
	PQsetNoticeProcessor(conn, db_notice, NULL);
	db = g_new0(struct db, 1);
	db->conn = conn;
	db->prepared = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	*db_r = db;
	if (db_command(db, "SET TIME ZONE 'UTC'", error_r) != DB_OK) {
		db_close(db_r);
		return DB_ERR_CONNECTION;
	}
	return DB_OK;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	PQfinish(db->conn);
	g_hash_table_destroy(db->prepared);
	g_free(db);
	*dbp = NULL;
}

PGconn *db_conn(struct db *db)
{
	return db->conn;
}

enum db_status db_result_status(struct db *db, const PGresult *res, char **error_r)
{
	const char *state;
	ExecStatusType st;

	if (res == NULL) {
		error_set(error_r, "database: %s", g_strchomp(PQerrorMessage(db->conn)));
		return DB_ERR_CONNECTION;
	}
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
		return DB_OK;
	error_set(error_r, "database: %s", g_strchomp(PQresultErrorMessage(res)));
	if (PQstatus(db->conn) != CONNECTION_OK)
		return DB_ERR_CONNECTION;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state == NULL)
		return DB_ERR_FAILED;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return DB_ERR_CONNECTION;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return DB_ERR_RETRY;
	return DB_ERR_FAILED;
}

enum db_status db_prepare(struct db *db, const char *name, const char *sql, char **error_r)
{
	PGresult *res;
	enum db_status st;

	if (g_hash_table_contains(db->prepared, name))
		return DB_OK;
	res = PQprepare(db->conn, name, sql, 0, NULL);
	st = db_result_status(db, res, error_r);
	PQclear(res);
	if (st == DB_OK)
		g_hash_table_add(db->prepared, g_strdup(name));
	return st;
}

PGresult *db_run(struct db *db, const char *name, int nparams, const char *const *values,
		 const int *lengths, unsigned binary_mask, enum db_status *status_r, char **error_r)
{
	int formats[32];
	PGresult *res;

	g_assert(nparams <= (int)G_N_ELEMENTS(formats));
	for (int i = 0; i < nparams; i++)
		formats[i] = (binary_mask >> i) & 1;
	res = PQexecPrepared(db->conn, name, nparams, values, lengths, formats, 0);
	*status_r = db_result_status(db, res, error_r);
	if (*status_r != DB_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *db_exec(struct db *db, const char *sql, int nparams, const char *const *values,
		  enum db_status *status_r, char **error_r)
{
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0);

	*status_r = db_result_status(db, res, error_r);
	if (*status_r != DB_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

enum db_status db_command(struct db *db, const char *sql, char **error_r)
{
	PGresult *res = PQexec(db->conn, sql);
	enum db_status st = db_result_status(db, res, error_r);

	PQclear(res);
	return st;
}

enum db_status db_begin(struct db *db, char **error_r)
{
	return db_command(db, "BEGIN", error_r);
}

enum db_status db_commit(struct db *db, char **error_r)
{
	return db_command(db, "COMMIT", error_r);
}

void db_rollback(struct db *db)
{
	PQclear(PQexec(db->conn, "ROLLBACK"));
}

enum db_status db_begin_savepoint(struct db *db, char **error_r)
{
	return db_command(db, "BEGIN; SAVEPOINT msg", error_r);
}

enum db_status db_next_savepoint(struct db *db, char **error_r)
{
	return db_command(db, "RELEASE SAVEPOINT msg; SAVEPOINT msg", error_r);
}

enum db_status db_rollback_to_savepoint(struct db *db, char **error_r)
{
	return db_command(db, "ROLLBACK TO SAVEPOINT msg", error_r);
}

int db_schema_latest(void)
{
	int latest = 0;

	for (const struct db_migration *m = db_migrations; m->name != NULL; m++)
		if (m->version > latest)
			latest = m->version;
	return latest;
}

enum db_status db_schema_version(struct db *db, int *version_r, char **error_r)
{
	enum db_status st;
	bool exists;
	PGresult *res;

	/* A fresh database has no schema_version table: version 0. */
	res = db_exec(db, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &st, error_r);
	if (res == NULL)
		return st;
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	*version_r = 0;
	if (!exists)
		return DB_OK;
	res = db_exec(db, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &st,
		      error_r);
	if (res == NULL)
		return st;
	*version_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return DB_OK;
}

enum db_status db_migrate(struct db *db, int *applied_r, char **error_r)
{
	enum db_status st;
	int current;

	*applied_r = 0;
	st = db_command(db,
			"SELECT pg_advisory_lock(1953063787);"
			"CREATE TABLE IF NOT EXISTS schema_version ("
			" version integer PRIMARY KEY, name text NOT NULL,"
			" applied timestamptz NOT NULL DEFAULT now())",
			error_r);
	if (st != DB_OK)
		return st;
	st = db_schema_version(db, &current, error_r);
	for (const struct db_migration *m = db_migrations; st == DB_OK && m->name != NULL; m++) {
		char version[16];
		const char *params[2] = { version, m->name };
		PGresult *res;

		if (m->version <= current)
			continue;
		g_snprintf(version, sizeof(version), "%d", m->version);
		if ((st = db_begin(db, error_r)) != DB_OK)
			break;
		st = db_command(db, m->sql, error_r);
		if (st == DB_OK) {
			res = db_exec(db, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
				      2, params, &st, error_r);
			PQclear(res);
		}
		if (st == DB_OK)
			st = db_commit(db, error_r);
		if (st != DB_OK) {
			char *reason = *error_r;
			*error_r = NULL;
			db_rollback(db);
			error_set(error_r, "migration %s: %s", m->name, reason);
			g_free(reason);
			break;
		}
		(*applied_r)++;
	}
	PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock(1953063787)"));
	return st;
}

char *db_text_array(GPtrArray *items)
{
	GString *s = g_string_new("{");

	for (guint i = 0; items != NULL && i < items->len; i++) {
		const char *p = g_ptr_array_index(items, i);
		if (i > 0)
			g_string_append_c(s, ',');
		g_string_append_c(s, '"');
		for (; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *p);
		}
		g_string_append_c(s, '"');
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

/* Appends s to buf escaped for COPY's text format. */
static void copy_escape(GString *buf, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			g_string_append(buf, "\\\\");
			break;
		case '\t':
			g_string_append(buf, "\\t");
			break;
		case '\n':
			g_string_append(buf, "\\n");
			break;
		case '\r':
			g_string_append(buf, "\\r");
			break;
		default:
			g_string_append_c(buf, *s);
		}
	}
}

/* Sends buf's content as COPY data and empties it. */
static int copy_put(struct db *db, GString *buf)
{
	int r = buf->len > 0 ? PQputCopyData(db->conn, buf->str, (int)buf->len) : 1;

	g_string_truncate(buf, 0);
	return r == 1 ? 0 : -1;
}

enum db_status db_copy_row(struct db *db, const char *copy_sql, int nfields,
			   const char *const *values, const size_t *lengths, unsigned bytea_mask,
			   char **error_r)
{
	static const char hex[] = "0123456789abcdef";
	GString *buf = g_string_sized_new(DB_COPY_CHUNK * 2 + 64);
	enum db_status st;
	PGresult *res;
	int failed = 0;

	res = PQexec(db->conn, copy_sql);
	st = db_result_status(db, res, error_r);
	PQclear(res);
	if (st != DB_OK)
		goto out;
	for (int i = 0; i < nfields && failed == 0; i++) {
		if (i > 0)
			g_string_append_c(buf, '\t');
		if (values[i] == NULL) {
			g_string_append(buf, "\\N");
		} else if ((bytea_mask >> i) & 1) {
			/* bytea as hex, a chunk at a time: neither we nor libpq
			 * ever hold a second copy of a large value */
			const unsigned char *p = (const unsigned char *)values[i];
			g_string_append(buf, "\\\\x");
			for (size_t off = 0; off < lengths[i] && failed == 0; off++) {
				g_string_append_c(buf, hex[p[off] >> 4]);
				g_string_append_c(buf, hex[p[off] & 15]);
				if (buf->len >= DB_COPY_CHUNK * 2)
					failed = copy_put(db, buf);
			}
		} else {
			copy_escape(buf, values[i]);
		}
	}
	g_string_append_c(buf, '\n');
	if (failed == 0)
		failed = copy_put(db, buf);
	if (PQputCopyEnd(db->conn, failed == 0 ? NULL : "ticketd: sending failed") != 1)
		failed = -1;
	res = PQgetResult(db->conn);
	st = db_result_status(db, res, error_r);
	PQclear(res);
	while ((res = PQgetResult(db->conn)) != NULL)
		PQclear(res);
	if (st == DB_OK && failed != 0) {
		error_set(error_r, "database: COPY failed: %s", PQerrorMessage(db->conn));
		st = DB_ERR_CONNECTION;
	}
out:
	g_string_free(buf, TRUE);
	return st;
}
