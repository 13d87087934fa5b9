/*
 * template.c - parse templates of outgoing mail once into literal and
 * variable pieces, render them by substitution.
 *
 * A template is parsed at config load time so that every mistake (unknown
 * variable, unclosed "{{", bad header line, invalid UTF-8) is reported with
 * its line before the daemon runs; rendering then cannot fail on content.
 * Header values are rendered on one line: CR and LF coming from variables are
 * replaced so a subject cannot inject headers.
 */
#include "template.h"

#include <string.h>

#include "message.h"
#include "util.h"

#define TEMPLATE_MAX_FILE_SIZE (1024 * 1024)

const char *const template_kind_names[TEMPLATE_KIND_COUNT] = {
	"new_ticket", "closed", "answer", "notification", "refusal", "escalation",
};

const char *const template_variables[] = {
	"ticket.id",         "ticket.subject",    "ticket.priority",
	"ticket.status",     "ticket.tag",        "queue.name",
	"queue.address",     "requestor.name",    "requestor.email",
	"staff.name",        "staff.description", "staff.signature",
	"message.text",      "message.quoted",    "ticket.assignee",
	"requestor.tickets", "staff.title",       NULL,
};

/* Headers a template may override, spelled as they are sent. */
static const char *const template_header_names[] = { "Subject", "From", "Reply-To", NULL };

/* The built-in templates.  etc/templates/<kind>.txt are copies of these. */
static const char *const template_builtin_texts[TEMPLATE_KIND_COUNT] = {
	[TEMPLATE_NEW_TICKET] =
		"Hello,\n"
		"\n"
		"thank you for your message. We have opened ticket {{ticket.tag}} for it\n"
		"and will get back to you as soon as we can.\n"
		"\n"
		"If you write to us about this matter again, please reply to this message\n"
		"and keep {{ticket.tag}} in the subject, so that your mail reaches the\n"
		"same ticket.\n"
		"\n"
		"Your message was about:\n"
		"    {{ticket.subject}}\n"
		"\n"
		"-- \n"
		"{{queue.name}} <{{queue.address}}>\n",
	[TEMPLATE_CLOSED] =
		"Hello,\n"
		"\n"
		"your ticket {{ticket.tag}} has been closed:\n"
		"    {{ticket.subject}}\n"
		"\n"
		"If you still need help with it, simply reply to this message, keeping\n"
		"{{ticket.tag}} in the subject, and the ticket will be reopened.\n"
		"\n"
		"-- \n"
		"{{queue.name}} <{{queue.address}}>\n",
	[TEMPLATE_ANSWER] = "Assigned to: {{staff.title}}\n"
			    "\n"
			    "{{message.text}}\n"
			    "\n"
			    "-- \n"
			    "{{staff.signature}}\n"
			    "\n"
			    "{{message.quoted}}\n",
	[TEMPLATE_NOTIFICATION] = "Ticket {{ticket.tag}} in queue {{queue.name}}\n"
				  "Status:    {{ticket.status}}, priority {{ticket.priority}}\n"
				  "Assigned:  {{ticket.assignee}}\n"
				  "Requestor: {{requestor.name}} <{{requestor.email}}>\n"
				  "Subject:   {{ticket.subject}}\n"
				  "\n"
				  "Latest tickets from this requestor:\n"
				  "{{requestor.tickets}}\n"
				  "\n"
				  "{{message.text}}\n",
	[TEMPLATE_REFUSAL] =
		"Your message about ticket {{ticket.tag}} was not applied:\n"
		"\n"
		"{{message.text}}\n"
		"\n"
		"Nothing in that message was changed on the ticket.  Please correct it\n"
		"and send it again.\n",
	[TEMPLATE_ESCALATION] =
		"Ticket {{ticket.tag}} in queue {{queue.name}} is still waiting for an\n"
		"answer; its priority is now {{ticket.priority}}.\n"
		"\n"
		"Subject:   {{ticket.subject}}\n"
		"Requestor: {{requestor.name}} <{{requestor.email}}>\n"
		"Status:    {{ticket.status}}\n",
};

