/*
 * test-compose.c - compose_message() output parsed back with GMime, header
 * injection, Thread-Topic/Thread-Index, and our Message-IDs.
 */
#include "compose.h"
#include "message.h"
#include "tap.h"

#include <gmime/gmime.h>
#include <stdbool.h>
#include <string.h>

#define DATE_1 1700000000 /* Tue, 14 Nov 2023 22:13:20 +0000 */

static const char utf8_subject[] = "Ünïcödé [Ticket#7] Привет";

/* Parses composed bytes back into a message (NULL on failure). */
static GMimeMessage *parse_back(const GByteArray *bytes)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;

	stream = g_mime_stream_mem_new_with_buffer((const char *)bytes->data, bytes->len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* Decoded content of the message's single part, with CRLF turned into LF. */
static char *body_of(GMimeMessage *msg)
{
	GMimeObject *part = g_mime_message_get_mime_part(msg);
	GMimeStream *stream;
	GByteArray *bytes;
	GString *out;

	if (part == NULL || !GMIME_IS_PART(part))
		return NULL;
	stream = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(part)), stream);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	out = g_string_new(NULL);
	for (guint i = 0; i < bytes->len; i++) {
		if (bytes->data[i] == '\r' && i + 1 < bytes->len && bytes->data[i + 1] == '\n')
			continue;
		g_string_append_c(out, (char)bytes->data[i]);
	}
	g_object_unref(stream);
	return g_string_free(out, FALSE);
}

static bool all_crlf(const GByteArray *bytes)
{
	for (guint i = 0; i < bytes->len; i++) {
		if (bytes->data[i] == '\n' && (i == 0 || bytes->data[i - 1] != '\r'))
			return false;
		if (bytes->data[i] == '\r' && (i + 1 == bytes->len || bytes->data[i + 1] != '\n'))
			return false;
	}
	return true;
}

static size_t longest_line(const GByteArray *bytes)
{
	size_t longest = 0, cur = 0;

	for (guint i = 0; i < bytes->len; i++) {
		if (bytes->data[i] == '\r' || bytes->data[i] == '\n') {
			cur = 0;
			continue;
		}
		if (++cur > longest)
			longest = cur;
	}
	return longest;
}

/* True if some line of the header block starts with name (e.g. "Bcc:"). */
static bool has_header_line(const GByteArray *bytes, const char *name)
{
	char *text = g_strndup((const char *)bytes->data, bytes->len);
	char *end = strstr(text, "\r\n\r\n");
	size_t n = strlen(name);
	bool found = false;

	if (end != NULL)
		end[2] = '\0';
	for (char *line = text; line != NULL && *line != '\0';) {
		if (g_ascii_strncasecmp(line, name, n) == 0)
			found = true;
		line = strstr(line, "\r\n");
		if (line != NULL)
			line += 2;
	}
	g_free(text);
	return found;
}

static int compose_ok(const struct outgoing_mail *mail, GByteArray **out_r)
{
	char *error = NULL;
	int ret = compose_message(mail, out_r, &error);

	if (ret < 0)
		printf("# compose_message: %s\n", error);
	g_free(error);
	return ret;
}

