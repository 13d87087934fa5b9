/*
 * message-body.c - the body half of message_parse(): walks the MIME tree of a
 * parsed GMimeMessage for the readable text and the attachments (contract of
 * message_read_body() in message-private.h).
 *
 * The walk has limits on depth and on the number of parts.  The readable text
 * is inline text/plain, else HTML rendered by html_to_text; everything else
 * (and every part marked as an attachment) becomes an attachment, an attached
 * message whole.  Broken multiparts are repaired: a multipart without parts
 * is parsed again with the boundary its content starts with, or kept as
 * text.  Body bytes are decoded with g_mime_data_wrapper_write_to_stream and
 * converted by charset_to_utf8, never by g_mime_text_part_get_text (it drops
 * bytes it cannot convert).
 *
 * GMime objects are borrowed from the message being parsed; those made here
 * (memory streams, the parser of a repaired multipart) are released in the
 * function that made them.
 */
#include "message.h"
#include "message-private.h"
#include "util.h"

#include <gmime/gmime.h>
#include <string.h>

/* Where an HTML body without a charset label may name one in <meta>. */
#define HTML_META_SCAN 2048

/* State of one walk over a MIME tree. */
struct walk {
	struct parsed_message *msg;
	GMimeParserOptions *options;
	unsigned max_depth, max_parts, parts;
	bool depth_warned, parts_warned;
	GString *plain, *html; /* text of inline text/plain and text/html parts */
	bool have_plain;       /* plain has more than whitespace */
	bool have_html;
	size_t max_text;
};

/* Takes the bytes written to a memory stream and releases the stream. */
static GBytes *stream_bytes(GMimeStream *mem)
{
	GByteArray *array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_object_unref(mem);
	return g_byte_array_free_to_bytes(array);
}

/* The decoded content of a leaf part (transfer encoding removed). */
static GBytes *part_content(struct parsed_message *msg, GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *mem;

	if (content == NULL)
		return g_bytes_new(NULL, 0);
	mem = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(content, mem) < 0)
		message_add_warning(msg, "could not decode a MIME part");
	return stream_bytes(mem);
}

/* "type/subtype", lower-case ASCII. */
static char *mime_type_of(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *type = ct == NULL ? NULL : g_mime_content_type_get_mime_type(ct);
	char *lower;

	if (type == NULL)
		return g_strdup("application/octet-stream");
	for (const char *p = type; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F) {
			g_free(type);
			return g_strdup("application/octet-stream");
		}
	}
	lower = g_ascii_strdown(type, -1);
	g_free(type);
	return lower;
}

static void add_attachment(struct parsed_message *msg, const char *filename, char *content_type,
			   GBytes *data)
{
	struct mail_attachment *a = g_new0(struct mail_attachment, 1);

	if (filename != NULL) {
		a->filename = message_clean_value(filename);
		if (*a->filename == '\0') {
			g_free(a->filename);
			a->filename = NULL;
		}
	}
	a->content_type = content_type;
	a->data = data;
	g_ptr_array_add(msg->attachments, a);
}

/* Warns when charset_to_utf8 will have to repair a label. */
static void check_charset(struct parsed_message *msg, const char *charset, const char *data,
			  size_t len)
{
	bool eight_bit = false, utf8 = charset_utf8_valid(data, len);
	char *label, *clean;
	const char *name;
	GIConv cd;

	for (size_t i = 0; i < len && !eight_bit; i++)
		eight_bit = (unsigned char)data[i] >= 0x80;
	if (charset == NULL || *charset == '\0') {
		if (eight_bit && !utf8)
			message_add_warning(msg,
					    "8-bit text without charset; read as windows-1252");
		return;
	}
	label = g_ascii_strdown(charset, -1);
	clean = log_sanitize(charset, 40);
	name = g_mime_charset_iconv_name(label);
	cd = g_iconv_open("UTF-8", name != NULL ? name : label);
	if (cd == (GIConv)-1) {
		message_add_warning(msg, "unknown charset \"%s\"; read as %s", clean,
				    !eight_bit || utf8 ? "UTF-8" : "windows-1252");
	} else {
		g_iconv_close(cd);
		if (eight_bit && utf8 && strstr(label, "utf") == NULL &&
		    (g_str_has_prefix(label, "iso") || g_str_has_prefix(label, "windows-125") ||
		     g_str_has_prefix(label, "latin") || g_str_has_prefix(label, "koi8") ||
		     strcmp(label, "us-ascii") == 0))
			message_add_warning(msg, "text labelled \"%s\" is UTF-8", clean);
		else if (!utf8 && (strcmp(label, "utf-8") == 0 || strcmp(label, "utf8") == 0))
			message_add_warning(msg, "invalid UTF-8; stray bytes read as windows-1252");
	}
	g_free(clean);
	g_free(label);
}

