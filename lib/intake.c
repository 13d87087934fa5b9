/*
 * intake.c - the hot path: one connection, prepared statements in libpq's
 * pipeline mode (one round trip per message, two for a new ticket whose
 * number could not be drawn with the lookups), a batch of messages per
 * transaction with a savepoint each.  What a message does to its ticket is
 * apply.c's; this file keeps mailboxes, batches, savepoints, the raw copy
 * and the acknowledgements.
 */
#include "intake.h"
#include "secure.h"
#include "mailout.h"
#include "outbox.h"
#include "queue.h"
#include "staff.h"
#include "ticket-message.h"
#include "ticket.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void pending_clear(struct intake *in);

static const struct db_statement statements[] = {
	/* Stored before?  If not, the id its raw copy will get, and for a
	 * message that names no ticket ($3) the number its ticket will get,
	 * so that neither needs a round trip of its own (drawn only when not
	 * stored before: CASE is lazy). */
	{ "intake_seen",
	  "SELECT id, CASE WHEN id IS NULL THEN nextval('raw_messages_id_seq') END, "
	  "CASE WHEN id IS NULL AND $3 THEN nextval('tickets_id_seq') END FROM "
	  "(SELECT (SELECT id FROM raw_messages WHERE source = $1 AND source_uid = $2) AS id) s" },
	{ "intake_raw_id", "SELECT nextval(pg_get_serial_sequence('raw_messages', 'id'))" },
	{ "intake_lock",
	  "SELECT pg_try_advisory_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)" },
	{ "intake_unlock",
	  "SELECT pg_advisory_unlock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)" },
	/* No ON CONFLICT: intake_seen asked first, under the mailbox's lock.
	 * $11 is the id drawn with it (NULL: draw one now). */
	{ "intake_raw_insert",
	  "INSERT INTO raw_messages (id, source, source_uid, queue_id, received, sha256, size, "
	  "raw, status, reason, header_message_id) VALUES (COALESCE($11::bigint, "
	  "nextval('raw_messages_id_seq')), $1, $2, $3, $4, decode($5, 'hex'), $6, $7, $8, $9, "
	  "$10)" },
};

int intake_init(struct intake *in, struct db *db, const struct ticketd_config *cfg, time_t now,
		char **error_r)
{
	enum db_status st = DB_OK;

	memset(in, 0, sizeof(*in));
	in->db = db;
	in->cfg = cfg;
	in->now = now;
	in->queue_ids = g_new0(int, cfg->queue_count);
	in->staff_ids = g_new0(int, cfg->staff_count + 1);
	in->apply = (struct apply_ctx){ .db = db,
					.cfg = cfg,
					.queue_ids = in->queue_ids,
					.staff_ids = in->staff_ids,
					.now = now };
	in->keys = secure_keys_new(cfg);
	in->apply.keys = in->keys;
	in->acks = g_ptr_array_new();
	st = db_prepare_all(db, statements, G_N_ELEMENTS(statements), error_r);
	if (st == DB_OK)
		st = ticket_prepare(db, error_r);
	if (st == DB_OK)
		st = ticket_message_prepare(db, error_r);
	if (st == DB_OK)
		st = mailout_prepare(db, error_r);
	if (st == DB_OK)
		st = outbox_prepare(db, error_r);
	if (st == DB_OK)
		st = staff_prepare(db, error_r);
	if (st == DB_OK)
		st = queue_sync(db, cfg, in->queue_ids, error_r);
	if (st == DB_OK)
		st = staff_sync(db, cfg, in->queue_ids, in->staff_ids, error_r);
	if (st != DB_OK) {
		intake_deinit(in);
		return -1;
	}
	return 0;
}

static int queue_id_of(const struct intake *in, const struct config_queue *q)
{
	return in->queue_ids[q - in->cfg->queues];
}

void intake_deinit(struct intake *in)
{
	g_free(in->queue_ids);
	in->queue_ids = NULL;
	g_free(in->staff_ids);
	in->staff_ids = NULL;
	secure_keys_free(&in->keys);
	in->apply.keys = NULL;
	pending_clear(in);
	if (in->acks != NULL)
		g_ptr_array_free(in->acks, TRUE);
	in->acks = NULL;
}

