/*
 * intake.c - the hot path: one connection, prepared statements, a batch of
 * messages per transaction with a savepoint each.
 */
#include "intake.h"
#include "autoresponse.h"
#include "classify.h"
#include "compose.h"
#include "outbox.h"
#include "queue.h"
#include "thread.h"
#include "ticket.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *sql;
} statements[] = {
	{ "intake_seen", "SELECT id FROM raw_messages WHERE source = $1 AND source_uid = $2" },
	{ "intake_raw_id", "SELECT nextval(pg_get_serial_sequence('raw_messages', 'id'))" },
	{ "intake_lock",
	  "SELECT pg_try_advisory_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)" },
	{ "intake_unlock",
	  "SELECT pg_advisory_unlock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)" },
	{ "intake_raw_insert",
	  "INSERT INTO raw_messages (source, source_uid, queue_id, received, sha256, size, raw, "
	  "status, reason, header_message_id) VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6, $7, "
	  "$8, $9, $10) ON CONFLICT (source, source_uid) DO NOTHING RETURNING id" },
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
	for (size_t i = 0; i < G_N_ELEMENTS(statements) && st == DB_OK; i++)
		st = db_prepare(db, statements[i].name, statements[i].sql, error_r);
	if (st == DB_OK)
		st = ticket_prepare(db, error_r);
	if (st == DB_OK)
		st = outbox_prepare(db, error_r);
	if (st == DB_OK)
		st = queue_sync(db, cfg, in->queue_ids, error_r);
	if (st != DB_OK) {
		intake_deinit(in);
		return -1;
	}
	return 0;
}

void intake_deinit(struct intake *in)
{
	g_free(in->queue_ids);
	in->queue_ids = NULL;
}

static int queue_id_of(const struct intake *in, const struct config_queue *q)
{
	return in->queue_ids[q - in->cfg->queues];
}

static const struct config_queue *match_queue(const char *addr,
					      const struct config_queue *const *queues,
					      size_t nqueues)
{
	for (size_t i = 0; addr != NULL && i < nqueues; i++) {
		if (g_ascii_strcasecmp(addr, queues[i]->address) == 0 ||
		    (queues[i]->comment_address != NULL &&
		     g_ascii_strcasecmp(addr, queues[i]->comment_address) == 0))
			return queues[i];
	}
	return NULL;
}

/* The bare address inside a header value such as "<a@b>" or "a@b". */
static char *header_addr(const char *value)
{
	const char *lt = strchr(value, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		return addr_normalize(g_strndup(lt + 1, gt - lt - 1));
	return addr_normalize(g_strstrip(g_strdup(value)));
}

const struct config_queue *intake_choose_queue(const struct parsed_message *msg,
					       const struct config_queue *const *queues,
					       size_t nqueues)
{
	static const char *const envelope_headers[] = { "Delivered-To", "X-Original-To" };
	const struct config_queue *q = NULL;

	if (nqueues == 1)
		return queues[0];
	for (size_t h = 0; h < G_N_ELEMENTS(envelope_headers) && q == NULL; h++) {
		for (guint i = 0; msg->headers != NULL && i < msg->headers->len && q == NULL; i++) {
			const struct mail_header *hdr = g_ptr_array_index(msg->headers, i);
			if (g_ascii_strcasecmp(hdr->name, envelope_headers[h]) != 0)
				continue;
			char *addr = header_addr(hdr->value);
			q = match_queue(addr, queues, nqueues);
			g_free(addr);
		}
	}
	GPtrArray *lists[2] = { msg->to, msg->cc };
	for (size_t l = 0; l < 2 && q == NULL; l++)
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len && q == NULL; i++)
			q = match_queue(((struct mail_address *)g_ptr_array_index(lists[l], i))->addr,
					queues, nqueues);
	for (size_t i = 0; i < nqueues && q == NULL; i++)
		if (queues[i]->is_default)
			q = queues[i];
	return q != NULL ? q : queues[0];
}

/* A large message goes to the database by COPY, streamed, so that libpq
 * never holds a second copy of it (peak memory: the message once). */
#define RAW_COPY_THRESHOLD (1024 * 1024)

