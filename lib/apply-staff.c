/*
 * apply-staff.c - what a mail from staff does (DESIGN §3, issue 16): who
 * wrote it (proven, staff-auth.h), what it is once its ticket is known
 * (answer, note, commands, refused, a ticket opened for a customer), and
 * carrying it out: the commands through ticket.h, the answer and the
 * refusal through mailout.h, the notifications through notify.h.  Also the
 * least-loaded assignment and the notifications customers' mail causes.
 */
#include "address.h"
#include "apply.h"
#include "pgp.h"
#include "staff-auth.h"
#include "staff.h"
#include "ticket-message.h"
#include "util.h"

#include <string.h>

static bool allows(const struct ticketd_config *cfg, const struct config_staff *s,
		   const char *method)
{
	char **list = s->auth != NULL ? s->auth : cfg->staff_auth;

	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, method) == 0)
			return true;
	return false;
}

const struct config_staff *apply_staff_author(const struct apply_ctx *ctx,
					      const struct parsed_message *msg,
					      const struct secure_message *sm, const char *data,
					      size_t len)
{
	const struct ticketd_config *cfg = ctx->cfg;
	const struct config_staff *s = config_staff_by_email(cfg, msg->from->addr), *who;
	struct pgp_signature sig = { 0 };
	const struct pgp_signature *sig_of = &sig;
	const char *how = NULL, *why_not = NULL;
	char *error = NULL;

	if (s == NULL)
		return NULL;
	/* GnuPG only for a member whose mail a signature may prove, and
	 * only once: secure_open() may have checked it already */
	if (sm != NULL && sm->sig_checked)
		sig_of = &sm->sig;
	else if (allows(cfg, s, "pgp") && s->pgp_key != NULL &&
		 pgp_verify(data, len, cfg->gnupg_home, &sig, &error) < 0) {
		log_warning("login=%s: cannot check the signature: %s", s->login, error);
		g_free(error);
	}
	who = staff_auth_check(cfg, msg, sig_of, &how, &why_not);
	if (who == NULL) {
		char *mid = log_sanitize(msg->message_id, 0);
		log_info("msgid=<%s> from the address of login=%s, not proven (%s): a customer's "
			 "mail",
			 mid, s->login, why_not);
		g_free(mid);
	} else {
		log_debug("login=%s proven by %s", who->login, how);
	}
	pgp_signature_clear(&sig);
	return who;
}

static const struct config_queue *queue_by_id(const struct apply_ctx *ctx, int id)
{
	for (size_t i = 0; i < ctx->cfg->queue_count; i++)
		if (ctx->queue_ids[i] == id)
			return &ctx->cfg->queues[i];
	return NULL;
}

/* The queue of plan's ticket (which the mail about it comes from), or the
 * one the message was sent to while the ticket has none. */
static const struct config_queue *ticket_queue(const struct apply_ctx *ctx,
					       const struct apply_plan *plan)
{
	const struct config_queue *q =
		plan->info.queue_id != 0 ? queue_by_id(ctx, plan->info.queue_id) : NULL;

	return q != NULL ? q : plan->queue;
}

/* Was msg sent to one of the queues' comment addresses? */
static bool to_comment_address(const struct ticketd_config *cfg, const struct parsed_message *msg)
{
	GPtrArray *lists[2] = { msg->to, msg->cc };

	for (size_t l = 0; l < 2; l++)
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++) {
			const char *a =
				((struct mail_address *)g_ptr_array_index(lists[l], i))->addr;
			for (size_t q = 0; q < cfg->queue_count; q++)
				if (cfg->queues[q].comment_address != NULL &&
				    address_equal(a, cfg->queues[q].comment_address))
					return true;
		}
	return false;
}

/* The original sender of a mail forwarded inline: the first "From:" line
 * after a forwarding marker ("Forwarded message", "Original Message"). */
static void forwarded_sender(const char *text, char **addr_r, char **name_r)
{
	const char *p = text != NULL ? strstr(text, "orwarded message") : NULL;
	char **lines;

	if (p == NULL && text != NULL)
		p = strstr(text, "Original Message");
	if (p == NULL)
		return;
	lines = g_strsplit(p, "\n", 40);
	for (size_t i = 1; lines[i] != NULL; i++) {
		const char *v = lines[i];
		const char *lt, *gt;
		while (*v == '>' || *v == ' ')
			v++;
		if (g_ascii_strncasecmp(v, "From:", 5) != 0)
			continue;
		v += 5;
		lt = strchr(v, '<');
		gt = lt != NULL ? strchr(lt, '>') : NULL;
		char *addr = lt != NULL && gt != NULL ? g_strndup(lt + 1, gt - lt - 1)
						      : g_strstrip(g_strdup(v));
		if (address_valid(addr)) {
			*addr_r = address_normalise(addr);
			if (lt != NULL)
				*name_r = g_strstrip(g_strndup(v, lt - v));
		}
		g_free(addr);
		break;
	}
	g_strfreev(lines);
}

