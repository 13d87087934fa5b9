/*
 * probe-staff.c - lib/staff.c against a real PostgreSQL, run by
 * tests/integration/42-staff.sh (TAP on stdout).
 *
 *   probe-staff CONNINFO          least-loaded choice and its lock, on data
 *                                 it writes itself into a migrated database
 *   probe-staff CONNINFO CONFIG   queue_sync + staff_sync of CONFIG; prints
 *                                 "login id" per member (no TAP)
 */
#include "config.h"
#include "db.h"
#include "queue.h"
#include "staff.h"

#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

static const char *conninfo;

static struct db *connect_or_die(void)
{
	struct db *db = NULL;
	char *error = NULL;

	if (db_connect(conninfo, &db, &error) != DB_OK || staff_prepare(db, &error) != DB_OK ||
	    db_pipeline_begin(db, &error) != DB_OK) {
		printf("Bail out! %s\n", error);
		exit(1);
	}
	return db;
}

static void sql_or_die(struct db *db, const char *sql)
{
	char *error = NULL;

	if (db_command(db, sql, &error) != DB_OK) {
		printf("Bail out! %s: %s\n", sql, error);
		exit(1);
	}
}

static int sync_config(const char *path)
{
	struct ticketd_config *cfg = NULL;
	struct db *db = NULL;
	char *error = NULL;
	int *qids, *ids, code = 0;

	if (config_load(path, &cfg, &error) < 0 || db_connect(conninfo, &db, &error) != DB_OK) {
		fprintf(stderr, "probe-staff: %s\n", error);
		return 1;
	}
	qids = g_new0(int, cfg->queue_count);
	ids = g_new0(int, cfg->staff_count);
	if (queue_sync(db, cfg, qids, &error) != DB_OK ||
	    staff_sync(db, cfg, qids, ids, &error) != DB_OK) {
		fprintf(stderr, "probe-staff: %s\n", error);
		code = 1;
	}
	for (size_t i = 0; code == 0 && i < cfg->staff_count; i++)
		printf("%s %d\n", cfg->staff[i].login, ids[i]);
	g_free(ids);
	g_free(qids);
	db_close(&db);
	config_free(&cfg);
	return code;
}

/* The login least_loaded chooses in queue, "(nobody)", or "(error: ...)". */
static char *least_loaded(struct db *db, const char *queue, bool lock)
{
	char *error = NULL,
	     *sql = g_strdup_printf("SELECT id FROM queues WHERE name = '%s'", queue);
	PGresult *res;
	enum db_status st;
	int qid, h, staff_id;
	char *login;

	res = db_exec(db, sql, 0, NULL, &st, &error);
	g_free(sql);
	if (res == NULL)
		return g_strdup_printf("(error: %s)", error);
	qid = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((lock && staff_ask_assign_lock(db, qid, &error) != DB_OK) ||
	    staff_ask_least_loaded(db, qid, &h, &error) != DB_OK || db_sync(db, &error) != DB_OK)
		return g_strdup_printf("(error: %s)", error);
	if (!staff_least_loaded_result(db, h, &staff_id))
		return g_strdup("(nobody)");
	sql = g_strdup_printf("SELECT login FROM staff WHERE id = %d", staff_id);
	res = db_exec(db, sql, 0, NULL, &st, &error);
	g_free(sql);
	if (res == NULL)
		return g_strdup_printf("(error: %s)", error);
	login = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return login;
}

static void expect(struct db *db, const char *queue, const char *want, const char *name)
{
	char *got = least_loaded(db, queue, false);

	is_str(got, want, name);
	g_free(got);
}

/* A staff member entitled to the queues named (comma-separated). */
static void member(struct db *db, const char *login, bool available, bool active,
		   const char *queues)
{
	char *sql = g_strdup_printf(
		"WITH s AS (INSERT INTO staff (login, name, email, role, available, active) "
		"VALUES ('%s', '%s', '%s@example.com', 'support', %s, %s) RETURNING id) "
		"INSERT INTO staff_queues SELECT s.id, q.id FROM s, queues q "
		"WHERE q.name = ANY(string_to_array('%s', ','))",
		login, login, login, available ? "true" : "false", active ? "true" : "false",
		queues);

	sql_or_die(db, sql);
	g_free(sql);
}

/* n tickets of status in support assigned to login (no event). */
static void tickets(struct db *db, const char *login, int n, const char *status)
{
	char *sql = g_strdup_printf(
		"INSERT INTO tickets (queue_id, requestor, status, priority, assignee_id, created, "
		"updated) SELECT (SELECT id FROM queues WHERE name = 'support'), 'c@example.com', "
		"'%s', 50, (SELECT id FROM staff WHERE login = '%s'), now(), now() "
		"FROM generate_series(1, %d)",
		status, login, n);

	sql_or_die(db, sql);
	g_free(sql);
}

/* An event of type on some ticket of login's, with new = login, at hh:00. */
static void event(struct db *db, const char *login, const char *type, int hour)
{
	char *sql = g_strdup_printf(
		"INSERT INTO events (ticket_id, at, actor, type, new) SELECT min(id), "
		"'2026-11-23 %02d:00:00+00', 'alice', '%s', '%s' FROM tickets",
		hour, type, login);

	sql_or_die(db, sql);
	g_free(sql);
}

/* Whether some connection waits for an advisory lock, within 5 s. */
static bool someone_waits(struct db *db)
{
	for (int i = 0; i < 100; i++) {
		enum db_status st;
		PGresult *res = db_exec(db,
					"SELECT count(*) FROM pg_locks "
					"WHERE locktype = 'advisory' AND NOT granted",
					0, NULL, &st, NULL);
		bool waits = res != NULL && atoi(PQgetvalue(res, 0, 0)) > 0;

		PQclear(res);
		if (waits)
			return true;
		usleep(50000);
	}
	return false;
}