static enum db_status insert_raw_copy(struct intake *in, const char *const *values,
				      size_t len, long long *raw_id_r, char **error_r)
{
	const char *const seen[2] = { values[0], values[1] };
	char idtext[24], *sha = NULL;
	const char *row[11];
	size_t lengths[11] = { 0 };
	enum db_status st;
	PGresult *res;

	*raw_id_r = 0;
	res = db_run(in->db, "intake_seen", 2, seen, NULL, 0, &st, error_r);
	if (res == NULL)
		return st;
	if (PQntuples(res) > 0) { /* stored before */
		PQclear(res);
		return DB_OK;
	}
	PQclear(res);
	res = db_run(in->db, "intake_raw_id", 0, NULL, NULL, 0, &st, error_r);
	if (res == NULL)
		return st;
	g_strlcpy(idtext, PQgetvalue(res, 0, 0), sizeof(idtext));
	PQclear(res);
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
	if (st == DB_OK)
		*raw_id_r = strtoll(idtext, NULL, 10);
	g_free(sha);
	return st;
}

static enum db_status insert_raw(struct intake *in, const char *source, const char *uid,
				 const char *data, size_t len, int queue_id, const char *status,
				 const char *reason, const char *msgid, long long *raw_id_r,
				 char **error_r)
{
	char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
	char queue[16], size[24], now[32];
	const char *values[10] = { source, uid,    queue_id > 0 ? queue : NULL,
				   now,    sha,    size,
				   data != NULL ? data : "", status, reason,
				   msgid };
	int lengths[10] = { 0, 0, 0, 0, 0, 0, (int)len, 0, 0, 0 };
	enum db_status st;
	PGresult *res;

	g_snprintf(queue, sizeof(queue), "%d", queue_id);
	g_snprintf(size, sizeof(size), "%zu", len);
	time_iso(in->now, now, sizeof(now));
	if (len > RAW_COPY_THRESHOLD) {
		st = insert_raw_copy(in, values, len, raw_id_r, error_r);
		g_free(sha);
		return st;
	}
	res = db_run(in->db, "intake_raw_insert", 10, values, lengths, 1u << 6, &st, error_r);
	g_free(sha);
	*raw_id_r = 0;
	if (res != NULL) {
		/* no row: ON CONFLICT, this copy was stored before */
		if (PQntuples(res) > 0)
			*raw_id_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	return st;
}

enum db_status intake_keep_failed(struct intake *in, const char *source, const char *uid,
				  const char *data, size_t len, int queue_id, const char *reason,
				  char **error_r)
{
	long long raw_id;

	return insert_raw(in, source, uid, data, len, queue_id, "failed", reason, NULL, &raw_id,
			  error_r);
}

static char *join_addrs(GPtrArray *list)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; list != NULL && i < list->len; i++) {
		if (i > 0)
			g_string_append(s, ", ");
		g_string_append(s, ((struct mail_address *)g_ptr_array_index(list, i))->addr);
	}
	return g_string_free(s, FALSE);
}

/* Gathers the facts of DESIGN §3 and decides the ticket. */
static enum db_status find_thread(struct intake *in, const struct parsed_message *msg,
				  struct thread_facts *facts, char **error_r)
{
	const struct ticketd_config *cfg = in->cfg;
	GPtrArray *ids = g_ptr_array_new();
	struct ticket_info info = { 0 };
	enum db_status st = DB_OK;
	bool found;
	long long tag;

	memset(facts, 0, sizeof(*facts));
	/* Every reference, newest first: our own signed Message-IDs thread
	 * even when the stored copy is gone. */
	if (msg->in_reply_to != NULL)
		g_ptr_array_add(ids, msg->in_reply_to);
	for (guint i = msg->references != NULL ? msg->references->len : 0; i > 0; i--)
		g_ptr_array_add(ids, g_ptr_array_index(msg->references, i - 1));
	for (guint i = 0; i < ids->len && facts->ref_ticket == 0 && st == DB_OK; i++) {
		long long id = msgid_verify(cfg->secret, cfg->secret_len, g_ptr_array_index(ids, i));
		if (id > 0 && (st = ticket_get(in->db, id, &info, &found, error_r)) == DB_OK && found)
			facts->ref_ticket = id;
		ticket_info_clear(&info);
	}
	if (facts->ref_ticket == 0 && st == DB_OK)
		st = ticket_find_by_message_ids(in->db, ids, &facts->ref_ticket, error_r);
	g_ptr_array_free(ids, TRUE);
	if (st != DB_OK || facts->ref_ticket > 0)
		return st;