struct template_piece {
	bool is_var;
	char *text; /* literal text, or the variable's name */
	unsigned line;
};

struct template_header {
	const char *name;  /* one of template_header_names */
	GPtrArray *pieces; /* struct template_piece * */
};

struct template
{
	char *origin;
	GPtrArray *headers; /* struct template_header * */
	GPtrArray *body;    /* struct template_piece * */
};

struct template_parser {
	struct template *tpl;
	GString *errors;
};

static void template_piece_free(void *p)
{
	struct template_piece *piece = p;

	g_free(piece->text);
	g_free(piece);
}

static void template_header_free(void *p)
{
	struct template_header *hdr = p;

	g_ptr_array_free(hdr->pieces, TRUE);
	g_free(hdr);
}

static void template_mail_header_free(void *p)
{
	struct mail_header *hdr = p;

	g_free(hdr->name);
	g_free(hdr->value);
	g_free(hdr);
}

static void template_error(struct template_parser *tp, unsigned line, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void template_error(struct template_parser *tp, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (tp->errors->len > 0)
		g_string_append_c(tp->errors, '\n');
	g_string_append_printf(tp->errors, "%s:%u: ", tp->tpl->origin, line);
	va_start(ap, fmt);
	g_string_append_vprintf(tp->errors, fmt, ap);
	va_end(ap);
}

static bool template_variable_known(const char *name)
{
	for (size_t i = 0; template_variables[i] != NULL; i++)
		if (strcmp(template_variables[i], name) == 0)
			return true;
	return false;
}

static void template_add_piece(GPtrArray *pieces, bool is_var, char *text, unsigned line)
{
	struct template_piece *piece = g_new0(struct template_piece, 1);

	piece->is_var = is_var;
	piece->text = text;
	piece->line = line;
	g_ptr_array_add(pieces, piece);
}

/* Splits s[0..len) into pieces; *line is the line of s[0] and is advanced
 * past every newline.  Variables never span lines. */
static void template_parse_text(struct template_parser *tp, const char *s, size_t len,
				unsigned *line, GPtrArray *pieces)
{
	GString *lit = g_string_new(NULL);
	unsigned lit_line = *line;
	size_t i = 0;

	while (i < len) {
		if (s[i] == '{' && i + 1 < len && s[i + 1] == '{') {
			size_t j = i + 2;

			while (j < len && s[j] != '\n' &&
			       !(s[j] == '}' && j + 1 < len && s[j + 1] == '}'))
				j++;
			if (j >= len || s[j] == '\n') {
				template_error(
					tp, *line,
					"unclosed {{ (a variable is written {{name}} on one line)");
				g_string_append(lit, "{{");
				i += 2;
				continue;
			}
			char *name = g_strstrip(g_strndup(s + i + 2, j - i - 2));
			if (!template_variable_known(name)) {
				template_error(tp, *line, "unknown variable {{%s}}", name);
				g_free(name);
			} else {
				if (lit->len > 0)
					template_add_piece(pieces, false, g_strdup(lit->str),
							   lit_line);
				g_string_truncate(lit, 0);
				template_add_piece(pieces, true, name, *line);
			}
			i = j + 2;
			lit_line = *line;
			continue;
		}
		if (s[i] == '\n')
			(*line)++;
		/* CRLF line ends become LF. */
		if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
			g_string_append_c(lit, s[i]);
		i++;
	}
	if (lit->len > 0)
		template_add_piece(pieces, false, g_strdup(lit->str), lit_line);
	g_string_free(lit, TRUE);
}

/* If line (without its newline) is "Name: value" with an allowed Name, returns
 * the canonical name and sets *value_off to the start of the value. */
static const char *template_header_line(const char *line, size_t len, size_t *value_off)
{
	size_t n = 0;

	while (n < len && (g_ascii_isalnum(line[n]) || line[n] == '-'))
		n++;
	if (n == 0 || n >= len || line[n] != ':')
		return NULL;
	for (size_t i = 0; template_header_names[i] != NULL; i++) {
		if (strlen(template_header_names[i]) == n &&
		    g_ascii_strncasecmp(line, template_header_names[i], n) == 0) {
			n++;
			while (n < len && (line[n] == ' ' || line[n] == '\t'))
				n++;
			*value_off = n;
			return template_header_names[i];
		}
	}
	return NULL;
}

/* Parses the header block at the start of text; returns the offset where the
 * body begins and sets *line to the body's first line. */
static size_t template_parse_headers(struct template_parser *tp, const char *text, size_t len,
				     unsigned *line)
{
	struct template_header *cur = NULL;
	size_t pos = 0, value_off;
	const char *name;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t next = nl != NULL ? end + 1 : len;
		size_t llen = end - pos;
		unsigned this_line = *line;

		if (llen > 0 && text[end - 1] == '\r')
			llen--;
		(*line)++;
		if (llen == 0)
			return next;
		if ((text[pos] == ' ' || text[pos] == '\t') && cur != NULL) {
			/* A folded continuation of the previous header. */
			size_t k = 0;
			while (k < llen && (text[pos + k] == ' ' || text[pos + k] == '\t'))
				k++;
			template_add_piece(cur->pieces, false, g_strdup(" "), this_line);
			template_parse_text(tp, text + pos + k, llen - k, &this_line, cur->pieces);
		} else if ((name = template_header_line(text + pos, llen, &value_off)) != NULL) {
			for (size_t i = 0; i < tp->tpl->headers->len; i++) {
				struct template_header *h = g_ptr_array_index(tp->tpl->headers, i);
				if (h->name == name)
					template_error(tp, this_line, "header %s given twice",
						       name);
			}
			cur = g_new0(struct template_header, 1);
			cur->name = name;
			cur->pieces = g_ptr_array_new_with_free_func(template_piece_free);
			g_ptr_array_add(tp->tpl->headers, cur);
			template_parse_text(tp, text + pos + value_off, llen - value_off,
					    &this_line, cur->pieces);
		} else {
			char *raw = g_strndup(text + pos, MIN(llen, 40));
			char *shown = log_sanitize(raw, 0);
			template_error(
				tp, this_line,
				"not an allowed header line in the header block: '%s' "
				"(allowed: Subject, From, Reply-To; an empty line ends the block)",
				shown);
			g_free(shown);
			g_free(raw);
		}
		pos = next;
	}
	return pos;
}