/* A large message goes to the database by COPY, streamed, so that libpq
 * never holds a second copy of it (peak memory: the message once). */
#define RAW_COPY_THRESHOLD (1024 * 1024)

static enum db_status insert_raw_copy(struct intake *in, const char *idtext,
				      const char *const *values, size_t len, char **error_r)
{
	char drawn[24], *sha = NULL;
	const char *row[11];
	size_t lengths[11] = { 0 };
	enum db_status st;
	PGresult *res;

	if (idtext == NULL) { /* a failed message kept after its savepoint */
		res = db_run(in->db, "intake_raw_id", 0, NULL, NULL, 0, &st, error_r);
		if (res == NULL)
			return st;
		g_strlcpy(drawn, PQgetvalue(res, 0, 0), sizeof(drawn));
		PQclear(res);
		idtext = drawn;
	}
	sha = g_strconcat("\\x", values[4], NULL);
	row[0] = idtext;
	for (int i = 0; i < 10; i++)
		row[i + 1] = values[i];
	row[5] = sha;
	lengths[7] = len;
	st = db_copy_row(in->db,
			 "COPY raw_messages (id, source, source_uid, queue_id, received, sha256, "
			 "size, raw, status, reason, header_message_id) FROM STDIN",
			 11, row, lengths, 1u << 7, error_r);
	g_free(sha);
	return st;
}

/* Pipelines the raw copy of a message with the id drawn for it (0: draw
 * one); the caller asked intake_seen first. */
static enum db_status insert_raw(struct intake *in, long long raw_id, const char *source,
				 const char *uid, const char *data, size_t len, int queue_id,
				 const char *status, const char *reason, const char *msgid,
				 char **error_r)
{
	char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
	char queue[16], size[24], now[32], idtext[24];
	const char *id = raw_id > 0 ? idtext : NULL;
	const char *values[11] = { source,
				   uid,
				   queue_id > 0 ? queue : NULL,
				   now,
				   sha,
				   size,
				   data != NULL ? data : "",
				   status,
				   reason,
				   msgid,
				   id };
	int lengths[11] = { [6] = (int)len };
	enum db_status st;

	g_snprintf(idtext, sizeof(idtext), "%lld", raw_id);
	g_snprintf(queue, sizeof(queue), "%d", queue_id);
	g_snprintf(size, sizeof(size), "%zu", len);
	time_iso(in->now, now, sizeof(now));
	if (len > RAW_COPY_THRESHOLD)
		st = insert_raw_copy(in, id, values, len, error_r);
	else
		st = db_send(in->db, "intake_raw_insert", 11, values, lengths, 1u << 6, NULL,
			     error_r);
	g_free(sha);
	return st;
}

enum db_status intake_keep_failed(struct intake *in, const char *source, const char *uid,
				  const char *data, size_t len, int queue_id, const char *reason,
				  char **error_r)
{
	return insert_raw(in, 0, source, uid, data, len, queue_id, "failed", reason, NULL, error_r);
}

/*
 * Round trips: one for the lookups (which also settles what the previous
 * message pipelined), and for a new ticket whose number was not drawn
 * with them one more; every write is pipelined.  In pipeline mode the
 * database works on them while we parse the next message.
 */
/* One message, parsed already (msg, or NULL and the parser's reason), in
 * the current savepoint: stored before?  Else kept as failed, as a
 * duplicate copy, or applied to its ticket (apply.h). */
static enum db_status store_one(struct intake *in, const char *source, const char *uid,
				const char *data, size_t len, struct parsed_message *msg,
				const struct secure_message *sm, const char *reason,
				const struct config_queue *const *queues, size_t nqueues,
				enum intake_result *result_r, char **error_r)
{
	struct apply_plan plan;
	long long raw_id, drawn = 0;
	enum db_status st;
	PGresult *seen;
	int ask_seen;