/* A charset named in an HTML <meta>, for a part without a label. */
static char *html_meta_charset(const char *data, size_t len)
{
	char *head = g_ascii_strdown(data, MIN(len, HTML_META_SCAN));
	const char *p = strstr(head, "charset=");
	char *charset = NULL;
	size_t n;

	if (p != NULL) {
		p += strlen("charset=");
		while (*p == '"' || *p == '\'' || *p == ' ')
			p++;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-_.:");
		if (n > 0)
			charset = g_strndup(p, n);
	}
	g_free(head);
	return charset;
}

/* Adds the text of a part to a buffer, on a line of its own. */
static void append_text(struct walk *w, GString *buf, const char *text)
{
	if (buf->len >= w->max_text + 1)
		return;
	if (buf->len > 0 && buf->str[buf->len - 1] != '\n')
		g_string_append_c(buf, '\n');
	g_string_append(buf, text);
}

static bool has_visible_text(const char *s)
{
	for (; *s != '\0'; s++)
		if (!g_ascii_isspace(*s))
			return true;
	return false;
}

static bool is_attachment(GMimeObject *obj)
{
	const char *disposition = g_mime_object_get_disposition(obj);

	if (disposition != NULL && g_ascii_strcasecmp(disposition, "attachment") == 0)
		return true;
	return GMIME_IS_PART(obj) && g_mime_part_get_filename(GMIME_PART(obj)) != NULL;
}

static void walk_leaf(struct walk *w, GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	bool plain = false, html = false;
	const char *data, *charset;
	char *meta = NULL, *text, *rendered;
	GBytes *content;
	gsize len;

	if (!is_attachment(obj) && ct != NULL) {
		plain = g_mime_content_type_is_type(ct, "text", "plain");
		html = g_mime_content_type_is_type(ct, "text", "html");
	}
	content = part_content(w->msg, part);
	if (!plain && !html) {
		add_attachment(w->msg, g_mime_part_get_filename(part), mime_type_of(obj), content);
		return;
	}
	data = g_bytes_get_data(content, &len);
	if (data == NULL)
		data = ""; /* empty content */
	charset = g_mime_object_get_content_type_parameter(obj, "charset");
	if (html && (charset == NULL || *charset == '\0') && len > 0)
		charset = meta = html_meta_charset(data, len);
	check_charset(w->msg, charset, data, len);
	text = charset_to_utf8(data, len, charset);
	if (html) {
		rendered = html_to_text(text, strlen(text));
		append_text(w, w->html, rendered);
		w->have_html = true;
		g_free(rendered);
	} else {
		append_text(w, w->plain, text);
		if (has_visible_text(text))
			w->have_plain = true;
	}
	g_free(text);
	g_free(meta);
	g_bytes_unref(content);
}

/* An attached message is kept whole, as an attachment. */
static void walk_message_part(struct walk *w, GMimeMessagePart *mpart)
{
	GMimeObject *obj = GMIME_OBJECT(mpart);
	GMimeMessage *inner = g_mime_message_part_get_message(mpart);
	const char *filename, *subject;
	char *name = NULL, *cut;
	GMimeStream *mem;
	GBytes *data;

	message_repair_encoded_words(GMIME_OBJECT(inner));

	filename = g_mime_object_get_content_disposition_parameter(obj, "filename");
	if (filename == NULL)
		filename = g_mime_object_get_content_type_parameter(obj, "name");
	subject = inner == NULL ? NULL : g_mime_message_get_subject(inner);
	if (filename == NULL && subject != NULL) {
		cut = message_clean_value(subject);
		if (g_utf8_strlen(cut, -1) > 100)
			*g_utf8_offset_to_pointer(cut, 100) = '\0';
		if (*cut != '\0')
			name = g_strdup_printf("%s.eml", g_strdelimit(cut, "/\\", '_'));
		g_free(cut);
	}
	if (filename == NULL)
		filename = name != NULL ? name : "message.eml";
	if (inner == NULL) {
		data = g_bytes_new(NULL, 0);
	} else {
		mem = g_mime_stream_mem_new();
		if (g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem) < 0)
			message_add_warning(w->msg, "could not write an attached message");
		data = stream_bytes(mem);
	}
	add_attachment(w->msg, filename, mime_type_of(obj), data);
	g_free(name);
}

