/*
 * apply.c - lookups, threading decision, new ticket or follow-up, message
 * row and the mails a customer's message causes.
 */
#include "apply.h"
#include "address.h"
#include "autoresponse.h"
#include "compose.h"
#include "mailout.h"
#include "outbox.h"
#include "ticket-message.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static int queue_id_of(const struct apply_ctx *ctx, const struct config_queue *q)
{
	return ctx->queue_ids[q - ctx->cfg->queues];
}

static const struct config_queue *match_queue(const char *addr,
					      const struct config_queue *const *queues,
					      size_t nqueues)
{
	for (size_t i = 0; addr != NULL && i < nqueues; i++) {
		if (address_equal(addr, queues[i]->address) ||
		    (queues[i]->comment_address != NULL &&
		     address_equal(addr, queues[i]->comment_address)))
			return queues[i];
	}
	return NULL;
}

/* The bare address inside a header value such as "<a@b>" or "a@b". */
static char *header_addr(const char *value)
{
	const char *lt = strchr(value, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		return g_strndup(lt + 1, gt - lt - 1);
	return g_strstrip(g_strdup(value));
}

const struct config_queue *apply_choose_queue(const struct parsed_message *msg,
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
			q = match_queue(((struct mail_address *)g_ptr_array_index(lists[l], i))
						->addr,
					queues, nqueues);
	for (size_t i = 0; i < nqueues && q == NULL; i++)
		if (queues[i]->is_default)
			q = queues[i];
	return q != NULL ? q : queues[0];
}

void apply_begin(const struct apply_ctx *ctx, const struct parsed_message *msg,
		 const struct secure_message *sm, const char *data, size_t len,
		 const struct config_queue *const *queues, size_t nqueues, struct apply_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->ask_copy = plan->ask_by_ids = plan->ask_tag = plan->ask_tag_cc = plan->ask_limit =
		plan->ask_recent = DB_NOT_ASKED;
	plan->queue = queues[0];
	plan->secure = sm;
	if (msg == NULL)
		return;
	plan->queue = apply_choose_queue(msg, queues, nqueues);
	classify_message(msg, ctx->cfg, &plan->cls);
	if (!plan->cls.automatic)
		plan->staff = apply_staff_author(ctx, msg, sm, data, len);
	else if (bounce_parse(data, len, ctx->cfg, &plan->bounce) == 0)
		plan->bounce = NULL;
}

void apply_plan_clear(struct apply_plan *plan)
{
	ticket_info_clear(&plan->info);
	commands_free(&plan->cmds);
	bounce_free(&plan->bounce);
	g_free(plan->refusal);
	g_free(plan->recent_tickets);
	g_free(plan->requestor);
	g_free(plan->requestor_name);
}

/* Every reference, newest first: In-Reply-To, then References backwards. */
static GPtrArray *reference_ids(const struct parsed_message *msg)
{
	GPtrArray *ids = g_ptr_array_new();

	if (msg->in_reply_to != NULL)
		g_ptr_array_add(ids, msg->in_reply_to);
	for (guint i = msg->references != NULL ? msg->references->len : 0; i > 0; i--)
		g_ptr_array_add(ids, g_ptr_array_index(msg->references, i - 1));
	return ids;
}

enum db_status apply_ask(const struct apply_ctx *ctx, const struct parsed_message *msg,
			 struct apply_plan *plan, char **error_r)
{
	const struct ticketd_config *cfg = ctx->cfg;
	enum db_status st = DB_OK;
	GPtrArray *ids;
	long long tag;

	if (msg == NULL)
		return DB_OK;
	ids = reference_ids(msg);
	tag = thread_subject_tag(msg->subject, cfg->tag);
	/* a bounce names its ticket by the mail it returns */
	plan->names_no_ticket = ids->len == 0 && tag == 0 && plan->bounce == NULL;
	if (msg->message_id != NULL)
		st = ticket_message_ask_incoming_copy(ctx->db, msg->message_id, msg->from->addr,
						      msg->text, &plan->ask_copy, error_r);
	/* a bounce belongs to the ticket of the mail it returns */
	if (plan->bounce != NULL && plan->bounce->ticket_id > 0)
		st = ticket_ask_get(ctx->db, plan->bounce->ticket_id,
				    &plan->ask_signed[plan->nsigned++], error_r);
	/* our own signed Message-IDs thread even when the stored copy is gone */
	for (guint i = 0; i < ids->len && plan->nsigned < APPLY_SIGNED_REFS_MAX && st == DB_OK;
	     i++) {
		long long id =
			msgid_verify(cfg->secret, cfg->secret_len, g_ptr_array_index(ids, i));
		if (id > 0)
			st = ticket_ask_get(ctx->db, id, &plan->ask_signed[plan->nsigned++],
					    error_r);
	}
	if (ids->len > 0 && st == DB_OK)
		st = ticket_message_ask_by_ids(ctx->db, ids, &plan->ask_by_ids, error_r);
	if (tag > 0 && st == DB_OK)
		st = ticket_ask_get(ctx->db, tag, &plan->ask_tag, error_r);
	if (tag > 0 && st == DB_OK)
		st = ticket_ask_has_cc(ctx->db, tag, msg->from->addr, &plan->ask_tag_cc, error_r);
	if (autoresponse_wanted(plan->queue, &plan->cls) && plan->staff == NULL && st == DB_OK)
		st = autoresponse_ask_limit(ctx->db, cfg, msg->from->addr, ctx->now,
					    &plan->ask_limit, error_r);
	/* the customer's latest tickets, for the staff's notifications */
	if (!plan->cls.automatic && plan->staff == NULL && st == DB_OK)
		st = ticket_ask_recent(ctx->db, msg->from->addr, &plan->ask_recent, error_r);
	g_ptr_array_free(ids, TRUE);
	return st;
}

void apply_decide(const struct apply_ctx *ctx, const struct parsed_message *msg,
		  struct apply_plan *plan)
{
	struct thread_facts facts = { 0 };
	struct ticket_info tag_info = { 0 };

	plan->duplicate_of = ticket_id_result(ctx->db, plan->ask_copy);
	plan->recent = outbox_count_result(ctx->db, plan->ask_limit);
	if (plan->ask_recent != DB_NOT_ASKED)
		plan->recent_tickets = ticket_recent_result(ctx->db, plan->ask_recent);
	for (unsigned i = 0; i < plan->nsigned && facts.ref_ticket == 0; i++)
		if (ticket_get_result(ctx->db, plan->ask_signed[i], &plan->info))
			facts.ref_ticket = plan->info.id;
	if (facts.ref_ticket == 0 && ticket_get_result(ctx->db, plan->ask_by_ids, &plan->info))
		facts.ref_ticket = plan->info.id;
	/* the answers not needed are left untaken: the next round drops them */
	if (facts.ref_ticket == 0 && ticket_get_result(ctx->db, plan->ask_tag, &tag_info)) {
		facts.tag_ticket = tag_info.id;
		/* staff only when proven: a forged From gets no further than
		 * a stranger */
		facts.sender_is_participant = address_equal(tag_info.requestor, msg->from->addr) ||
					      plan->staff != NULL ||
					      ticket_id_result(ctx->db, plan->ask_tag_cc) == 1;
		ticket_info_clear(&plan->info);
		plan->info = tag_info;
	}
	plan->rule = thread_decide(&facts, &plan->ticket);
	apply_staff_decide(ctx, msg, plan);
}

/* The message's addresses as one text, "a@b, c@d". */
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

enum db_status apply_open(const struct apply_ctx *ctx, const struct parsed_message *msg,
			  struct apply_plan *plan, long long drawn, char **error_r)
{
	char now[32];
	char *subject;
	enum db_status st;

	if (plan->rule != THREAD_NEW)
		return DB_OK;
	time_iso(ctx->now, now, sizeof(now));
	subject = g_strstrip(g_strdup(msg->subject[0] != '\0' ? msg->subject : "(no subject)"));
	/* a staff member's forward: the customer's ticket */
	const char *requestor = plan->requestor != NULL ? plan->requestor : msg->from->addr;
	const char *requestor_name =
		plan->requestor != NULL ? plan->requestor_name : msg->from->name;
	struct ticket_new t = {
		.id = drawn,
		.queue_id = queue_id_of(ctx, plan->queue),
		.subject = subject,
		.requestor = requestor,
		.requestor_name = requestor_name != NULL ? requestor_name : "",
		.priority = plan->queue->priority,
		.origin = "email",
		.now = now,
		.actor = msg->from->addr,
	};
	st = ticket_create(ctx->db, &t, &plan->ticket, error_r);
	/* what the rest of the way knows of the new ticket */
	plan->info.id = plan->ticket;
	plan->info.queue_id = t.queue_id;
	plan->info.requestor = g_strdup(requestor);
	plan->info.requestor_name = g_strdup(t.requestor_name);
	plan->info.subject = g_strdup(subject);
	plan->info.status = TICKET_NEW;
	plan->info.priority = t.priority;
	/* Everybody the customer wrote to, but us, follows the ticket (staff
	 * are told by notifications, not as Cc of the answers). */
	GPtrArray *lists[2] = { msg->to, msg->cc };
	for (size_t l = 0; l < 2 && st == DB_OK && !plan->cls.automatic; l++) {
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len && st == DB_OK; i++) {
			const char *addr =
				((struct mail_address *)g_ptr_array_index(lists[l], i))->addr;
			if (strcmp(addr, msg->from->addr) == 0 ||
			    config_queue_by_address(ctx->cfg, addr) != NULL ||
			    config_staff_by_email(ctx->cfg, addr) != NULL)
				continue;
			st = ticket_add_cc(ctx->db, plan->ticket, addr, error_r);
		}
	}
	g_free(subject);
	return st;
}

