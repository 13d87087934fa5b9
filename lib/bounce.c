/*
 * bounce.c - delivery failure reports for mail we sent (contract in
 * bounce.h).  GMime finds the parts; everything that reads text (the
 * RFC 3464 field groups, a header block, inline Message-ID lines, qmail's
 * paragraphs) is a pure function of that text, so the unit test can call it
 * on strings.
 *
 * GMime objects are borrowed from the message parsed in bounce_parse() and
 * released there; the caller's buffer is borrowed, never copied or changed.
 */
#include "bounce.h"
#include "message-gmime.h"
#include "compose.h"
#include "util.h"

#include <gmime/gmime.h>
#include <string.h>

/* Walked before a hostile tree stops being worth the work. */
#define MAX_DEPTH 8
#define MAX_PARTS 100
/* RFC 5322 field names are short; a longer "name" is junk text. */
#define MAX_NAME 76
/* Raw bytes of one field value kept before it is cleaned and cut. */
#define RAW_MAX (2 * BOUNCE_MAX_FIELD)

static void recipient_free(gpointer data)
{
	struct bounce_recipient *r = data;

	g_free(r->address);
	g_free(r->original);
	g_free(r->action);
	g_free(r->status);
	g_free(r->diagnostic);
	g_free(r->remote_mta);
	g_free(r);
}

static GPtrArray *recipients_new(void)
{
	return g_ptr_array_new_with_free_func(recipient_free);
}

void bounce_free(struct bounce **bounce)
{
	struct bounce *b = *bounce;

	if (b == NULL)
		return;
	g_free(b->original_message_id);
	if (b->recipients != NULL)
		g_ptr_array_unref(b->recipients);
	g_free(b);
	*bounce = NULL;
}

/* A copy of n bytes of s that can go anywhere (PostgreSQL text, a log):
 * valid UTF-8, controls as spaces, trimmed, cut to BOUNCE_MAX_FIELD octets
 * on a character boundary.  NULL when nothing is left. */
static char *clean_value(const char *s, size_t n)
{
	char *valid = g_utf8_make_valid(s, (gssize)n);
	char *end;

	for (char *p = valid; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = ' ';
	if (strlen(valid) > BOUNCE_MAX_FIELD) {
		end = g_utf8_find_prev_char(valid, valid + BOUNCE_MAX_FIELD + 1);
		*end = '\0';
	}
	g_strstrip(valid);
	if (valid[0] == '\0') {
		g_free(valid);
		return NULL;
	}
	return valid;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* A field name: printable ASCII without ':' or space (RFC 5322 §2.2). */
static bool is_field_name(const char *s, size_t n)
{
	if (n == 0 || n > MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
			return false;
	return true;
}

/* Appends a piece of a field's value; beyond RAW_MAX the rest is dropped.
 * clean_value cuts what is kept to BOUNCE_MAX_FIELD on a character boundary,
 * after the "type;" prefix is gone. */
static void value_append(GString *value, const char *s, size_t n)
{
	size_t room;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (value->len >= RAW_MAX)
		return;
	room = RAW_MAX - value->len;
	if (n > room)
		n = room;
	/* a NUL would end the value early where it is read as a C string */
	for (size_t i = 0; i < n; i++)
		g_string_append_c(value, s[i] != '\0' ? s[i] : ' ');
}

/* Called per field (name, value unfolded) and per blank line; returning
 * false ends the walk. */
typedef bool (*field_fn)(void *ctx, const char *name, GString *value);
typedef bool (*group_fn)(void *ctx);

/* Walks header-like fields in groups (RFC 3464 §2, RFC 5322 §2.2): a line
 * starting with white space continues the field before it (the fold
 * becomes one space), a blank line ends a group, a line that is neither a
 * field nor a continuation is skipped.  CRLF and LF both end a line. */
static void fields_walk(const char *text, size_t len, field_fn on_field, group_fn on_group,
			void *ctx)
{
	GString *name = g_string_new(NULL), *value = g_string_new(NULL);
	bool have = false, go = true;
	size_t pos = 0;

	if (len > BOUNCE_MAX_TEXT)
		len = BOUNCE_MAX_TEXT;
	while (go && pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos), *colon;
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += n + (nl != NULL ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > 0 && !is_blank(line, n) && (line[0] == ' ' || line[0] == '\t')) {
			if (have) {
				g_string_append_c(value, ' ');
				value_append(value, line, n);
			}
			continue;
		}
		if (have) {
			have = false;
			go = on_field(ctx, name->str, value);
			if (!go)
				break;
		}
		if (is_blank(line, n)) {
			go = on_group == NULL || on_group(ctx);
			continue;
		}
		colon = memchr(line, ':', n);
		if (colon == NULL || !is_field_name(line, (size_t)(colon - line)))
			continue;
		g_string_assign(name, "");
		g_string_append_len(name, line, colon - line);
		g_string_assign(value, "");
		value_append(value, colon + 1, n - (size_t)(colon + 1 - line));
		have = true;
	}
	if (go && have)
		go = on_field(ctx, name->str, value);
	if (go && on_group != NULL)
		on_group(ctx);
	g_string_free(name, TRUE);
	g_string_free(value, TRUE);
}

/* The value without RFC 5322 comments "(...)" (nested, outside quoted
 * strings, backslash escapes honoured), trimmed. */
static char *strip_comments(const char *v)
{
	GString *out = g_string_new(NULL);
	int depth = 0;
	bool quoted = false;

	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			if (depth == 0)
				g_string_append_len(out, p, 2);
			p++;
		} else if (depth == 0 && *p == '"') {
			quoted = !quoted;
			g_string_append_c(out, *p);
		} else if (!quoted && *p == '(') {
			depth++;
		} else if (!quoted && *p == ')' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			g_string_append_c(out, *p);
		}
	}
	return g_strstrip(g_string_free(out, FALSE));
}