	*result_r = INTAKE_ALREADY;
	apply_begin(&in->apply, msg, sm, data, len, queues, nqueues, &plan);
	if ((st = apply_ask(&in->apply, msg, &plan, error_r)) != DB_OK ||
	    (st = db_send(in->db, "intake_seen", 3,
			  (const char *const[]){ source, uid, plan.names_no_ticket ? "t" : "f" },
			  NULL, 0, &ask_seen, error_r)) != DB_OK ||
	    (st = db_sync(in->db, error_r)) != DB_OK)
		goto out;
	/* Stored before (a crash between COMMIT and its removal): only
	 * acknowledged. */
	seen = db_take(in->db, ask_seen);
	if (!PQgetisnull(seen, 0, 0)) {
		PQclear(seen);
		goto out;
	}
	raw_id = strtoll(PQgetvalue(seen, 0, 1), NULL, 10);
	if (!PQgetisnull(seen, 0, 2))
		drawn = strtoll(PQgetvalue(seen, 0, 2), NULL, 10);
	PQclear(seen);
	if (msg == NULL) {
		st = insert_raw(in, raw_id, source, uid, data, len, queue_id_of(in, plan.queue),
				"failed", reason, NULL, error_r);
		if (st == DB_OK) {
			char *safe = log_sanitize(reason, 0);
			log_warning("source=%s uid=%s kept as failed: %s", source, uid, safe);
			g_free(safe);
			*result_r = INTAKE_FAILED;
		}
		goto out;
	}
	apply_decide(&in->apply, msg, &plan);
	if (plan.staff_mail == STAFF_MAIL_REFUSED && plan.rule == THREAD_NEW) {
		/* no ticket to refuse it on: kept with the reason, for
		 * ticketctl failed list */
		char *why = g_strdup_printf("staff mail refused: %s", plan.refusal);
		st = insert_raw(in, raw_id, source, uid, data, len, queue_id_of(in, plan.queue),
				"failed", why, msg->message_id, error_r);
		g_free(why);
		if (st == DB_OK)
			*result_r = INTAKE_FAILED;
		goto out;
	}
	if (plan.bounce != NULL && plan.rule == THREAD_NEW) {
		/* a bounce never opens a ticket (DESIGN §3) */
		st = insert_raw(in, raw_id, source, uid, data, len, queue_id_of(in, plan.queue),
				"stored", "a delivery report about no mail of ours",
				msg->message_id, error_r);
		if (st == DB_OK)
			*result_r = INTAKE_RECORDED;
		goto out;
	}
	if (plan.duplicate_of > 0) {
		char *why =
			g_strdup_printf("another copy is stored on ticket %lld", plan.duplicate_of);
		st = insert_raw(in, raw_id, source, uid, data, len, queue_id_of(in, plan.queue),
				"duplicate", why, msg->message_id, error_r);
		g_free(why);
		if (st == DB_OK)
			*result_r = INTAKE_DUPLICATE;
		goto out;
	}
	/* The new ticket first: when its number was not drawn with the
	 * lookups, that round trip then waits for nothing else, and the raw
	 * copy (the costliest insert) is sent after it, to run while we
	 * compose the auto-response. */
	*result_r = plan.rule == THREAD_NEW ? INTAKE_NEW_TICKET : INTAKE_FOLLOWUP;
	if ((st = apply_open(&in->apply, msg, &plan, drawn, error_r)) != DB_OK ||
	    (st = insert_raw(in, raw_id, source, uid, data, len, queue_id_of(in, plan.queue),
			     "stored", NULL, msg->message_id, error_r)) != DB_OK ||
	    (st = apply_store(&in->apply, msg, &plan, raw_id, error_r)) != DB_OK)
		goto out;
	in->stats.autoresponses += plan.mails;
	if (plan.cls.automatic)
		in->stats.automatic++;
out:
	apply_plan_clear(&plan);
	return st;
}

/* Parses the message, then decrypts its encrypted sections and checks its
 * signature (secure.h): from here on its text holds placeholders only. */
static int parse(struct intake *in, const char *data, size_t len, struct parsed_message **msg_r,
		 struct secure_message *sm, char **reason_r)
{
	struct message_limits limits = { .max_size = in->cfg->max_message_size };