/* The sender of a mail forwarded as an attachment (message/rfc822). */
static void attached_sender(const struct apply_ctx *ctx, const struct parsed_message *msg,
			    char **addr_r, char **name_r)
{
	struct message_limits limits = { .max_size = ctx->cfg->max_message_size };

	for (guint i = 0; msg->attachments != NULL && i < msg->attachments->len; i++) {
		const struct mail_attachment *a = g_ptr_array_index(msg->attachments, i);
		struct parsed_message *inner = NULL;
		char *reason = NULL;
		gsize size;
		const char *data;

		if (a->content_type == NULL ||
		    g_ascii_strcasecmp(a->content_type, "message/rfc822") != 0)
			continue;
		data = g_bytes_get_data(a->data, &size);
		if (message_parse(data, size, &limits, &inner, &reason) == 0 &&
		    config_staff_by_email(ctx->cfg, inner->from->addr) == NULL) {
			*addr_r = g_strdup(inner->from->addr);
			*name_r = g_strdup(inner->from->name);
		}
		message_free(&inner);
		g_free(reason);
		if (*addr_r != NULL)
			return;
	}
}

/* A clear-signed staff mail's own text (RFC 4880 §7): what stands between
 * the armor header block and the signature, dash-escaping undone; the
 * armor itself never goes to a customer.  Without such a block, a copy. */
static char *signed_text(const char *body)
{
	const char *begin = strstr(body, "-----BEGIN PGP SIGNED MESSAGE-----");
	const char *start, *end;
	GString *out;

	if (begin == NULL || (start = strstr(begin, "\n\n")) == NULL ||
	    (end = strstr(start, "\n-----BEGIN PGP SIGNATURE-----")) == NULL)
		return g_strdup(body);
	out = g_string_new(NULL);
	for (const char *p = start + 2; p < end;) {
		const char *nl = memchr(p, '\n', end - p);
		const char *stop = nl != NULL ? nl : end;
		if (stop - p >= 2 && p[0] == '-' && p[1] == ' ')
			p += 2;
		g_string_append_len(out, p, stop - p);
		g_string_append_c(out, '\n');
		p = nl != NULL ? nl + 1 : end;
	}
	return g_string_free(out, FALSE);
}

static void refuse(struct apply_plan *plan, char *reason)
{
	plan->staff_mail = STAFF_MAIL_REFUSED;
	plan->refusal = reason;
}

void apply_staff_decide(const struct apply_ctx *ctx, const struct parsed_message *msg,
			struct apply_plan *plan)
{
	char *text, *reason = NULL;

	if (plan->staff == NULL || plan->cls.automatic)
		return;
	plan->to_comment = to_comment_address(ctx->cfg, msg);
	/* A staff mail encrypted whole (a mail client encrypts the reply to
	 * an encrypted notification): the commands and the answer are the
	 * writer's, in the section; what it quotes stays below the separator
	 * and out, as always. */
	char *plain = plan->secure != NULL && plan->secure->whole != 0
			      ? secure_section_text(plan->secure, plan->secure->whole)
			      : NULL;
	char *own = signed_text(plain != NULL ? plain : msg->text);
	text = commands_text_above_separator(own);
	g_free(own);
	if (plain != NULL)
		explicit_bzero(plain, strlen(plain));
	g_free(plain);
	if (commands_parse(text, &plan->cmds, &reason) < 0) {
		refuse(plan, reason);
		goto out;
	}
	if (plan->rule == THREAD_NEW) {
		plan->staff_mail = STAFF_MAIL_OPENS;
		if (commands_permit_without_ticket(plan->cmds, &reason) < 0) {
			refuse(plan, reason);
			goto out;
		}
		for (size_t i = 0; i < plan->cmds->count; i++)
			if (plan->cmds->items[i].verb == COMMAND_REQUESTOR)
				plan->requestor = g_strdup(plan->cmds->items[i].arg);
		if (plan->requestor == NULL)
			attached_sender(ctx, msg, &plan->requestor, &plan->requestor_name);
		if (plan->requestor == NULL)
			forwarded_sender(msg->text, &plan->requestor, &plan->requestor_name);
		goto out;
	}
	struct command_actor who = { .staff = plan->staff };
	const struct config_queue *q = queue_by_id(ctx, plan->info.queue_id);
	struct command_ticket t = { .queue = q != NULL ? q->name : "",
				    .assignee = plan->info.assignee };
	if (commands_permit(plan->cmds, &who, &t, ctx->cfg, &reason) < 0) {
		refuse(plan, reason);
		goto out;
	}
	/* may the writer act on the ticket as its commands leave it (a
	 * support member's #pickup of a ticket nobody holds makes it its) */
	for (size_t i = 0; i < plan->cmds->count; i++) {
		const struct command *c = &plan->cmds->items[i];
		if (c->verb == COMMAND_PICKUP)
			t.assignee = plan->staff->login;
		else if (c->verb == COMMAND_ASSIGN)
			t.assignee = c->arg;
		else if (c->verb == COMMAND_RELEASE)
			t.assignee = NULL;
	}
	if (!commands_may_act(&who, &t, ctx->cfg) &&
	    !(plan->cmds->count > 0 && t.assignee == NULL && plan->cmds->text[0] == '\0')) {
		refuse(plan, g_strdup_printf("%s may not act on ticket %lld", plan->staff->login,
					     plan->info.id));
		goto out;
	}
	if (plan->cmds->note || plan->to_comment)
		plan->staff_mail = STAFF_MAIL_NOTE;
	else if (plan->cmds->text[0] != '\0')
		plan->staff_mail = STAFF_MAIL_ANSWER;
	else
		plan->staff_mail = STAFF_MAIL_COMMANDS;
out:
	g_free(text);
}