/* After a "type;" prefix (rfc822; smtp; dns; x-unix;) when there is one:
 * the type is a short token, so a ';' inside free text is left alone. */
static const char *after_type(const char *v)
{
	const char *semi = strchr(v, ';');
	const char *p = v;

	if (semi == NULL || semi - v > 32)
		return v;
	while (p < semi && (*p == ' ' || *p == '\t'))
		p++;
	if (p == semi)
		return v;
	for (; p < semi; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.')
			break;
	while (p < semi && (*p == ' ' || *p == '\t'))
		p++;
	if (p != semi)
		return v;
	return semi + 1;
}

/* Final-Recipient / Original-Recipient: "rfc822; a@b", "rfc822;<a@b>". */
static char *recipient_address(const char *value)
{
	char *bare = strip_comments(after_type(value)), *result;
	size_t n = strlen(bare);
	const char *start = bare;

	if (n >= 2 && bare[0] == '<' && bare[n - 1] == '>') {
		start++;
		n -= 2;
	}
	result = clean_value(start, n);
	g_free(bare);
	return result;
}

static char *recipient_action(const char *value)
{
	static const char *const actions[] = { "failed", "delayed", "delivered", "relayed",
					       "expanded" };
	char *bare = strip_comments(value);

	for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
		if (g_ascii_strcasecmp(bare, actions[i]) == 0) {
			g_free(bare);
			return g_strdup(actions[i]);
		}
	}
	g_free(bare);
	return NULL;
}

/* Length of a status code at s ("5.1.1": class 2, 4 or 5, then 1-3 digits
 * twice, RFC 3463), 0 when there is none. */
static size_t status_code_len(const char *s)
{
	size_t n = 0;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	if (s[1] != '.')
		return 0;
	n = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		while (g_ascii_isdigit(s[n]) && digits < 4) {
			n++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (s[n] != '.')
				return 0;
			n++;
		}
	}
	if (g_ascii_isdigit(s[n]))
		return 0;
	return n;
}

static char *recipient_status(const char *value)
{
	char *bare = strip_comments(value), *result = NULL;
	size_t n = status_code_len(bare);

	if (n > 0 && (bare[n] == '\0' || bare[n] == ' ' || bare[n] == '\t'))
		result = g_strndup(bare, n);
	g_free(bare);
	return result;
}

