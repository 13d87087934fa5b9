/*
 * compose.c - build outgoing mail with GMime; our Message-IDs and
 * Thread-Index.
 *
 * Every value that came from outside (names, subjects, template overrides,
 * Message-IDs of other people's mail) is cleaned before GMime sees it: CR and
 * LF are removed, other control characters become spaces and invalid UTF-8 is
 * repaired, so no value can start a header line of its own.  Addresses are
 * checked by the address rule (address.h) rather than repaired.  GMime does the RFC 2047 encoding and folding.
 *
 * The body is written as one text/plain; charset=utf-8 part, 7bit when it is
 * plain ASCII with lines of at most 998 bytes, quoted-printable otherwise.
 * Line ends are normalised to LF (GMime writes them as CRLF) and a missing
 * final newline is added.
 *
 * A mail with an encrypted payload is RFC 3156 PGP/MIME instead: the same
 * headers over multipart/encrypted; protocol="application/pgp-encrypted",
 * whose first part is application/pgp-encrypted "Version: 1" and second
 * the armored message as application/octet-stream "encrypted.asc".  What
 * was encrypted is the caller's business (compose_entity() makes it).
 *
 * Template overrides (extra_headers): From and Reply-To replace those
 * headers; Subject is used only when mail->subject is empty, because the
 * final subject carries the ticket tag that only the caller can add; other
 * names are ignored.  In-Reply-To is appended to References when the list
 * does not name it (RFC 5322 3.6.4); unusable msg-ids are skipped.  A date
 * of 0 means now.
 */
#include "compose.h"

#include "address.h"
#include "message.h"
#include "util.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#define COMPOSE_MAX_LINE   998
#define COMPOSE_MAX_MSGID  250
#define MSGID_RANDOM_BYTES 8
#define MSGID_MAC_BYTES    10
/* Seconds from 1601-01-01 (FILETIME epoch) to 1970-01-01. */
#define FILETIME_UNIX_OFFSET 11644473600ULL

/* Copy of s that is safe as a header value: CR/LF removed, other control
 * characters turned into spaces, valid UTF-8. */
static char *compose_clean(const char *s)
{
	char *valid, *out, *w;

	valid = g_utf8_make_valid(s != NULL ? s : "", -1);
	out = g_malloc(strlen(valid) + 1);
	w = out;
	for (const char *p = valid; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r' || c == '\n')
			continue;
		*w++ = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
	}
	*w = '\0';
	g_free(valid);
	return out;
}

/* Checks one address against the address rule (address.h), with the
 * header's name in the reason.  The rule admits no CR, LF or other control
 * character, so a checked address cannot start a header line of its own;
 * GMime writes it as given (a quoted local part stays quoted), the domain
 * as A-label. */
static int compose_addr_check(const char *what, const char *addr, char **error_r)
{
	char *why = NULL, *clean;

	if (addr == NULL || addr[0] == '\0') {
		error_set(error_r, "missing %s address", what);
		return -1;
	}
	if (address_check(addr, &why) == 0)
		return 0;
	clean = log_sanitize(addr, 80);
	error_set(error_r, "invalid %s address %s: %s", what, clean, why);
	g_free(clean);
	g_free(why);
	return -1;
}

/* The msg-id without surrounding blanks and <>, or NULL if it is unusable
 * (empty, too long, not printable ASCII, or containing '<' '>'). */
static char *compose_msgid_clean(const char *id)
{
	const char *start, *end;

	if (id == NULL)
		return NULL;
	start = id;
	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - start >= 2 && *start == '<' && end[-1] == '>') {
		start++;
		end--;
	}
	if (end == start || end - start > COMPOSE_MAX_MSGID)
		return NULL;
	for (const char *p = start; p < end; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>')
			return NULL;
	return g_strndup(start, end - start);
}

/* Skips "Re:", "Fwd:", "Fw:", "AW:", "WG:" (any case) at p; returns where
 * the rest starts, or p if there is no such prefix. */
static const char *compose_skip_reply_prefix(const char *p)
{
	static const char *const prefixes[] = { "re", "fwd", "fw", "aw", "wg" };

	for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (g_ascii_strncasecmp(p, prefixes[i], n) == 0 && p[n] == ':')
			return p + n + 1;
	}
	return p;
}

