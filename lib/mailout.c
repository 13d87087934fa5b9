/*
 * mailout.c - render, compose and write one mail about a ticket.
 */
#include "mailout.h"
#include "compose.h"
#include "pgp.h"
#include "secure.h"
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

/* The highest section number of the placeholders that begin a line (after
 * blanks) in text[from, to), or highest when there is none higher: only
 * there did secure_open() put them; a quoted one ("> [encrypted section
 * 1]") belongs to an earlier message. */
static unsigned highest_placeholder(const char *text, size_t from, size_t to, unsigned highest)
{
	for (size_t i = from; i < to; i++) {
		size_t len = 0;
		unsigned k = text[i] == '[' ? secure_placeholder_at(text, i, &len) : 0;

		if (k > highest && i + len <= to)
			highest = k;
	}
	return highest;
}

/* Appends text[from, to) with any armor in it (not a section: quoted, or
 * past PGP_MAX_BLOCKS) replaced by an unnumbered placeholder.  Armor cut
 * short runs to the end of the text, or to the line break before the
 * section at to. */
static void append_unnumbered(GString *out, const char *text, size_t from, size_t to, bool at_end)
{
	const char *p = text + from, *stop = text + to, *begin;

	while ((begin = memmem(p, (size_t)(stop - p), PGP_BEGIN, strlen(PGP_BEGIN))) != NULL) {
		const char *end = memmem(begin, (size_t)(stop - begin), PGP_END, strlen(PGP_END));
		g_string_append_len(out, p, begin - p);
		g_string_append(out, "[encrypted section]");
		if (end != NULL) {
			p = end + strlen(PGP_END);
			continue;
		}
		p = stop;
		if (!at_end && p > begin && p[-1] == '\n')
			p--;
		if (!at_end && p > begin && p[-1] == '\r')
			p--;
	}
	g_string_append_len(out, p, stop - p);
}

