/*
 * message.c - message_parse(): the raw bytes of one incoming message become a
 * struct parsed_message (contract in message.h).  This file sets up the GMime
 * parser and reads the header: the header fields, addresses, message ids and
 * Date; message-body.c walks the MIME tree for the text and the attachments.
 *
 * GMime does the MIME parsing, in loose mode with the fallback charsets
 * utf-8, windows-1252, iso-8859-1 for raw 8-bit headers; its parser warnings
 * are collected as our warnings (message_add_warning, shared with
 * message-body.c through message-private.h).
 *
 * Everything handed out is copied, valid UTF-8 and free of NUL bytes.  GMime
 * objects are referenced only inside message_parse() and released there.
 */
#include "message.h"
#include "message-gmime.h"
#include "address.h"
#include "message-private.h"
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
/* A Date outside [1970-01-02, 2200-01-01) is junk. */
#define DATE_MIN G_GINT64_CONSTANT(86400)
#define DATE_MAX G_GINT64_CONSTANT(7258118400)

static bool gmime_ready;

/* glibc unloads a charset's gconv module when its last descriptor closes
 * and loads it again (open, mmap, relocations) at the next iconv_open: for
 * every message in such a charset, by GMime and by charset.c.  One
 * descriptor each kept open keeps the common ones loaded. */
static const char *const pinned_charsets[] = { "ISO-8859-1", "CP1252", "ISO-8859-15", "ISO-8859-2",
					       "KOI8-R" };
static GIConv pinned[G_N_ELEMENTS(pinned_charsets)];

void message_init(void)
{
	if (gmime_ready)
		return;
	g_mime_init();
	for (size_t i = 0; i < G_N_ELEMENTS(pinned_charsets); i++)
		pinned[i] = g_iconv_open("UTF-8", pinned_charsets[i]);
	gmime_ready = true;
}

void message_deinit(void)
{
	if (!gmime_ready)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(pinned_charsets); i++)
		if (pinned[i] != (GIConv)-1)
			g_iconv_close(pinned[i]);
	g_mime_shutdown();
	gmime_ready = false;
}

/* Records a repair, once, up to MAX_WARNINGS of them (message-private.h). */
void message_add_warning(struct parsed_message *msg, const char *fmt, ...)
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
		message_add_warning(msg, "%s", what);
		return;
	}
	clean = log_sanitize(item, 60);
	message_add_warning(msg, "%s: %s", what, clean);
	g_free(clean);
}

/* A header value as we hand it out: valid UTF-8, one line, trimmed. */
char *message_clean_value(const char *value)
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

/* addr must have passed address_check(): the matching key goes to addr,
 * the spelling as written (domain lower-cased) to spelling. */
static struct mail_address *address_new(const char *name, const char *addr)
{
	struct mail_address *a = g_new0(struct mail_address, 1);

	a->name = message_clean_value(name);
	a->addr = address_key(addr);
	a->spelling = address_normalise(addr);
	if (a->addr == NULL || a->spelling == NULL)
		log_panic("address_new: unchecked address");
	return a;
}

static struct mail_address *address_copy(const struct mail_address *a)
{
	struct mail_address *c = g_new0(struct mail_address, 1);

	c->name = g_strdup(a->name);
	c->addr = g_strdup(a->addr);
	c->spelling = g_strdup(a->spelling);
	return c;
}

static void address_free(struct mail_address *a)
{
	if (a == NULL)
		return;
	g_free(a->name);
	g_free(a->addr);
	g_free(a->spelling);
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
	g_free(h->raw_value);
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

/* Appends the mailboxes of list (group members too) that pass the address
 * rule to out; the others are warned about, the first one's reason also
 * goes to *why_r (if not NULL and still unset). */
static void collect_addresses(struct parsed_message *msg, InternetAddressList *list, GPtrArray *out,
			      const char *header, bool in_group, char **why_r)
{
	int n = list == NULL ? 0 : internet_address_list_length(list);

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *addr;
		char *why = NULL;

		if (INTERNET_ADDRESS_IS_GROUP(ia) && !in_group) {
			collect_addresses(msg,
					  internet_address_group_get_members(
						  INTERNET_ADDRESS_GROUP(ia)),
					  out, header, true, why_r);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (address_check(addr, &why) < 0) {
			char *clean = log_sanitize(addr, 60);
			message_add_warning(msg, "unusable address in %s: %s (%s)", header, clean,
					    why);
			if (why_r != NULL && *why_r == NULL)
				*why_r = g_strdup_printf("%s %s: %s", header, clean, why);
			g_free(clean);
			g_free(why);
			continue;
		}
		if (out->len >= MAX_ADDRESSES) {
			message_add_warning(msg, "more than %d addresses in %s; the rest ignored",
					    MAX_ADDRESSES, header);
			return;
		}
		g_ptr_array_add(out, address_new(internet_address_get_name(ia), addr));
	}
}

/* The first usable mailbox of list, or NULL. */
static struct mail_address *first_address(struct parsed_message *msg, InternetAddressList *list,
					  const char *header, char **why_r)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(address_free_cb);
	struct mail_address *a = NULL;

	collect_addresses(msg, list, all, header, false, why_r);
	if (all->len > 0)
		a = g_ptr_array_steal_index(all, 0);
	g_ptr_array_unref(all);
	return a;
}