static void test_full_message(void)
{
	const char *cc[] = { "cc1@example.org", "cc2@example.org", NULL };
	char *refs[31];
	GString *body;
	GByteArray *out = NULL;
	GMimeMessage *msg;
	InternetAddressList *list;
	InternetAddress *ia;
	GMimeReferences *parsed;
	GMimeObject *part;
	char *text, *index;
	struct outgoing_mail mail = { 0 };

	for (int i = 0; i < 30; i++)
		refs[i] = g_strdup_printf("ref%02d.%d@mua.example.net", i, i * 7919);
	refs[30] = NULL;
	body = g_string_new("Hallo Jörg,\n\nIhr Ticket wurde angelegt.\n");
	for (int i = 0; i < 1500; i++)
		g_string_append_c(body, "abcdefghij"[i % 10]);
	g_string_append(body, "\n-- \nSupport\n");

	mail.from_name = "Support Ünit";
	mail.from_addr = "support@example.com";
	mail.to_name = "Jörg Müller";
	mail.to_addr = "joerg@example.net";
	mail.cc = cc;
	mail.subject = utf8_subject;
	mail.body = body->str;
	mail.message_id = "t7.0123456789abcdef.0123456789abcdef0123@example.com";
	mail.in_reply_to = refs[29];
	mail.references = (const char *const *)refs;
	mail.automatic = true;
	mail.date = DATE_1;

	if (compose_ok(&mail, &out) < 0) {
		ok(0, "compose full message");
		goto out;
	}
	ok(all_crlf(out), "every line ends in CRLF");
	ok(longest_line(out) <= 998, "no line over 998 bytes");
	msg = parse_back(out);
	ok(msg != NULL, "output parses");
	if (msg == NULL)
		goto out;

	list = g_mime_message_get_from(msg);
	is_int(internet_address_list_length(list), 1, "one From");
	ia = internet_address_list_get_address(list, 0);
	is_str(internet_address_get_name(ia), "Support Ünit", "From name decoded");
	is_str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
	       "support@example.com", "From addr");
	ok(!has_header_line(out, "From: Support Ü"), "From name not raw 8-bit");
	list = g_mime_message_get_to(msg);
	ia = internet_address_list_get_address(list, 0);
	is_str(internet_address_get_name(ia), "Jörg Müller", "To name decoded");
	is_str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), "joerg@example.net",
	       "To addr");
	list = g_mime_message_get_cc(msg);
	is_int(internet_address_list_length(list), 2, "two Cc");
	is_str(internet_address_mailbox_get_addr(
		       INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(list, 1))),
	       "cc2@example.org", "second Cc");
	is_str(g_mime_message_get_subject(msg), utf8_subject,
	       "Subject decodes to the UTF-8 original");
	ok(!has_header_line(out, "Subject: \xc3"), "Subject not raw 8-bit");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Date"),
	       "Tue, 14 Nov 2023 22:13:20 +0000", "Date in RFC 5322 form, UTC");
	is_str(g_mime_message_get_message_id(msg), mail.message_id, "Message-ID");
	ok(has_header_line(out, "Message-Id: <t7.0123456789abcdef."), "Message-ID in <>");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"),
	       "<ref29.229651@mua.example.net>", "In-Reply-To");
	parsed = g_mime_references_parse(NULL,
					 g_mime_object_get_header(GMIME_OBJECT(msg), "References"));
	is_int(parsed != NULL ? g_mime_references_length(parsed) : 0, 30, "30 References");
	if (parsed != NULL) {
		bool same = g_mime_references_length(parsed) == 30;
		for (int i = 0; same && i < 30; i++)
			same = strcmp(g_mime_references_get_message_id(parsed, i), refs[i]) == 0;
		ok(same, "References in order, oldest first");
		g_mime_references_free(parsed);
	}
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "MIME-Version"), "1.0", "MIME-Version");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"), "auto-replied",
	       "Auto-Submitted");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Precedence"), "bulk", "Precedence");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "X-Auto-Response-Suppress"), "All",
	       "X-Auto-Response-Suppress");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Topic"), "Ünïcödé Привет",
	       "Thread-Topic without the tag");
	index = compose_thread_index(refs[0], DATE_1);
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Index"), index,
	       "Thread-Index from the first reference and the date");
	g_free(index);

	part = g_mime_message_get_mime_part(msg);
	ok(part != NULL && GMIME_IS_TEXT_PART(part), "single text part");
	if (part != NULL) {
		GMimeContentType *ct = g_mime_object_get_content_type(part);
		ok(g_mime_content_type_is_type(ct, "text", "plain"), "text/plain");
		is_str(g_mime_object_get_content_type_parameter(part, "charset"), "utf-8",
		       "charset=utf-8");
		is_int(g_mime_part_get_content_encoding(GMIME_PART(part)),
		       GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE, "quoted-printable for 8-bit text");
	}
	text = body_of(msg);
	is_str(text, body->str, "body decodes to the exact UTF-8 text");
	g_free(text);
	g_object_unref(msg);