	if (message_parse(data, len, &limits, msg_r, reason_r) < 0)
		return -1;
	secure_open(*msg_r, data, len, in->keys, &limits, sm);
	return 0;
}

static void count_secure(struct intake *in, const struct secure_message *sm)
{
	if (sm->sections == 0 && !sm->sig_checked)
		return;
	in->stats.pgp_messages++;
	in->stats.decrypted += sm->sections - sm->failures->len;
	in->stats.undecrypted += sm->failures->len;
	in->stats.pgp_seconds += sm->seconds;
}

/* Counts a finished message in the stats. */
static void count_result(struct intake *in, enum intake_result r)
{
	switch (r) {
	case INTAKE_NEW_TICKET:
		in->stats.new_tickets++;
		break;
	case INTAKE_FOLLOWUP:
		in->stats.followups++;
		break;
	case INTAKE_DUPLICATE:
		in->stats.duplicates++;
		break;
	case INTAKE_ALREADY:
		in->stats.already++;
		break;
	case INTAKE_FAILED:
		in->stats.failed++;
		break;
	case INTAKE_RECORDED:
		in->stats.recorded++;
		break;
	}
}

/* A message broke a statement (reason): undo its part and keep it raw with
 * the reason, so that it can be looked at and retried.  *stored_r false:
 * not even that worked, it stays in its mailbox for the next cycle. */
static enum db_status keep_as_failed(struct intake *in, const char *source, const char *uid,
				     const char *data, size_t len, int queue_id, const char *reason,
				     bool *stored_r, char **error_r)
{
	enum db_status st;
	char *safe;

	*stored_r = false;
	if ((st = db_rollback_to_savepoint(in->db, error_r)) != DB_OK)
		return st;
	safe = log_sanitize(reason, 0);
	log_error("source=%s uid=%s cannot be stored, kept as failed: %s", source, uid, safe);
	g_free(safe);
	st = intake_keep_failed(in, source, uid, data, len, queue_id, reason, error_r);
	if (st == DB_OK)
		st = db_sync(in->db, error_r);
	if (st == DB_OK) {
		count_result(in, INTAKE_FAILED);
		*stored_r = true;
		return db_next_savepoint(in->db, error_r);
	}
	if (st == DB_ERR_CONNECTION)
		return st;
	log_error("source=%s uid=%s not stored: %s", source, uid, *error_r);
	in->stats.left++;
	return db_rollback_to_savepoint(in->db, error_r);
}

static void pending_clear(struct intake *in)
{
	g_free(in->pending.source);
	g_free(in->pending.uid);
	g_free(in->pending.data);
	memset(&in->pending, 0, sizeof(in->pending));
}

/* The message pipelined before failed at its turn (reason): its stats are
 * undone and it is kept as failed, or left in its mailbox. */
static enum db_status pending_failed(struct intake *in, const char *reason, char **error_r)
{
	struct intake_pending *p = &in->pending;
	enum db_status st;
	bool stored;

	in->stats = p->stats_before;
	st = keep_as_failed(in, p->source, p->uid, p->data, p->len, p->queue_id, reason, &stored,
			    error_r);
	if (st == DB_OK && !stored && in->acks->len > 0 &&
	    g_ptr_array_index(in->acks, in->acks->len - 1) == p->ack)
		g_ptr_array_set_size(in->acks, in->acks->len - 1);
	pending_clear(in);
	return st;
}

enum db_status intake_settle(struct intake *in, char **error_r)
{
	enum db_status st;
	char *reason = NULL;

	db_mark(in->db);
	st = db_sync(in->db, &reason);
	if (st == DB_ERR_EARLIER && in->pending.uid != NULL)
		st = pending_failed(in, reason, error_r);
	else if (st != DB_OK)
		error_set(error_r, "%s", reason);
	pending_clear(in);
	g_free(reason);
	return st;
}

/* intake_store() for a message parsed already (msg, or NULL and the
 * parser's reason). */