/* Diagnostic-Code is free text after its type: comments are kept. */
static char *typed_text(const char *value)
{
	const char *text = after_type(value);

	return clean_value(text, strlen(text));
}

/* The fields of one recipient while its group is read. */
struct ds_state {
	GPtrArray *out;
	struct bounce_recipient *cur;
	char *final;
	unsigned seen; /* SEEN_* of the fields cur has had */
};

enum {
	SEEN_FINAL = 1 << 0,
	SEEN_ORIGINAL = 1 << 1,
	SEEN_ACTION = 1 << 2,
	SEEN_STATUS = 1 << 3,
	SEEN_DIAGNOSTIC = 1 << 4,
	SEEN_REMOTE_MTA = 1 << 5,
};

static void ds_flush(struct ds_state *st)
{
	struct bounce_recipient *r = st->cur;

	if (r == NULL)
		return;
	/* an empty Final-Recipient ("" below) falls back to the original */
	if (st->final != NULL && st->final[0] != '\0') {
		r->address = st->final;
	} else {
		g_free(st->final);
		r->address = g_strdup(r->original);
	}
	st->final = NULL;
	st->cur = NULL;
	st->seen = 0;
	if (st->out->len < BOUNCE_MAX_RECIPIENTS)
		g_ptr_array_add(st->out, r);
	else
		recipient_free(r);
}

static struct bounce_recipient *ds_current(struct ds_state *st)
{
	if (st->cur == NULL)
		st->cur = g_new0(struct bounce_recipient, 1);
	return st->cur;
}

/* Sets *slot from value unless the recipient had that field already: the
 * first one wins, even when its value was junk. */
static void set_once(struct ds_state *st, unsigned field, char **slot, char *value)
{
	if ((st->seen & field) == 0)
		*slot = value;
	else
		g_free(value);
	st->seen |= field;
}

static bool ds_field(void *ctx, const char *name, GString *value)
{
	struct ds_state *st = ctx;

	/* A second Final- or Original-Recipient in one group: the blank line
	 * between two recipients is missing; start the next one. */
	if (g_ascii_strcasecmp(name, "Final-Recipient") == 0) {
		if (st->seen & SEEN_FINAL)
			ds_flush(st);
		ds_current(st);
		st->seen |= SEEN_FINAL;
		st->final = recipient_address(value->str);
		if (st->final == NULL)
			st->final = g_strdup(""); /* seen, even if empty */
	} else if (g_ascii_strcasecmp(name, "Original-Recipient") == 0) {
		if (st->seen & SEEN_ORIGINAL)
			ds_flush(st);
		set_once(st, SEEN_ORIGINAL, &ds_current(st)->original,
			 recipient_address(value->str));
	} else if (g_ascii_strcasecmp(name, "Action") == 0) {
		set_once(st, SEEN_ACTION, &ds_current(st)->action, recipient_action(value->str));
	} else if (g_ascii_strcasecmp(name, "Status") == 0) {
		set_once(st, SEEN_STATUS, &ds_current(st)->status, recipient_status(value->str));
	} else if (g_ascii_strcasecmp(name, "Diagnostic-Code") == 0) {
		set_once(st, SEEN_DIAGNOSTIC, &ds_current(st)->diagnostic, typed_text(value->str));
	} else if (g_ascii_strcasecmp(name, "Remote-MTA") == 0) {
		char *bare = strip_comments(after_type(value->str));

		set_once(st, SEEN_REMOTE_MTA, &ds_current(st)->remote_mta,
			 clean_value(bare, strlen(bare)));
		g_free(bare);
	}
	/* per-message fields (Reporting-MTA, Arrival-Date ...) say nothing
	 * about a recipient; other per-recipient fields are not needed */
	return st->out->len < BOUNCE_MAX_RECIPIENTS;
}

static bool ds_group(void *ctx)
{
	struct ds_state *st = ctx;

	ds_flush(st);
	return st->out->len < BOUNCE_MAX_RECIPIENTS;
}