out:
	if (out != NULL)
		g_byte_array_free(out, TRUE);
	for (int i = 0; i < 30; i++)
		g_free(refs[i]);
	g_string_free(body, TRUE);
}

static void test_plain_message(void)
{
	GByteArray *out = NULL;
	GMimeMessage *msg;
	GMimeObject *part;
	char *text, *index;
	const char *body = "Hello,\r\n\r\nyour ticket was closed.\r\n";
	struct outgoing_mail mail = { 0 };

	mail.from_addr = "support@example.com";
	mail.to_addr = "customer@example.net";
	mail.subject = "Re: Fwd: [Ticket#42] Printer on fire";
	mail.body = body;
	mail.message_id = "<own@example.com>";
	mail.date = DATE_1;
	if (compose_ok(&mail, &out) < 0) {
		ok(0, "compose plain message");
		return;
	}
	ok(all_crlf(out), "plain: CRLF everywhere, body CRLF not doubled");
	msg = parse_back(out);
	ok(msg != NULL, "plain: parses");
	if (msg == NULL)
		goto out;
	is_str(g_mime_message_get_message_id(msg), "own@example.com",
	       "<> around message_id accepted");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted") == NULL,
	   "no Auto-Submitted when not automatic");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "Precedence") == NULL,
	   "no Precedence when not automatic");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "X-Auto-Response-Suppress") == NULL,
	   "no X-Auto-Response-Suppress when not automatic");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To") == NULL, "no In-Reply-To");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "References") == NULL, "no References");
	ok(g_mime_object_get_header(GMIME_OBJECT(msg), "Cc") == NULL, "no Cc");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Topic"), "Printer on fire",
	       "Thread-Topic without Re:/Fwd: and tag");
	index = compose_thread_index("own@example.com", DATE_1);
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Index"), index,
	       "Thread-Index rooted at own id when there are no references");
	g_free(index);
	ok(has_header_line(out, "From: support@example.com\r\n"), "From without a name");
	part = g_mime_message_get_mime_part(msg);
	if (part != NULL) {
		is_str(g_mime_object_get_content_type_parameter(part, "charset"), "utf-8",
		       "ASCII body still labelled utf-8");
		is_int(g_mime_part_get_content_encoding(GMIME_PART(part)),
		       GMIME_CONTENT_ENCODING_7BIT, "7bit for short ASCII lines");
	}
	text = body_of(msg);
	is_str(text, "Hello,\n\nyour ticket was closed.\n", "plain body");
	g_free(text);
	g_object_unref(msg);
out:
	g_byte_array_free(out, TRUE);
}

static void test_long_ascii_line(void)
{
	GByteArray *out = NULL;
	GMimeMessage *msg;
	GString *body = g_string_new(NULL);
	char *text;
	struct outgoing_mail mail = { 0 };

	for (int i = 0; i < 1200; i++)
		g_string_append_c(body, 'x');
	g_string_append_c(body, '\n');
	mail.from_addr = "support@example.com";
	mail.to_addr = "customer@example.net";
	mail.subject = "long";
	mail.body = body->str;
	mail.message_id = "long@example.com";
	mail.date = DATE_1;
	if (compose_ok(&mail, &out) < 0) {
		ok(0, "compose long line");
		goto out;
	}
	ok(longest_line(out) <= 998, "long ASCII line: no output line over 998");
	msg = parse_back(out);
	if (msg != NULL) {
		is_int(g_mime_part_get_content_encoding(
			       GMIME_PART(g_mime_message_get_mime_part(msg))),
		       GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE, "long ASCII line: quoted-printable");
		text = body_of(msg);
		is_str(text, body->str, "long ASCII line decodes back");
		g_free(text);
		g_object_unref(msg);
	}
out:
	if (out != NULL)
		g_byte_array_free(out, TRUE);
	g_string_free(body, TRUE);
}