/* Length of a ticket tag "[Tag#123]" at p, or 0. */
static size_t compose_tag_len(const char *p)
{
	const char *q = p + 1;

	if (*p != '[')
		return 0;
	while (*q != '\0' && *q != '[' && *q != ']' && *q != '#')
		q++;
	if (q == p + 1 || *q != '#' || !g_ascii_isdigit(q[1]))
		return 0;
	q++;
	while (g_ascii_isdigit(*q))
		q++;
	return *q == ']' ? (size_t)(q + 1 - p) : 0;
}

/* Thread-Topic: the subject without ticket tags and reply/forward prefixes,
 * with runs of blanks collapsed. */
static char *compose_thread_topic(const char *subject)
{
	GString *out;
	const char *p, *prev;

	out = g_string_sized_new(strlen(subject));
	/* Drop every tag, wherever it is. */
	for (p = subject; *p != '\0';) {
		size_t n = compose_tag_len(p);
		if (n > 0) {
			p += n;
			continue;
		}
		g_string_append_c(out, *p);
		p++;
	}
	/* Then the prefixes at the start. */
	p = out->str;
	do {
		prev = p;
		while (*p == ' ' || *p == '\t')
			p++;
		p = compose_skip_reply_prefix(p);
	} while (p != prev);
	g_string_erase(out, 0, p - out->str);
	/* Collapse blanks. */
	for (size_t i = 0; i < out->len;) {
		if ((out->str[i] == ' ' || out->str[i] == '\t') &&
		    (i == 0 || i + 1 == out->len || out->str[i + 1] == ' ' ||
		     out->str[i + 1] == '\t')) {
			g_string_erase(out, i, 1);
			continue;
		}
		if (out->str[i] == '\t')
			out->str[i] = ' ';
		i++;
	}
	return g_string_free(out, FALSE);
}

/* Appends a mailbox to one of msg's address lists, with a UTF-8 display
 * name (GMime RFC 2047-encodes it when it is not ASCII). */
static void compose_add_mailbox(GMimeMessage *msg, GMimeAddressType type, const char *name,
				const char *addr)
{
	InternetAddress *ia;
	char *clean_name;

	clean_name = compose_clean(name);
	ia = internet_address_mailbox_new(clean_name[0] != '\0' ? clean_name : NULL, addr);
	internet_address_set_charset(ia, "utf-8");
	internet_address_list_add(g_mime_message_get_addresses(msg, type), ia);
	g_object_unref(ia);
	g_free(clean_name);
}

/* Replaces one of msg's address lists by the addresses in value (a template
 * override such as "Support <help@example.com>"). */
static int compose_override_addresses(GMimeMessage *msg, GMimeAddressType type, const char *header,
				      const char *value, char **error_r)
{
	InternetAddressList *parsed = NULL, *list;
	char *clean;
	int ret = -1, count;

	clean = compose_clean(value);
	parsed = internet_address_list_parse(NULL, clean);
	count = parsed != NULL ? internet_address_list_length(parsed) : 0;
	if (count == 0) {
		error_set(error_r, "%s override: no address in \"%s\"", header, clean);
		goto out;
	}
	for (int i = 0; i < count; i++) {
		InternetAddress *ia = internet_address_list_get_address(parsed, i);
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia) ||
		    !address_valid(
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)))) {
			error_set(error_r, "%s override: invalid address in \"%s\"", header, clean);
			goto out;
		}
		internet_address_set_charset(ia, "utf-8");
	}
	list = g_mime_message_get_addresses(msg, type);
	internet_address_list_clear(list);
	internet_address_list_append(list, parsed);
	ret = 0;
out:
	if (parsed != NULL)
		g_object_unref(parsed);
	g_free(clean);
	return ret;
}

/* Sets In-Reply-To and References and returns the thread's root msg-id
 * (first reference, else the parent, else own_id), newly allocated.
 * Unusable msg-ids are skipped; the parent is appended to References when
 * the caller's list does not name it (RFC 5322 3.6.4). */
static char *compose_set_references(GMimeMessage *msg, const struct outgoing_mail *mail,
				    const char *own_id)
{
	GString *refs;
	char *parent, *root = NULL;
	bool parent_seen = false;

	parent = compose_msgid_clean(mail->in_reply_to);
	refs = g_string_new(NULL);
	for (size_t i = 0; mail->references != NULL && mail->references[i] != NULL; i++) {
		char *id = compose_msgid_clean(mail->references[i]);
		if (id == NULL)
			continue;
		if (parent != NULL && strcmp(id, parent) == 0)
			parent_seen = true;
		if (root == NULL)
			root = g_strdup(id);
		g_string_append_printf(refs, "%s<%s>", refs->len > 0 ? " " : "", id);
		g_free(id);
	}
	if (parent != NULL) {
		char *value = g_strdup_printf("<%s>", parent);
		g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", value, NULL);
		g_free(value);
		if (!parent_seen)
			g_string_append_printf(refs, "%s<%s>", refs->len > 0 ? " " : "", parent);
		if (root == NULL)
			root = g_strdup(parent);
	}
	if (refs->len > 0)
		g_mime_object_set_header(GMIME_OBJECT(msg), "References", refs->str, NULL);
	if (root == NULL)
		root = g_strdup(own_id);
	g_string_free(refs, TRUE);
	g_free(parent);
	return root;
}