/* The new-ticket auto-response, unless policy or the rate limit holds it
 * back. */
static enum db_status auto_respond(const struct apply_ctx *ctx, const struct parsed_message *msg,
				   struct apply_plan *plan, const char *subject, char **error_r)
{
	bool written = false;
	enum db_status st;

	if (!autoresponse_wanted(plan->queue, &plan->cls) ||
	    !autoresponse_within_limit(ctx->cfg, plan->recent))
		return DB_OK;
	struct mailout m = {
		.cfg = ctx->cfg,
		.queue = plan->queue,
		.template = TEMPLATE_NEW_TICKET,
		.kind = MESSAGE_AUTO_RESPONSE,
		.automatic = true,
		.ticket_id = plan->ticket,
		.ticket_subject = subject[0] != '\0' ? subject : "(no subject)",
		.ticket_status = TICKET_NEW,
		.ticket_priority = plan->queue->priority,
		.requestor_addr = msg->from->addr,
		.requestor_name = msg->from->name,
		.to_addr = msg->from->spelling, /* the local part's case as written */
		.to_name = msg->from->name,
		.msg = msg,
		.now = ctx->now,
	};
	st = mailout_write(ctx->db, &m, &written, error_r);
	if (written)
		plan->mails++;
	return st;
}

/* A delivery report about a mail we sent on the ticket: an event per
 * recipient it names, and the assignee (or the admins) told that the mail
 * did not arrive; a delay alone is only an event. */