static void test_injection(void)
{
	GByteArray *out = NULL;
	GMimeMessage *msg;
	const char *refs[] = { "a@x\r\nBcc: evil3@x", "good@example.com", NULL };
	struct outgoing_mail mail = { 0 };

	mail.from_name = "Evil\r\nBcc: evil2@x";
	mail.from_addr = "support@example.com";
	mail.to_addr = "customer@example.net";
	mail.subject = "Hi\r\nBcc: evil@x";
	mail.body = "text\n";
	mail.message_id = "inj@example.com";
	mail.in_reply_to = "good@example.com";
	mail.references = refs;
	mail.automatic = true;
	mail.auto_submitted = "auto-generated\r\nBcc: evil4@x";
	mail.date = DATE_1;
	if (compose_ok(&mail, &out) < 0) {
		ok(0, "compose hostile headers");
		return;
	}
	ok(!has_header_line(out, "Bcc:"), "no Bcc header line from CR/LF in values");
	ok(all_crlf(out), "hostile: CRLF everywhere");
	msg = parse_back(out);
	if (msg != NULL) {
		is_str(g_mime_message_get_subject(msg), "HiBcc: evil@x",
		       "CR/LF removed from Subject");
		ok(g_mime_message_get_bcc(msg) == NULL ||
			   internet_address_list_length(g_mime_message_get_bcc(msg)) == 0,
		   "parsed message has no Bcc");
		is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "References"),
		       "<good@example.com>", "unusable reference skipped");
		is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"),
		       "auto-generatedBcc: evil4@x", "auto_submitted value used, CR/LF removed");
		g_object_unref(msg);
	}
	g_byte_array_free(out, TRUE);
}

static void test_overrides(void)
{
	struct mail_header subj = { .name = "subject", .value = "[Ticket#9] Overridden é" };
	struct mail_header from = { .name = "From", .value = "Help Desk <help@example.com>" };
	struct mail_header reply = { .name = "Reply-To", .value = "replies@example.com" };
	struct mail_header other = { .name = "Bcc", .value = "evil@x" };
	GPtrArray *extra = g_ptr_array_new();
	GByteArray *out = NULL;
	GMimeMessage *msg;
	InternetAddressList *list;
	struct outgoing_mail mail = { 0 };
	char *error = NULL;

	g_ptr_array_add(extra, &subj);
	g_ptr_array_add(extra, &from);
	g_ptr_array_add(extra, &reply);
	g_ptr_array_add(extra, &other);
	mail.from_name = "Original";
	mail.from_addr = "support@example.com";
	mail.to_addr = "customer@example.net";
	mail.subject = NULL; /* the override counts only without a final subject */
	mail.body = "text\n";
	mail.message_id = "ovr@example.com";
	mail.extra_headers = extra;
	mail.date = DATE_1;
	if (compose_ok(&mail, &out) < 0) {
		ok(0, "compose with overrides");
		goto out;
	}
	msg = parse_back(out);
	if (msg != NULL) {
		is_str(g_mime_message_get_subject(msg), "[Ticket#9] Overridden é",
		       "Subject override");
		list = g_mime_message_get_from(msg);
		is_int(internet_address_list_length(list), 1, "From override replaces From");
		is_str(internet_address_get_name(internet_address_list_get_address(list, 0)),
		       "Help Desk", "From override name");
		is_str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
			       internet_address_list_get_address(list, 0))),
		       "help@example.com", "From override addr");
		list = g_mime_message_get_reply_to(msg);
		is_int(internet_address_list_length(list), 1, "Reply-To override added");
		is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Topic"), "Overridden é",
		       "Thread-Topic follows the overridden subject");
		g_object_unref(msg);
	}
	ok(!has_header_line(out, "Bcc:"), "other override names ignored");
	g_byte_array_free(out, TRUE);
	out = NULL;

	mail.subject = "[Ticket#9] Final subject";
	if (compose_ok(&mail, &out) == 0 && (msg = parse_back(out)) != NULL) {
		is_str(g_mime_message_get_subject(msg), "[Ticket#9] Final subject",
		       "a final subject wins over a Subject override (keeps the tag)");
		g_object_unref(msg);
	} else {
		ok(0, "compose with a final subject and a Subject override");
	}
	if (out != NULL)
		g_byte_array_free(out, TRUE);
	out = NULL;

	from.value = "not an address";
	is_int(compose_message(&mail, &out, &error), -1, "bad From override fails");
	ok(out == NULL, "bad From override: no output");
	like(error, "From override", "bad From override: reason");
	g_free(error);