/* When GMime found no mailbox in a From header that is there, the addr-spec
 * as written (in the last <...>, else the whole value) gets the address
 * rule's verdict: GMime drops what it cannot parse without saying why, and
 * the rule is ours.  Returns the mailbox, or NULL with the reason for the
 * failed list in *why_r. */
static struct mail_address *raw_from(struct parsed_message *msg, const char *value, char **why_r)
{
	const char *lt = strrchr(value, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
	char *addr, *why = NULL, *clean;
	struct mail_address *a = NULL;

	if (lt != NULL && gt != NULL)
		addr = g_strndup(lt + 1, gt - lt - 1);
	else
		addr = g_strdup(value);
	g_strstrip(addr);
	if (address_check(addr, &why) == 0) {
		a = address_new("", addr);
		message_add_warning(msg, "From not understood by the MIME parser; address taken "
					 "as written");
		goto out;
	}
	clean = log_sanitize(addr, 60);
	message_add_warning(msg, "unusable address in From: %s (%s)", clean, why);
	if (*why_r == NULL)
		*why_r = g_strdup_printf("From %s: %s", clean, why);
	g_free(clean);
out:
	g_free(why);
	g_free(addr);
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
		message_add_warning(msg,
				    "%u message ids in one header; kept the first and the last %u",
				    ids->len, keep_last);
	for (guint i = 0; i < ids->len; i++) {
		if (ids->len <= MAX_REFERENCES || i == 0 || i >= ids->len - keep_last) {
			g_ptr_array_add(out, ids->pdata[i]);
			ids->pdata[i] = NULL;
		}
	}
	g_ptr_array_unref(ids);
}

/* Return-Path: "" for <>, the addr-spec's matching key (address.h), or NULL
 * if it breaks the address rule. */
static char *parse_return_path(struct parsed_message *msg, const char *value)
{
	const char *start = value, *end, *colon;
	char *addr, *key, *why = NULL;

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
	if (address_check(addr, &why) < 0) {
		char *clean = log_sanitize(value, 60);
		message_add_warning(msg, "unusable Return-Path: %s (%s)", clean, why);
		g_free(clean);
		g_free(why);
		g_free(addr);
		return NULL;
	}
	key = address_key(addr);
	g_free(addr);
	return key;
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
	message_add_warning(msg, "unusable Date: %s", clean);
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
	char *msgid, *from_why = NULL;

	if (count > MAX_HEADERS) {
		message_add_warning(msg, "%d header fields; only the first %d kept", count,
				    MAX_HEADERS);
		count = MAX_HEADERS;
	}
	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		struct mail_header *mh = g_new0(struct mail_header, 1);

		mh->name = message_clean_value(g_mime_header_get_name(h));
		mh->value = message_clean_value(g_mime_header_get_value(h));
		mh->raw_value = message_clean_value(g_mime_header_get_raw_value(h));
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
			message_add_warning(msg, "unusable Message-ID");
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

	collect_addresses(msg, g_mime_message_get_to(message), msg->to, "To", false, NULL);
	collect_addresses(msg, g_mime_message_get_cc(message), msg->cc, "Cc", false, NULL);
	msg->sender = first_address(msg, g_mime_message_get_sender(message), "Sender", NULL);
	msg->from = first_address(msg, g_mime_message_get_from(message), "From", &from_why);
	value = message_header(msg, "From");
	if (msg->from == NULL && from_why == NULL && value != NULL)
		msg->from = raw_from(msg, value, &from_why);
	if (msg->from == NULL && msg->sender != NULL) {
		message_add_warning(msg, "no usable From; using Sender");
		msg->from = address_copy(msg->sender);
	}
	if (msg->from == NULL && msg->return_path != NULL && msg->return_path[0] != '\0') {
		message_add_warning(msg, "no usable From or Sender; using Return-Path");
		msg->from = address_new("", msg->return_path);
	}
	if (msg->from == NULL) {
		/* The reason names the broken From, so that whoever reads the
		 * failed list sees why this customer got no ticket. */
		if (from_why != NULL)
			error_set(error_r, "no sender address (unusable %s)", from_why);
		else
			error_set(error_r, "no sender address");
		g_free(from_why);
		return -1;
	}
	g_free(from_why);
	return 0;
}

static struct parsed_message *parsed_message_new(void)
{
	struct parsed_message *msg = g_new0(struct parsed_message, 1);