static enum db_status bounced(const struct apply_ctx *ctx, const struct parsed_message *msg,
			      struct apply_plan *plan, const char *now, char **error_r)
{
	const struct bounce *b = plan->bounce;
	const char *type = b->permanent ? "delivery-failed" : "delivery-delayed";
	enum db_status st = DB_OK;
	GString *text = g_string_new(NULL);

	g_string_append_printf(text, "A mail of ticket %lld did not reach %s:\n", plan->ticket,
			       b->recipients->len > 0 ? "its recipient" : "everybody");
	for (guint i = 0; i < b->recipients->len && st == DB_OK; i++) {
		const struct bounce_recipient *r = g_ptr_array_index(b->recipients, i);
		char *what = g_strdup_printf("%s %s", r->status != NULL ? r->status : "",
					     r->diagnostic != NULL ? r->diagnostic : "");
		g_string_append_printf(text, "  %s: %s\n", r->address != NULL ? r->address : "?",
				       what);
		st = ticket_event(ctx->db, plan->ticket, now, "ticketd", type, r->address,
				  g_strstrip(what), error_r);
		g_free(what);
	}
	if (st == DB_OK && b->recipients->len == 0)
		st = ticket_event(ctx->db, plan->ticket, now, "ticketd", type, NULL,
				  b->original_message_id, error_r);
	if (st == DB_OK && b->permanent)
		st = apply_notify(ctx, msg, plan, NOTIFY_BOUNCE, text->str, error_r);
	g_string_free(text, TRUE);
	return st;
}