out:
	g_ptr_array_free(extra, TRUE);
}

/* Unusual but valid customer addresses go out exactly as written: a quoted
 * local part stays quoted, an IDN domain is written as A-label. */
static void test_unusual_addresses(void)
{
	static const struct {
		const char *addr, *header;
	} cases[] = {
		{ "\"j,s\"@customer.example", "To: Customer <\"j,s\"@customer.example>\r\n" },
		{ "o'brien@example.ie", "To: Customer <o'brien@example.ie>\r\n" },
		{ "user+tag@example.com", "To: Customer <user+tag@example.com>\r\n" },
		{ "\"john doe\"@example.com", "To: Customer <\"john doe\"@example.com>\r\n" },
		{ "kunde@bücher.example", "To: Customer <kunde@xn--bcher-kva.example>\r\n" },
	};
	const char *cc[] = { "\"a,b\"@example.org", NULL };

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct outgoing_mail mail = { 0 };
		GByteArray *out = NULL;
		GMimeMessage *back;
		InternetAddressList *to;
		char *error = NULL, *text;

		mail.from_addr = "support@example.com";
		mail.to_name = "Customer";
		mail.to_addr = cases[i].addr;
		mail.cc = cc;
		mail.subject = "x";
		mail.body = "x\n";
		mail.message_id = "x@example.com";
		mail.date = DATE_1;
		is_int(compose_message(&mail, &out, &error), 0, cases[i].addr);
		if (error != NULL)
			printf("#   %s\n", error);
		g_free(error);
		if (out == NULL)
			continue;
		text = g_strndup((const char *)out->data, out->len);
		like(text, cases[i].header, "  To: as written");
		like(text, "Cc: \"a,b\"@example.org\r\n", "  Cc: quoted local part kept");
		back = parse_back(out);
		to = back != NULL ? g_mime_message_get_to(back) : NULL;
		ok(to != NULL && internet_address_list_length(to) == 1,
		   "  one To when parsed back");
		g_free(text);
		if (back != NULL)
			g_object_unref(back);
		g_byte_array_unref(out);
	}
}

static void test_invalid_input(void)
{
	GByteArray *out = NULL;
	char *error = NULL;
	const char *bad_cc[] = { "ok@example.org", "bad cc@example.org", NULL };
	struct outgoing_mail mail = { 0 };

	mail.from_addr = "support@example.com";
	mail.subject = "x";
	mail.body = "x\n";
	mail.message_id = "x@example.com";
	mail.date = DATE_1;
	is_int(compose_message(&mail, &out, &error), -1, "missing to_addr fails");
	like(error, "To address", "missing to_addr: reason");
	ok(out == NULL, "missing to_addr: no output");
	g_free(error);
	error = NULL;

	mail.to_addr = "no-at-sign";
	is_int(compose_message(&mail, &out, &error), -1, "to_addr without @ fails");
	g_free(error);
	error = NULL;

	mail.to_addr = "x@example.net>\r\nBcc: evil@x";
	is_int(compose_message(&mail, &out, &error), -1, "to_addr with CR/LF fails");
	like(error, "line break", "to_addr with CR/LF: reason");
	g_free(error);
	error = NULL;

	mail.to_addr = "customer@example.net";
	mail.from_addr = NULL;
	is_int(compose_message(&mail, &out, &error), -1, "missing from_addr fails");
	like(error, "From address", "missing from_addr: reason");
	g_free(error);
	error = NULL;

	mail.from_addr = "support@example.com";
	mail.cc = bad_cc;
	is_int(compose_message(&mail, &out, &error), -1, "bad Cc fails");
	like(error, "invalid Cc address bad cc@example.org: ' ' in an unquoted local part",
	     "bad Cc: the reason names the address and the rule");
	g_free(error);
	error = NULL;

	mail.cc = NULL;
	mail.message_id = NULL;
	is_int(compose_message(&mail, &out, &error), -1, "missing message_id fails");
	g_free(error);
}