int template_parse(const char *origin, const char *text, size_t len, struct template **tpl_r,
		   char **error_r)
{
	struct template_parser tp = { NULL, NULL };
	const char *bad = NULL, *nl;
	unsigned line = 1;
	size_t body_off = 0, first_len, value_off;
	int ret = -1;

	tp.tpl = g_new0(struct template, 1);
	tp.tpl->origin = g_strdup(origin);
	tp.tpl->headers = g_ptr_array_new_with_free_func(template_header_free);
	tp.tpl->body = g_ptr_array_new_with_free_func(template_piece_free);
	tp.errors = g_string_new(NULL);

	/* With a length, g_utf8_validate() also stops at a NUL byte. */
	if (!g_utf8_validate(text, (gssize)len, &bad)) {
		for (const char *p = text; p < bad; p++)
			if (*p == '\n')
				line++;
		template_error(&tp, line, "%s",
			       *bad == '\0' ? "contains a NUL byte" : "invalid UTF-8");
		goto out;
	}
	nl = memchr(text, '\n', len);
	first_len = nl != NULL ? (size_t)(nl - text) : len;
	if (template_header_line(text, first_len, &value_off) != NULL)
		body_off = template_parse_headers(&tp, text, len, &line);
	template_parse_text(&tp, text + body_off, len - body_off, &line, tp.tpl->body);
	if (tp.errors->len > 0)
		goto out;
	*tpl_r = tp.tpl;
	tp.tpl = NULL;
	ret = 0;
out:
	if (ret < 0 && error_r != NULL) {
		g_free(*error_r);
		*error_r = g_strdup(tp.errors->str);
	}
	g_string_free(tp.errors, TRUE);
	template_free(&tp.tpl);
	return ret;
}