	msg->references = g_ptr_array_new_with_free_func(g_free);
	msg->to = g_ptr_array_new_with_free_func(address_free_cb);
	msg->cc = g_ptr_array_new_with_free_func(address_free_cb);
	msg->headers = g_ptr_array_new_with_free_func(header_free_cb);
	msg->attachments = g_ptr_array_new_with_free_func(attachment_free_cb);
	msg->encrypted = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
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

GMimeMessage *message_gmime_open(struct message_gmime *g, const char *data, size_t len,
				 GMimeParserOptions *options)
{
	memset(g, 0, sizeof(*g));
	g->borrowed = g_byte_array_new();
	g->borrowed->data = (guint8 *)data;
	g->borrowed->len = (guint)MIN(len, (size_t)G_MAXUINT);
	g->stream = g_mime_stream_mem_new_with_byte_array(g->borrowed);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(g->stream), FALSE);
	g->parser = g_mime_parser_new_with_stream(g->stream);
	g_mime_parser_set_format(g->parser, GMIME_FORMAT_MESSAGE);
	g->message = g_mime_parser_construct_message(g->parser, options);
	return g->message;
}

void message_gmime_close(struct message_gmime *g)
{
	g_clear_object(&g->message);
	g_clear_object(&g->parser);
	g_clear_object(&g->stream);
	if (g->borrowed != NULL) {
		/* hand the borrowed buffer back untouched, free only the array */
		g->borrowed->data = NULL;
		g->borrowed->len = 0;
		g_byte_array_free(g->borrowed, TRUE);
		g->borrowed = NULL;
	}
}

/* The parser's options: loose, with our fallback charsets, warnings into msg. */
static GMimeParserOptions *parser_options(struct parsed_message *msg)
{
	static const char *fallback_charsets[] = { "utf-8", "windows-1252", "iso-8859-1", NULL };
	GMimeParserOptions *options = g_mime_parser_options_new();

	g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_fallback_charsets(options, fallback_charsets);
	g_mime_parser_options_set_warning_callback(options, parser_warning, msg);
	return options;
}

/* limits (may be NULL) with every 0 replaced by its default. */
static void limits_fill(const struct message_limits *limits, struct message_limits *lim)
{
	if (limits != NULL)
		*lim = *limits;
	lim->max_depth = lim->max_depth != 0 ? lim->max_depth : DEFAULT_MAX_DEPTH;
	lim->max_parts = lim->max_parts != 0 ? lim->max_parts : DEFAULT_MAX_PARTS;
	lim->max_text = lim->max_text != 0 ? lim->max_text : DEFAULT_MAX_TEXT;
}

int message_parse_entity(const char *data, size_t len, const struct message_limits *limits,
			 struct parsed_message **msg_r, char **error_r)
{
	struct message_limits lim = { 0 };
	struct parsed_message *msg;
	GMimeParserOptions *options;
	struct message_gmime g = { 0 };
	int ret = -1;

	*msg_r = NULL;
	limits_fill(limits, &lim);
	if (lim.max_size != 0 && len > lim.max_size) {
		error_set(error_r, "entity too large (%zu bytes, limit %zu)", len, lim.max_size);
		return -1;
	}
	msg = parsed_message_new();
	msg->from = g_new0(struct mail_address, 1);
	msg->from->name = g_strdup("");
	msg->from->addr = g_strdup("");
	msg->from->spelling = g_strdup("");
	msg->subject = g_strdup("");
	options = parser_options(msg);
	if (message_gmime_open(&g, data, len, options) == NULL) {
		error_set(error_r, "not a MIME entity (no header found)");
		goto out;
	}
	message_repair_encoded_words(GMIME_OBJECT(g.message));
	message_read_body(msg, g.message, options, &lim);
	msg->content_type = top_content_type(g.message);
	*msg_r = msg;
	msg = NULL;
	ret = 0;
out:
	message_gmime_close(&g);
	g_mime_parser_options_free(options);
	message_free(&msg);
	return ret;
}

int message_parse(const char *data, size_t len, const struct message_limits *limits,
		  struct parsed_message **msg_r, char **error_r)
{
	struct message_limits lim = { 0 };
	struct parsed_message *msg = NULL;
	GMimeParserOptions *options = NULL;
	struct message_gmime g = { 0 };
	GMimeMessage *message = NULL;
	size_t skipped = 0;
	int ret = -1;

	*msg_r = NULL;
	limits_fill(limits, &lim);
	if (lim.max_size != 0 && len > lim.max_size) {
		error_set(error_r, "message too large (%zu bytes, limit %zu)", len, lim.max_size);
		goto out;
	}
	msg = parsed_message_new();
	/* blank lines before the header would make GMime see no header at all */
	while (skipped < len && (data[skipped] == '\n' || data[skipped] == '\r'))
		skipped++;
	if (skipped > 0 && skipped < len)
		message_add_warning(msg, "blank lines before the header skipped");
	if (skipped == len) {
		error_set(error_r, "empty message");
		goto out;
	}

	options = parser_options(msg);
	message = message_gmime_open(&g, data + skipped, len - skipped, options);
	if (message == NULL) {
		error_set(error_r, "not a mail message (no header found)");
		goto out;
	}
	message_repair_encoded_words(GMIME_OBJECT(message));
	if (read_headers(msg, message, options, error_r) < 0)
		goto out;
	message_read_body(msg, message, options, &lim);
	msg->content_type = top_content_type(message);
	*msg_r = msg;
	msg = NULL;
	ret = 0;
out:
	/* the message's header lists call parser_warning with msg: drop it
	 * first (message_gmime_close does), msg after */
	message_gmime_close(&g);
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
	g_ptr_array_unref(m->encrypted);
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
