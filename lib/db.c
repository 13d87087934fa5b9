/*
 * db.c - the PostgreSQL connection: statements, transactions, savepoints,
 * migrations, and the one place where SQLSTATEs are classified.
 */
#include "db.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A statement sent in pipeline mode whose result is not read yet. */
struct db_pending {
	unsigned mark;   /* db->mark when it was sent */
	int slot;        /* in db->results, or -1: the result is not wanted */
	bool sync_after; /* db_sync_send() sent a Sync right after it */
};

/* A result somebody asked for: taken once with db_take(), after the sync
 * that read it and before the next round of statements with results. */
struct db_result {
	PGresult *res;
	const char *name; /* the statement (prepared name, or its SQL text) */
	bool ready;       /* read by a sync (res may still be NULL: it failed) */
	bool taken;
};

/* A handle is its slot and the round it belongs to, so that a handle of an
 * earlier round is recognised, not read as another statement's result. */
#define HANDLE_SLOTS 0x10000

struct db {
	PGconn *conn;
	GHashTable *prepared; /* statement name → (void *)1 */
	bool pipeline;
	bool synced; /* db->results hold the last sync's results */
	unsigned mark;
	GArray *pending; /* struct db_pending, in the order sent */
	GArray *results; /* struct db_result by slot, this round's */
	unsigned round;  /* incremented when results are dropped */
};

static void db_notice(void *arg, const char *message)
{
	/* Server notices (e.g. "relation already exists, skipping") are noise
	 * at info level. */
	(void)arg;
	(void)message;
}