	tag = thread_subject_tag(msg->subject, cfg->tag);
	if (tag == 0)
		return DB_OK;
	st = ticket_get(in->db, tag, &info, &found, error_r);
	if (st != DB_OK || !found)
		goto out;
	facts->tag_ticket = tag;
	if (strcmp(info.requestor, msg->from->addr) == 0 ||
	    config_staff_by_email(cfg, msg->from->addr) != NULL)
		facts->sender_is_participant = true;
	else
		st = ticket_has_cc(in->db, tag, msg->from->addr, &facts->sender_is_participant,
				   error_r);
out:
	ticket_info_clear(&info);
	return st;
}

static enum db_status new_ticket(struct intake *in, const struct parsed_message *msg,
				 const struct config_queue *queue, bool automatic,
				 const char *now, long long *ticket_r, char **error_r)
{
	char *subject = g_strstrip(g_strdup(msg->subject[0] != '\0' ? msg->subject : "(no subject)"));
	struct ticket_new t = {
		.queue_id = queue_id_of(in, queue),
		.subject = subject,
		.requestor = msg->from->addr,
		.requestor_name = msg->from->name != NULL ? msg->from->name : "",
		.priority = queue->priority,
		.origin = "email",
		.now = now,
		.actor = msg->from->addr,
	};
	GPtrArray *lists[2] = { msg->to, msg->cc };
	enum db_status st = ticket_create(in->db, &t, ticket_r, error_r);

	/* Everybody the customer wrote to, but us, follows the ticket. */
	for (size_t l = 0; l < 2 && st == DB_OK && !automatic; l++) {
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len && st == DB_OK; i++) {
			const char *addr = ((struct mail_address *)g_ptr_array_index(lists[l], i))->addr;
			if (strcmp(addr, msg->from->addr) == 0 ||
			    config_queue_by_address(in->cfg, addr) != NULL)
				continue;
			st = ticket_add_cc(in->db, *ticket_r, addr, error_r);
		}
	}
	g_free(subject);
	return st;
}

enum db_status intake_message(struct intake *in, const char *source, const char *uid,
			      const char *data, size_t len,
			      const struct config_queue *const *queues, size_t nqueues,
			      enum intake_result *result_r, char **error_r)
{
	const struct ticketd_config *cfg = in->cfg;
	struct message_limits limits = { .max_size = cfg->max_message_size };
	struct parsed_message *msg = NULL;
	const struct config_queue *queue;
	struct classification cls;
	struct thread_facts facts;
	struct ticket_info info = { 0 };
	long long raw_id, ticket = 0, copy_of = 0, msg_row;
	enum thread_rule rule = THREAD_NEW;
	char now[32], *reason = NULL, *to = NULL, *cc = NULL;
	enum db_status st;
	bool found;

	/* The raw copy is the first row written, with ON CONFLICT on the
	 * mailbox identity: a message stored before (a crash between COMMIT
	 * and its removal) writes nothing and is only acknowledged. */
	time_iso(in->now, now, sizeof(now));
	*result_r = INTAKE_ALREADY;
	if (message_parse(data, len, &limits, &msg, &reason) < 0) {
		st = insert_raw(in, source, uid, data, len, queue_id_of(in, queues[0]), "failed",
				reason, NULL, &raw_id, error_r);
		if (st == DB_OK && raw_id > 0) {
			char *safe = log_sanitize(reason, 0);
			log_warning("source=%s uid=%s kept as failed: %s", source, uid, safe);
			g_free(safe);
			*result_r = INTAKE_FAILED;
		}
		goto out;
	}
	queue = intake_choose_queue(msg, queues, nqueues);

