/*
 * outbox.c - what the outbox knows: the auto-response rate limit's count.
 * Rows are written by mailout.c, sent by sender.c.
 */
#include "outbox.h"
#include "util.h"

#include <stdlib.h>

static const struct db_statement statements[] = {
	/* kind is written out, not a parameter: only then can the generic
	 * plan use the partial index outbox_recipient (else: a scan of the
	 * whole outbox per new ticket) */
	{ "outbox_autoresponses_since",
	  "SELECT count(*) FROM outbox WHERE kind = 'auto-response' AND recipient = $1 "
	  "AND created >= $2" },
};

enum db_status outbox_prepare(struct db *db, char **error_r)
{
	return db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
}

enum db_status outbox_ask_autoresponses_since(struct db *db, const char *recipient,
					      const char *since, int *handle_r, char **error_r)
{
	return db_send(db, "outbox_autoresponses_since", 2,
		       (const char *const[]){ recipient, since }, NULL, 0, handle_r, error_r);
}

long long outbox_count_result(struct db *db, int handle)
{
	PGresult *res = db_take(db, handle);
	long long count = res != NULL ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;

	PQclear(res);
	return count;
}