static void test_choice(struct db *db)
{
	sql_or_die(db, "INSERT INTO queues (name, address) VALUES ('support', 's@example.com'), "
		       "('billing', 'b@example.com'), ('sales', 'x@example.com')");
	/* ben has the fewest open tickets; his resolved and closed ones do
	 * not count (counted, he would have 4 to ann's 2).  cal (unavailable),
	 * dee (gone from the config) and eli (billing only) have none but are
	 * not eligible. */
	member(db, "ann", true, true, "support");
	member(db, "ben", true, true, "support,billing");
	member(db, "cal", false, true, "support");
	member(db, "dee", true, false, "support");
	member(db, "eli", true, true, "billing");
	tickets(db, "ann", 2, "assigned");
	tickets(db, "ann", 1, "new");
	tickets(db, "ann", 4, "closed");
	tickets(db, "ben", 1, "answered");
	tickets(db, "ben", 2, "resolved");
	tickets(db, "ben", 1, "closed");
	tickets(db, "eli", 5, "on-hold");
	tickets(db, "cal", 3, "closed");
	expect(db, "support", "ben",
	       "support: ben, 1 open ticket; the ineligible with 0 passed over");
	expect(db, "billing", "ben", "billing: ben (1) before eli (5): load counts every queue");
	expect(db, "sales", "(nobody)", "sales: nobody is entitled");

	/* Ties at one open ticket: the one whose latest assignment is oldest.
	 * fox's first is the oldest of all but his latest the newest; gus's
	 * 'status' event at 13:00 is not an assignment. */
	member(db, "fox", true, true, "support");
	member(db, "gus", true, true, "support");
	tickets(db, "fox", 1, "assigned");
	tickets(db, "gus", 1, "reopened");
	event(db, "ben", "assign", 10);
	event(db, "fox", "assign", 8);
	event(db, "fox", "assign", 12);
	event(db, "gus", "assign", 9);
	event(db, "gus", "status", 13);
	expect(db, "support", "gus", "tie: gus, latest assignment 09:00 (ben 10:00, fox 12:00)");

	/* Never assigned waits longest; between two of them, the login
	 * (ida's row is older: an order by id would pick her). */
	member(db, "ida", true, true, "support");
	member(db, "hal", true, true, "support");
	tickets(db, "ida", 1, "assigned");
	tickets(db, "hal", 1, "assigned");
	expect(db, "support", "hal", "tie: never assigned first, then by login (hal before ida)");

	sql_or_die(db, "UPDATE staff SET available = false WHERE login IN ('ben', 'eli')");
	expect(db, "billing", "(nobody)", "billing: its members unavailable, nobody");
}

/* Two daemons assigning in one queue at once: the second, under the lock,
 * asks after the first committed and sees its assignment; without the
 * lock it would choose the same member. */
static void test_lock(struct db *a)
{
	struct db *b = connect_or_die(), *c = connect_or_die();
	char *error = NULL, *got, *qid;
	int h, staff_id;
	PGresult *res;
	enum db_status st;

	res = db_exec(a, "SELECT id FROM queues WHERE name = 'support'", 0, NULL, &st, &error);
	qid = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	sql_or_die(a, "BEGIN");
	got = least_loaded(a, "support", true);
	is_str(got, "hal", "first daemon, under the lock: hal");
	g_free(got);
	/* what the ticket module will do: assign, with its event */
	tickets(a, "hal", 1, "assigned");
	event(a, "hal", "assign", 14);

	got = least_loaded(c, "support", false);
	is_str(got, "hal", "without the lock a second daemon would take hal too");
	g_free(got);

	sql_or_die(b, "BEGIN");
	if (staff_ask_assign_lock(b, atoi(qid), &error) != DB_OK ||
	    staff_ask_least_loaded(b, atoi(qid), &h, &error) != DB_OK) {
		printf("Bail out! %s\n", error);
		exit(1);
	}
	db_flush(b);
	ok(someone_waits(c), "the second daemon waits for the queue's lock");
	sql_or_die(a, "COMMIT");
	st = db_sync(b, &error);
	is_int(st, DB_OK, "the second daemon's question answered after the first commit");
	ok(st == DB_OK && staff_least_loaded_result(b, h, &staff_id), "someone found");
	res = db_exec(b, "SELECT id FROM staff WHERE login = 'ida'", 0, NULL, &st, &error);
	is_int(staff_id, atoi(PQgetvalue(res, 0, 0)), "second daemon: ida, hal now has two");
	PQclear(res);
	sql_or_die(b, "COMMIT");

	/* a lock of another queue does not wait for this one */
	sql_or_die(a, "BEGIN");
	sql_or_die(a, "SELECT pg_advisory_xact_lock(1952735603, 2147483000)");
	got = least_loaded(b, "support", true);
	is_str(got, "ida", "the lock of another queue lets it pass");
	g_free(got);
	sql_or_die(a, "COMMIT");
	g_free(qid);
	db_close(&b);
	db_close(&c);
}

int main(int argc, char **argv)
{
	struct db *db;
	char *error = NULL;
	int applied;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: probe-staff CONNINFO [CONFIG]\n");
		return 64;
	}
	conninfo = argv[1];
	if (argc == 3)
		return sync_config(argv[2]);
	/* the schema first: the statements name its tables */
	if (db_connect(conninfo, &db, &error) != DB_OK ||
	    db_migrate(db, &applied, &error) != DB_OK) {
		printf("Bail out! %s\n", error);
		return 1;
	}
	db_close(&db);
	db = connect_or_die();
	test_choice(db);
	test_lock(db);
	db_close(&db);
	return tap_done();
}
