/*
 * message.c - message_parse(): the raw bytes of one incoming message become a
 * struct parsed_message (contract in message.h).
 *
 * GMime does the MIME parsing, in loose mode with the fallback charsets
 * utf-8, windows-1252, iso-8859-1 for raw 8-bit headers; its parser warnings
 * are collected as our warnings.  We then walk the MIME tree ourselves, with
 * limits on depth and on the number of parts, to find the readable text
 * (inline text/plain, else HTML rendered by html_to_text) and the
 * attachments.  Body bytes are decoded with g_mime_data_wrapper_write_to_stream
 * and converted by charset_to_utf8, never by g_mime_text_part_get_text (it
 * drops bytes it cannot convert).
 *
 * Everything handed out is copied, valid UTF-8 and free of NUL bytes.  GMime
 * objects are referenced only inside message_parse() and released there.
 */
#include "message.h"
#include "util.h"

#include <gmime/gmime.h>
#include <string.h>

#define DEFAULT_MAX_DEPTH 32
#define DEFAULT_MAX_PARTS 1000
#define DEFAULT_MAX_TEXT  (4 * 1024 * 1024)
/* Beyond these, a hostile message only makes work. */
#define MAX_WARNINGS   50
#define MAX_REFERENCES 500
#define MAX_ADDRESSES  500
#define MAX_HEADERS    10000
#define MAX_MSGID_LEN  998
/* Where an HTML body without a charset label may name one in <meta>. */
#define HTML_META_SCAN 2048
/* A Date outside [1970-01-02, 2200-01-01) is junk. */
#define DATE_MIN G_GINT64_CONSTANT(86400)
#define DATE_MAX G_GINT64_CONSTANT(7258118400)

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

static bool gmime_ready;

void message_init(void)
{
	if (gmime_ready)
		return;
	g_mime_init();
	gmime_ready = true;
}

void message_deinit(void)
{
	if (!gmime_ready)
		return;
	g_mime_shutdown();
	gmime_ready = false;
}

/* Records a repair, once, up to MAX_WARNINGS of them. */
static void G_GNUC_PRINTF(2, 3) add_warning(struct parsed_message *msg, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (msg->warnings->len > MAX_WARNINGS)
		return;
	if (msg->warnings->len == MAX_WARNINGS) {
		g_ptr_array_add(msg->warnings, g_strdup("more warnings suppressed"));
		return;
	}
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	for (guint i = 0; i < msg->warnings->len; i++) {
		if (strcmp(msg->warnings->pdata[i], text) == 0) {
			g_free(text);
			return;
		}
	}
	g_ptr_array_add(msg->warnings, text);
}

/* GMime's parser warnings, by GMimeParserWarning code. */
static const char *const parser_warnings[] = {
    [GMIME_WARN_DUPLICATED_HEADER] = "duplicated header",
    [GMIME_WARN_DUPLICATED_PARAMETER] = "duplicated parameter",
    [GMIME_WARN_UNENCODED_8BIT_HEADER] = "unencoded 8-bit header",
    [GMIME_WARN_INVALID_CONTENT_TYPE] = "invalid Content-Type",
    [GMIME_WARN_INVALID_RFC2047_HEADER_VALUE] = "invalid RFC 2047 encoding",
    [GMIME_WARN_MALFORMED_MULTIPART] = "multipart without parts",
    [GMIME_WARN_TRUNCATED_MESSAGE] = "truncated message",
    [GMIME_WARN_MALFORMED_MESSAGE] = "malformed message",
    [GMIME_CRIT_INVALID_HEADER_NAME] = "invalid header name",
    [GMIME_CRIT_CONFLICTING_HEADER] = "conflicting header",
    [GMIME_CRIT_CONFLICTING_PARAMETER] = "conflicting parameter",
    [GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY] = "multipart without boundary",
    [GMIME_WARN_INVALID_PARAMETER] = "invalid parameter",
    [GMIME_WARN_INVALID_ADDRESS_LIST] = "invalid address list",
    [GMIME_CRIT_NESTING_OVERFLOW] = "MIME nesting overflow",
    [GMIME_WARN_PART_WITHOUT_CONTENT] = "MIME part without content",
    [GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT] = "MIME part without headers or content",
};

/* Collects GMime's parser warnings (user_data is the parsed_message). */
static void parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
			   gpointer user_data)
{
	struct parsed_message *msg = user_data;
	const char *what = "MIME parser warning";
	char *clean;

	if ((size_t)code < G_N_ELEMENTS(parser_warnings) && parser_warnings[code] != NULL)
		what = parser_warnings[code];
	if (item == NULL || *item == '\0') {
		add_warning(msg, "%s", what);
		return;
	}
	clean = log_sanitize(item, 60);
	add_warning(msg, "%s: %s", what, clean);
	g_free(clean);
}