/* The body as we send it: valid UTF-8, LF line ends, ending in a newline.
 * *needs_qp_r tells whether 7bit is impossible (8-bit data or long lines). */
static char *compose_body_text(const char *body, bool *needs_qp_r)
{
	GString *out;
	char *valid;
	size_t line_len = 0;
	bool needs_qp = false;

	valid = g_utf8_make_valid(body != NULL ? body : "", -1);
	out = g_string_sized_new(strlen(valid) + 1);
	for (const char *p = valid; *p != '\0'; p++) {
		char c = *p;
		if (c == '\r') {
			if (p[1] == '\n')
				continue;
			c = '\n';
		}
		g_string_append_c(out, c);
		if (c == '\n') {
			line_len = 0;
			continue;
		}
		if ((unsigned char)c >= 0x80 || ++line_len > COMPOSE_MAX_LINE)
			needs_qp = true;
	}
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
	g_free(valid);
	*needs_qp_r = needs_qp;
	return g_string_free(out, FALSE);
}

/* One attachment passed on: base64, its name RFC 2231-encoded by GMime. */
static GMimeObject *compose_attachment(const struct mail_attachment *att)
{
	const char *type =
		att->content_type != NULL ? att->content_type : "application/octet-stream";
	GMimeContentType *ct = g_mime_content_type_parse(NULL, type);
	GMimePart *part;
	GMimeStream *stream;
	GMimeDataWrapper *wrapper;
	gsize size;
	const void *data = g_bytes_get_data(att->data, &size);

	part = g_mime_part_new_with_type(ct != NULL ? g_mime_content_type_get_media_type(ct)
						    : "application",
					 ct != NULL ? g_mime_content_type_get_media_subtype(ct)
						    : "octet-stream");
	if (ct != NULL)
		g_object_unref(ct);
	stream = g_mime_stream_mem_new_with_buffer(data != NULL ? data : "", size);
	wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, wrapper);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	if (att->filename != NULL) {
		char *name = compose_clean(att->filename);
		g_mime_part_set_filename(part, name);
		g_free(name);
	}
	g_object_unref(wrapper);
	g_object_unref(stream);
	return GMIME_OBJECT(part);
}

/* The text/plain; charset=utf-8 part holding body, or multipart/mixed of
 * it and the attachments (a new reference). */
static GMimeObject *compose_body_part(const char *body, GPtrArray *attachments)
{
	GMimeObject *result;
	GMimePart *part;
	GMimeStream *stream;
	GMimeDataWrapper *wrapper;
	char *text;
	bool needs_qp;

	text = compose_body_text(body, &needs_qp);
	part = g_mime_part_new_with_type("text", "plain");
	stream = g_mime_stream_mem_new_with_buffer(text, strlen(text));
	wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, wrapper);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	g_mime_part_set_content_encoding(part, needs_qp ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
							: GMIME_CONTENT_ENCODING_7BIT);
	if (attachments != NULL && attachments->len > 0) {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
		g_mime_multipart_add(mixed, GMIME_OBJECT(part));
		for (guint i = 0; i < attachments->len; i++) {
			GMimeObject *a = compose_attachment(g_ptr_array_index(attachments, i));
			g_mime_multipart_add(mixed, a);
			g_object_unref(a);
		}
		g_object_unref(part);
		result = GMIME_OBJECT(mixed);
	} else {
		result = GMIME_OBJECT(part);
	}
	g_object_unref(wrapper);
	g_object_unref(stream);
	g_free(text);
	return result;
}

/* RFC 3156 section 4: multipart/encrypted of the version part and the
 * armored OpenPGP message (a new reference). */