static void walk_object(struct walk *w, GMimeObject *obj, unsigned depth);

/* The boundary a part-less multipart's content starts with ("--b\n"), or
 * NULL: then the boundary parameter was missing or wrong. */
static char *guess_boundary(const char *content)
{
	const char *p = content, *end;

	while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "--", 2) != 0)
		return NULL;
	p += 2;
	end = p;
	while (*end != '\0' && *end > ' ' && *end != '"' && *end != 0x7F)
		end++;
	if (end == p || end - p > 70 || (*end != '\n' && *end != '\r' && *end != ' '))
		return NULL;
	return g_strndup(p, end - p);
}

/* A multipart in which GMime found no part (no boundary parameter, or one
 * that never appears) holds everything in its prologue.  If that starts
 * with a delimiter line, parse it again with that boundary; else keep it
 * as plain text. */
static void walk_partless(struct walk *w, GMimeMultipart *mp, unsigned depth)
{
	const char *content = g_mime_multipart_get_prologue(mp);
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeObject *part = NULL;
	char *boundary = NULL, *text;
	GString *buf;

	if (content == NULL || !has_visible_text(content))
		return;
	boundary = guess_boundary(content);
	if (boundary != NULL) {
		buf = g_string_new(NULL);
		g_string_append_printf(buf, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n",
				       boundary);
		g_string_append(buf, content);
		stream = g_mime_stream_mem_new_with_buffer(buf->str, buf->len);
		g_string_free(buf, TRUE);
		parser = g_mime_parser_new_with_stream(stream);
		part = g_mime_parser_construct_part(parser, w->options);
	}
	if (part != NULL && GMIME_IS_MULTIPART(part) &&
	    g_mime_multipart_get_count(GMIME_MULTIPART(part)) > 0) {
		message_add_warning(w->msg,
				    "multipart without parts; parsed again with boundary found");
		for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(part)); i++)
			walk_object(w, g_mime_multipart_get_part(GMIME_MULTIPART(part), i),
				    depth + 1);
	} else {
		message_add_warning(w->msg, "multipart without parts; its content kept as text");
		text = charset_to_utf8(content, strlen(content), NULL);
		append_text(w, w->plain, text);
		w->have_plain = true;
		g_free(text);
	}
	if (part != NULL)
		g_object_unref(part);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	g_free(boundary);
}

/* Score of an alternative: plain text first, then a nested multipart
 * (usually related: HTML + images), then HTML; 0 is not a text version. */
static int alternative_score(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	if (GMIME_IS_MULTIPART(obj))
		return 2;
	if (!GMIME_IS_PART(obj) || is_attachment(obj) || ct == NULL)
		return 0;
	if (g_mime_content_type_is_type(ct, "text", "plain"))
		return 3;
	if (g_mime_content_type_is_type(ct, "text", "html"))
		return 1;
	if (g_mime_content_type_is_type(ct, "text", "*") &&
	    !g_mime_content_type_is_type(ct, "text", "calendar"))
		return -1; /* enriched, watch-html ...: another rendering, dropped */
	return 0;
}

/* multipart/alternative: the best text version, and the parts that are not
 * a text version at all (a calendar invitation) as attachments.  An empty
 * text/plain version gives way to the HTML one. */
static void walk_alternative(struct walk *w, GMimeMultipart *mp, unsigned depth)
{
	int count = g_mime_multipart_get_count(mp), best = -1, best_score = 0, html = -1;

	for (int i = 0; i < count; i++) {
		int score = alternative_score(g_mime_multipart_get_part(mp, i));

		if (score > best_score) {
			best = i;
			best_score = score;
		}
		if (score == 1 && html < 0)
			html = i;
	}
	for (int i = 0; i < count; i++) {
		GMimeObject *child = g_mime_multipart_get_part(mp, i);

		if (i == best || alternative_score(child) == 0)
			walk_object(w, child, depth + 1);
	}
	if (best_score == 3 && !w->have_plain && html >= 0)
		walk_object(w, g_mime_multipart_get_part(mp, html), depth + 1);
}