/* A header value as we hand it out: valid UTF-8, one line, trimmed. */
static char *clean_value(const char *value)
{
	char *s;

	if (value == NULL)
		return g_strdup("");
	s = g_utf8_make_valid(value, -1);
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = ' ';
	return g_strstrip(s);
}

/* An address we can answer: local@domain, no blanks or controls. */
static bool addr_usable(const char *addr)
{
	const char *at;

	if (addr == NULL || *addr == '\0' || *addr == '@')
		return false;
	for (const char *p = addr; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7F)
			return false;
	at = strrchr(addr, '@');
	return at != NULL && at[1] != '\0';
}

static struct mail_address *address_new(const char *name, const char *addr)
{
	struct mail_address *a = g_new0(struct mail_address, 1);

	a->name = clean_value(name);
	a->addr = addr_normalize(clean_value(addr));
	return a;
}

static void address_free(struct mail_address *a)
{
	if (a == NULL)
		return;
	g_free(a->name);
	g_free(a->addr);
	g_free(a);
}

static void address_free_cb(gpointer p)
{
	address_free(p);
}

static void header_free_cb(gpointer p)
{
	struct mail_header *h = p;

	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

static void attachment_free_cb(gpointer p)
{
	struct mail_attachment *a = p;

	g_free(a->filename);
	g_free(a->content_type);
	if (a->data != NULL)
		g_bytes_unref(a->data);
	g_free(a);
}

/* Appends the usable mailboxes of list (group members too) to out. */
static void collect_addresses(struct parsed_message *msg, InternetAddressList *list, GPtrArray *out,
			      const char *header, bool in_group)
{
	int n = list == NULL ? 0 : internet_address_list_length(list);

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *addr;

		if (INTERNET_ADDRESS_IS_GROUP(ia) && !in_group) {
			collect_addresses(
			    msg, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
			    out, header, true);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (!addr_usable(addr)) {
			char *clean = log_sanitize(addr, 60);
			add_warning(msg, "unusable address in %s: %s", header, clean);
			g_free(clean);
			continue;
		}
		if (out->len >= MAX_ADDRESSES) {
			add_warning(msg, "more than %d addresses in %s; the rest ignored",
				    MAX_ADDRESSES, header);
			return;
		}
		g_ptr_array_add(out, address_new(internet_address_get_name(ia), addr));
	}
}

/* The first usable mailbox of list, or NULL. */
static struct mail_address *first_address(struct parsed_message *msg, InternetAddressList *list,
					  const char *header)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(address_free_cb);
	struct mail_address *a = NULL;

	collect_addresses(msg, list, all, header, false);
	if (all->len > 0)
		a = g_ptr_array_steal_index(all, 0);
	g_ptr_array_unref(all);
	return a;
}

/* A msg-id as we keep it, or NULL when it is unusable. */
static char *msgid_clean(const char *id)
{
	size_t len = id == NULL ? 0 : strlen(id);

	if (len == 0 || len > MAX_MSGID_LEN || !g_utf8_validate(id, len, NULL))
		return NULL;
	for (const char *p = id; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7F || *p == '<' || *p == '>')
			return NULL;
	return g_strdup(id);
}

/* Appends the ids of one "<...>" segment, as GMime reads them. */
static void parse_msgid_segment(GMimeParserOptions *options, const char *start, size_t len,
				GPtrArray *ids)
{
	char *segment = g_strndup(start, len);
	GMimeReferences *refs = g_mime_references_parse(options, segment);

	for (int i = 0; i < g_mime_references_length(refs); i++) {
		char *id = msgid_clean(g_mime_references_get_message_id(refs, i));
		if (id != NULL)
			g_ptr_array_add(ids, id);
	}
	g_mime_references_free(refs);
	g_free(segment);
}

/* Parses In-Reply-To or References.  GMime stops at the first broken id,
 * so each <...> is given to it alone: junk between or inside ids costs only
 * that id.  Without any <, words that look like ids (x@y) are taken.  Of
 * more than MAX_REFERENCES ids, the first and the last ones are kept. */