static GMimeObject *compose_encrypted_part(const GByteArray *armored)
{
	static const char version[] = "Version: 1\n";
	GMimeMultipartEncrypted *enc = g_mime_multipart_encrypted_new();
	GMimePart *ver, *data;
	GMimeStream *stream;
	GMimeDataWrapper *wrapper;

	g_mime_object_set_content_type_parameter(GMIME_OBJECT(enc), "protocol",
						 "application/pgp-encrypted");
	g_mime_multipart_set_boundary(GMIME_MULTIPART(enc), NULL); /* _new() sets none */

	ver = g_mime_part_new_with_type("application", "pgp-encrypted");
	stream = g_mime_stream_mem_new_with_buffer(version, strlen(version));
	wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(ver, wrapper);
	g_mime_part_set_content_encoding(ver, GMIME_CONTENT_ENCODING_7BIT);
	g_mime_object_set_header(GMIME_OBJECT(ver), "Content-Description",
				 "PGP/MIME version identification", NULL);
	g_object_unref(wrapper);
	g_object_unref(stream);

	data = g_mime_part_new_with_type("application", "octet-stream");
	stream = g_mime_stream_mem_new_with_buffer((const char *)armored->data, armored->len);
	wrapper = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(data, wrapper);
	g_mime_part_set_content_encoding(data, GMIME_CONTENT_ENCODING_7BIT);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(data), "name", "encrypted.asc");
	g_mime_object_set_header(GMIME_OBJECT(data), "Content-Description",
				 "OpenPGP encrypted message", NULL);
	g_mime_object_set_header(GMIME_OBJECT(data), "Content-Disposition",
				 "inline; filename=\"encrypted.asc\"", NULL);
	g_object_unref(wrapper);
	g_object_unref(stream);

	g_mime_multipart_add(GMIME_MULTIPART(enc), GMIME_OBJECT(ver));
	g_mime_multipart_add(GMIME_MULTIPART(enc), GMIME_OBJECT(data));
	g_object_unref(ver);
	g_object_unref(data);
	return GMIME_OBJECT(enc);
}

/* Makes msg's content the body part, or the encrypted form when the mail
 * carries one. */
static void compose_set_body(GMimeMessage *msg, const struct outgoing_mail *mail)
{
	GMimeObject *part = mail->encrypted != NULL
				    ? compose_encrypted_part(mail->encrypted)
				    : compose_body_part(mail->body, mail->attachments);

	g_mime_message_set_mime_part(msg, part);
	g_object_unref(part);
}

/* Serialises obj (a message or an entity) with CRLF line ends into a new
 * byte array. */
static int compose_write(GMimeObject *obj, GByteArray **out_r, char **error_r)
{
	GMimeFormatOptions *format;
	GMimeStream *stream;
	GByteArray *bytes;
	int ret = -1;

	bytes = g_byte_array_new();
	stream = g_mime_stream_mem_new_with_byte_array(bytes);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	format = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
	if (g_mime_object_write_to_stream(obj, format, stream) < 0 ||
	    g_mime_stream_flush(stream) < 0) {
		error_set(error_r, "cannot serialise the %s",
			  GMIME_IS_MESSAGE(obj) ? "message" : "MIME entity");
		g_byte_array_free(bytes, TRUE);
		goto out;
	}
	*out_r = bytes;
	ret = 0;
out:
	g_mime_format_options_free(format);
	g_object_unref(stream);
	return ret;
}

/* Template overrides, cleaned; NULL when not overridden. */
struct compose_overrides {
	const char *subject;
	const char *from;
	const char *reply_to;
};

static void compose_find_overrides(const GPtrArray *headers, struct compose_overrides *ov)
{
	memset(ov, 0, sizeof(*ov));
	for (guint i = 0; headers != NULL && i < headers->len; i++) {
		const struct mail_header *h = g_ptr_array_index(headers, i);
		if (h == NULL || h->name == NULL || h->value == NULL)
			continue;
		/* Only these three are overridable (template.h); a later entry wins. */
		if (g_ascii_strcasecmp(h->name, "Subject") == 0)
			ov->subject = h->value;
		else if (g_ascii_strcasecmp(h->name, "From") == 0)
			ov->from = h->value;
		else if (g_ascii_strcasecmp(h->name, "Reply-To") == 0)
			ov->reply_to = h->value;
	}
}