	st = ticket_find_incoming_copy(in->db, msg->message_id, msg->from->addr, msg->text, &copy_of,
				       error_r);
	if (st != DB_OK)
		goto out;
	if (copy_of > 0) {
		char *why = g_strdup_printf("another copy is stored on ticket %lld", copy_of);
		st = insert_raw(in, source, uid, data, len, queue_id_of(in, queue), "duplicate", why,
				msg->message_id, &raw_id, error_r);
		g_free(why);
		if (raw_id > 0)
			*result_r = INTAKE_DUPLICATE;
		goto out;
	}
	st = insert_raw(in, source, uid, data, len, queue_id_of(in, queue), "stored", NULL,
			msg->message_id, &raw_id, error_r);
	if (st != DB_OK || raw_id == 0)
		goto out;

	classify_message(msg, cfg, &cls);
	if ((st = find_thread(in, msg, &facts, error_r)) != DB_OK)
		goto out;
	rule = thread_decide(&facts, &ticket);
	if (rule == THREAD_NEW) {
		st = new_ticket(in, msg, queue, cls.automatic, now, &ticket, error_r);
		*result_r = INTAKE_NEW_TICKET;
	} else {
		*result_r = INTAKE_FOLLOWUP;
	}
	if (st != DB_OK)
		goto out;

	to = join_addrs(msg->to);
	cc = join_addrs(msg->cc);
	struct ticket_message row = {
		.ticket_id = ticket,
		.raw_id = raw_id,
		.direction = "in",
		.kind = cls.automatic ? "automatic" : "customer",
		.message_id = msg->message_id,
		.in_reply_to = msg->in_reply_to,
		.references = msg->references,
		.from_addr = msg->from->addr,
		.from_name = msg->from->name,
		.to_addrs = to,
		.cc_addrs = cc,
		.subject = msg->subject,
		.body = msg->text,
		.attachments = msg->attachments,
		.now = now,
	};
	if ((st = ticket_add_message(in->db, &row, &msg_row, error_r)) != DB_OK)
		goto out;

	if (rule != THREAD_NEW && !cls.automatic) {
		if ((st = ticket_get(in->db, ticket, &info, &found, error_r)) != DB_OK)
			goto out;
		st = ticket_customer_followup(in->db, &info, now, msg->from->addr, error_r);
	} else if (rule == THREAD_NEW && !cls.automatic && queue->autoresponse) {
		struct autoresponse_request req = {
			.cfg = cfg,
			.queue = queue,
			.kind = TEMPLATE_NEW_TICKET,
			.ticket_id = ticket,
			.ticket_subject = row.subject[0] != '\0' ? row.subject : "(no subject)",
			.ticket_status = "new",
			.ticket_priority = queue->priority,
			.requestor_addr = msg->from->addr,
			.requestor_name = msg->from->name,
			.msg = msg,
			.now = in->now,
		};
		bool queued;
		st = autoresponse_queue(in->db, &req, &queued, error_r);
		if (st == DB_OK && queued)
			in->stats.autoresponses++;
	}
	if (st == DB_OK) {
		char *mid = log_sanitize(msg->message_id, 0);
		log_info("queue=%s ticket=%lld msgid=<%s> rule=%s%s%s", queue->name, ticket, mid,
			 thread_rule_name(rule), cls.automatic ? " automatic=" : "",
			 cls.automatic ? cls.reason : "");
		g_free(mid);
		if (cls.automatic)
			in->stats.automatic++;
	}
out:
	ticket_info_clear(&info);
	message_free(&msg);
	g_free(reason);
	g_free(to);
	g_free(cc);
	return st;
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
	}
}

