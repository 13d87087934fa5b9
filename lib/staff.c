/*
 * staff.c - the staff tables in step with the config, the least-loaded
 * assignee and the visibility of tickets (staff.h).
 */
#include "staff.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* First key of the two-key advisory locks of auto-assignment ("tdas");
 * the second is the queue id.  The two-key form is a lock space of its
 * own, apart from the one-key locks of intake and migrations. */
#define ASSIGN_LOCK_CLASS "1952735603"

static const struct db_statement statements[] = {
	{ "staff_assign_lock", "SELECT pg_advisory_xact_lock(" ASSIGN_LOCK_CLASS ", $1::int)" },
	/* The load is counted over every queue: a member's day is one.  The
	 * status list is written out, not a parameter, so that the partial
	 * index tickets_open_assignee serves the count. */
	{ "staff_least_loaded",
	  "SELECT s.id FROM staff_queues sq JOIN staff s ON s.id = sq.staff_id "
	  "WHERE sq.queue_id = $1::int AND s.active AND s.available "
	  "ORDER BY (SELECT count(*) FROM tickets t WHERE t.assignee_id = s.id "
	  "AND t.status NOT IN ('resolved', 'closed')), "
	  "(SELECT max(e.at) FROM events e WHERE e.type = 'assign' AND e.new = s.login) "
	  "ASC NULLS FIRST, s.login LIMIT 1" },
};

enum db_status staff_prepare(struct db *db, char **error_r)
{
	return db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
}

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* '{3,7}': the queue ids of a member's entitlement, sorted, each once, as
 * the text of an int[] (the staff_sync query compares it to the table). */
static char *entitlement_array(const struct ticketd_config *cfg, const struct config_staff *st,
			       const int *queue_ids)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(int));
	GString *out = g_string_new("{");
	int last = 0;

	for (char **q = st->queues; q != NULL && *q != NULL; q++) {
		const struct config_queue *cq = config_queue_by_name(cfg, *q);

		/* config_load checked every name; a miss here is a bug */
		if (cq == NULL)
			log_panic("staff: %s names unknown queue %s", st->login, *q);
		g_array_append_val(ids, queue_ids[cq - cfg->queues]);
	}
	qsort(ids->data, ids->len, sizeof(int), compare_int);
	for (guint i = 0; i < ids->len; i++) {
		int id = g_array_index(ids, int, i);

		if (i > 0 && id == last)
			continue;
		g_string_append_printf(out, "%s%d", out->len > 1 ? "," : "", id);
		last = id;
	}
	g_string_append_c(out, '}');
	g_array_free(ids, TRUE);
	return g_string_free(out, FALSE);
}

static const char *role_name(enum staff_role role)
{
	return role == STAFF_ROLE_ADMIN ? "admin" : "support";
}

/* Writes one member's row and entitlement; *id_r gets its id. */
static enum db_status write_member(struct db *db, const struct config_staff *st,
				   const char *entitled, int *id_r, char **error_r)
{
	const char *values[6] = { st->login,           st->name,        st->email,
				  role_name(st->role), st->description, st->available ? "t" : "f" };
	enum db_status status;
	PGresult *res;
	char *id;

	res = db_exec(
		db,
		"INSERT INTO staff (login, name, email, role, description, available, active) "
		"VALUES ($1, $2, $3, $4, $5, $6, true) ON CONFLICT (login) DO UPDATE SET "
		"name = $2, email = $3, role = $4, description = $5, available = $6, "
		"active = true RETURNING id",
		6, values, &status, error_r);
	if (res == NULL)
		return status;
	*id_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	id = g_strdup_printf("%d", *id_r);
	/* Both parts see the rows as they were: the DELETE takes what is no
	 * longer entitled, the INSERT adds what is new; they never meet. */
	res = db_exec(db,
		      "WITH gone AS (DELETE FROM staff_queues WHERE staff_id = $1::int "
		      "AND queue_id <> ALL($2::int[])) "
		      "INSERT INTO staff_queues (staff_id, queue_id) "
		      "SELECT $1::int, unnest($2::int[]) ON CONFLICT DO NOTHING",
		      2, (const char *const[]){ id, entitled }, &status, error_r);
	g_free(id);
	PQclear(res);
	return status;
}

