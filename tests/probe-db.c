/*
 * probe-db.c - lib/db.c against a real PostgreSQL (conninfo in argv[1]),
 * run by tests/integration/15-db.sh: pipelined results taken in order,
 * DB_NOT_ASKED, and that a result taken out of order panics with the
 * statement's name instead of reading as "no row" (TAP on stdout).
 */
#include "db.h"

#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *conninfo;

static struct db *connect_or_die(void)
{
	struct db *db = NULL;
	char *error = NULL;

	if (db_connect(conninfo, &db, &error) != DB_OK) {
		printf("Bail out! %s\n", error);
		exit(1);
	}
	return db;
}

/* Runs misuse(db) in a child and returns what it wrote to stderr; *sig_r
 * gets the signal that ended it (0: it exited). */
static char *in_child(void (*misuse)(struct db *), int *sig_r)
{
	int fds[2], status;
	GString *out = g_string_new(NULL);
	char buf[512];
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		abort();
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		signal(SIGABRT, SIG_DFL);
		misuse(connect_or_die());
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		g_string_append_len(out, buf, n);
	close(fds[0]);
	waitpid(pid, &status, 0);
	*sig_r = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return g_string_free(out, FALSE);
}

static void prepare(struct db *db)
{
	if (db_prepare(db, "probe_one", "SELECT $1::int + 1", NULL) != DB_OK ||
	    db_prepare(db, "probe_none", "SELECT 1 WHERE false", NULL) != DB_OK)
		abort();
}

static void take_twice(struct db *db)
{
	int h;

	prepare(db);
	db_pipeline_begin(db, NULL);
	db_send(db, "probe_one", 1, (const char *const[]){ "1" }, NULL, 0, &h, NULL);
	db_sync(db, NULL);
	PQclear(db_take(db, h));
	PQclear(db_take(db, h));
}

static void take_before_sync(struct db *db)
{
	int h;

	prepare(db);
	db_pipeline_begin(db, NULL);
	db_send(db, "probe_none", 0, NULL, NULL, 0, &h, NULL);
	PQclear(db_take(db, h));
}

static void take_after_next_round(struct db *db)
{
	int h, h2;

	prepare(db);
	db_pipeline_begin(db, NULL);
	db_send(db, "probe_one", 1, (const char *const[]){ "1" }, NULL, 0, &h, NULL);
	db_sync(db, NULL);
	db_send(db, "probe_none", 0, NULL, NULL, 0, &h2, NULL);
	db_sync(db, NULL);
	PQclear(db_take(db, h));
}

static void take_failed(struct db *db)
{
	int h;

	prepare(db);
	db_pipeline_begin(db, NULL);
	db_send(db, "probe_one", 1, (const char *const[]){ "not a number" }, NULL, 0, &h, NULL);
	db_sync(db, NULL);
	PQclear(db_take(db, h));
}

static void check_panic(void (*misuse)(struct db *), const char *needle, const char *name)
{
	int sig;
	char *err = in_child(misuse, &sig);

	is_int(sig, SIGABRT, name);
	like(err, needle, "  ... and says so");
	g_free(err);
}

int main(int argc, char **argv)
{
	struct db *db;
	PGresult *res;
	int a, b;

	if (argc < 2) {
		printf("1..0 # SKIP needs a conninfo (run by tests/integration/15-db.sh)\n");
		return 0;
	}
	conninfo = argv[1];
	db = connect_or_die();
	prepare(db);
	ok(db_pipeline_begin(db, NULL) == DB_OK, "pipeline mode");
	db_send(db, "probe_one", 1, (const char *const[]){ "41" }, NULL, 0, &a, NULL);
	db_send(db, "probe_none", 0, NULL, NULL, 0, &b, NULL);
	ok(db_sync(db, NULL) == DB_OK, "two statements in one round trip");
	res = db_take(db, b);
	is_int(PQntuples(res), 0, "the second's result: no row");
	PQclear(res);
	res = db_take(db, a);
	is_str(PQgetvalue(res, 0, 0), "42", "the first's result, taken after the second's");
	PQclear(res);
	ok(db_take(db, DB_NOT_ASKED) == NULL, "a question not asked has no result");
	db_close(&db);

	check_panic(take_twice, "probe_one taken twice", "a result taken twice panics");
	check_panic(take_before_sync, "probe_none taken before the sync",
		    "a result taken before its sync panics");
	check_panic(take_after_next_round, "after its round ended",
		    "a result of an earlier round panics");
	check_panic(take_failed, "probe_one taken although its statement failed",
		    "the result of a failed statement panics");
	return tap_done();
}