void apply_mail_base(const struct apply_ctx *ctx, const struct parsed_message *msg,
		     const struct apply_plan *plan, struct mailout *m)
{
	const struct config_staff *assignee =
		config_staff_by_login(ctx->cfg, plan->info.assignee, NULL);

	*m = (struct mailout){
		.cfg = ctx->cfg,
		.queue = ticket_queue(ctx, plan),
		.ticket_id = plan->ticket,
		.ticket_subject = plan->info.subject != NULL ? plan->info.subject : msg->subject,
		.ticket_status = plan->info.status,
		.ticket_priority = plan->info.id != 0 ? plan->info.priority : plan->queue->priority,
		.requestor_addr =
			plan->info.requestor != NULL ? plan->info.requestor : msg->from->addr,
		.requestor_name =
			plan->info.requestor != NULL ? plan->info.requestor_name : msg->from->name,
		.msg = msg,
		.assignee = assignee != NULL ? assignee->name : NULL,
		.secure = plan->secure,
		.keys = ctx->keys,
		.now = ctx->now,
	};
}

enum db_status apply_notify(const struct apply_ctx *ctx, const struct parsed_message *msg,
			    struct apply_plan *plan, enum notify_event event, const char *text,
			    char **error_r)
{
	struct notify_target targets[NOTIFY_MAX];
	size_t n = notify_targets(ctx->cfg, ticket_queue(ctx, plan), event, plan->info.assignee,
				  plan->staff, targets);
	struct mailout m;
	unsigned count;
	enum db_status st;

	if (n == 0)
		return DB_OK;
	apply_mail_base(ctx, msg, plan, &m);
	m.requestor_tickets = plan->recent_tickets != NULL ? plan->recent_tickets : "(not listed)";
	m.text = text;
	st = notify_write(ctx->db, &m, event, targets, n, &count, error_r);
	plan->mails += count;
	return st;
}

enum db_status apply_auto_assign(const struct apply_ctx *ctx, struct apply_plan *plan,
				 struct ticket_state *s, char **error_r)
{
	int queue_id = s->queue_id, handle, staff_id, index;
	enum db_status st;

	const struct config_queue *q = queue_by_id(ctx, queue_id);

	if (q == NULL)
		q = plan->queue;
	if (s->assignee_id != 0 || q->assign == NULL || strcmp(q->assign, "least-loaded") != 0)
		return DB_OK;
	if ((st = staff_ask_assign_lock(ctx->db, queue_id, error_r)) != DB_OK ||
	    (st = staff_ask_least_loaded(ctx->db, queue_id, &handle, error_r)) != DB_OK ||
	    (st = db_sync(ctx->db, error_r)) != DB_OK)
		return st;
	if (staff_least_loaded_result(ctx->db, handle, &staff_id) != 1)
		return DB_OK;
	for (index = 0; index < (int)ctx->cfg->staff_count; index++)
		if (ctx->staff_ids[index] == staff_id)
			break;
	if (index == (int)ctx->cfg->staff_count)
		return DB_OK; /* a member of another daemon's config */
	s->assignee_id = staff_id;
	s->assignee = ctx->cfg->staff[index].login;
	if (s->status == TICKET_NEW || s->status == TICKET_REOPENED)
		s->status = TICKET_ASSIGNED;
	return DB_OK;
}