enum db_status staff_sync(struct db *db, const struct ticketd_config *cfg, const int *queue_ids,
			  int *ids, char **error_r)
{
	GPtrArray *cols[7];
	char *arrays[7];
	enum db_status st = DB_OK;
	PGresult *res;

	for (size_t c = 0; c < G_N_ELEMENTS(cols); c++)
		cols[c] = g_ptr_array_new_with_free_func(g_free);
	for (size_t i = 0; i < cfg->staff_count; i++) {
		const struct config_staff *m = &cfg->staff[i];

		g_ptr_array_add(cols[0], g_strdup(m->login));
		g_ptr_array_add(cols[1], g_strdup(m->name));
		g_ptr_array_add(cols[2], g_strdup(m->email));
		g_ptr_array_add(cols[3], g_strdup(role_name(m->role)));
		g_ptr_array_add(cols[4], g_strdup(m->description));
		g_ptr_array_add(cols[5], g_strdup(m->available ? "t" : "f"));
		g_ptr_array_add(cols[6], entitlement_array(cfg, m, queue_ids));
	}
	for (size_t c = 0; c < G_N_ELEMENTS(cols); c++)
		arrays[c] = db_text_array(cols[c]);
	/* Read first, in one round trip: each configured member's id and
	 * whether its row and entitlement are as the config says (ticketd
	 * deliver runs this per message, and then nothing is written).  The
	 * UPDATE marks members gone from the config; it writes nothing when
	 * there are none. */
	res = db_exec(db,
		      "WITH gone AS (UPDATE staff SET active = false "
		      "WHERE active AND login <> ALL($1::text[])) "
		      "SELECT w.ord, s.id, s.id IS NOT NULL AND s.active AND s.name = w.name "
		      "AND s.email = w.email AND s.role = w.role AND s.description = w.description "
		      "AND s.available = w.available::boolean AND ARRAY(SELECT sq.queue_id FROM "
		      "staff_queues sq WHERE sq.staff_id = s.id ORDER BY 1) = w.queues::int[] "
		      "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
		      "$6::text[], $7::text[]) WITH ORDINALITY "
		      "AS w(login, name, email, role, description, available, queues, ord) "
		      "LEFT JOIN staff s ON s.login = w.login ORDER BY w.ord",
		      7, (const char *const *)arrays, &st, error_r);
	for (int r = 0; res != NULL && r < PQntuples(res) && st == DB_OK; r++) {
		size_t i = (size_t)atol(PQgetvalue(res, r, 0)) - 1;

		if (strcmp(PQgetvalue(res, r, 2), "t") == 0)
			ids[i] = atoi(PQgetvalue(res, r, 1));
		else
			st = write_member(db, &cfg->staff[i], g_ptr_array_index(cols[6], i),
					  &ids[i], error_r);
	}
	PQclear(res);
	for (size_t c = 0; c < G_N_ELEMENTS(cols); c++) {
		g_free(arrays[c]);
		g_ptr_array_free(cols[c], TRUE);
	}
	return st;
}

enum db_status staff_ask_assign_lock(struct db *db, int queue_id, char **error_r)
{
	char id[16];

	snprintf(id, sizeof(id), "%d", queue_id);
	return db_send(db, "staff_assign_lock", 1, (const char *const[]){ id }, NULL, 0, NULL,
		       error_r);
}

enum db_status staff_ask_least_loaded(struct db *db, int queue_id, int *handle_r, char **error_r)
{
	char id[16];

	snprintf(id, sizeof(id), "%d", queue_id);
	return db_send(db, "staff_least_loaded", 1, (const char *const[]){ id }, NULL, 0, handle_r,
		       error_r);
}

int staff_least_loaded_result(struct db *db, int handle, int *staff_id_r)
{
	PGresult *res = db_take(db, handle);
	int found = PQntuples(res) > 0;

	if (found)
		*staff_id_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

int staff_viewer_for(const struct ticketd_config *cfg, const char *login,
		     struct staff_viewer *viewer_r, char **error_r)
{
	const struct config_staff *m = NULL;
	GPtrArray *queues;

	memset(viewer_r, 0, sizeof(*viewer_r));
	for (size_t i = 0; i < cfg->staff_count && m == NULL; i++)
		if (strcmp(cfg->staff[i].login, login) == 0)
			m = &cfg->staff[i];
	if (m == NULL) {
		char *safe = log_sanitize(login, 64);

		error_set(error_r, "no staff member has the login %s in %s", safe, cfg->path);
		g_free(safe);
		return -1;
	}
	viewer_r->login = m->login;
	viewer_r->admin = m->role == STAFF_ROLE_ADMIN;
	if (!viewer_r->admin)
		return 0;
	/* DESIGN §1: an admin sees its queues and the default queue whole. */
	queues = g_ptr_array_new();
	for (char **q = m->queues; q != NULL && *q != NULL; q++)
		if (!g_ptr_array_find_with_equal_func(queues, *q, g_str_equal, NULL))
			g_ptr_array_add(queues, *q);
	if (cfg->default_queue != NULL &&
	    !g_ptr_array_find_with_equal_func(queues, cfg->default_queue->name, g_str_equal, NULL))
		g_ptr_array_add(queues, cfg->default_queue->name);
	g_ptr_array_add(queues, NULL);
	viewer_r->queues = (const char **)g_ptr_array_free(queues, FALSE);
	return 0;
}

void staff_viewer_clear(struct staff_viewer *viewer)
{
	g_free(viewer->queues);
	memset(viewer, 0, sizeof(*viewer));
}