/* An event per encrypted section: decrypted (and how it was signed), or
 * not and why; the reasons are GnuPG's and ours, never plaintext. */
static enum db_status secure_events(const struct apply_ctx *ctx, const struct parsed_message *msg,
				    const struct apply_plan *plan, const char *now, char **error_r)
{
	const struct secure_message *sm = plan->secure;
	enum db_status st = DB_OK;

	for (unsigned section = 1; section <= sm->sections && st == DB_OK; section++) {
		const char *type;
		char *what = secure_section_event(sm, section, msg->message_id, &type);
		char *safe = log_sanitize(what, 0);

		if (strcmp(type, "decrypted") == 0)
			log_info("queue=%s ticket=%lld %s", plan->queue->name, plan->ticket, safe);
		else
			log_warning("queue=%s ticket=%lld %s, kept as it came", plan->queue->name,
				    plan->ticket, safe);
		st = ticket_event(ctx->db, plan->ticket, now, "ticketd", type, NULL, what, error_r);
		g_free(safe);
		g_free(what);
	}
	return st;
}

/* How the incoming message is stored. */
static enum message_kind message_kind_of(const struct apply_plan *plan)
{
	if (plan->cls.automatic)
		return MESSAGE_AUTOMATIC;
	switch (plan->staff != NULL ? plan->staff_mail : STAFF_MAIL_NONE) {
	case STAFF_MAIL_ANSWER:
		return MESSAGE_STAFF_ANSWER;
	case STAFF_MAIL_NOTE:
	case STAFF_MAIL_COMMANDS:
	case STAFF_MAIL_REFUSED:
		return MESSAGE_INTERNAL_NOTE;
	case STAFF_MAIL_OPENS:
	case STAFF_MAIL_NONE:
	default:
		return MESSAGE_CUSTOMER;
	}
}

static void set_assignee(struct ticket_info *t, const char *login)
{
	char *copy = g_strdup(login);

	g_free(t->assignee);
	t->assignee = copy;
}

/* A customer wrote on the ticket: the sticky rule, a released ticket to
 * the least-loaded member when the queue says so, and the assignee (or
 * the admins) told. */
static enum db_status customer_followup(const struct apply_ctx *ctx,
					const struct parsed_message *msg, struct apply_plan *plan,
					const char *now, char **error_r)
{
	struct ticket_state next;
	enum db_status st;

	ticket_followup_state(&plan->info, &next);
	if (next.assignee_id == 0 && (st = apply_auto_assign(ctx, plan, &next, error_r)) != DB_OK)
		return st;
	st = ticket_change(ctx->db, &plan->info, &next, TICKET_TOUCH_CUSTOMER, msg->from->addr, now,
			   error_r);
	/* the notification names the ticket as it is now (next borrows
	 * from plan->info: copy before freeing) */
	set_assignee(&plan->info, next.assignee);
	plan->info.status = next.status;
	if (st == DB_OK)
		st = apply_notify(ctx, msg, plan, NOTIFY_FOLLOWUP, NULL, error_r);
	return st;
}