/* The commands of a permitted mail on s, and the additions (Cc, tags,
 * links) written at once. */
static enum db_status run_commands(const struct apply_ctx *ctx, struct apply_plan *plan,
				   struct ticket_state *s, const char *now, char **error_r)
{
	const char *actor = plan->staff->login;
	enum db_status st = DB_OK;

	for (size_t i = 0; i < plan->cmds->count && st == DB_OK; i++) {
		const struct command *c = &plan->cmds->items[i];
		const struct config_staff *to;
		int index;

		switch (c->verb) {
		case COMMAND_ASSIGN:
		case COMMAND_PICKUP:
			to = c->verb == COMMAND_PICKUP
				     ? config_staff_by_login(ctx->cfg, actor, &index)
				     : config_staff_by_login(ctx->cfg, c->arg, &index);
			if (to == NULL)
				break; /* commands_permit() named only members */
			s->assignee_id = ctx->staff_ids[index];
			s->assignee = to->login;
			if (s->status == TICKET_NEW || s->status == TICKET_REOPENED)
				s->status = TICKET_ASSIGNED;
			break;
		case COMMAND_RELEASE:
			s->assignee_id = 0;
			s->assignee = NULL;
			if (!ticket_status_is_done(s->status))
				s->status = TICKET_REOPENED;
			break;
		case COMMAND_PRIORITY:
			s->priority = (int)c->number;
			break;
		case COMMAND_STATUS:
			s->status = c->status;
			break;
		case COMMAND_STICKY:
			s->sticky = c->on;
			break;
		case COMMAND_QUEUE:
			for (size_t q = 0; q < ctx->cfg->queue_count; q++)
				if (strcmp(ctx->cfg->queues[q].name, c->arg) == 0) {
					s->queue_id = ctx->queue_ids[q];
					s->queue = ctx->cfg->queues[q].name;
				}
			break;
		case COMMAND_CLOSE:
			s->status = TICKET_CLOSED;
			break;
		case COMMAND_REOPEN:
			s->status = TICKET_REOPENED;
			break;
		case COMMAND_REQUESTOR:
			s->requestor = c->arg;
			break;
		case COMMAND_CC:
			st = ticket_add_cc_by(ctx->db, plan->ticket, c->arg, actor, now, error_r);
			break;
		case COMMAND_TAG:
			st = ticket_add_tag(ctx->db, plan->ticket, c->arg, actor, now, error_r);
			break;
		case COMMAND_LINK:
			st = ticket_add_link(ctx->db, plan->ticket, c->number, actor, now, error_r);
			break;
		case COMMAND_NOTE:
		case COMMAND_VERB_COUNT:
			break;
		}
	}
	return st;
}

/* The refusal: an event on the ticket and a mail to the sender saying why. */
static enum db_status refused(const struct apply_ctx *ctx, const struct parsed_message *msg,
			      struct apply_plan *plan, const char *now, char **error_r)
{
	char *safe = log_sanitize(plan->refusal, 0), *text;
	struct mailout m;
	bool written = false;
	enum db_status st;

	log_info("queue=%s ticket=%lld login=%s commands refused: %s", plan->queue->name,
		 plan->ticket, plan->staff->login, safe);
	g_free(safe);
	st = ticket_event(ctx->db, plan->ticket, now, plan->staff->login, "command-refused", NULL,
			  plan->refusal, error_r);
	if (st != DB_OK)
		return st;
	apply_mail_base(ctx, msg, plan, &m);
	text = g_strdup_printf("%s\n\nThe commands are:\n%s", plan->refusal, commands_help);
	m.template = TEMPLATE_REFUSAL;
	m.kind = MESSAGE_SYSTEM;
	m.automatic = true;
	m.to_addr = plan->staff->email;
	m.to_name = plan->staff->name;
	m.staff = plan->staff;
	m.text = text;
	m.reply_to_queue = true;
	st = mailout_write(ctx->db, &m, &written, error_r);
	if (written)
		plan->mails++;
	g_free(text);
	return st;
}

/* The attachments of a staff answer that go on to the customer: not the
 * member's own signature or keys. */
static GPtrArray *passed_on(GPtrArray *attachments)
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; attachments != NULL && i < attachments->len; i++) {
		struct mail_attachment *a = g_ptr_array_index(attachments, i);
		if (a->content_type != NULL &&
		    (g_ascii_strcasecmp(a->content_type, "application/pgp-signature") == 0 ||
		     g_ascii_strcasecmp(a->content_type, "application/pgp-keys") == 0))
			continue;
		g_ptr_array_add(out, a);
	}
	return out;
}