int template_load_file(const char *path, struct template **tpl_r, char **error_r)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	if (file_read_all(path, TEMPLATE_MAX_FILE_SIZE, &data, &len, error_r) < 0)
		return -1;
	ret = template_parse(path, data, len, tpl_r, error_r);
	g_free(data);
	return ret;
}

struct template *template_builtin(enum template_kind kind)
{
	struct template *tpl = NULL;
	char *origin, *error = NULL;
	const char *text;

	if ((unsigned)kind >= TEMPLATE_KIND_COUNT)
		return NULL;
	text = template_builtin_texts[kind];
	origin = g_strdup_printf("built-in %s", template_kind_names[kind]);
	if (template_parse(origin, text, strlen(text), &tpl, &error) < 0)
		log_panic("template: %s", error);
	g_free(origin);
	return tpl;
}

void template_free(struct template **tpl)
{
	if (*tpl == NULL)
		return;
	g_ptr_array_free((*tpl)->headers, TRUE);
	g_ptr_array_free((*tpl)->body, TRUE);
	g_free((*tpl)->origin);
	g_free(*tpl);
	*tpl = NULL;
}

static void template_render_pieces(const GPtrArray *pieces, template_lookup_fn *lookup, void *ctx,
				   GString *out)
{
	for (size_t i = 0; i < pieces->len; i++) {
		const struct template_piece *piece = g_ptr_array_index(pieces, i);
		const char *value;

		if (!piece->is_var) {
			g_string_append(out, piece->text);
			continue;
		}
		value = lookup(ctx, piece->text);
		if (value == NULL)
			continue;
		if (g_utf8_validate(value, -1, NULL)) {
			g_string_append(out, value);
		} else {
			char *valid = g_utf8_make_valid(value, -1);
			g_string_append(out, valid);
			g_free(valid);
		}
	}
}

/* A header value stays on one line: runs of CR, LF and other control
 * characters become one space, and the ends are trimmed. */
static char *template_header_value(const char *raw)
{
	GString *v = g_string_sized_new(strlen(raw));
	bool space = false;

	for (const char *p = raw; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f) {
			space = true;
			continue;
		}
		if (space && v->len > 0)
			g_string_append_c(v, ' ');
		space = false;
		g_string_append_c(v, (char)c);
	}
	return g_strstrip(g_string_free(v, FALSE));
}

int template_render(const struct template *tpl, template_lookup_fn *lookup, void *ctx,
		    struct template_output **out_r, char **error_r)
{
	struct template_output *out;
	GString *buf;

	if (tpl == NULL || lookup == NULL) {
		error_set(error_r, "template_render: no template or lookup function");
		return -1;
	}
	out = g_new0(struct template_output, 1);
	out->headers = g_ptr_array_new_with_free_func(template_mail_header_free);
	buf = g_string_new(NULL);
	for (size_t i = 0; i < tpl->headers->len; i++) {
		const struct template_header *h = g_ptr_array_index(tpl->headers, i);
		struct mail_header *mh = g_new0(struct mail_header, 1);

		g_string_truncate(buf, 0);
		template_render_pieces(h->pieces, lookup, ctx, buf);
		mh->name = g_strdup(h->name);
		mh->value = template_header_value(buf->str);
		g_ptr_array_add(out->headers, mh);
	}
	g_string_truncate(buf, 0);
	template_render_pieces(tpl->body, lookup, ctx, buf);
	out->body = g_string_free(buf, FALSE);
	*out_r = out;
	return 0;
}

void template_output_free(struct template_output **out)
{
	if (*out == NULL)
		return;
	if ((*out)->headers != NULL)
		g_ptr_array_free((*out)->headers, TRUE);
	g_free((*out)->body);
	g_free(*out);
	*out = NULL;
}