/* An RFC 3156 multipart/encrypted with its two parts, the second a leaf. */
static bool is_pgp_encrypted(GMimeMultipart *mp, GMimeContentType *ct)
{
	const char *protocol = g_mime_content_type_get_parameter(ct, "protocol");

	return g_mime_content_type_is_type(ct, "multipart", "encrypted") && protocol != NULL &&
	       g_ascii_strcasecmp(protocol, "application/pgp-encrypted") == 0 &&
	       g_mime_multipart_get_count(mp) >= 2 &&
	       GMIME_IS_PART(g_mime_multipart_get_part(mp, 1));
}

static void walk_object(struct walk *w, GMimeObject *obj, unsigned depth)
{
	if (obj == NULL)
		return;
	if (depth > w->max_depth) {
		if (!w->depth_warned)
			message_add_warning(
				w->msg, "MIME nesting deeper than %u levels; deeper parts ignored",
				w->max_depth);
		w->depth_warned = true;
		return;
	}
	if (w->parts >= w->max_parts) {
		if (!w->parts_warned)
			message_add_warning(w->msg, "more than %u MIME parts; the rest ignored",
					    w->max_parts);
		w->parts_warned = true;
		return;
	}
	w->parts++;
	message_repair_encoded_words(obj);
	if (GMIME_IS_MESSAGE_PART(obj)) {
		walk_message_part(w, GMIME_MESSAGE_PART(obj));
	} else if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);

		if (g_mime_multipart_get_count(mp) == 0) {
			walk_partless(w, mp, depth);
			return;
		}
		if (ct != NULL && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			walk_alternative(w, mp, depth);
			return;
		}
		if (ct != NULL && is_pgp_encrypted(mp, ct)) {
			/* RFC 3156: the payload is secure.c's to decrypt; its
			 * control part and the ciphertext are no attachments */
			GMimeObject *payload = g_mime_multipart_get_part(mp, 1);
			g_ptr_array_add(w->msg->encrypted,
					part_content(w->msg, GMIME_PART(payload)));
			return;
		}
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, GMIME_PART(obj));
	}
}

/* CRLF and lone CR become LF, NUL bytes go; then the size limit. */
static char *finish_text(struct parsed_message *msg, GString *buf, size_t max_text)
{
	size_t in, out = 0;

	for (in = 0; in < buf->len; in++) {
		char c = buf->str[in];

		if (c == '\0')
			continue;
		if (c == '\r') {
			if (in + 1 < buf->len && buf->str[in + 1] == '\n')
				continue;
			c = '\n';
		}
		buf->str[out++] = c;
	}
	g_string_truncate(buf, out);
	if (buf->len > max_text) {
		size_t cut = max_text;

		while (cut > 0 && ((unsigned char)buf->str[cut] & 0xC0) == 0x80)
			cut--;
		g_string_truncate(buf, cut);
		message_add_warning(msg, "body text cut to %zu bytes", cut);
	}
	return g_string_free(buf, FALSE);
}

/* Sets msg->text and msg->text_from_html and adds the attachments (message-private.h). */
void message_read_body(struct parsed_message *msg, GMimeMessage *message,
		       GMimeParserOptions *options, const struct message_limits *limits)
{
	struct walk w = { 0 };

	w.msg = msg;
	w.options = options;
	w.max_depth = limits->max_depth;
	w.max_parts = limits->max_parts;
	w.max_text = limits->max_text;
	w.plain = g_string_new(NULL);
	w.html = g_string_new(NULL);
	walk_object(&w, g_mime_message_get_mime_part(message), 1);
	if (!w.have_plain && w.have_html) {
		msg->text = finish_text(msg, w.html, w.max_text);
		msg->text_from_html = true;
		g_string_free(w.plain, TRUE);
	} else {
		msg->text = finish_text(msg, w.plain, w.max_text);
		g_string_free(w.html, TRUE);
	}
}