/* The answer to the requestor and the ticket's Cc: the customer's last
 * message quoted and threaded to (one round trip for it and the Cc). */
static enum db_status answer(const struct apply_ctx *ctx, const struct parsed_message *msg,
			     struct apply_plan *plan, char **error_r)
{
	struct ticket_message_ref last = { 0 };
	char **cc = NULL;
	int ask_last, ask_cc;
	struct mailout m;
	bool written = false;
	enum db_status st;

	if ((st = ticket_message_ask_last_customer(ctx->db, plan->ticket, &ask_last, error_r)) !=
		    DB_OK ||
	    (st = ticket_ask_cc(ctx->db, plan->ticket, &ask_cc, error_r)) != DB_OK ||
	    (st = db_sync(ctx->db, error_r)) != DB_OK)
		return st;
	(void)ticket_message_last_result(ctx->db, ask_last, &last);
	cc = ticket_cc_result(ctx->db, ask_cc);
	apply_mail_base(ctx, msg, plan, &m);
	m.template = TEMPLATE_ANSWER;
	m.kind = MESSAGE_STAFF_ANSWER;
	m.to_addr = plan->info.requestor;
	m.to_name = plan->info.requestor_name;
	m.cc = (const char *const *)cc;
	m.staff = plan->staff;
	m.text = plan->cmds->text;
	m.quoted = last.body != NULL ? last.body : "";
	m.thread_id = last.message_id;
	m.thread_refs = last.references;
	m.attachments = passed_on(msg->attachments);
	st = mailout_write(ctx->db, &m, &written, error_r);
	g_ptr_array_free(m.attachments, TRUE);
	if (written)
		plan->mails++;
	ticket_message_ref_clear(&last);
	g_strfreev(cc);
	return st;
}

enum db_status apply_staff_store(const struct apply_ctx *ctx, const struct parsed_message *msg,
				 struct apply_plan *plan, const char *now, char **error_r)
{
	struct ticket_state s;
	enum ticket_touch touch = TICKET_TOUCH_STAFF;
	bool status_given = false;
	int index;
	enum db_status st;

	if (plan->staff_mail == STAFF_MAIL_REFUSED)
		return refused(ctx, msg, plan, now, error_r);
	ticket_state_of(&plan->info, &s);
	if ((st = run_commands(ctx, plan, &s, now, error_r)) != DB_OK)
		return st;
	for (size_t i = 0; i < plan->cmds->count; i++)
		if (plan->cmds->items[i].verb == COMMAND_STATUS ||
		    plan->cmds->items[i].verb == COMMAND_CLOSE ||
		    plan->cmds->items[i].verb == COMMAND_REOPEN)
			status_given = true;
	if (plan->staff_mail == STAFF_MAIL_ANSWER) {
		if ((st = answer(ctx, msg, plan, error_r)) != DB_OK)
			return st;
		touch = TICKET_TOUCH_ANSWER;
		if (!status_given)
			s.status = TICKET_ANSWERED;
		/* answering a ticket nobody held makes it the answerer's */
		if (s.assignee_id == 0 &&
		    config_staff_by_login(ctx->cfg, plan->staff->login, &index)) {
			s.assignee_id = ctx->staff_ids[index];
			s.assignee = plan->staff->login;
		}
	}
	if (s.assignee_id == 0 && plan->info.assignee_id != 0 &&
	    (st = apply_auto_assign(ctx, plan, &s, error_r)) != DB_OK)
		return st;
	st = ticket_change(ctx->db, &plan->info, &s, touch, plan->staff->login, now, error_r);
	if (st == DB_OK && plan->staff_mail == STAFF_MAIL_ANSWER)
		st = ticket_event(ctx->db, plan->ticket, now, plan->staff->login, "answer", NULL,
				  plan->staff->login, error_r);
	if (st == DB_OK && plan->staff_mail == STAFF_MAIL_NOTE) {
		st = ticket_event(ctx->db, plan->ticket, now, plan->staff->login, "note", NULL,
				  plan->staff->login, error_r);
		/* a note encrypted whole stays so: the others see its
		 * placeholder (filled only in mail encrypted to their key) */
		bool sealed = plan->secure != NULL && plan->secure->whole != 0;
		if (st == DB_OK)
			st = apply_notify(ctx, msg, plan, NOTIFY_NOTE,
					  sealed ? msg->text : plan->cmds->text, error_r);
	}
	return st;
}