static enum db_status store(struct intake *in, const char *source, const char *uid,
			    const char *data, size_t len, struct parsed_message *msg,
			    const struct secure_message *sm, const char *parse_error,
			    const struct config_queue *const *queues, size_t nqueues,
			    bool *stored_r, char **error_r)
{
	enum intake_result result = INTAKE_FAILED;
	struct intake_stats before;
	char *reason = NULL;
	enum db_status st;

	*stored_r = false;
	db_mark(in->db);
	before = in->stats;
	st = store_one(in, source, uid, data, len, msg, sm, parse_error, queues, nqueues, &result,
		       &reason);
	if (st == DB_ERR_EARLIER) {
		/* the message before this one failed: deal with it, then
		 * this one again from the start */
		st = pending_failed(in, reason, error_r);
		g_clear_pointer(&reason, g_free);
		if (st != DB_OK)
			goto out;
		db_mark(in->db);
		before = in->stats;
		st = store_one(in, source, uid, data, len, msg, sm, parse_error, queues, nqueues,
			       &result, &reason);
	}
	if (st != DB_ERR_CONNECTION)
		pending_clear(in); /* its statements went through */
	/* A large message is confirmed at once rather than copied to wait
	 * for the next round trip (its raw copy went by COPY anyway). */
	if (st == DB_OK && db_in_pipeline(in->db) && len > RAW_COPY_THRESHOLD)
		st = db_sync(in->db, &reason);
	if (st == DB_OK) {
		st = db_next_savepoint(in->db, error_r);
		*stored_r = st == DB_OK;
		count_result(in, result);
		if (st == DB_OK && db_in_pipeline(in->db) && result != INTAKE_ALREADY &&
		    len <= RAW_COPY_THRESHOLD) {
			/* not confirmed until the next sync: keep what it
			 * takes to keep it as failed */
			in->pending.source = g_strdup(source);
			in->pending.uid = g_strdup(uid);
			in->pending.data = g_memdup2(data, len);
			in->pending.len = len;
			in->pending.queue_id = queue_id_of(in, queues[0]);
			in->pending.stats_before = before;
			db_flush(in->db);
		}
		goto out;
	}
	if (st == DB_ERR_CONNECTION) {
		error_set(error_r, "%s", reason);
		goto out;
	}
	in->stats = before;
	st = keep_as_failed(in, source, uid, data, len, queue_id_of(in, queues[0]), reason,
			    stored_r, error_r);
out:
	g_free(reason);
	return st;
}

enum db_status intake_store(struct intake *in, const char *source, const char *uid,
			    const char *data, size_t len, const struct config_queue *const *queues,
			    size_t nqueues, bool *stored_r, char **error_r)
{
	struct parsed_message *msg = NULL;
	struct secure_message sm = { 0 };
	char *reason = NULL;
	enum db_status st;

	if (parse(in, data, len, &msg, &sm, &reason) == 0)
		count_secure(in, &sm);
	st = store(in, source, uid, data, len, msg, &sm, reason, queues, nqueues, stored_r,
		   error_r);
	secure_message_clear(&sm);
	message_free(&msg);
	g_free(reason);
	return st;
}

/* Fetches one message and stores it in the batch transaction.  Returns
 * DB_OK when the database can go on; the uid goes to in->acks when the
 * message may leave its mailbox after the commit.  *box_bad_r: the
 * mailbox itself failed (a lost connection), with the reason in
 * *box_error_r: the batch ends there.
 *
 * (Parsing the next message in a second thread while this one is with
 * the database was tried: on two cores it was slower, ticketd's two
 * threads and the PostgreSQL backend competing for them.) */
static enum db_status take_one(struct intake *in, struct mailbox *box, const char *uid,
			       const struct config_queue *const *queues, size_t nqueues,
			       bool *box_bad_r, char **box_error_r, char **error_r)
{
	char *data = NULL, *reason = NULL;
	enum mailbox_status ms;
	enum db_status st;
	bool stored;
	size_t len;

	ms = box->driver->fetch(box, uid, &data, &len, &reason);
	if (ms == MAILBOX_BOX_BAD) {
		*box_bad_r = true;
		*box_error_r = reason;
		return DB_OK;
	}
	if (ms != MAILBOX_OK) {
		log_warning("source=%s uid=%s cannot be read, left in the mailbox: %s", box->source,
			    uid, reason);
		g_free(reason);
		in->stats.left++;
		return DB_OK;
	}
	st = intake_store(in, box->source, uid, data, len, queues, nqueues, &stored, error_r);
	if (st == DB_OK && stored) {
		g_ptr_array_add(in->acks, (gpointer)uid);
		if (in->pending.uid != NULL)
			in->pending.ack = uid;
	}
	g_free(data);
	return st;
}

