/*
 * autoresponse.c - render, compose, store and enqueue an auto-response.
 */
#include "autoresponse.h"
#include "compose.h"
#include "outbox.h"
#include "thread.h"
#include "ticket.h"
#include "util.h"

#include <string.h>

struct vars {
	const struct autoresponse_request *req;
	char id[24], priority[16];
	char *tag;
	char *quoted;
};

static const char *lookup(void *ctx, const char *name)
{
	struct vars *v = ctx;
	const struct autoresponse_request *req = v->req;

	if (strcmp(name, "ticket.id") == 0)
		return v->id;
	if (strcmp(name, "ticket.subject") == 0)
		return req->ticket_subject;
	if (strcmp(name, "ticket.priority") == 0)
		return v->priority;
	if (strcmp(name, "ticket.status") == 0)
		return req->ticket_status;
	if (strcmp(name, "ticket.tag") == 0)
		return v->tag;
	if (strcmp(name, "queue.name") == 0)
		return req->queue->name;
	if (strcmp(name, "queue.address") == 0)
		return req->queue->address;
	if (strcmp(name, "requestor.name") == 0)
		return req->requestor_name != NULL && req->requestor_name[0] != '\0'
			       ? req->requestor_name
			       : req->requestor_addr;
	if (strcmp(name, "requestor.email") == 0)
		return req->requestor_addr;
	if (strcmp(name, "message.text") == 0)
		return req->msg != NULL ? req->msg->text : NULL;
	if (strcmp(name, "message.quoted") == 0)
		return v->quoted;
	return NULL; /* staff.*: no staff member in an automatic mail */
}

char *autoresponse_quote(const char *text)
{
	GString *out = g_string_new(NULL);
	char **lines = g_strsplit(text != NULL ? text : "", "\n", -1);

	for (size_t i = 0; lines[i] != NULL; i++) {
		if (lines[i + 1] == NULL && lines[i][0] == '\0')
			break;
		g_string_append(out, lines[i][0] == '>' ? ">" : "> ");
		g_string_append(out, lines[i]);
		g_string_append_c(out, '\n');
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

/* The template's header override with that name, or NULL. */
static const char * override(const struct template_output *out, const char *name)
{
	for (guint i = 0; out->headers != NULL && i < out->headers->len; i++) {
		const struct mail_header *h = g_ptr_array_index(out->headers, i);
		if (g_ascii_strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

enum db_status autoresponse_ask_limit(struct db *db, const struct ticketd_config *cfg,
				      const char *addr, time_t now, int *handle_r, char **error_r)
{
	char since[32];

	time_iso(now - cfg->autoresponse_per, since, sizeof(since));
	return outbox_ask_autoresponses_since(db, addr, since, handle_r, error_r);
}

enum db_status autoresponse_queue(struct db *db, const struct autoresponse_request *req,
				  bool *queued_r, char **error_r)
{
	const struct ticketd_config *cfg = req->cfg;
	const struct parsed_message *msg = req->msg;
	struct template_output *out = NULL;
	struct vars v = { .req = req };
	GPtrArray *refs = g_ptr_array_new();
	struct outgoing_mail mail = { 0 };
	GByteArray *raw = NULL;
	char nowtext[32];
	char *msgid = NULL, *subject = NULL, *domain;
	enum db_status st = DB_OK;

	*queued_r = false;
	time_iso(req->now, nowtext, sizeof(nowtext));
	if (req->recent >= cfg->autoresponse_count)
		goto out;

	g_snprintf(v.id, sizeof(v.id), "%lld", req->ticket_id);
	g_snprintf(v.priority, sizeof(v.priority), "%d", req->ticket_priority);
	v.tag = g_strdup_printf("[%s#%lld]", cfg->tag, req->ticket_id);
	v.quoted = autoresponse_quote(msg != NULL ? msg->text : NULL);
	if (template_render(req->queue->templates[req->kind], lookup, &v, &out, error_r) < 0) {
		st = DB_ERR_FAILED;
		goto out;
	}

	domain = strchr(req->queue->address, '@');
	msgid = msgid_generate(cfg->secret, cfg->secret_len, req->ticket_id,
			       domain != NULL ? domain + 1 : "localhost");
	subject =
		override(out, "Subject") != NULL
			? thread_subject_add_tag(override(out, "Subject"), cfg->tag, req->ticket_id)
			: thread_subject_add_tag(req->ticket_subject, cfg->tag, req->ticket_id);
	if (msg != NULL) {
		for (guint i = 0; msg->references != NULL && i < msg->references->len; i++)
			g_ptr_array_add(refs, g_ptr_array_index(msg->references, i));
		if (msg->message_id != NULL)
			g_ptr_array_add(refs, msg->message_id);
	}
	g_ptr_array_add(refs, NULL);

	mail.from_name = req->queue->from_name;
	mail.from_addr = req->queue->address;
	mail.to_name = req->requestor_name;
	mail.to_addr = req->requestor_addr;
	mail.subject = subject;
	mail.body = out->body;
	mail.message_id = msgid;
	mail.in_reply_to = msg != NULL ? msg->message_id : NULL;
	mail.references = (const char *const *)refs->pdata;
	mail.automatic = true;
	mail.extra_headers = out->headers;
	mail.date = req->now;
	if (compose_message(&mail, &raw, error_r) < 0) {
		st = DB_ERR_FAILED;
		goto out;
	}

	g_ptr_array_set_size(refs, refs->len - 1); /* drop the NULL */
	struct ticket_message row = {
		.ticket_id = req->ticket_id,
		.direction = "out",
		.kind = MESSAGE_AUTO_RESPONSE,
		.message_id = msgid,
		.in_reply_to = mail.in_reply_to,
		.references = refs,
		.from_addr = req->queue->address,
		.from_name = req->queue->from_name,
		.to_addrs = req->requestor_addr,
		.subject = subject,
		.body = out->body,
		.now = nowtext,
	};
	st = ticket_add_message(db, &row, error_r);
	if (st != DB_OK)
		goto out;
	struct outbox_item item = {
		.ticket_id = req->ticket_id,
		.message_is_last = true,
		.kind = "auto-response",
		.envelope_from = "", /* RFC 3834 §3.3: the null sender */
		.recipient = req->requestor_addr,
		.raw = raw,
		.now = nowtext,
	};
	st = outbox_enqueue(db, &item, error_r);
	if (st == DB_OK)
		*queued_r = true;
out:
	template_output_free(&out);
	if (raw != NULL)
		g_byte_array_unref(raw);
	g_ptr_array_free(refs, TRUE);
	g_free(v.tag);
	g_free(v.quoted);
	g_free(msgid);
	g_free(subject);
	return st;
}