static void test_thread_index(void)
{
	char *a = compose_thread_index("root@example.com", DATE_1);
	char *b = compose_thread_index("<root@example.com>", DATE_1);
	char *c = compose_thread_index("root@example.com", DATE_1 + 100);
	char *d = compose_thread_index("other@example.com", DATE_1);
	guchar *raw;
	gsize len = 0;
	guint64 ft = 0;

	is_str(a, b, "Thread-Index: <> around the root make no difference");
	ok(strcmp(a, c) != 0, "Thread-Index depends on time");
	ok(strcmp(a, d) != 0, "Thread-Index depends on the root");
	raw = g_base64_decode(a, &len);
	is_int(len, 22, "Thread-Index is 22 bytes");
	for (int i = 0; i < 6 && len == 22; i++)
		ft = ft << 8 | raw[i];
	is_int(ft, ((guint64)DATE_1 + 11644473600ULL) * 10000000ULL >> 16,
	       "Thread-Index starts with the FILETIME high bytes");
	ok(memcmp(a + 8, d + 8, 16) != 0, "digest part differs between roots");
	g_free(raw);
	g_free(a);
	g_free(b);
	g_free(c);
	g_free(d);
}

static void test_msgid(void)
{
	static const char secret[] = "server secret 0123456789";
	static const char other[] = "another secret";
	char *id1 = msgid_generate(secret, strlen(secret), 4711, "tickets.example.com");
	char *id2 = msgid_generate(secret, strlen(secret), 4711, "tickets.example.com");
	char *tmp;
	size_t at;

	like(id1, "t4711.", "msgid starts with t<ticket>.");
	like(id1, "@tickets.example.com", "msgid ends with the domain");
	ok(g_regex_match_simple("^t4711\\.[0-9a-f]{16}\\.[0-9a-f]{20}@tickets\\.example\\.com$",
				id1, 0, 0),
	   "msgid format");
	ok(strcmp(id1, id2) != 0, "two generated ids differ");
	is_int(msgid_verify(secret, strlen(secret), id1), 4711, "round trip");
	is_int(msgid_verify(secret, strlen(secret), id2), 4711, "round trip (second id)");
	tmp = g_strdup_printf("<%s>", id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 4711, "accepted with <>");
	g_free(tmp);
	tmp = g_ascii_strup(id1, -1);
	memcpy(tmp, id1, strchr(id1, '@') - id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 4711, "domain case irrelevant");
	g_free(tmp);
	at = strchr(id1, '@') - id1;
	tmp = g_strdup_printf("%.*s@elsewhere.example", (int)at, id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 4711, "any domain");
	g_free(tmp);
	is_int(msgid_verify(other, strlen(other), id1), 0, "wrong secret -> 0");

	tmp = g_strdup(id1);
	tmp[4] = tmp[4] == '1' ? '2' : '1'; /* t4711 -> t4712 */
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "altered ticket number -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("t1%s", id1 + 1); /* t14711 */
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "prefixed ticket number -> 0");
	g_free(tmp);
	tmp = g_strdup(id1);
	tmp[at - 1] = tmp[at - 1] == '0' ? '1' : '0';
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "altered mac -> 0");
	g_free(tmp);
	tmp = g_strdup(id1);
	tmp[7] = tmp[7] == '0' ? '1' : '0';
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "altered random -> 0");
	g_free(tmp);
	tmp = g_ascii_strup(id1, -1);
	tmp[0] = 't';
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "upper-case hex -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("%.*s", (int)at, id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "no domain -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("%.*s@", (int)at, id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "empty domain -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("<%s", id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "unbalanced < -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("%s>", id1);
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "unbalanced > -> 0");
	g_free(tmp);
	tmp = g_strdup_printf("t04711%s", id1 + 5);
	is_int(msgid_verify(secret, strlen(secret), tmp), 0, "leading zero -> 0");
	g_free(tmp);

	is_int(msgid_verify(secret, strlen(secret), ""), 0, "empty -> 0");
	is_int(msgid_verify(secret, strlen(secret), "<>"), 0, "<> -> 0");
	is_int(msgid_verify(secret, strlen(secret), "CAF=abc@mail.gmail.com"), 0, "junk -> 0");
	is_int(msgid_verify(secret, strlen(secret), "t1.x.y@z"), 0, "short junk -> 0");
	is_int(msgid_verify(secret, strlen(secret),
			    "t99999999999999999999999.0123456789abcdef.0123456789abcdef0123@x"),
	       0, "overflowing ticket -> 0");
	is_int(msgid_verify(secret, strlen(secret), NULL), 0, "NULL -> 0");
	is_int(msgid_verify(secret, 0, id1), 0, "empty secret -> 0");
	g_free(id1);
	g_free(id2);
}