GPtrArray *bounce_parse_delivery_status(const char *text, size_t len)
{
	struct ds_state st = { .out = recipients_new() };

	if (text != NULL)
		fields_walk(text, len, ds_field, ds_group, &st);
	ds_group(&st);
	return st.out;
}

struct header_lookup {
	const char *name;
	char *value;
};

static bool header_field(void *ctx, const char *name, GString *value)
{
	struct header_lookup *h = ctx;

	if (g_ascii_strcasecmp(name, h->name) != 0)
		return true;
	h->value = clean_value(value->str, value->len);
	return false;
}

static bool header_end(void *ctx)
{
	return false;
}

char *bounce_header_field(const char *text, size_t len, const char *name)
{
	struct header_lookup h = { .name = name };

	if (text != NULL)
		fields_walk(text, len, header_field, header_end, &h);
	return h.value;
}

char *bounce_msgid_of(const char *value)
{
	const char *start, *end;

	if (value == NULL)
		return NULL;
	start = strchr(value, '<');
	if (start != NULL) {
		start++;
		end = strchr(start, '>');
		if (end == NULL)
			return NULL;
	} else {
		start = value;
		while (*start == ' ' || *start == '\t')
			start++;
		end = start;
		while (*end != '\0' && *end != ' ' && *end != '\t' && *end != '(')
			end++;
	}
	for (const char *p = start; p < end; p++)
		if ((unsigned char)*p <= 0x20 || *p == '<')
			return NULL;
	if (end == start || end - start > BOUNCE_MAX_FIELD)
		return NULL;
	return clean_value(start, (size_t)(end - start));
}

long long bounce_find_our_msgid(const char *text, size_t len, const void *secret, size_t secret_len,
				char **msgid_r)
{
	static const char tag[] = "Message-ID:";
	size_t pos = 0;

	*msgid_r = NULL;
	if (text == NULL)
		return 0;
	if (len > BOUNCE_MAX_TEXT)
		len = BOUNCE_MAX_TEXT;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos, skip = 0;
		long long ticket;
		char *value, *id;

		pos += n + (nl != NULL ? 1 : 0);
		/* inline copies are sometimes indented; never "> " quoted text */
		while (skip < n && (line[skip] == ' ' || line[skip] == '\t'))
			skip++;
		if (n - skip < sizeof(tag) - 1 ||
		    g_ascii_strncasecmp(line + skip, tag, sizeof(tag) - 1) != 0)
			continue;
		/* the value itself, or the next line when the field is folded
		 * right after the colon */
		skip += sizeof(tag) - 1;
		if (is_blank(line + skip, n - skip) && pos < len) {
			line = text + pos;
			nl = memchr(line, '\n', len - pos);
			n = nl != NULL ? (size_t)(nl - line) : len - pos;
			skip = 0;
		}
		value = g_strndup(line + skip, n - skip);
		id = bounce_msgid_of(value);
		g_free(value);
		ticket = id != NULL ? msgid_verify(secret, secret_len, id) : 0;
		if (ticket > 0) {
			*msgid_r = id;
			return ticket;
		}
		g_free(id);
	}
	return 0;
}

/* The "(#5.1.1)" qmail puts after its reason, if any. */
static char *qmail_status(const char *text)
{
	for (const char *p = strstr(text, "(#"); p != NULL; p = strstr(p + 2, "(#")) {
		size_t n = status_code_len(p + 2);

		if (n > 0 && p[2 + n] == ')')
			return g_strndup(p + 2, n);
	}
	return NULL;
}

static void qmail_flush(GPtrArray *out, struct bounce_recipient **cur, GString *reason)
{
	struct bounce_recipient *r = *cur;

	if (r == NULL)
		return;
	r->diagnostic = clean_value(reason->str, reason->len);
	r->status = r->diagnostic != NULL ? qmail_status(r->diagnostic) : NULL;
	if (out->len < BOUNCE_MAX_RECIPIENTS)
		g_ptr_array_add(out, r);
	else
		recipient_free(r);
	*cur = NULL;
	g_string_assign(reason, "");
}

