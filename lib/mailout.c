/*
 * mailout.c - render, compose and write one mail about a ticket.
 */
#include "mailout.h"
#include "compose.h"
#include "thread.h"
#include "util.h"

#include <string.h>

/* The message row and an outbox row per recipient (To, then each Cc) in
 * one statement: the outbox rows take the message's id from it, so no
 * currval() crosses a module. */
static const char insert_sql[] =
	"WITH m AS (INSERT INTO messages (ticket_id, direction, kind, message_id, in_reply_to, "
	"refs, from_addr, from_name, to_addrs, subject, body, created) VALUES ($1, 'out', $2, "
	"$3, $4, $5::text[], $6, $7, $8, $9, $10, $11) RETURNING id) "
	"INSERT INTO outbox (ticket_id, message_id, kind, envelope_from, recipient, raw, created, "
	"next_attempt) SELECT $1, m.id, $2, $12, r.rcpt, $13, $11, $11 FROM m, "
	"unnest($14::text[]) AS r(rcpt)";

enum db_status mailout_prepare(struct db *db, char **error_r)
{
	return db_prepare(db, "mailout_insert", insert_sql, error_r);
}

struct vars {
	const struct mailout *m;
	char id[24], priority[16];
	char *tag;
	char *quoted;
	char *text;  /* message.text, encrypted sections as placeholders */
	char *title; /* staff.title: "Name (description)", or "Name" */
};

static const char *lookup(void *ctx, const char *name)
{
	struct vars *v = ctx;
	const struct mailout *m = v->m;

	if (strcmp(name, "ticket.id") == 0)
		return v->id;
	if (strcmp(name, "ticket.subject") == 0)
		return m->ticket_subject;
	if (strcmp(name, "ticket.priority") == 0)
		return v->priority;
	if (strcmp(name, "ticket.status") == 0)
		return ticket_status_name(m->ticket_status);
	if (strcmp(name, "ticket.tag") == 0)
		return v->tag;
	if (strcmp(name, "queue.name") == 0)
		return m->queue->name;
	if (strcmp(name, "queue.address") == 0)
		return m->queue->address;
	if (strcmp(name, "requestor.name") == 0)
		return m->requestor_name != NULL && m->requestor_name[0] != '\0'
			       ? m->requestor_name
			       : m->requestor_addr;
	if (strcmp(name, "requestor.email") == 0)
		return m->requestor_addr;
	if (strcmp(name, "message.text") == 0)
		return v->text;
	if (strcmp(name, "message.quoted") == 0)
		return v->quoted;
	if (strcmp(name, "ticket.assignee") == 0)
		return m->assignee != NULL ? m->assignee : "nobody";
	if (strcmp(name, "requestor.tickets") == 0)
		return m->requestor_tickets;
	if (m->staff != NULL && strcmp(name, "staff.name") == 0)
		return m->staff->name;
	if (m->staff != NULL && strcmp(name, "staff.description") == 0)
		return m->staff->description;
	if (m->staff != NULL && strcmp(name, "staff.signature") == 0)
		return m->staff->signature;
	if (m->staff != NULL && strcmp(name, "staff.title") == 0)
		return v->title;
	return NULL; /* staff.* of an automatic mail: nobody acts */
}

#define PGP_BEGIN "-----BEGIN PGP MESSAGE-----"
#define PGP_END   "-----END PGP MESSAGE-----"

char *mailout_placeholders(const char *text)
{
	GString *out = g_string_new(NULL);
	const char *p = text != NULL ? text : "", *begin;
	unsigned n = 0;

	while ((begin = strstr(p, PGP_BEGIN)) != NULL) {
		const char *end = strstr(begin, PGP_END);
		g_string_append_len(out, p, begin - p);
		g_string_append_printf(out, "[encrypted section %u]", ++n);
		p = end != NULL ? end + strlen(PGP_END) : begin + strlen(begin);
	}
	g_string_append(out, p);
	return g_string_free(out, FALSE);
}

char *mailout_quote(const char *text)
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

/* A mail, made and not yet written. */
struct made {
	struct template_output *out;
	GPtrArray *refs; /* char *, borrowed from m->msg */
	char *msgid, *subject;
	GByteArray *raw;
};

static void made_clear(struct made *d)
{
	template_output_free(&d->out);
	if (d->refs != NULL)
		g_ptr_array_free(d->refs, TRUE);
	g_free(d->msgid);
	g_free(d->subject);
	if (d->raw != NULL)
		g_byte_array_unref(d->raw);
	memset(d, 0, sizeof(*d));
}