/* A new ticket: the auto-response, the least-loaded assignee when the
 * queue says so, and the staff told. */
static enum db_status new_ticket(const struct apply_ctx *ctx, const struct parsed_message *msg,
				 struct apply_plan *plan, const char *now, char **error_r)
{
	struct ticket_state next;
	enum db_status st = DB_OK;

	/* a ticket staff open for a customer gets no automatic answer */
	if (plan->staff == NULL)
		st = auto_respond(ctx, msg, plan, msg->subject, error_r);
	ticket_state_of(&plan->info, &next);
	if (st == DB_OK)
		st = apply_auto_assign(ctx, plan, &next, error_r);
	if (st == DB_OK && next.assignee_id != 0) {
		st = ticket_change(ctx->db, &plan->info, &next, TICKET_TOUCH_STAFF, "ticketd", now,
				   error_r);
		set_assignee(&plan->info, next.assignee);
		plan->info.status = next.status;
	}
	if (st == DB_OK)
		st = apply_notify(ctx, msg, plan,
				  next.assignee_id != 0 ? NOTIFY_FOLLOWUP : NOTIFY_NEW_TICKET, NULL,
				  error_r);
	return st;
}

enum db_status apply_store(const struct apply_ctx *ctx, const struct parsed_message *msg,
			   struct apply_plan *plan, long long raw_id, char **error_r)
{
	char now[32], *to, *cc;
	enum db_status st;

	time_iso(ctx->now, now, sizeof(now));
	to = join_addrs(msg->to);
	cc = join_addrs(msg->cc);
	struct ticket_message row = {
		.ticket_id = plan->ticket,
		.raw_id = raw_id,
		.direction = "in",
		.kind = message_kind_of(plan),
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
	const struct secure_message *sm = plan->secure;
	if (sm != NULL) {
		row.sig_status = secure_sig_name(sm->sig.status);
		row.sig_fingerprint = sm->sig.primary_fingerprint != NULL
					      ? sm->sig.primary_fingerprint
					      : sm->sig.fingerprint;
		row.secure_parts = sm->parts;
	}
	st = ticket_message_add(ctx->db, &row, error_r);
	if (st == DB_OK && sm != NULL)
		st = secure_events(ctx, msg, plan, now, error_r);
	if (st != DB_OK)
		goto out;
	db_flush(ctx->db);
	/* Automatic mail is recorded and changes nothing (RFC 3834): a
	 * staff member's vacation reply to a notification never reaches a
	 * customer.  A bounce is an event, and the staff are told. */
	if (plan->bounce != NULL && plan->rule != THREAD_NEW)
		st = bounced(ctx, msg, plan, now, error_r);
	if (plan->cls.automatic)
		goto out;
	if (plan->staff != NULL && plan->rule != THREAD_NEW)
		st = apply_staff_store(ctx, msg, plan, now, error_r);
	else if (plan->rule != THREAD_NEW)
		st = customer_followup(ctx, msg, plan, now, error_r);
	else
		st = new_ticket(ctx, msg, plan, now, error_r);
out:
	if (st == DB_OK) {
		char *mid = log_sanitize(msg->message_id, 0);
		log_info("queue=%s ticket=%lld msgid=<%s> rule=%s%s%s", plan->queue->name,
			 plan->ticket, mid, thread_rule_name(plan->rule),
			 plan->cls.automatic ? " automatic=" : "",
			 plan->cls.automatic ? plan->cls.reason : "");
		g_free(mid);
	}
	g_free(to);
	g_free(cc);
	return st;
}
