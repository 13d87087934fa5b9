/*
 * db.h - the one PostgreSQL connection of a ticketd process: connect,
 * migrations, prepared statements, transactions and savepoints.
 *
 * Every statement that carries data from outside goes through parameters
 * (db_exec() with $1..$n, or a statement prepared with db_prepare()); no SQL
 * text is ever built from untrusted data.  Failures are classified once, by
 * SQLSTATE: class 08 (connection) → DB_ERR_CONNECTION (reconnect and retry
 * later), 40001/40P01 → DB_ERR_RETRY (run the transaction again), anything
 * else → DB_ERR_FAILED (this statement, usually this message, is bad).
 *
 * Results are libpq PGresult * owned by the caller (PQclear).  Errors are
 * returned as a negative enum with the server's message in *error_r.
 */
#ifndef TICKETD_DB_H
#define TICKETD_DB_H

#include <glib.h>
#include <libpq-fe.h>
#include <stdbool.h>

struct db_migration {
	int version;
	const char *name;
	const char *sql;
};
/* From sql/NNN_name.sql, by sql/embed.sh; ends with { 0, NULL, NULL }. */
extern const struct db_migration db_migrations[];

enum db_status {
	DB_OK = 0,
	DB_ERR_FAILED = -1,     /* this statement failed (constraint, bad data) */
	DB_ERR_CONNECTION = -2, /* connection lost or refused: retry later */
	DB_ERR_RETRY = -3,      /* serialization failure or deadlock: retry now */
	DB_ERR_EARLIER = -4,    /* a statement pipelined before the last db_mark() failed */
};

struct db;

enum db_status db_connect(const char *conninfo, struct db **db_r, char **error_r);
void db_close(struct db **db);
PGconn *db_conn(struct db *db);

/* Latest version in db_migrations, and the database's current one. */
int db_schema_latest(void);
enum db_status db_schema_version(struct db *db, int *version_r, char **error_r);
/* Applies every pending migration, each in its own transaction, under an
 * advisory lock.  *applied_r counts them. */
enum db_status db_migrate(struct db *db, int *applied_r, char **error_r);

/* Prepares name once per connection; later calls are no-ops. */
enum db_status db_prepare(struct db *db, const char *name, const char *sql, char **error_r);
/* A module's statements, prepared together with db_prepare_all(). */
struct db_statement {
	const char *name, *sql;
};
enum db_status db_prepare_all(struct db *db, const struct db_statement *statements, size_t n,
			      char **error_r);
/* Runs a prepared statement (nparams text parameters, NULL = SQL NULL).
 * binary_mask: bit i set means parameter i is binary with lengths[i]. */
PGresult *db_run(struct db *db, const char *name, int nparams, const char *const *values,
		 const int *lengths, unsigned binary_mask, enum db_status *status_r,
		 char **error_r);
/* Runs SQL text with parameters (never built from untrusted data). */
PGresult *db_exec(struct db *db, const char *sql, int nparams, const char *const *values,
		  enum db_status *status_r, char **error_r);
/* Runs a command with no parameters and no interesting result. */
enum db_status db_command(struct db *db, const char *sql, char **error_r);

/* Pipeline mode (libpq ≥ 14): statements pipelined with db_send() are sent
 * without waiting for their results; the next synchronous call (db_sync,
 * db_run, db_exec, db_command, db_commit, ...) sends them with a Sync and
 * reads all their results first.  A round trip is ~0.1 ms, longer than
 * most statements take, so intake waits only where it needs an answer.
 *
 * Outside pipeline mode the same calls run each statement at once, so code
 * written with db_send() works in both modes.
 *
 * Errors of pipelined statements are reported by the call that reads them.
 * db_mark() starts a new unit of work (a message): a failed statement
 * pipelined under an older mark is reported as DB_ERR_EARLIER (that unit
 * failed, not this one); one under the current mark as DB_ERR_FAILED.
 * After an error the rest of that pipeline did not run, and the
 * transaction is aborted until ROLLBACK TO SAVEPOINT or ROLLBACK.
 *
 * Statements are prepared before pipeline mode begins.  COPY leaves the
 * pipeline for its duration (db_copy_row does so itself). */
enum db_status db_pipeline_begin(struct db *db, char **error_r);
/* Settles what is pipelined, then leaves pipeline mode. */
enum db_status db_pipeline_end(struct db *db, char **error_r);
bool db_in_pipeline(const struct db *db);
unsigned db_mark(struct db *db);
/* Queues a prepared statement; handle_r (or NULL) names its result, taken
 * with db_take() after the next sync, before the next statement pipelined
 * with a handle (db_run and db_exec queue one). */
enum db_status db_send(struct db *db, const char *name, int nparams, const char *const *values,
		       const int *lengths, unsigned binary_mask, int *handle_r, char **error_r);
/* The same for SQL text with parameters (planned with the real values). */
enum db_status db_send_sql(struct db *db, const char *sql, int nparams, const char *const *values,
			   int *handle_r, char **error_r);
/* Sends what is pipelined and reads every result. */
enum db_status db_sync(struct db *db, char **error_r);
/* Sends a Sync after what is pipelined, and flushes, without reading
 * anything: outside an explicit transaction the statements since the
 * previous Sync are one implicit transaction, which the server commits
 * (durably, as synchronous_commit says) when it reaches this Sync.  The
 * next db_sync() (or any synchronous call) reads the results and so
 * knows that commit happened; statements pipelined meanwhile form the
 * next transaction. */
enum db_status db_sync_send(struct db *db, char **error_r);
/* A handle for a question that was not asked: db_take() gives NULL. */
#define DB_NOT_ASKED (-1)
/* The result of a pipelined statement (the caller PQclears it), or NULL
 * for DB_NOT_ASKED.  Taking a result out of order is a bug and panics,
 * naming the statement: twice, before its sync, after the next round of
 * statements began, or when its statement failed (the sync said so).  It
 * never returns a silent NULL that would read as "no ticket" or "0". */
PGresult *db_take(struct db *db, int handle);
/* Pushes pipelined statements to the server so that it works on them while
 * we do something else. */
void db_flush(struct db *db);

enum db_status db_begin(struct db *db, char **error_r);
enum db_status db_commit(struct db *db, char **error_r);
void db_rollback(struct db *db);
/* A batch of messages: one transaction, a savepoint per message.  Each
 * round trip both ends one savepoint and opens the next; COMMIT with the
 * last one still open commits it all. */
enum db_status db_begin_savepoint(struct db *db, char **error_r);
enum db_status db_next_savepoint(struct db *db, char **error_r);
enum db_status db_rollback_to_savepoint(struct db *db, char **error_r);

/* Classifies a finished result (NULL means a lost connection). */
enum db_status db_result_status(struct db *db, const PGresult *res, char **error_r);

/* Inserts one row with COPY ... FROM STDIN (text format), streaming the
 * bytea fields (bit i of bytea_mask; lengths[i] bytes) as hex in chunks of
 * DB_COPY_CHUNK bytes, so a large value is never copied whole into libpq's
 * buffer as a parameter would be.  copy_sql is the COPY statement naming
 * the columns in the order of values (NULL = SQL NULL). */
#define DB_COPY_CHUNK 65536
enum db_status db_copy_row(struct db *db, const char *copy_sql, int nfields,
			   const char *const *values, const size_t *lengths, unsigned bytea_mask,
			   char **error_r);

/* '{"a","b"}' text for a text[] parameter (items are char *, NULL: an
 * SQL NULL element). */
char *db_text_array(GPtrArray *items);

#endif