char *mailout_placeholders(const char *text)
{
	const char *t = text != NULL ? text : "";
	size_t len = strlen(t), pos = 0;
	GArray *blocks = pgp_blocks_find(t, len);
	GString *out = g_string_sized_new(len);
	unsigned highest = 0;

	for (guint i = 0; i < blocks->len; i++) {
		const struct pgp_block *b = &g_array_index(blocks, struct pgp_block, i);
		highest = highest_placeholder(t, pos, b->start, highest);
		append_unnumbered(out, t, pos, b->start, false);
		if (highest < G_MAXUINT)
			highest++;
		g_string_append_printf(out, SECURE_PLACEHOLDER_FMT, highest);
		pos = b->end;
	}
	append_unnumbered(out, t, pos, len, true);
	g_array_unref(blocks);
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

void mailout_made_clear(struct mailout_made *d)
{
	template_output_free(&d->out);
	if (d->refs != NULL)
		g_ptr_array_free(d->refs, TRUE);
	g_free(d->msgid);
	g_free(d->subject);
	if (d->raw != NULL)
		g_byte_array_unref(d->raw);
	g_free(d->encrypt_error);
	memset(d, 0, sizeof(*d));
}

/* m asks for its mail encrypted and there is plaintext to put in it. */
static bool wants_encryption(const struct mailout *m)
{
	return m->encrypt_to != NULL && m->secure != NULL && m->secure->parts != NULL &&
	       m->secure->parts->len > 0;
}

/* Who encrypt_to is for, in the log: the staff member with that key and
 * the recipient's address, else the address. */
static const char *encrypt_login(const struct mailout *m)
{
	for (size_t i = 0; i < m->cfg->staff_count; i++) {
		const struct config_staff *s = &m->cfg->staff[i];
		if (s->pgp_key != NULL && strcmp(s->pgp_key, m->encrypt_to) == 0 &&
		    g_ascii_strcasecmp(s->email, m->to_addr) == 0)
			return s->login;
	}
	return m->to_addr;
}

static void wipe_free(char *s)
{
	if (s != NULL)
		memset(s, 0, strlen(s));
	g_free(s);
}

static void wipe_bytes(GByteArray *b)
{
	if (b == NULL)
		return;
	memset(b->data, 0, b->len);
	g_byte_array_unref(b);
}

/* The RFC 3156 payload of a notification to the holder of m->encrypt_to:
 * body (placeholders) with the sections' text in their place, and the
 * mail's attachments and the sections' (their parts > 0), as one MIME
 * entity encrypted to that key.  The
 * plaintext copies made here are wiped before they are freed. */
static int encrypt_body(const struct mailout *m, const char *body, GByteArray **armored_r,
			char **error_r)
{
	const struct pgp_keyring *ring = secure_keyring(m->keys);
	GPtrArray *atts = g_ptr_array_new_with_free_func(g_free);
	GByteArray *entity = NULL;
	char *filled = NULL;
	int ret = -1;

	*armored_r = NULL;
	if (ring == NULL) {
		error_set(error_r, "no GnuPG home configured (pgp.gnupg_home)");
		goto out;
	}
	for (guint i = 0; m->attachments != NULL && i < m->attachments->len; i++)
		g_ptr_array_add(atts, g_memdup2(g_ptr_array_index(m->attachments, i),
						sizeof(struct mail_attachment)));
	for (guint i = 0; i < m->secure->parts->len; i++) {
		const struct secure_part *sp = g_ptr_array_index(m->secure->parts, i);
		struct mail_attachment *a;
		if (sp->part == 0)
			continue;
		a = g_new0(struct mail_attachment, 1);
		a->filename = sp->filename;
		a->content_type = sp->content_type;
		a->data = sp->content;
		g_ptr_array_add(atts, a);
	}
	filled = secure_fill_placeholders(body, m->secure);
	if (compose_entity(filled, atts, &entity, error_r) < 0)
		goto out;
	ret = pgp_encrypt_mime(entity->data, entity->len, ring, m->encrypt_to, armored_r, error_r);
out:
	wipe_free(filled);
	wipe_bytes(entity);
	g_ptr_array_free(atts, TRUE);
	return ret;
}

int mailout_make(const struct mailout *m, struct mailout_made *d, char **error_r)
{
	const struct ticketd_config *cfg = m->cfg;
	const struct parsed_message *msg = m->msg;
	struct vars v = { .m = m };
	char *shown = NULL;
	struct outgoing_mail mail = { 0 };
	GByteArray *armored = NULL;
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
	if (wants_encryption(m)) {
		d->encrypt_login = encrypt_login(m);
		if (encrypt_body(m, d->out->body, &armored, &d->encrypt_error) == 0)
			mail.encrypted = armored;
	}
	if (mail.encrypted != NULL) {
		ret = compose_message(&mail, &d->raw, &d->encrypt_error);
		d->encrypted = ret == 0;
		/* the notification is never lost for its encryption: it goes plain */
		mail.encrypted = NULL;
	}
	if (!d->encrypted)
		ret = compose_message(&mail, &d->raw, error_r);
	g_ptr_array_set_size(d->refs, d->refs->len - 1); /* the NULL */
out:
	if (armored != NULL)
		g_byte_array_unref(armored);
	g_free(v.tag);
	g_free(v.quoted);
	g_free(v.text);
	g_free(v.title);
	return ret;
}

enum db_status mailout_write(struct db *db, const struct mailout *m, bool *written_r,
			     char **error_r)
{
	struct mailout_made d = { 0 };
	char ticket[24], nowtext[32];
	char *reason = NULL, *refs = NULL, *rcpts = NULL;
	enum db_status st;

	*written_r = false;
	g_snprintf(ticket, sizeof(ticket), "%lld", m->ticket_id);
	time_iso(m->now, nowtext, sizeof(nowtext));
	if (mailout_make(m, &d, &reason) < 0) {
		char *safe = log_sanitize(reason, 0);
		log_warning("queue=%s ticket=%lld %s not sent: %s", m->queue->name, m->ticket_id,
			    message_kind_name(m->kind), safe);
		g_free(safe);
		st = ticket_event(db, m->ticket_id, nowtext, "ticketd", "mail-failed",
				  message_kind_name(m->kind), reason, error_r);
		goto out;
	}
	if (d.encrypt_error != NULL) {
		char *safe = log_sanitize(d.encrypt_error, 0);
		log_warning(
			"queue=%s ticket=%lld %s to %s not encrypted, sent with placeholders: %s",
			m->queue->name, m->ticket_id, message_kind_name(m->kind), d.encrypt_login,
			safe);
		g_free(safe);
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
	mailout_made_clear(&d);
	g_free(refs);
	g_free(rcpts);
	g_free(reason);
	return st;
}