static void parse_msgids(struct parsed_message *msg, GMimeParserOptions *options, const char *value,
			 GPtrArray *out)
{
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
	const char *p = value, *lt, *gt = NULL, *next;
	guint keep_last = MAX_REFERENCES - 1;

	if (value == NULL)
		goto out;
	if (strchr(value, '<') == NULL) {
		char **words = g_strsplit_set(value, " \t", -1);
		for (char **w = words; *w != NULL; w++) {
			char *id = strchr(*w, '@') != NULL ? msgid_clean(*w) : NULL;
			if (id != NULL)
				g_ptr_array_add(ids, id);
		}
		g_strfreev(words);
	}
	while ((lt = strchr(p, '<')) != NULL) {
		if (gt == NULL || gt < lt)
			gt = strchr(lt, '>');
		if (gt == NULL)
			break;
		/* a second '<' before the '>' starts the next id */
		next = strchr(lt + 1, '<');
		if (next != NULL && next < gt) {
			p = next;
			continue;
		}
		parse_msgid_segment(options, lt, gt + 1 - lt, ids);
		p = gt + 1;
	}
out:
	if (ids->len > MAX_REFERENCES)
		add_warning(msg, "%u message ids in one header; kept the first and the last %u",
			    ids->len, keep_last);
	for (guint i = 0; i < ids->len; i++) {
		if (ids->len <= MAX_REFERENCES || i == 0 || i >= ids->len - keep_last) {
			g_ptr_array_add(out, ids->pdata[i]);
			ids->pdata[i] = NULL;
		}
	}
	g_ptr_array_unref(ids);
}

/* Return-Path: "" for <>, the lower-cased addr-spec, or NULL if unusable. */
static char *parse_return_path(struct parsed_message *msg, const char *value)
{
	const char *start = value, *end, *colon;
	char *addr;

	if (value == NULL)
		return NULL;
	if ((start = strchr(value, '<')) != NULL) {
		start++;
		end = strchr(start, '>');
		if (end == NULL)
			end = start + strlen(start);
	} else {
		start = value;
		end = value + strlen(value);
	}
	/* source route: <@relay1,@relay2:user@host> */
	if (*start == '@' && (colon = memchr(start, ':', end - start)) != NULL)
		start = colon + 1;
	addr = g_strstrip(g_strndup(start, end - start));
	if (*addr == '\0')
		return addr;
	for (const char *p = addr; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7F) {
			char *clean = log_sanitize(value, 60);
			add_warning(msg, "unusable Return-Path: %s", clean);
			g_free(clean);
			g_free(addr);
			return NULL;
		}
	}
	return addr_normalize(addr);
}

static gint64 parse_date(struct parsed_message *msg, const char *value)
{
	GDateTime *dt;
	gint64 t = 0;
	char *clean;

	if (value == NULL)
		return 0;
	dt = g_mime_utils_header_decode_date(value);
	if (dt != NULL) {
		t = g_date_time_to_unix(dt);
		g_date_time_unref(dt);
	}
	if (t >= DATE_MIN && t < DATE_MAX)
		return t;
	clean = log_sanitize(value, 60);
	add_warning(msg, "unusable Date: %s", clean);
	g_free(clean);
	return 0;
}

/* Headers, addresses and ids.  Where a header that should be single is
 * repeated, the first one counts.  Fails only without a sender address. */
static int read_headers(struct parsed_message *msg, GMimeMessage *message,
			GMimeParserOptions *options, char **error_r)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(message));
	int count = g_mime_header_list_get_count(list);
	const char *value;
	GPtrArray *ids;
	char *msgid;

	if (count > MAX_HEADERS) {
		add_warning(msg, "%d header fields; only the first %d kept", count, MAX_HEADERS);
		count = MAX_HEADERS;
	}
	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		struct mail_header *mh = g_new0(struct mail_header, 1);

		mh->name = clean_value(g_mime_header_get_name(h));
		mh->value = clean_value(g_mime_header_get_value(h));
		g_ptr_array_add(msg->headers, mh);
	}

	msg->subject = g_strdup(message_header(msg, "Subject"));
	if (msg->subject == NULL)
		msg->subject = g_strdup("");

	value = message_header(msg, "Message-ID");
	if (value != NULL) {
		msgid = g_mime_utils_decode_message_id(value);
		msg->message_id = msgid_clean(msgid);
		if (msg->message_id == NULL)
			add_warning(msg, "unusable Message-ID");
		g_free(msgid);
	}

	ids = g_ptr_array_new_with_free_func(g_free);
	parse_msgids(msg, options, message_header(msg, "In-Reply-To"), ids);
	if (ids->len > 0)
		msg->in_reply_to = g_ptr_array_steal_index(ids, 0);
	g_ptr_array_unref(ids);
	parse_msgids(msg, options, message_header(msg, "References"), msg->references);

	msg->date = parse_date(msg, message_header(msg, "Date"));
	msg->return_path = parse_return_path(msg, message_header(msg, "Return-Path"));

	collect_addresses(msg, g_mime_message_get_to(message), msg->to, "To", false);
	collect_addresses(msg, g_mime_message_get_cc(message), msg->cc, "Cc", false);
	msg->sender = first_address(msg, g_mime_message_get_sender(message), "Sender");
	msg->from = first_address(msg, g_mime_message_get_from(message), "From");
	if (msg->from == NULL && msg->sender != NULL) {
		add_warning(msg, "no usable From; using Sender");
		msg->from = address_new(msg->sender->name, msg->sender->addr);
	}
	if (msg->from == NULL && addr_usable(msg->return_path)) {
		add_warning(msg, "no usable From or Sender; using Return-Path");
		msg->from = address_new("", msg->return_path);
	}
	if (msg->from == NULL) {
		error_set(error_r, "no sender address");
		return -1;
	}
	return 0;
}

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
		add_warning(msg, "could not decode a MIME part");
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
		a->filename = clean_value(filename);
		if (*a->filename == '\0') {
			g_free(a->filename);
			a->filename = NULL;
		}
	}
	a->content_type = content_type;
	a->data = data;
	g_ptr_array_add(msg->attachments, a);
}