GPtrArray *bounce_parse_qmail(const char *text, size_t len)
{
	GPtrArray *out = recipients_new();
	struct bounce_recipient *cur = NULL;
	GString *reason = g_string_new(NULL);
	size_t pos = 0;

	if (text == NULL)
		len = 0;
	if (len > BOUNCE_MAX_TEXT)
		len = BOUNCE_MAX_TEXT;
	while (pos < len && out->len < BOUNCE_MAX_RECIPIENTS) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += n + (nl != NULL ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		/* "--- Below this line is a copy of the message." */
		if (n >= 4 && strncmp(line, "--- ", 4) == 0)
			break;
		if (n >= 4 && line[0] == '<' && line[n - 2] == '>' && line[n - 1] == ':' &&
		    memchr(line + 1, '>', n - 2) == line + n - 2) {
			qmail_flush(out, &cur, reason);
			cur = g_new0(struct bounce_recipient, 1);
			cur->address = clean_value(line + 1, n - 3);
			cur->action = g_strdup("failed");
		} else if (cur != NULL && is_blank(line, n)) {
			qmail_flush(out, &cur, reason);
		} else if (cur != NULL) {
			if (reason->len > 0)
				g_string_append_c(reason, ' ');
			value_append(reason, line, n);
		}
	}
	qmail_flush(out, &cur, reason);
	g_string_free(reason, TRUE);
	return out;
}

bool bounce_is_daemon_address(const char *addr)
{
	const char *at;
	size_t n;

	if (addr == NULL)
		return false;
	at = strrchr(addr, '@');
	n = at != NULL ? (size_t)(at - addr) : strlen(addr);
	return (n == strlen("mailer-daemon") &&
		g_ascii_strncasecmp(addr, "mailer-daemon", n) == 0) ||
	       (n == strlen("postmaster") && g_ascii_strncasecmp(addr, "postmaster", n) == 0);
}

bool bounce_subject_is_delay(const char *subject)
{
	char *lower;
	bool delay;

	if (subject == NULL)
		return false;
	lower = g_ascii_strdown(subject, -1);
	delay = strstr(lower, "delay") != NULL || strstr(lower, "warning") != NULL;
	g_free(lower);
	return delay;
}

void bounce_summarise(struct bounce *b, const char *subject)
{
	guint failed = 0, delayed = 0;

	for (guint i = 0; i < b->recipients->len; i++) {
		const struct bounce_recipient *r = b->recipients->pdata[i];

		if (r->action != NULL) {
			failed += strcmp(r->action, "failed") == 0;
			delayed += strcmp(r->action, "delayed") == 0;
		} else if (r->status != NULL) {
			failed += r->status[0] == '5';
			delayed += r->status[0] == '4';
		}
	}
	if (b->recipients->len == 0) {
		/* nothing readable about the recipients: the subject is all
		 * there is, and a bounce that does not say "delay" failed */
		b->delayed_only = bounce_subject_is_delay(subject);
		b->permanent = !b->delayed_only;
		return;
	}
	b->permanent = failed > 0;
	b->delayed_only = delayed == b->recipients->len;
}

/* The decoded content of a leaf part, at most BOUNCE_MAX_TEXT bytes kept. */
static GByteArray *part_text(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *bytes;

	if (content != NULL)
		g_mime_data_wrapper_write_to_stream(content, mem);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	g_object_unref(mem);
	if (bytes->len > BOUNCE_MAX_TEXT)
		g_byte_array_set_size(bytes, BOUNCE_MAX_TEXT);
	return bytes;
}

static bool is_mime_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* What a walk over the parts found. */
struct found {
	const struct ticketd_config *cfg;
	unsigned parts;
	bool have_returned;   /* a returned message or its headers was seen */
	char *returned_msgid; /* its Message-ID, ours or not */
	long long ticket;     /* from an inline copy in a text part */
	char *inline_msgid;
	GPtrArray *recipients; /* from the first delivery-status part */
	GString *text;         /* the text/plain parts, for qmail's paragraphs */
};