/* Renders and composes (no database): 0, or -1 with the reason. */
static int make(const struct mailout *m, struct made *d, char **error_r)
{
	const struct ticketd_config *cfg = m->cfg;
	const struct parsed_message *msg = m->msg;
	struct vars v = { .m = m };
	char *shown = NULL;
	struct outgoing_mail mail = { 0 };
	const char *domain, *subject;
	int ret = -1;

	g_snprintf(v.id, sizeof(v.id), "%lld", m->ticket_id);
	g_snprintf(v.priority, sizeof(v.priority), "%d", m->ticket_priority);
	v.tag = g_strdup_printf("[%s#%lld]", cfg->tag, m->ticket_id);
	if (m->staff != NULL)
		v.title =
			m->staff->description != NULL && m->staff->description[0] != '\0'
				? g_strdup_printf("%s (%s)", m->staff->name, m->staff->description)
				: g_strdup(m->staff->name);
	shown = mailout_placeholders(m->quoted != NULL ? m->quoted
				     : msg != NULL     ? msg->text
						       : NULL);
	v.quoted = mailout_quote(shown);
	g_free(shown);
	v.text = mailout_placeholders(m->text != NULL ? m->text : msg != NULL ? msg->text : NULL);
	if (template_render(m->queue->templates[m->template], lookup, &v, &d->out, error_r) < 0)
		goto out;

	domain = strchr(m->queue->address, '@');
	d->msgid = msgid_generate(cfg->secret, cfg->secret_len, m->ticket_id,
				  domain != NULL ? domain + 1 : "localhost");
	subject = override(d->out, "Subject");
	d->subject = thread_subject_add_tag(subject != NULL ? subject : m->ticket_subject, cfg->tag,
					    m->ticket_id);
	d->refs = g_ptr_array_new();
	if (m->thread_id != NULL) {
		for (guint i = 0; m->thread_refs != NULL && i < m->thread_refs->len; i++)
			g_ptr_array_add(d->refs, g_ptr_array_index(m->thread_refs, i));
		g_ptr_array_add(d->refs, (gpointer)m->thread_id);
	} else if (msg != NULL) {
		for (guint i = 0; msg->references != NULL && i < msg->references->len; i++)
			g_ptr_array_add(d->refs, g_ptr_array_index(msg->references, i));
		if (msg->message_id != NULL)
			g_ptr_array_add(d->refs, msg->message_id);
	}
	g_ptr_array_add(d->refs, NULL);

	mail.from_name = m->queue->from_name;
	mail.from_addr = m->queue->address;
	mail.to_name = m->to_name;
	mail.to_addr = m->to_addr;
	mail.cc = m->cc;
	mail.attachments = m->attachments;
	mail.subject = d->subject;
	if (m->prefix != NULL) {
		char *body = g_strconcat(m->prefix, d->out->body, NULL);
		g_free(d->out->body);
		d->out->body = body;
	}
	if (m->reply_to_queue && override(d->out, "Reply-To") == NULL) {
		struct mail_header *h = g_new0(struct mail_header, 1);
		h->name = g_strdup("Reply-To");
		h->value = g_strdup(m->queue->address);
		g_ptr_array_add(d->out->headers, h);
	}
	mail.body = d->out->body;
	mail.message_id = d->msgid;
	mail.in_reply_to = m->thread_id != NULL ? m->thread_id
			   : msg != NULL        ? msg->message_id
						: NULL;
	mail.references = (const char *const *)d->refs->pdata;
	mail.automatic = m->automatic;
	mail.auto_submitted = m->auto_submitted;
	mail.extra_headers = d->out->headers;
	mail.date = m->now;
	ret = compose_message(&mail, &d->raw, error_r);
	g_ptr_array_set_size(d->refs, d->refs->len - 1); /* the NULL */
out:
	g_free(v.tag);
	g_free(v.quoted);
	g_free(v.text);
	g_free(v.title);
	return ret;
}

enum db_status mailout_write(struct db *db, const struct mailout *m, bool *written_r,
			     char **error_r)
{
	struct made d = { 0 };
	char ticket[24], nowtext[32];
	char *reason = NULL, *refs = NULL, *rcpts = NULL;
	enum db_status st;

	*written_r = false;
	g_snprintf(ticket, sizeof(ticket), "%lld", m->ticket_id);
	time_iso(m->now, nowtext, sizeof(nowtext));
	if (make(m, &d, &reason) < 0) {
		char *safe = log_sanitize(reason, 0);
		log_warning("queue=%s ticket=%lld %s not sent: %s", m->queue->name, m->ticket_id,
			    message_kind_name(m->kind), safe);
		g_free(safe);
		st = ticket_event(db, m->ticket_id, nowtext, "ticketd", "mail-failed",
				  message_kind_name(m->kind), reason, error_r);
		goto out;
	}
	refs = db_text_array(d.refs);
	GPtrArray *to = g_ptr_array_new();
	g_ptr_array_add(to, (gpointer)m->to_addr);
	for (size_t i = 0; m->cc != NULL && m->cc[i] != NULL; i++)
		g_ptr_array_add(to, (gpointer)m->cc[i]);
	rcpts = db_text_array(to);
	g_ptr_array_free(to, TRUE);
	const char *values[14] = {
		ticket,
		message_kind_name(m->kind),
		d.msgid,
		m->msg != NULL ? m->msg->message_id : NULL,
		refs,
		m->queue->address,
		m->queue->from_name != NULL ? m->queue->from_name : "",
		m->to_addr,
		d.subject,
		d.out->body,
		nowtext,
		/* RFC 3834 §3.3: automatic mail goes out with the null sender */
		m->automatic ? "" : m->queue->envelope_from,
		(const char *)d.raw->data,
		rcpts,
	};
	int lengths[14] = { [12] = (int)d.raw->len };
	st = db_send(db, "mailout_insert", 14, values, lengths, 1u << 12, NULL, error_r);
	*written_r = st == DB_OK;
out:
	made_clear(&d);
	g_free(refs);
	g_free(rcpts);
	g_free(reason);
	return st;
}