int compose_message(const struct outgoing_mail *mail, GByteArray **out_r, char **error_r)
{
	struct compose_overrides ov;
	GMimeMessage *msg = NULL;
	GDateTime *date = NULL;
	char *own_id = NULL, *subject = NULL, *topic = NULL, *root = NULL, *index = NULL;
	char *auto_value = NULL;
	time_t when;
	int ret = -1;

	*out_r = NULL;
	if (compose_addr_check("From", mail->from_addr, error_r) < 0 ||
	    compose_addr_check("To", mail->to_addr, error_r) < 0)
		goto out;
	for (size_t i = 0; mail->cc != NULL && mail->cc[i] != NULL; i++)
		if (compose_addr_check("Cc", mail->cc[i], error_r) < 0)
			goto out;
	own_id = compose_msgid_clean(mail->message_id);
	if (own_id == NULL) {
		error_set(error_r, "missing or invalid Message-ID");
		goto out;
	}
	compose_find_overrides(mail->extra_headers, &ov);

	msg = g_mime_message_new(TRUE);
	compose_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, mail->from_name, mail->from_addr);
	if (ov.from != NULL &&
	    compose_override_addresses(msg, GMIME_ADDRESS_TYPE_FROM, "From", ov.from, error_r) < 0)
		goto out;
	if (ov.reply_to != NULL && compose_override_addresses(msg, GMIME_ADDRESS_TYPE_REPLY_TO,
							      "Reply-To", ov.reply_to, error_r) < 0)
		goto out;
	compose_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, mail->to_name, mail->to_addr);
	for (size_t i = 0; mail->cc != NULL && mail->cc[i] != NULL; i++)
		compose_add_mailbox(msg, GMIME_ADDRESS_TYPE_CC, NULL, mail->cc[i]);

	/* mail->subject is final (the tag, which only the caller can add, is in
	 * it), so a Subject override counts only when there is none. */
	subject = compose_clean(mail->subject != NULL && mail->subject[0] != '\0' ? mail->subject
										  : ov.subject);
	g_mime_message_set_subject(msg, subject, "utf-8");

	when = mail->date != 0 ? mail->date : time(NULL);
	date = g_date_time_new_from_unix_utc((gint64)when);
	if (date == NULL) {
		error_set(error_r, "date out of range");
		goto out;
	}
	g_mime_message_set_date(msg, date);
	g_mime_message_set_message_id(msg, own_id);
	root = compose_set_references(msg, mail, own_id);

	topic = compose_thread_topic(subject);
	if (topic[0] != '\0')
		g_mime_object_set_header(GMIME_OBJECT(msg), "Thread-Topic", topic, "utf-8");
	index = compose_thread_index(root, when);
	g_mime_object_set_header(GMIME_OBJECT(msg), "Thread-Index", index, NULL);

	if (mail->automatic) {
		auto_value = compose_clean(mail->auto_submitted);
		g_strstrip(auto_value);
		g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
					 auto_value[0] != '\0' ? auto_value : "auto-replied", NULL);
		g_mime_object_set_header(GMIME_OBJECT(msg), "Precedence", "bulk", NULL);
		g_mime_object_set_header(GMIME_OBJECT(msg), "X-Auto-Response-Suppress", "All",
					 NULL);
	}

	compose_set_body(msg, mail);
	ret = compose_write(GMIME_OBJECT(msg), out_r, error_r);
out:
	if (date != NULL)
		g_date_time_unref(date);
	if (msg != NULL)
		g_object_unref(msg);
	g_free(own_id);
	g_free(subject);
	g_free(topic);
	g_free(root);
	g_free(index);
	g_free(auto_value);
	return ret;
}

int compose_entity(const char *body, GPtrArray *attachments, GByteArray **out_r, char **error_r)
{
	GMimeObject *part = compose_body_part(body, attachments);
	int ret;

	*out_r = NULL;
	ret = compose_write(part, out_r, error_r);
	g_object_unref(part);
	return ret;
}

char *compose_thread_index(const char *root_msgid, time_t now)
{
	guint8 raw[6 + 16];
	GChecksum *md5;
	char *id;
	guint64 filetime;
	gsize digest_len = 16;

	/* FILETIME: 100 ns units since 1601-01-01; its six high bytes. */
	filetime = ((guint64)now + FILETIME_UNIX_OFFSET) * 10000000ULL;
	for (int i = 0; i < 6; i++)
		raw[i] = (guint8)(filetime >> (56 - 8 * i));
	id = compose_msgid_clean(root_msgid);
	md5 = g_checksum_new(G_CHECKSUM_MD5);
	if (id != NULL)
		g_checksum_update(md5, (const guchar *)id, strlen(id));
	g_checksum_get_digest(md5, raw + 6, &digest_len);
	g_checksum_free(md5);
	g_free(id);
	return g_base64_encode(raw, sizeof(raw));
}

/* Fills buf with unpredictable bytes from the kernel; there is no sane way
 * to go on without them. */