/* Valid UTF-8, taking NUL bytes (which we drop) as valid. */
static bool text_is_utf8(const char *data, size_t len)
{
	const char *end = data + len, *bad;

	while (!g_utf8_validate(data, end - data, &bad)) {
		if (*bad != '\0')
			return false;
		data = bad + 1;
	}
	return true;
}

/* Warns when charset_to_utf8 will have to repair a label. */
static void check_charset(struct parsed_message *msg, const char *charset, const char *data,
			  size_t len)
{
	bool eight_bit = false, utf8 = text_is_utf8(data, len);
	char *label, *clean;
	const char *name;
	GIConv cd;

	for (size_t i = 0; i < len && !eight_bit; i++)
		eight_bit = (unsigned char)data[i] >= 0x80;
	if (charset == NULL || *charset == '\0') {
		if (eight_bit && !utf8)
			add_warning(msg, "8-bit text without charset; read as windows-1252");
		return;
	}
	label = g_ascii_strdown(charset, -1);
	clean = log_sanitize(charset, 40);
	name = g_mime_charset_iconv_name(label);
	cd = g_iconv_open("UTF-8", name != NULL ? name : label);
	if (cd == (GIConv)-1) {
		add_warning(msg, "unknown charset \"%s\"; read as %s", clean,
			    !eight_bit || utf8 ? "UTF-8" : "windows-1252");
	} else {
		g_iconv_close(cd);
		if (eight_bit && utf8 && strstr(label, "utf") == NULL &&
		    (g_str_has_prefix(label, "iso") || g_str_has_prefix(label, "windows-125") ||
		     g_str_has_prefix(label, "latin") || g_str_has_prefix(label, "koi8") ||
		     strcmp(label, "us-ascii") == 0))
			add_warning(msg, "text labelled \"%s\" is UTF-8", clean);
		else if (!utf8 && (strcmp(label, "utf-8") == 0 || strcmp(label, "utf8") == 0))
			add_warning(msg, "invalid UTF-8; stray bytes read as windows-1252");
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

	filename = g_mime_object_get_content_disposition_parameter(obj, "filename");
	if (filename == NULL)
		filename = g_mime_object_get_content_type_parameter(obj, "name");
	subject = inner == NULL ? NULL : g_mime_message_get_subject(inner);
	if (filename == NULL && subject != NULL) {
		cut = clean_value(subject);
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
			add_warning(w->msg, "could not write an attached message");
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
		add_warning(w->msg, "multipart without parts; parsed again with boundary found");
		for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(part)); i++)
			walk_object(w, g_mime_multipart_get_part(GMIME_MULTIPART(part), i),
				    depth + 1);
	} else {
		add_warning(w->msg, "multipart without parts; its content kept as text");
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

static void walk_object(struct walk *w, GMimeObject *obj, unsigned depth)
{
	if (obj == NULL)
		return;
	if (depth > w->max_depth) {
		if (!w->depth_warned)
			add_warning(w->msg,
				    "MIME nesting deeper than %u levels; deeper parts ignored",
				    w->max_depth);
		w->depth_warned = true;
		return;
	}
	if (w->parts >= w->max_parts) {
		if (!w->parts_warned)
			add_warning(w->msg, "more than %u MIME parts; the rest ignored",
				    w->max_parts);
		w->parts_warned = true;
		return;
	}
	w->parts++;
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
		add_warning(msg, "body text cut to %zu bytes", cut);
	}
	return g_string_free(buf, FALSE);
}