/* The Message-ID of a returned message (first one seen wins). */
static void found_returned(struct found *f, const char *value)
{
	if (f->have_returned)
		return;
	f->have_returned = true;
	f->returned_msgid = bounce_msgid_of(value);
}

static void found_text(struct found *f, GMimePart *part)
{
	GByteArray *bytes = part_text(part);

	if (f->ticket == 0)
		f->ticket =
			bounce_find_our_msgid((const char *)bytes->data, bytes->len, f->cfg->secret,
					      f->cfg->secret_len, &f->inline_msgid);
	if (f->text->len < BOUNCE_MAX_TEXT)
		g_string_append_len(f->text, (const char *)bytes->data,
				    (gssize)MIN(bytes->len, BOUNCE_MAX_TEXT - f->text->len));
	g_byte_array_free(bytes, TRUE);
}

/* Looks at one part: a returned message, returned headers, a status part or
 * text; descends into multiparts when deep is true (the non-standard
 * bounces, whose layout nobody fixed), never into a returned message. */
static void walk(struct found *f, GMimeObject *obj, unsigned depth, bool deep)
{
	if (obj == NULL || depth > MAX_DEPTH || f->parts >= MAX_PARTS)
		return;
	f->parts++;
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (inner != NULL)
			found_returned(f,
				       g_mime_object_get_header(GMIME_OBJECT(inner), "Message-ID"));
	} else if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int count = g_mime_multipart_get_count(mp);

		if (depth > 0 && !deep)
			return;
		for (int i = 0; i < count && f->parts < MAX_PARTS; i++)
			walk(f, g_mime_multipart_get_part(mp, i), depth + 1, deep);
	} else if (GMIME_IS_PART(obj)) {
		GMimePart *part = GMIME_PART(obj);

		if (is_mime_type(obj, "message", "delivery-status") ||
		    is_mime_type(obj, "message", "global-delivery-status")) {
			if (f->recipients == NULL) {
				GByteArray *bytes = part_text(part);

				f->recipients =
					bounce_parse_delivery_status((const char *)bytes->data,
								     bytes->len);
				g_byte_array_free(bytes, TRUE);
			}
		} else if (is_mime_type(obj, "text", "rfc822-headers") ||
			   is_mime_type(obj, "message", "global-headers")) {
			GByteArray *bytes = part_text(part);
			char *value = bounce_header_field((const char *)bytes->data, bytes->len,
							  "Message-ID");

			found_returned(f, value);
			g_free(value);
			g_byte_array_free(bytes, TRUE);
		} else if (is_mime_type(obj, "text", "plain")) {
			found_text(f, part);
		}
	}
}

/* RFC 3464 §2: a multipart/report whose report-type is delivery-status. */
static bool is_dsn(GMimeObject *top)
{
	const char *type;

	if (top == NULL || !GMIME_IS_MULTIPART(top) || !is_mime_type(top, "multipart", "report"))
		return false;
	type = g_mime_object_get_content_type_parameter(top, "report-type");
	return type != NULL && g_ascii_strcasecmp(type, "delivery-status") == 0;
}

/* The signs of a non-standard bounce: from MAILER-DAEMON or postmaster,
 * with a null Return-Path or Auto-Submitted: auto-replied/auto-generated. */
static bool looks_like_daemon(GMimeMessage *message)
{
	InternetAddressList *from = g_mime_message_get_from(message);
	InternetAddress *first;
	const char *return_path, *auto_submitted;
	bool daemon = false, automatic = false;

	if (from != NULL && internet_address_list_length(from) > 0) {
		first = internet_address_list_get_address(from, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(first))
			daemon = bounce_is_daemon_address(
				internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(first)));
	}
	if (!daemon)
		return false;
	return_path = g_mime_object_get_header(GMIME_OBJECT(message), "Return-Path");
	if (return_path != NULL) {
		char *bare = strip_comments(return_path);

		automatic = strcmp(bare, "<>") == 0 || strcmp(bare, "") == 0 ||
			    strcmp(bare, "< >") == 0;
		g_free(bare);
	}
	auto_submitted = g_mime_object_get_header(GMIME_OBJECT(message), "Auto-Submitted");
	if (auto_submitted != NULL) {
		while (*auto_submitted == ' ' || *auto_submitted == '\t')
			auto_submitted++;
		automatic |= g_ascii_strncasecmp(auto_submitted, "auto-replied", 12) == 0 ||
			     g_ascii_strncasecmp(auto_submitted, "auto-generated", 14) == 0;
	}
	return automatic;
}