enum db_status intake_store(struct intake *in, const char *source, const char *uid,
			    const char *data, size_t len, const struct config_queue *const *queues,
			    size_t nqueues, bool *stored_r, char **error_r)
{
	enum intake_result result = INTAKE_FAILED;
	char *reason = NULL;
	enum db_status st;

	*stored_r = false;
	st = intake_message(in, source, uid, data, len, queues, nqueues, &result, &reason);
	if (st == DB_OK) {
		st = db_next_savepoint(in->db, error_r);
		*stored_r = st == DB_OK;
		count_result(in, result);
		goto out;
	}
	if (st == DB_ERR_CONNECTION) {
		error_set(error_r, "%s", reason);
		goto out;
	}
	/* This message broke a statement: undo its part and keep it raw with
	 * the reason, so that it can be looked at and retried. */
	if ((st = db_rollback_to_savepoint(in->db, error_r)) != DB_OK)
		goto out;
	char *safe = log_sanitize(reason, 0);
	log_error("source=%s uid=%s cannot be stored, kept as failed: %s", source, uid, safe);
	g_free(safe);
	st = intake_keep_failed(in, source, uid, data, len, queue_id_of(in, queues[0]), reason,
				error_r);
	if (st == DB_OK) {
		st = db_next_savepoint(in->db, error_r);
		*stored_r = st == DB_OK;
		count_result(in, INTAKE_FAILED);
	} else if (st != DB_ERR_CONNECTION) {
		/* Not even the raw copy could be stored: the caller leaves it
		 * where it is, for the next try. */
		log_error("source=%s uid=%s not stored: %s", source, uid, *error_r);
		st = db_rollback_to_savepoint(in->db, error_r);
		in->stats.left++;
	}
out:
	g_free(reason);
	return st;
}

/* Fetches one message and stores it in the batch transaction.  Returns
 * DB_OK when the rest of the batch may go on; *ack_r says whether the
 * message may leave its mailbox after the commit. */
static enum db_status take_one(struct intake *in, struct mailbox *box, const char *uid,
			       const struct config_queue *const *queues, size_t nqueues,
			       bool *ack_r, char **error_r)
{
	char *data = NULL, *reason = NULL;
	enum db_status st;
	size_t len;

	*ack_r = false;
	if (box->driver->fetch(box, uid, &data, &len, &reason) < 0) {
		log_warning("source=%s uid=%s cannot be read, left in the mailbox: %s", box->source,
			    uid, reason);
		g_free(reason);
		in->stats.left++;
		return DB_OK;
	}
	st = intake_store(in, box->source, uid, data, len, queues, nqueues, ack_r, error_r);
	g_free(data);
	return st;
}

int intake_mailbox(struct intake *in, struct mailbox *box,
		   const struct config_queue *const *queues, size_t nqueues, char **error_r)
{
	GPtrArray *uids = NULL, *acks = g_ptr_array_new();
	size_t batch = in->cfg->batch_size > 0 ? (size_t)in->cfg->batch_size : 200;
	enum db_status st = DB_OK;
	int ret = -1;

	if (box->driver->list(box, &uids, error_r) < 0)
		goto out;
	for (guint start = 0; start < uids->len; start += batch) {
		if (in->stop != NULL && *in->stop)
			break;
		g_ptr_array_set_size(acks, 0);
		if ((st = db_begin_savepoint(in->db, error_r)) != DB_OK)
			goto out;
		for (guint i = start; i < uids->len && i < start + batch; i++) {
			const char *uid = g_ptr_array_index(uids, i);
			bool ack;

			if (in->stop != NULL && *in->stop)
				break;
			st = take_one(in, box, uid, queues, nqueues, &ack, error_r);
			if (st != DB_OK) {
				db_rollback(in->db);
				goto out;
			}
			if (ack)
				g_ptr_array_add(acks, (gpointer)uid);
		}
		if ((st = db_commit(in->db, error_r)) != DB_OK)
			goto out;
		/* Committed: now, and only now, the messages may leave. */
		for (guint i = 0; i < acks->len; i++) {
			char *reason = NULL;
			if (box->driver->ack(box, g_ptr_array_index(acks, i), &reason) < 0) {
				log_error("source=%s uid=%s stored but not removed: %s", box->source,
					  (const char *)g_ptr_array_index(acks, i), reason);
				g_free(reason);
			}
		}
		if (acks->len > 0 && box->driver->flush != NULL) {
			char *reason = NULL;
			if (box->driver->flush(box, &reason) < 0) {
				/* Stored, but still in the mailbox: the next
				 * fetch recognises them (intake_seen). */
				log_error("source=%s: cannot remove stored messages: %s",
					  box->source, reason);
				g_free(reason);
			}
		}
	}
	ret = 0;
out:
	if (uids != NULL)
		g_ptr_array_free(uids, TRUE);
	g_ptr_array_free(acks, TRUE);
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