static void drop_results(struct db *db)
{
	for (guint i = 0; i < db->results->len; i++)
		PQclear(g_array_index(db->results, struct db_result, i).res);
	g_array_set_size(db->results, 0);
	db->round++;
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
	db->pending = g_array_new(FALSE, FALSE, sizeof(struct db_pending));
	db->results = g_array_new(FALSE, TRUE, sizeof(struct db_result));
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
	g_array_free(db->pending, TRUE);
	drop_results(db);
	g_array_free(db->results, TRUE);
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

/* Sends one statement without waiting: prepared (name) or SQL text. */
static bool send_statement(struct db *db, bool prepared, const char *name_or_sql, int nparams,
			   const char *const *values, const int *lengths, unsigned binary_mask)
{
	int formats[32];

	g_assert(nparams <= (int)G_N_ELEMENTS(formats));
	for (int i = 0; i < nparams; i++)
		formats[i] = (binary_mask >> i) & 1;
	if (prepared)
		return PQsendQueryPrepared(db->conn, name_or_sql, nparams, values, lengths, formats,
					   0) == 1;
	return PQsendQueryParams(db->conn, name_or_sql, nparams, NULL, values, lengths, formats,
				 0) == 1;
}

/* Results of the last sync that nobody took are dropped when the next
 * statement that wants its result is sent: handles are valid until then. */
static void start_round(struct db *db)
{
	if (db->synced) {
		drop_results(db);
		db->synced = false;
	}
}

/* The connection broke in pipeline mode: nothing pending can be trusted. */
static enum db_status pipeline_broken(struct db *db, char **error_r)
{
	error_set(error_r, "database: %s", g_strchomp(PQerrorMessage(db->conn)));
	g_array_set_size(db->pending, 0);
	return DB_ERR_CONNECTION;
}

/* Queues a statement (runs it at once outside pipeline mode).  handle_r,
 * when not NULL, receives the slot of its result for db_take(). */
static enum db_status queue(struct db *db, bool prepared, const char *name_or_sql, int nparams,
			    const char *const *values, const int *lengths, unsigned binary_mask,
			    int *handle_r, char **error_r)
{
	struct db_pending p = { .mark = db->mark, .slot = -1, .sync_after = false };

	if (handle_r != NULL)
		start_round(db);
	if (!send_statement(db, prepared, name_or_sql, nparams, values, lengths, binary_mask)) {
		if (db->pipeline)
			return pipeline_broken(db, error_r);
		error_set(error_r, "database: %s", g_strchomp(PQerrorMessage(db->conn)));
		return PQstatus(db->conn) == CONNECTION_OK ? DB_ERR_FAILED : DB_ERR_CONNECTION;
	}
	if (handle_r != NULL) {
		struct db_result r = { .name = name_or_sql };
		p.slot = (int)db->results->len;
		if (p.slot >= HANDLE_SLOTS)
			log_panic("database: more than %d results wanted in one round (%s)",
				  HANDLE_SLOTS, name_or_sql);
		g_array_append_val(db->results, r);
		*handle_r = (int)((db->round % 0x7fff) * HANDLE_SLOTS) + p.slot;
	}
	if (db->pipeline) {
		g_array_append_val(db->pending, p);
		return DB_OK;
	}
	/* not in pipeline mode: the statement's result now */
	PGresult *res = PQgetResult(db->conn), *extra;
	enum db_status st = db_result_status(db, res, error_r);

	while ((extra = PQgetResult(db->conn)) != NULL)
		PQclear(extra);
	if (p.slot >= 0) {
		struct db_result *r = &g_array_index(db->results, struct db_result, p.slot);
		r->ready = true;
		r->res = st == DB_OK ? res : NULL;
	}
	if (st != DB_OK || p.slot < 0)
		PQclear(res);
	return st;
}

enum db_status db_send(struct db *db, const char *name, int nparams, const char *const *values,
		       const int *lengths, unsigned binary_mask, int *handle_r, char **error_r)
{
	return queue(db, true, name, nparams, values, lengths, binary_mask, handle_r, error_r);
}

enum db_status db_send_sql(struct db *db, const char *sql, int nparams, const char *const *values,
			   int *handle_r, char **error_r)
{
	return queue(db, false, sql, nparams, values, NULL, 0, handle_r, error_r);
}

PGresult *db_take(struct db *db, int handle)
{
	struct db_result *r;
	unsigned slot;

	if (handle == DB_NOT_ASKED)
		return NULL;
	slot = (unsigned)handle % HANDLE_SLOTS;
	if (handle < 0 || (unsigned)handle / HANDLE_SLOTS != db->round % 0x7fff ||
	    slot >= db->results->len)
		log_panic("database: result handle %d taken after its round ended", handle);
	r = &g_array_index(db->results, struct db_result, slot);
	if (r->taken)
		log_panic("database: the result of %s taken twice", r->name);
	if (!r->ready)
		log_panic("database: the result of %s taken before the sync that reads it",
			  r->name);
	if (r->res == NULL)
		log_panic("database: the result of %s taken although its statement failed",
			  r->name);
	r->taken = true;
	return g_steal_pointer(&r->res);
}

unsigned db_mark(struct db *db)
{
	return ++db->mark;
}

/* Reads the results of one pending statement (a result, then NULL). */
static PGresult *read_one(struct db *db)
{
	PGresult *res = PQgetResult(db->conn), *extra;

	if (res != NULL)
		while ((extra = PQgetResult(db->conn)) != NULL)
			PQclear(extra);
	return res;
}

/* Whether the last statement pipelined has no Sync after it yet. */
static bool unsynced(const struct db *db)
{
	return db->pending->len > 0 &&
	       !g_array_index(db->pending, struct db_pending, db->pending->len - 1).sync_after;
}

enum db_status db_sync_send(struct db *db, char **error_r)
{
	if (!db->pipeline || !unsynced(db))
		return DB_OK;
	if (PQpipelineSync(db->conn) != 1)
		return pipeline_broken(db, error_r);
	g_array_index(db->pending, struct db_pending, db->pending->len - 1).sync_after = true;
	/* PQpipelineSync() flushes only when the buffer is full enough */
	if (PQflush(db->conn) < 0)
		return pipeline_broken(db, error_r);
	return DB_OK;
}

/* The ReadyForQuery of one Sync: the server has committed (or rolled
 * back) the statements before it. */
static bool read_sync(struct db *db)
{
	PGresult *res = PQgetResult(db->conn);
	bool ok = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;

	PQclear(res);
	return ok;
}

enum db_status db_sync(struct db *db, char **error_r)
{
	enum db_status st = DB_OK;
	PGresult *res;

	if (!db->pipeline || db->pending->len == 0) {
		db->synced = true;
		return DB_OK;
	}
	/* Statements between two Syncs are one implicit transaction,
	 * committed when the server reaches the second: each Sync sent by
	 * db_sync_send() ends its own, and one more ends the rest. */
	if (unsynced(db) && (st = db_sync_send(db, error_r)) != DB_OK)
		return st;
	for (guint i = 0; i < db->pending->len; i++) {
		const struct db_pending *p = &g_array_index(db->pending, struct db_pending, i);
		bool sync_after = p->sync_after;
		enum db_status one;

		res = read_one(db);
		if (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			PQclear(res); /* after the error reported below */
		} else {
			one = db_result_status(db, res, st == DB_OK ? error_r : NULL);
			if (one == DB_ERR_CONNECTION) {
				PQclear(res);
				return pipeline_broken(db, error_r);
			}
			if (one != DB_OK) {
				/* the first error is the one that counts; the rest
				 * of its transaction was not run */
				if (st == DB_OK)
					st = one == DB_ERR_FAILED && p->mark != db->mark
						     ? DB_ERR_EARLIER
						     : one;
				PQclear(res);
			} else if (p->slot >= 0 && st == DB_OK) {
				g_array_index(db->results, struct db_result, p->slot).res = res;
			} else {
				PQclear(res);
			}
		}
		if (p->slot >= 0)
			g_array_index(db->results, struct db_result, p->slot).ready = true;
		if (sync_after && !read_sync(db))
			return pipeline_broken(db, error_r);
	}
	g_array_set_size(db->pending, 0);
	db->synced = true;
	return st;
}

void db_flush(struct db *db)
{
	if (db->pipeline)
		(void)PQflush(db->conn);
}

enum db_status db_pipeline_begin(struct db *db, char **error_r)
{
	if (db->pipeline)
		return DB_OK;
	if (PQenterPipelineMode(db->conn) != 1) {
		error_set(error_r, "database: cannot enter pipeline mode: %s",
			  g_strchomp(PQerrorMessage(db->conn)));
		return DB_ERR_CONNECTION;
	}
	db->pipeline = true;
	return DB_OK;
}

enum db_status db_pipeline_end(struct db *db, char **error_r)
{
	enum db_status st;

	if (!db->pipeline)
		return DB_OK;
	st = db_sync(db, error_r);
	if (st == DB_ERR_CONNECTION)
		return st;
	if (PQexitPipelineMode(db->conn) != 1) {
		error_set(error_r, "database: cannot leave pipeline mode: %s",
			  g_strchomp(PQerrorMessage(db->conn)));
		return DB_ERR_CONNECTION;
	}
	db->pipeline = false;
	return st;
}

bool db_in_pipeline(const struct db *db)
{
	return db->pipeline;
}

enum db_status db_prepare(struct db *db, const char *name, const char *sql, char **error_r)
{
	PGresult *res;
	enum db_status st;

	if (g_hash_table_contains(db->prepared, name))
		return DB_OK;
	g_assert(!db->pipeline); /* statements are prepared before pipelines begin */
	res = PQprepare(db->conn, name, sql, 0, NULL);
	st = db_result_status(db, res, error_r);
	PQclear(res);
	if (st == DB_OK)
		g_hash_table_add(db->prepared, g_strdup(name));
	return st;
}

enum db_status db_prepare_all(struct db *db, const struct db_statement *statements, size_t n,
			      char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; i < n && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	return st;
}

/* One statement and its result: in pipeline mode, everything pipelined
 * before it is sent with it and settled first. */
static PGresult *run_now(struct db *db, bool prepared, const char *name_or_sql, int nparams,
			 const char *const *values, const int *lengths, unsigned binary_mask,
			 enum db_status *status_r, char **error_r)
{
	int handle;

	*status_r = queue(db, prepared, name_or_sql, nparams, values, lengths, binary_mask, &handle,
			  error_r);
	if (*status_r == DB_OK)
		*status_r = db_sync(db, error_r);
	return *status_r == DB_OK ? db_take(db, handle) : NULL;
}

PGresult *db_run(struct db *db, const char *name, int nparams, const char *const *values,
		 const int *lengths, unsigned binary_mask, enum db_status *status_r, char **error_r)
{
	return run_now(db, true, name, nparams, values, lengths, binary_mask, status_r, error_r);
}

PGresult *db_exec(struct db *db, const char *sql, int nparams, const char *const *values,
		  enum db_status *status_r, char **error_r)
{
	return run_now(db, false, sql, nparams, values, NULL, 0, status_r, error_r);
}

enum db_status db_command(struct db *db, const char *sql, char **error_r)
{
	PGresult *res;
	enum db_status st;

	if (db->pipeline) {
		/* one statement only: the extended protocol takes no lists */
		PQclear(db_exec(db, sql, 0, NULL, &st, error_r));
		return st;
	}
	res = PQexec(db->conn, sql);
	st = db_result_status(db, res, error_r);
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
	enum db_status st;

	if (db->pipeline) {
		/* whatever was pending is void with the transaction */
		(void)db_sync(db, NULL);
		PQclear(db_exec(db, "ROLLBACK", 0, NULL, &st, NULL));
		return;
	}
	PQclear(PQexec(db->conn, "ROLLBACK"));
}

/* Statements whose result nobody waits for: pipelined in pipeline mode. */
static enum db_status send_commands(struct db *db, const char *const *sql, char **error_r)
{
	enum db_status st = DB_OK;

	for (size_t i = 0; sql[i] != NULL && st == DB_OK; i++)
		st = db->pipeline ? db_send_sql(db, sql[i], 0, NULL, NULL, error_r)
				  : db_command(db, sql[i], error_r);
	return st;
}

enum db_status db_begin_savepoint(struct db *db, char **error_r)
{
	if (!db->pipeline)
		return db_command(db, "BEGIN; SAVEPOINT msg", error_r);
	return send_commands(db, (const char *const[]){ "BEGIN", "SAVEPOINT msg", NULL }, error_r);
}

enum db_status db_next_savepoint(struct db *db, char **error_r)
{
	if (!db->pipeline)
		return db_command(db, "RELEASE SAVEPOINT msg; SAVEPOINT msg", error_r);
	return send_commands(db,
			     (const char *const[]){ "RELEASE SAVEPOINT msg", "SAVEPOINT msg",
						    NULL },
			     error_r);
}

enum db_status db_rollback_to_savepoint(struct db *db, char **error_r)
{
	if (db->pipeline)
		(void)db_sync(db, NULL); /* what was pipelined after the failure */
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
	res = db_exec(db, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &st,
		      error_r);
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
			res = db_exec(db,
				      "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
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
		if (p == NULL) {
			g_string_append(s, "NULL");
			continue;
		}
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
	bool was_pipeline = db->pipeline;
	enum db_status st;
	PGresult *res;
	int failed = 0;

	/* COPY is not allowed in pipeline mode: settle, leave, come back */
	if (was_pipeline && (st = db_pipeline_end(db, error_r)) != DB_OK)
		goto out;
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
	if (was_pipeline && !db->pipeline &&
	    db_pipeline_begin(db, st == DB_OK ? error_r : NULL) != DB_OK)
		st = DB_ERR_CONNECTION;
	g_string_free(buf, TRUE);
	return st;
}