/* Exim's X-Failed-Recipients: a, b (the non-DSN bounces carry it). */
static GPtrArray *failed_recipients_header(GMimeMessage *message)
{
	const char *value = g_mime_object_get_header(GMIME_OBJECT(message), "X-Failed-Recipients");
	GPtrArray *out = recipients_new();
	char **list;

	if (value == NULL)
		return out;
	list = g_strsplit(value, ",", BOUNCE_MAX_RECIPIENTS + 1);
	for (char **p = list; *p != NULL && out->len < BOUNCE_MAX_RECIPIENTS; p++) {
		char *address = recipient_address(*p);
		struct bounce_recipient *r;

		if (address == NULL)
			continue;
		r = g_new0(struct bounce_recipient, 1);
		r->address = address;
		r->action = g_strdup("failed");
		g_ptr_array_add(out, r);
	}
	g_strfreev(list);
	return out;
}

int bounce_parse(const char *data, size_t len, const struct ticketd_config *cfg,
		 struct bounce **bounce_r)
{
	struct found f = { .cfg = cfg };
	struct bounce *b = NULL;
	GMimeParserOptions *options = NULL;
	struct message_gmime g = { 0 };
	GMimeMessage *message = NULL;
	GMimeObject *top;
	bool dsn;
	int ret = 0;

	*bounce_r = NULL;
	if (data == NULL || len == 0)
		return 0;
	f.text = g_string_new(NULL);
	options = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	message = message_gmime_open(&g, data, len, options);
	if (message == NULL)
		goto out;
	top = g_mime_message_get_mime_part(message);
	dsn = is_dsn(top);
	if (!dsn && !looks_like_daemon(message))
		goto out;
	walk(&f, top, 0, !dsn);

	b = g_new0(struct bounce, 1);
	b->dsn = dsn;
	if (f.have_returned) {
		/* the returned message's own Message-ID decides, ours or not */
		b->original_message_id = f.returned_msgid;
		f.returned_msgid = NULL;
		if (b->original_message_id != NULL)
			b->ticket_id =
				msgid_verify(cfg->secret, cfg->secret_len, b->original_message_id);
	}
	if (b->ticket_id == 0 && b->original_message_id == NULL && f.ticket > 0) {
		/* no returned part with a Message-ID: a copy inline in the text */
		b->ticket_id = f.ticket;
		b->original_message_id = f.inline_msgid;
		f.inline_msgid = NULL;
	}
	if (!dsn && b->ticket_id == 0) {
		/* conservative: a daemon's mail is a bounce only when it names
		 * mail we sent; otherwise classify.c's rules take it */
		bounce_free(&b);
		goto out;
	}
	if (f.recipients != NULL) {
		b->recipients = f.recipients;
		f.recipients = NULL;
	} else if (!dsn) {
		b->recipients = bounce_parse_qmail(f.text->str, f.text->len);
		if (b->recipients->len == 0) {
			g_ptr_array_unref(b->recipients);
			b->recipients = failed_recipients_header(message);
		}
	} else {
		b->recipients = recipients_new();
	}
	bounce_summarise(b, g_mime_message_get_subject(message));
	*bounce_r = b;
	ret = 1;
out:
	message_gmime_close(&g);
	if (options != NULL)
		g_mime_parser_options_free(options);
	g_free(f.returned_msgid);
	g_free(f.inline_msgid);
	if (f.recipients != NULL)
		g_ptr_array_unref(f.recipients);
	g_string_free(f.text, TRUE);
	return ret;
}