/* The RFC 3156 form: same headers, multipart/encrypted of the version
 * part and the armored payload; body and attachments are not in it. */
static void test_encrypted(void)
{
	static const char armor[] = "-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n=abcd\n"
				    "-----END PGP MESSAGE-----\n";
	const char *refs[] = { "root@mua.example.net", NULL };
	GByteArray *payload = g_byte_array_new(), *out = NULL;
	GMimeMessage *msg = NULL;
	GMimeObject *top, *p1, *p2;
	GMimeContentType *ct;
	struct outgoing_mail mail = { 0 };
	struct mail_header reply = { .name = "Reply-To", .value = "support@example.com" };
	GPtrArray *headers = g_ptr_array_new();
	char *text = NULL;

	g_byte_array_append(payload, (const guint8 *)armor, strlen(armor));
	g_ptr_array_add(headers, &reply);
	mail.from_addr = "support@example.com";
	mail.to_name = "Alice";
	mail.to_addr = "alice@example.com";
	mail.subject = "[Ticket#7] Secret";
	mail.body = "the plaintext must not be here\n";
	mail.message_id = "t7.0123456789abcdef.0123456789abcdef0123@example.com";
	mail.in_reply_to = "root@mua.example.net";
	mail.references = refs;
	mail.automatic = true;
	mail.auto_submitted = "auto-generated";
	mail.extra_headers = headers;
	mail.date = DATE_1;
	mail.encrypted = payload;
	if (compose_ok(&mail, &out) < 0 || (msg = parse_back(out)) == NULL) {
		ok(0, "compose the encrypted form");
		goto out;
	}
	ok(all_crlf(out), "encrypted: every line ends in CRLF");
	ok(memmem(out->data, out->len, "plaintext", 9) == NULL, "encrypted: no body text in it");
	is_str(g_mime_message_get_subject(msg), "[Ticket#7] Secret", "encrypted: Subject");
	is_str(g_mime_message_get_message_id(msg), mail.message_id, "encrypted: Message-ID");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"), "<root@mua.example.net>",
	       "encrypted: In-Reply-To");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "References"), "<root@mua.example.net>",
	       "encrypted: References");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Reply-To"), "support@example.com",
	       "encrypted: Reply-To");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "Auto-Submitted"), "auto-generated",
	       "encrypted: Auto-Submitted");
	is_str(g_mime_object_get_header(GMIME_OBJECT(msg), "MIME-Version"), "1.0",
	       "encrypted: MIME-Version");
	top = g_mime_message_get_mime_part(msg);
	ct = g_mime_object_get_content_type(top);
	ok(g_mime_content_type_is_type(ct, "multipart", "encrypted"), "multipart/encrypted");
	is_str(g_mime_content_type_get_parameter(ct, "protocol"), "application/pgp-encrypted",
	       "protocol=\"application/pgp-encrypted\"");
	if (!GMIME_IS_MULTIPART(top) || g_mime_multipart_get_count(GMIME_MULTIPART(top)) != 2) {
		ok(0, "two parts");
		goto out;
	}
	p1 = g_mime_multipart_get_part(GMIME_MULTIPART(top), 0);
	p2 = g_mime_multipart_get_part(GMIME_MULTIPART(top), 1);
	ok(g_mime_content_type_is_type(g_mime_object_get_content_type(p1), "application",
				       "pgp-encrypted"),
	   "first part application/pgp-encrypted");
	ct = g_mime_object_get_content_type(p2);
	ok(g_mime_content_type_is_type(ct, "application", "octet-stream"),
	   "second part application/octet-stream");
	is_str(g_mime_content_type_get_parameter(ct, "name"), "encrypted.asc",
	       "second part name=\"encrypted.asc\"");
	text = g_strndup((const char *)out->data, out->len);
	like(text, "\r\n\r\nVersion: 1\r\n", "the version part says Version: 1");
	like(text,
	     "\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA0xyz\r\n=abcd\r\n"
	     "-----END PGP MESSAGE-----\r\n",
	     "the armor as it came, CRLF, 7bit");