/* Acknowledges what the batch committed: now, and only now, the messages
 * may leave their mailbox. */
static void acknowledge(struct intake *in, struct mailbox *box)
{
	for (guint i = 0; i < in->acks->len; i++) {
		char *reason = NULL;
		if (box->driver->ack(box, g_ptr_array_index(in->acks, i), &reason) < 0) {
			log_error("source=%s uid=%s stored but not removed: %s", box->source,
				  (const char *)g_ptr_array_index(in->acks, i), reason);
			g_free(reason);
		}
	}
	if (in->acks->len > 0 && box->driver->flush != NULL) {
		char *reason = NULL;
		if (box->driver->flush(box, &reason) < 0) {
			/* Stored, but still in the mailbox: the next fetch
			 * recognises them (intake_seen). */
			log_error("source=%s: cannot remove stored messages: %s", box->source,
				  reason);
			g_free(reason);
		}
	}
}

int intake_mailbox(struct intake *in, struct mailbox *box, const struct config_queue *const *queues,
		   size_t nqueues, char **error_r)
{
	GPtrArray *uids = NULL;
	size_t batch = in->cfg->batch_size > 0 ? (size_t)in->cfg->batch_size : 200;
	enum db_status st = DB_OK;
	char *box_error = NULL;
	bool box_bad = false;
	int ret = -1;

	if (box->driver->list(box, &uids, error_r) < 0)
		goto out;
	if (uids->len > 0 && db_pipeline_begin(in->db, error_r) != DB_OK)
		goto out;
	for (guint start = 0; start < uids->len && !box_bad; start += batch) {
		guint i;
		if (in->stop != NULL && *in->stop)
			break;
		g_ptr_array_set_size(in->acks, 0);
		if ((st = db_begin_savepoint(in->db, error_r)) != DB_OK)
			goto out;
		for (i = start; i < uids->len && i < start + batch && st == DB_OK && !box_bad;
		     i++) {
			if (in->stop != NULL && *in->stop)
				break;
			st = take_one(in, box, g_ptr_array_index(uids, i), queues, nqueues,
				      &box_bad, &box_error, error_r);
		}
		if (st == DB_OK)
			st = intake_settle(in, error_r);
		if (st != DB_OK) {
			pending_clear(in);
			db_rollback(in->db);
			goto out;
		}
		/* What is stored is committed even when the mailbox broke
		 * off: it is recognised, not stored again, next time. */
		if ((st = db_commit(in->db, error_r)) != DB_OK)
			goto out;
		acknowledge(in, box);
		if (box_bad)
			in->stats.left += uids->len - (i - 1);
	}
	if (box_bad) {
		error_set(error_r, "%s", box_error);
		goto out;
	}
	ret = 0;
out:
	if (db_in_pipeline(in->db))
		(void)db_pipeline_end(in->db, NULL);
	g_ptr_array_set_size(in->acks, 0);
	if (uids != NULL)
		g_ptr_array_free(uids, TRUE);
	g_free(box_error);
	return ret;
}

enum db_status intake_lock_mailbox(struct intake *in, const char *source, bool *locked_r,
				   char **error_r)
{
	enum db_status st;
	PGresult *res = db_run(in->db, "intake_lock", 1, &source, NULL, 0, &st, error_r);

	*locked_r = false;
	if (res == NULL)
		return st;
	*locked_r = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return DB_OK;
}

void intake_unlock_mailbox(struct intake *in, const char *source)
{
	enum db_status st;

	PQclear(db_run(in->db, "intake_unlock", 1, &source, NULL, 0, &st, NULL));
}