static void compose_random(void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((char *)buf + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_fatal(EX_OSERR, "getrandom: %s", g_strerror(errno));
		}
		done += (size_t)n;
	}
}

/* Lower-case hex of the first MSGID_MAC_BYTES of HMAC-SHA256(secret, data). */
static void compose_msgid_mac(const void *secret, size_t secret_len, const char *data,
			      char hex_r[MSGID_MAC_BYTES * 2 + 1])
{
	static const char digits[] = "0123456789abcdef";
	guint8 digest[32];
	gsize digest_len = sizeof(digest);
	GHmac *hmac;

	hmac = g_hmac_new(G_CHECKSUM_SHA256, secret, secret_len);
	g_hmac_update(hmac, (const guchar *)data, strlen(data));
	g_hmac_get_digest(hmac, digest, &digest_len);
	g_hmac_unref(hmac);
	for (int i = 0; i < MSGID_MAC_BYTES; i++) {
		hex_r[2 * i] = digits[digest[i] >> 4];
		hex_r[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex_r[MSGID_MAC_BYTES * 2] = '\0';
	memset(digest, 0, sizeof(digest));
}

char *msgid_generate(const void *secret, size_t secret_len, long long ticket_id, const char *domain)
{
	guint8 rnd[MSGID_RANDOM_BYTES];
	char mac[MSGID_MAC_BYTES * 2 + 1];
	GString *id;

	if (secret == NULL || secret_len == 0 || ticket_id <= 0 || domain == NULL ||
	    domain[0] == '\0')
		log_panic("msgid_generate: needs a secret, a ticket id > 0 and a domain");
	compose_random(rnd, sizeof(rnd));
	id = g_string_new(NULL);
	g_string_append_printf(id, "t%lld.", ticket_id);
	for (size_t i = 0; i < sizeof(rnd); i++)
		g_string_append_printf(id, "%02x", rnd[i]);
	compose_msgid_mac(secret, secret_len, id->str, mac);
	g_string_append_printf(id, ".%s@%s", mac, domain);
	return g_string_free(id, FALSE);
}

/* Length of a run of lower-case hex digits at p. */
static size_t compose_hex_run(const char *p)
{
	size_t n = 0;

	while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f'))
		n++;
	return n;
}

long long msgid_verify(const void *secret, size_t secret_len, const char *msgid)
{
	char mac[MSGID_MAC_BYTES * 2 + 1];
	char *signed_part = NULL;
	const char *start, *p, *end, *random, *given_mac;
	long long ticket = 0, result = 0;
	unsigned char diff = 0;

	if (secret == NULL || secret_len == 0 || msgid == NULL)
		return 0;
	start = msgid;
	end = msgid + strlen(msgid);
	if (end - start >= 2 && start[0] == '<' && end[-1] == '>') {
		start++;
		end--;
	}
	/* t<ticket>, no leading zero */
	p = start;
	if (p == end || *p++ != 't' || p == end || *p < '1' || *p > '9')
		goto out;
	for (; p < end && g_ascii_isdigit(*p); p++) {
		if (ticket > (G_MAXINT64 - 9) / 10)
			goto out;
		ticket = ticket * 10 + (*p - '0');
	}
	/* .<16 hex random>.<20 hex mac>@<domain>; the '>' stripped above is
	 * not a hex digit, '.' or '@', so these scans stay before end. */
	if (p == end || *p++ != '.')
		goto out;
	random = p;
	if (compose_hex_run(random) != MSGID_RANDOM_BYTES * 2 ||
	    random[MSGID_RANDOM_BYTES * 2] != '.')
		goto out;
	given_mac = random + MSGID_RANDOM_BYTES * 2 + 1;
	if (compose_hex_run(given_mac) != MSGID_MAC_BYTES * 2 ||
	    given_mac[MSGID_MAC_BYTES * 2] != '@')
		goto out;
	p = given_mac + MSGID_MAC_BYTES * 2 + 1;
	if (p >= end)
		goto out;
	for (; p < end; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '@' || *p == '<' || *p == '>')
			goto out;

	signed_part = g_strndup(start, given_mac - 1 - start);
	compose_msgid_mac(secret, secret_len, signed_part, mac);
	for (size_t i = 0; i < MSGID_MAC_BYTES * 2; i++) /* constant time */
		diff |= (unsigned char)(mac[i] ^ given_mac[i]);
	if (diff == 0)
		result = ticket;
out:
	g_free(signed_part);
	return result;
}
