/*
 * queue.c - keep the queues table in step with the config.
 */
#include "queue.h"
#include "util.h"

#include <stdlib.h>

enum db_status queue_sync(struct db *db, const struct ticketd_config *cfg, int *ids, char **error_r)
{
	GPtrArray *names = g_ptr_array_new();
	enum db_status st = DB_OK;
	PGresult *res;

	for (size_t i = 0; i < cfg->queue_count && st == DB_OK; i++) {
		const struct config_queue *q = &cfg->queues[i];
		const char *values[3] = { q->name, q->address, q->is_default ? "t" : "f" };

		/* Read first: in the usual case nothing changed and nothing is
		 * written (ticketd deliver runs this once per message). */
		res = db_exec(db,
			      "SELECT id FROM queues WHERE name = $1 AND address = $2 "
			      "AND is_default = $3",
			      3, values, &st, error_r);
		if (res != NULL && PQntuples(res) == 0) {
			PQclear(res);
			res = db_exec(
				db,
				"INSERT INTO queues (name, address, is_default) VALUES ($1, $2, $3) "
				"ON CONFLICT (name) DO UPDATE SET address = $2, is_default = $3 "
				"RETURNING id",
				3, values, &st, error_r);
		}
		if (res != NULL) {
			ids[i] = atoi(PQgetvalue(res, 0, 0));
			PQclear(res);
		}
		g_ptr_array_add(names, q->name);
	}
	if (st == DB_OK) {
		char *array = db_text_array(names);
		res = db_exec(
			db,
			/* only queues gone from the config are looked at: no
			       * scan of tickets in the usual case */
			"SELECT q.name, (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id) "
			"FROM queues q WHERE q.name <> ALL($1::text[]) AND EXISTS "
			"(SELECT 1 FROM tickets t WHERE t.queue_id = q.id) ORDER BY q.name",
			1, (const char *const[]){ array }, &st, error_r);
		g_free(array);
		if (res != NULL && PQntuples(res) > 0) {
			error_set(error_r,
				  "queue '%s' is no longer in the config but still has %s tickets; "
				  "put it back in %s",
				  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), cfg->path);
			st = DB_ERR_FAILED;
		}
		PQclear(res);
	}
	g_ptr_array_free(names, TRUE);
	return st;
}