static void read_body(struct parsed_message *msg, GMimeMessage *message,
		      GMimeParserOptions *options, const struct message_limits *limits)
{
	struct walk w = {0};

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

static struct parsed_message *parsed_message_new(void)
{
	struct parsed_message *msg = g_new0(struct parsed_message, 1);

	msg->references = g_ptr_array_new_with_free_func(g_free);
	msg->to = g_ptr_array_new_with_free_func(address_free_cb);
	msg->cc = g_ptr_array_new_with_free_func(address_free_cb);
	msg->headers = g_ptr_array_new_with_free_func(header_free_cb);
	msg->attachments = g_ptr_array_new_with_free_func(attachment_free_cb);
	msg->warnings = g_ptr_array_new_with_free_func(g_free);
	return msg;
}

/* "type/subtype" of the top-level part, lower-cased ("text/plain" when
 * there is none). */
static char *top_content_type(GMimeMessage *message)
{
	GMimeObject *part = g_mime_message_get_mime_part(message);
	GMimeContentType *ct = part != NULL ? g_mime_object_get_content_type(part) : NULL;
	char *type, *lower;

	if (ct == NULL)
		return g_strdup("text/plain");
	type = g_mime_content_type_get_mime_type(ct);
	lower = g_ascii_strdown(type, -1);
	g_free(type);
	return lower;
}

int message_parse(const char *data, size_t len, const struct message_limits *limits,
		  struct parsed_message **msg_r, char **error_r)
{
	static const char *fallback_charsets[] = {"utf-8", "windows-1252", "iso-8859-1", NULL};
	struct message_limits lim = {0};
	struct parsed_message *msg = NULL;
	GMimeParserOptions *options = NULL;
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *message = NULL;
	size_t skipped = 0;
	int ret = -1;

	*msg_r = NULL;
	if (limits != NULL)
		lim = *limits;
	lim.max_depth = lim.max_depth != 0 ? lim.max_depth : DEFAULT_MAX_DEPTH;
	lim.max_parts = lim.max_parts != 0 ? lim.max_parts : DEFAULT_MAX_PARTS;
	lim.max_text = lim.max_text != 0 ? lim.max_text : DEFAULT_MAX_TEXT;
	if (lim.max_size != 0 && len > lim.max_size) {
		error_set(error_r, "message too large (%zu bytes, limit %zu)", len, lim.max_size);
		goto out;
	}
	msg = parsed_message_new();
	/* blank lines before the header would make GMime see no header at all */
	while (skipped < len && (data[skipped] == '\n' || data[skipped] == '\r'))
		skipped++;
	if (skipped > 0 && skipped < len)
		add_warning(msg, "blank lines before the header skipped");
	if (skipped == len) {
		error_set(error_r, "empty message");
		goto out;
	}

	options = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_fallback_charsets(options, fallback_charsets);
	g_mime_parser_options_set_warning_callback(options, parser_warning, msg);
	stream = g_mime_stream_mem_new_with_buffer(data + skipped, len - skipped);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	message = g_mime_parser_construct_message(parser, options);
	if (message == NULL) {
		error_set(error_r, "not a mail message (no header found)");
		goto out;
	}
	if (read_headers(msg, message, options, error_r) < 0)
		goto out;
	read_body(msg, message, options, &lim);
	msg->content_type = top_content_type(message);
	*msg_r = msg;
	msg = NULL;
	ret = 0;
out:
	/* the message's header lists call parser_warning with msg: drop it first */
	if (message != NULL)
		g_object_unref(message);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	if (options != NULL)
		g_mime_parser_options_free(options);
	message_free(&msg);
	return ret;
}

void message_free(struct parsed_message **msg)
{
	struct parsed_message *m = *msg;

	if (m == NULL)
		return;
	g_free(m->content_type);
	g_free(m->message_id);
	g_free(m->in_reply_to);
	g_ptr_array_unref(m->references);
	address_free(m->from);
	address_free(m->sender);
	g_free(m->return_path);
	g_ptr_array_unref(m->to);
	g_ptr_array_unref(m->cc);
	g_ptr_array_unref(m->headers);
	g_free(m->subject);
	g_free(m->text);
	g_ptr_array_unref(m->attachments);
	g_ptr_array_unref(m->warnings);
	g_free(m);
	*msg = NULL;
}

const char *message_header(const struct parsed_message *msg, const char *name)
{
	for (guint i = 0; i < msg->headers->len; i++) {
		const struct mail_header *h = msg->headers->pdata[i];

		if (g_ascii_strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}