out:
	g_free(text);
	if (msg != NULL)
		g_object_unref(msg);
	if (out != NULL)
		g_byte_array_unref(out);
	g_byte_array_unref(payload);
	g_ptr_array_free(headers, TRUE);
}

/* compose_entity(): what is encrypted, a MIME entity of its own. */
static void test_entity(void)
{
	struct mail_attachment att = { .filename = "r\xc3\xa9sum\xc3\xa9.pdf",
				       .content_type = "application/pdf" };
	GPtrArray *atts = g_ptr_array_new();
	GByteArray *out = NULL;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeObject *obj;
	char *error = NULL;

	ok(compose_entity("plain ascii\n", NULL, &out, &error) == 0, "entity: text only");
	if (out != NULL) {
		char *text = g_strndup((const char *)out->data, out->len);
		ok(g_str_has_prefix(text, "Content-Type: text/plain; charset=utf-8\r\n"),
		   "entity: starts with its Content-Type");
		ok(strstr(text, "MIME-Version") == NULL && strstr(text, "From:") == NULL,
		   "entity: no message headers");
		like(text, "\r\n\r\nplain ascii\r\n", "entity: the text, CRLF");
		g_free(text);
		g_byte_array_unref(out);
		out = NULL;
	}
	att.data = g_bytes_new_static("%PDF-1.4\n\x01\x02", 11);
	g_ptr_array_add(atts, &att);
	ok(compose_entity("Grüße\n", atts, &out, &error) == 0, "entity: text and attachment");
	if (out == NULL)
		goto out;
	ok(all_crlf(out), "entity: CRLF");
	stream = g_mime_stream_mem_new_with_buffer((const char *)out->data, out->len);
	parser = g_mime_parser_new_with_stream(stream);
	obj = g_mime_parser_construct_part(parser, NULL);
	ok(obj != NULL && GMIME_IS_MULTIPART(obj) &&
		   g_mime_multipart_get_count(GMIME_MULTIPART(obj)) == 2,
	   "entity: multipart/mixed of two");
	if (obj != NULL && GMIME_IS_MULTIPART(obj) &&
	    g_mime_multipart_get_count(GMIME_MULTIPART(obj)) == 2) {
		GMimeObject *t = g_mime_multipart_get_part(GMIME_MULTIPART(obj), 0);
		GMimeObject *a = g_mime_multipart_get_part(GMIME_MULTIPART(obj), 1);
		is_str(g_mime_content_type_get_parameter(g_mime_object_get_content_type(t),
							 "charset"),
		       "utf-8", "entity: text in utf-8");
		is_int(g_mime_part_get_content_encoding(GMIME_PART(t)),
		       GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE,
		       "entity: 8-bit text quoted-printable");
		is_str(g_mime_part_get_filename(GMIME_PART(a)), "r\xc3\xa9sum\xc3\xa9.pdf",
		       "entity: the attachment's name");
	}
	if (obj != NULL)
		g_object_unref(obj);
	g_object_unref(parser);
	g_object_unref(stream);
out:
	if (out != NULL)
		g_byte_array_unref(out);
	g_bytes_unref(att.data);
	g_ptr_array_free(atts, TRUE);
	g_free(error);
}

int main(void)
{
	g_mime_init();
	test_full_message();
	test_plain_message();
	test_long_ascii_line();
	test_injection();
	test_overrides();
	test_unusual_addresses();
	test_invalid_input();
	test_thread_index();
	test_msgid();
	test_encrypted();
	test_entity();
	g_mime_shutdown();
	return tap_done();
}
