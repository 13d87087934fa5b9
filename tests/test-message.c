/*
 * test-message.c - unit tests for lib/message.c, lib/charset.c, lib/html.c:
 * charsets, HTML rendering, MIME structure, broken and hostile messages,
 * and the corpus in tests/data (its README says which files must parse).
 */
#include "message.h"
#include "tap.h"
#include "util.h"

#include <dirent.h>
#include <stdlib.h>

#define HDR                                                                                        \
	"From: Alice Example <Alice@Example.COM>\n"                                                \
	"To: support@example.com\n"                                                                \
	"Message-ID: <t1@example.com>\n"                                                           \
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\n"

/* 2026-03-02T10:00:00Z */
#define HDR_DATE 1772445600

/* Parses NUL-terminated text with the default limits; NULL on failure. */
static struct parsed_message *parse(const char *data)
{
	struct parsed_message *msg = NULL;
	char *error = NULL;

	if (message_parse(data, strlen(data), NULL, &msg, &error) < 0) {
		printf("# message_parse: %s\n", error != NULL ? error : "(no reason)");
		g_free(error);
		return NULL;
	}
	return msg;
}

static bool has_warning(const struct parsed_message *msg, const char *needle)
{
	for (guint i = 0; msg != NULL && i < msg->warnings->len; i++)
		if (strstr(msg->warnings->pdata[i], needle) != NULL)
			return true;
	return false;
}

static const struct mail_attachment *attachment(const struct parsed_message *msg, guint i)
{
	return msg != NULL && i < msg->attachments->len ? msg->attachments->pdata[i] : NULL;
}

/* One line of header text: valid UTF-8, no control characters. */
static bool clean_line(const char *s)
{
	if (s == NULL || !g_utf8_validate(s, -1, NULL))
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return false;
	return true;
}

static bool clean_address(const struct mail_address *a)
{
	return a != NULL && clean_line(a->name) && clean_line(a->addr) && a->addr[0] != '\0';
}

/* Everything the contract promises about the strings of a parse. */
static bool message_clean(const struct parsed_message *m)
{
	if (m == NULL || !clean_address(m->from) ||
	    (m->sender != NULL && !clean_address(m->sender)))
		return false;
	if ((m->message_id != NULL && !clean_line(m->message_id)) ||
	    (m->in_reply_to != NULL && !clean_line(m->in_reply_to)) ||
	    (m->return_path != NULL && !clean_line(m->return_path)) || !clean_line(m->subject))
		return false;
	if (m->text == NULL || !g_utf8_validate(m->text, -1, NULL) || strchr(m->text, '\r') != NULL)
		return false;
	for (guint i = 0; i < m->references->len; i++)
		if (!clean_line(m->references->pdata[i]))
			return false;
	for (guint i = 0; i < m->to->len; i++)
		if (!clean_address(m->to->pdata[i]))
			return false;
	for (guint i = 0; i < m->cc->len; i++)
		if (!clean_address(m->cc->pdata[i]))
			return false;
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mail_header *h = m->headers->pdata[i];
		if (!clean_line(h->name) || !clean_line(h->value))
			return false;
	}
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mail_attachment *a = m->attachments->pdata[i];
		if ((a->filename != NULL && !clean_line(a->filename)) ||
		    !clean_line(a->content_type) || a->data == NULL)
			return false;
	}
	for (guint i = 0; i < m->warnings->len; i++)
		if (!g_utf8_validate(m->warnings->pdata[i], -1, NULL))
			return false;
	return true;
}

static void test_charsets(void)
{
	static const char koi8[] = "\xf0\xd2\xc9\xd7\xc5\xd4";
	char *s;

	s = charset_to_utf8("caf\xe9", 4, "iso-8859-1");
	is_str(s, "café", "charset: ISO-8859-1 café");
	g_free(s);
	s = charset_to_utf8("caf\xe9", 4, " \"Latin1\" ");
	is_str(s, "café", "charset: quoted alias latin1");
	s = (g_free(s), charset_to_utf8("\x80 \x93quoted\x94 \x85", 12, "windows-1252"));
	is_str(s, "€ “quoted” …", "charset: windows-1252 euro and curly quotes");
	s = (g_free(s), charset_to_utf8("5\x80", 2, "ISO-8859-1"));
	is_str(s, "5€", "charset: ISO-8859-1 0x80 read as windows-1252 euro");
	s = (g_free(s), charset_to_utf8(koi8, 6, "koi8-r"));
	is_str(s, "Привет", "charset: KOI8-R Russian");
	s = (g_free(s), charset_to_utf8("Привет, café", strlen("Привет, café"), "iso-8859-1"));
	is_str(s, "Привет, café", "charset: UTF-8 mislabelled ISO-8859-1");
	s = (g_free(s), charset_to_utf8("Привет", strlen("Привет"), "koi8-r"));
	is_str(s, "Привет", "charset: UTF-8 mislabelled KOI8-R");
	s = (g_free(s), charset_to_utf8("Gr\xfc\xdf"
					"e",
					5, NULL));
	is_str(s, "Grüße", "charset: no label, latin-1 bytes");
	s = (g_free(s), charset_to_utf8("Grüße", strlen("Grüße"), NULL));
	is_str(s, "Grüße", "charset: no label, UTF-8 bytes");
	s = (g_free(s), charset_to_utf8("Gr\xfc\xdf"
					"e",
					5, "x-unknown"));
	is_str(s, "Grüße", "charset: unknown label, latin-1 bytes");
	s = (g_free(s), charset_to_utf8("Grüße", strlen("Grüße"), "x-unknown"));
	is_str(s, "Grüße", "charset: unknown label, UTF-8 bytes");
	s = (g_free(s), charset_to_utf8("na\xefve caf\xc3\xa9", 11, "utf-8"));
	is_str(s, "naïve café", "charset: UTF-8 with a stray latin-1 byte");
	s = (g_free(s), charset_to_utf8("a\0b\0c", 5, "us-ascii"));
	is_str(s, "abc", "charset: NUL bytes dropped");
	s = (g_free(s), charset_to_utf8("a\0é", 4, NULL));
	is_str(s, "aé", "charset: NUL inside UTF-8 is not taken as invalid UTF-8");
	s = (g_free(s), charset_to_utf8("h\0i\0", 4, "utf-16le"));
	is_str(s, "hi", "charset: UTF-16LE");
	s = (g_free(s), charset_to_utf8("\x93\xfa\x96\x7b", 4, "shift_jis"));
	is_str(s, "日本", "charset: Shift_JIS");
	s = (g_free(s), charset_to_utf8("caf\xe9", 4, "utf-8//IGNORE"));
	is_str(s, "café", "charset: a label with iconv options is refused, fallback used");
	s = (g_free(s), charset_to_utf8("", 0, "utf-8"));
	is_str(s, "", "charset: empty input");
	s = (g_free(s), charset_to_utf8("\xff\xfe\xfd", 3, "utf-8"));
	ok(s != NULL && g_utf8_validate(s, -1, NULL), "charset: garbage gives valid UTF-8");
	g_free(s);
}

static void test_html(void)
{
	static const char page[] =
		"<!DOCTYPE html><html><head><title>Title</title>"
		"<style>body { color: red }</style><script>var x = '<p>no</p>';</script></head>"
		"<body><h1>Hello&nbsp;World</h1>\n\n\n<p>First   paragraph\nwith   spaces &amp; "
		"&lt;tags&gt; &quot;q&quot; &#39;s&#39; &#233;t&#xE9; &euro;&copy;</p>"
		"<!-- <p>hidden comment</p> --><div>a div</div><br><br><br><br>after breaks"
		"<ul><li>one</li><li>two</li></ul>"
		"<p>Visit <a href=\"https://example.com/x?a=1&amp;b=2\">our site</a> or "
		"<a href='https://example.com/'>https://example.com/</a> or "
		"<a href=\"mailto:help@example.com\">help@example.com</a>.</p>"
		"<table><tr><td>c1</td><td>c2</td></tr><tr><td>c3</td></tr></table>"
		"<SCRIPT type=x>document.write('<b>gone</b>')</SCRIPT >end</body></html>";
	char *s, *big;
	GString *buf;
	gint64 start;

	s = html_to_text(page, strlen(page));
	ok(strchr(s, '<') == NULL || strstr(s, "<https://") != NULL, "html: no tags remain");
	ok(strstr(s, "Title") == NULL && strstr(s, "color") == NULL && strstr(s, "no") == NULL,
	   "html: head, style and script dropped");
	ok(strstr(s, "hidden comment") == NULL && strstr(s, "gone") == NULL,
	   "html: comments and upper-case SCRIPT dropped");
	like(s, "Hello World\n\nFirst paragraph with spaces & <tags> \"q\" 's' été €©",
	     "html: entities decoded, whitespace collapsed");
	like(s, "a div\n\nafter breaks", "html: at most one blank line in a row");
	like(s, "- one\n- two", "html: list items");
	like(s, "our site <https://example.com/x?a=1&b=2>", "html: link text and URL");
	ok(strstr(s, "https://example.com/ <") == NULL,
	   "html: URL not repeated when it is the text");
	ok(strstr(s, "help@example.com <mailto") == NULL, "html: mailto not repeated");
	like(s, "c1 c2\nc3", "html: table cells and rows");
	ok(g_str_has_prefix(s, "Hello") && g_str_has_suffix(s, "end"), "html: trimmed");
	g_free(s);

	s = html_to_text("a &bogus; &amp b &#0; &#99999999999; &#x110000; <3 < b", 55);
	is_str(s, "a &bogus; &amp b \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD <3 < b",
	       "html: bad entities and stray '<' kept or replaced");
	g_free(s);
	s = html_to_text("<p>x</p><!-- never closed <p>y</p>", 34);
	is_str(s, "x", "html: unclosed comment ends the text");
	g_free(s);
	s = html_to_text("", 0);
	is_str(s, "", "html: empty");
	g_free(s);

	/* pathological input must take linear time */
	buf = g_string_new(NULL);
	for (int i = 0; i < 20000; i++)
		g_string_append(buf, "<a href='x'><<!<script>&#x");
	g_string_append(buf, "<a href='");
	for (int i = 0; i < 20000; i++)
		g_string_append(buf, "<!-- <div ");
	big = g_string_free(buf, FALSE);
	start = g_get_monotonic_time();
	s = html_to_text(big, strlen(big));
	ok(g_get_monotonic_time() - start < 20 * G_USEC_PER_SEC,
	   "html: 700 KB of pathological HTML in time");
	ok(g_utf8_validate(s, -1, NULL), "html: pathological input gives valid UTF-8");
	g_free(s);
	g_free(big);
}

static void test_headers(void)
{
	struct parsed_message *m;
	const struct mail_address *a;

	m = parse(
		"From: =?KOI8-R?B?8NLJ18XU?= <Ivan@Example.RU>\n"
		"To: Bob <bob@example.com>, undisclosed:;, =?utf-8?q?Ren=C3=A9e?= <renee@example.fr>\n"
		"Cc: group: one@example.com, Two <TWO@example.com>;\n"
		"Subject: =?koi8-r?B?8NLJ18XUIA==?= =?UTF-8?Q?caf=C3=A9_au_lait?=\n"
		"Message-ID: <abc.123@example.ru> (comment)\n"
		"In-Reply-To: <first@example.com> <second@example.com>\n"
		"References: <r1@x> junk <r2@x>\n <bad id@x> <r3@x> <unclosed\n"
		"Return-Path: <Bounce@Example.RU>\n"
		"Date: Mon, 02 Mar 2026 11:00:00 +0100\n"
		"X-Folded: first\n  second\n"
		"\nbody\n");
	ok(m != NULL, "headers: parse");
	if (m == NULL)
		return;
	is_str(m->subject, "Привет café au lait",
	       "headers: RFC 2047 B (KOI8-R) and Q (UTF-8) subject");
	is_str(m->from->name, "Привет", "headers: encoded display name in From");
	is_str(m->from->addr, "ivan@example.ru", "headers: From addr-spec lower-cased");
	is_int(m->to->len, 2, "headers: To without the empty group");
	a = m->to->len == 2 ? m->to->pdata[1] : NULL;
	is_str(a != NULL ? a->name : NULL, "Renée", "headers: encoded name in To");
	is_int(m->cc->len, 2, "headers: Cc group members");
	a = m->cc->len == 2 ? m->cc->pdata[1] : NULL;
	is_str(a != NULL ? a->addr : NULL, "two@example.com", "headers: Cc member lower-cased");
	is_str(m->message_id, "abc.123@example.ru", "headers: Message-ID without <> and comment");
	is_str(m->in_reply_to, "first@example.com", "headers: first id of In-Reply-To");
	is_int(m->references->len, 3, "headers: References ids, junk skipped");
	if (m->references->len == 3) {
		is_str(m->references->pdata[0], "r1@x", "headers: References order 1");
		is_str(m->references->pdata[1], "r2@x", "headers: References order 2");
		is_str(m->references->pdata[2], "r3@x", "headers: References order 3");
	}
	is_str(m->return_path, "bounce@example.ru", "headers: Return-Path");
	is_int(m->date, HDR_DATE, "headers: Date as Unix time");
	is_str(message_header(m, "x-folded"), "first  second",
	       "headers: unfolded, looked up case-blind");
	is_str(message_header(m, "Nope"), NULL, "headers: missing header is NULL");
	is_int(m->headers->len, 10, "headers: all top-level headers kept");
	is_str(((struct mail_header *)m->headers->pdata[0])->name, "From",
	       "headers: in order, as written");
	ok(message_clean(m), "headers: all strings clean");
	message_free(&m);
	ok(m == NULL, "message_free sets the pointer to NULL");

	m = parse("From: J\xc3\xbcrgen <j@example.de>\nSubject: Caf\xe9 cr\xe8me\nTo: "
		  "x@example.com\n\nb\n");
	is_str(m != NULL ? m->subject : NULL, "Café crème", "headers: raw latin-1 Subject");
	is_str(m != NULL ? m->from->name : NULL, "Jürgen", "headers: raw UTF-8 display name");
	ok(has_warning(m, "8-bit"), "headers: raw 8-bit header warned about");
	message_free(&m);

	m = parse("From: a@example.com\nSubject: Stra\xc3\x9f"
		  "e\n\nb\n");
	is_str(m != NULL ? m->subject : NULL, "Straße", "headers: raw UTF-8 Subject");
	is_str(m != NULL ? m->message_id : NULL, NULL, "headers: no Message-ID gives NULL");
	is_str(m != NULL ? m->return_path : NULL, NULL, "headers: no Return-Path gives NULL");
	is_int(m != NULL ? m->date : -1, 0, "headers: no Date gives 0");
	ok(m != NULL && m->in_reply_to == NULL && m->references->len == 0,
	   "headers: no threading ids");
	message_free(&m);

	m = parse("From: a@example.com\nMessage-ID: <has space@example.com>\nDate: Sat, 01 Jan "
		  "1900 00:00:00 +0000\n"
		  "Subject: =?utf-8?q?one=0D=0ABcc:_x@example.net?=\nReturn-Path: <>\n\nb\n");
	is_str(m != NULL ? m->message_id : NULL, NULL,
	       "headers: Message-ID with whitespace refused");
	is_int(m != NULL ? m->date : -1, 0, "headers: absurd Date gives 0");
	is_str(m != NULL ? m->return_path : NULL, "", "headers: Return-Path <> gives \"\"");
	ok(m != NULL && clean_line(m->subject) && strstr(m->subject, "Bcc:") != NULL,
	   "headers: encoded CR LF in Subject flattened to one line");
	message_free(&m);

	m = parse(
		"From: a@example.com\nMessage-ID: <>\nDate: Fri, 01 Jan 2300 00:00:00 +0000\n\nb\n");
	is_str(m != NULL ? m->message_id : NULL, NULL, "headers: empty Message-ID refused");
	is_int(m != NULL ? m->date : -1, 0, "headers: Date after 2200 gives 0");
	message_free(&m);

	m = parse("From: First <first@example.com>\nFrom: Second <second@example.com>\n"
		  "Subject: one\nSubject: two\nMessage-ID: <id1@x>\nMessage-ID: <id2@x>\n\nb\n");
	is_str(m != NULL ? m->from->addr : NULL, "first@example.com", "duplicates: first From");
	is_str(m != NULL ? m->subject : NULL, "one", "duplicates: first Subject");
	is_str(m != NULL ? m->message_id : NULL, "id1@x", "duplicates: first Message-ID");
	message_free(&m);
}

static void test_senders(void)
{
	struct parsed_message *m = NULL;
	char *error = NULL;
	const char *nofrom = "To: support@example.com\nSubject: who?\n\nbody\n";

	m = parse("Sender: Robot <Robot@lists.example.org>\nTo: x@example.com\n\nbody\n");
	is_str(m != NULL ? m->from->addr : NULL, "robot@lists.example.org",
	       "sender: no From, Sender used");
	is_str(m != NULL && m->sender != NULL ? m->sender->addr : NULL, "robot@lists.example.org",
	       "sender: Sender kept");
	ok(has_warning(m, "Sender"), "sender: fallback warned about");
	message_free(&m);

	m = parse("From: Just A Name\nReturn-Path: <bounce@example.net>\n\nbody\n");
	is_str(m != NULL ? m->from->addr : NULL, "bounce@example.net",
	       "sender: From without address, Return-Path used");
	message_free(&m);

	is_int(message_parse(nofrom, strlen(nofrom), NULL, &m, &error), -1,
	       "sender: no From at all fails");
	is_str(error, "no sender address", "sender: reason");
	ok(m == NULL, "sender: no message on failure");
	g_free(error);
	error = NULL;

	is_int(message_parse("From: x\nReturn-Path: <>\n\nb\n", 24, NULL, &m, &error), -1,
	       "sender: From without domain and Return-Path <> fails");
	g_free(error);
	error = NULL;

	is_int(message_parse("", 0, NULL, &m, &error), -1, "empty input fails");
	ok(error != NULL && *error != '\0', "empty input: a reason");
	g_free(error);
}

/* The address rule (lib/address.c) as the parser applies it. */
static void test_addresses(void)
{
	static const struct {
		const char *from, *addr, *spelling;
	} good[] = {
		{ "\"j,s\"@customer.example", "\"j,s\"@customer.example",
		  "\"j,s\"@customer.example" },
		{ "Sean <o'brien@Example.IE>", "o'brien@example.ie", "o'brien@example.ie" },
		{ "user+tag@example.com", "user+tag@example.com", "user+tag@example.com" },
		{ "\"John Doe\" <\"John Doe\"@example.com>", "\"john doe\"@example.com",
		  "\"John Doe\"@example.com" },
		{ "=?utf-8?q?J=C3=B6rg?= <Jörg@BÜCHER.example>", "jörg@bücher.example",
		  "Jörg@bücher.example" },
		{ "<\"Support\"@Example.com>", "support@example.com", "\"Support\"@example.com" },
	};
	struct parsed_message *m = NULL;
	char *error = NULL, *raw;

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		raw = g_strdup_printf("From: %s\nTo: support@example.com\n\nb\n", good[i].from);
		m = parse(raw);
		is_str(m != NULL ? m->from->addr : NULL, good[i].addr, good[i].from);
		is_str(m != NULL ? m->from->spelling : NULL, good[i].spelling, "  its spelling");
		message_free(&m);
		g_free(raw);
	}

	raw = "From: a..b@example.com\nTo: x@example.com, \"bad@example.com\n\nb\n";
	is_int(message_parse(raw, strlen(raw), NULL, &m, &error), -1,
	       "addresses: invalid From and nothing else fails");
	like(error, "no sender address (unusable From ", "addresses: reason names the From");
	like(error, "two dots", "addresses: reason says what is wrong");
	g_free(error);
	error = NULL;

	raw = "From: a..b@example.com\nReturn-Path: <Bounce@Example.net>\n"
	      "To: ok@example.com, <a@>\n\nb\n";
	m = parse(raw);
	is_str(m != NULL ? m->from->addr : NULL, "bounce@example.net",
	       "addresses: invalid From, Return-Path used");
	ok(has_warning(m, "unusable address in From"), "addresses: invalid From warned about");
	is_int(m != NULL ? m->to->len : 0, 1, "addresses: invalid To member dropped");
	message_free(&m);
}

static void test_limits(void)
{
	struct message_limits lim = { .max_size = 100 };
	struct parsed_message *m = NULL;
	char *error = NULL, *body;
	GString *buf;

	buf = g_string_new(HDR "Subject: big\n\n");
	for (int i = 0; i < 20; i++)
		g_string_append(buf, "0123456789");
	is_int(message_parse(buf->str, buf->len, &lim, &m, &error), -1,
	       "limits: oversized message fails");
	like(error, "message too large (", "limits: reason names the size");
	like(error, "limit 100)", "limits: reason names the limit");
	g_free(error);
	error = NULL;
	g_string_free(buf, TRUE);

	lim = (struct message_limits){ .max_text = 10 };
	body = HDR "Content-Type: text/plain; charset=utf-8\n\néééééééééé\n";
	is_int(message_parse(body, strlen(body), &lim, &m, &error), 0, "limits: long text parses");
	ok(m != NULL && strlen(m->text) <= 10 && g_utf8_validate(m->text, -1, NULL) &&
		   g_str_has_prefix(m->text, "ééééé"),
	   "limits: text cut on a UTF-8 boundary");
	ok(has_warning(m, "cut"), "limits: cut warned about");
	message_free(&m);

	lim = (struct message_limits){ .max_parts = 3 };
	buf = g_string_new(HDR "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 10; i++)
		g_string_append_printf(buf, "--b\nContent-Type: text/plain\n\npart %d\n", i);
	g_string_append(buf, "--b--\n");
	is_int(message_parse(buf->str, buf->len, &lim, &m, &error), 0, "limits: many parts parse");
	ok(m != NULL && strstr(m->text, "part 1") != NULL && strstr(m->text, "part 2") == NULL,
	   "limits: parts beyond the limit ignored");
	ok(has_warning(m, "MIME parts"), "limits: part limit warned about");
	message_free(&m);
	g_string_free(buf, TRUE);

	/* 200 nested multiparts */
	buf = g_string_new(HDR "Content-Type: multipart/mixed; boundary=\"n0\"\n\n");
	for (int i = 1; i < 200; i++)
		g_string_append_printf(buf,
				       "--n%d\nContent-Type: multipart/mixed; boundary=\"n%d\"\n\n",
				       i - 1, i);
	g_string_append(buf, "--n199\nContent-Type: text/plain\n\ndeep text\n--n199--\n");
	for (int i = 198; i >= 0; i--)
		g_string_append_printf(buf, "--n%d--\n", i);
	is_int(message_parse(buf->str, buf->len, NULL, &m, &error), 0,
	       "limits: 200 nested multiparts parse");
	ok(has_warning(m, "nesting deeper than 32"), "limits: depth limit warned about");
	ok(m != NULL && strstr(m->text, "deep text") == NULL,
	   "limits: parts below the limit ignored");
	message_free(&m);
	lim = (struct message_limits){ .max_depth = 500 };
	is_int(message_parse(buf->str, buf->len, &lim, &m, &error), 0, "limits: deep walk allowed");
	like(m != NULL ? m->text : NULL, "deep text", "limits: text found 200 levels down");
	message_free(&m);
	g_string_free(buf, TRUE);
	g_free(error);
}

static void test_bodies(void)
{
	struct parsed_message *m;
	const struct mail_attachment *a;

	m = parse(
		HDR
		"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
		"caf\xe9\r\nline 2\r\n");
	is_str(m != NULL ? m->text : NULL, "café\nline 2\n", "body: ISO-8859-1, CRLF normalised");
	ok(m != NULL && !m->text_from_html, "body: plain text is not from HTML");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=windows-1252\n\n\x93Hi\x94 \x80"
		      "5\n");
	is_str(m != NULL ? m->text : NULL, "“Hi” €5\n", "body: windows-1252");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n");
	is_str(m != NULL ? m->text : NULL, "Привет\n", "body: KOI8-R");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=iso-8859-1\n\nDéjà vu\n");
	is_str(m != NULL ? m->text : NULL, "Déjà vu\n", "body: UTF-8 mislabelled ISO-8859-1");
	ok(has_warning(m, "is UTF-8"), "body: mislabel warned about");
	message_free(&m);

	m = parse(HDR "\nGr\xfc\xdf"
		      "e\n");
	is_str(m != NULL ? m->text : NULL, "Grüße\n", "body: no charset, latin-1 bytes");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=\"x-unknown\"\n\nGr\xfc\xdf"
		      "e\n");
	is_str(m != NULL ? m->text : NULL, "Grüße\n", "body: unknown charset");
	ok(has_warning(m, "unknown charset \"x-unknown\""), "body: unknown charset warned about");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
		      "quoted-printable\n\n"
		      "caf=C3=A9 =E2=82=AC soft=\nbreak\n");
	is_str(m != NULL ? m->text : NULL, "café € softbreak\n", "body: quoted-printable");
	message_free(&m);

	m = parse(HDR "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: "
		      "base64\n\n8NLJ18XU\n");
	is_str(m != NULL ? m->text : NULL, "Привет", "body: base64 KOI8-R");
	message_free(&m);

	{
		static const char nul[] =
			HDR "Content-Type: text/plain\n\nbefore\0\0after\nend\0\n";
		struct parsed_message *n = NULL;
		char *error = NULL;
		is_int(message_parse(nul, sizeof(nul) - 1, NULL, &n, &error), 0,
		       "body: NUL bytes parse");
		is_str(n != NULL ? n->text : NULL, "beforeafter\nend\n",
		       "body: NUL bytes stripped");
		message_free(&n);
		g_free(error);
	}

	m = parse(HDR
		  "Subject: html\nContent-Type: text/html; charset=utf-8\n\n"
		  "<html><head><style>.x{}</style></head><body><p>Hello &amp; welcome</p>"
		  "<p>Click <a href=\"https://example.com/reset\">here</a></p></body></html>\n");
	ok(m != NULL && m->text_from_html, "html-only: text_from_html");
	is_str(m != NULL ? m->text : NULL,
	       "Hello & welcome\n\nClick here <https://example.com/reset>",
	       "html-only: readable text, link kept");
	ok(m != NULL && strchr(m->text, '>') == strrchr(m->text, '>'), "html-only: no tags remain");
	message_free(&m);

	m = parse(HDR "Content-Type: text/html\n\n<meta charset=\"iso-8859-1\"><p>caf\xe9</p>\n");
	is_str(m != NULL ? m->text : NULL, "café", "html-only: charset from <meta>");
	message_free(&m);

	m = parse(
		HDR
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n"
		"preamble\n--outer\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n"
		"--alt\nContent-Type: text/plain; charset=utf-8\n\nplain version\n"
		"--alt\nContent-Type: multipart/related; boundary=\"rel\"\n\n"
		"--rel\nContent-Type: text/html\n\n<p>html version</p>\n"
		"--rel\nContent-Type: image/png\nContent-ID: <img1>\nContent-Transfer-Encoding: "
		"base64\n\n"
		"iVBORw0KGgo=\n--rel--\n--alt--\n"
		"--outer\nContent-Type: text/plain\nContent-Disposition: inline\n\nsecond inline part\n"
		"--outer\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\n"
		"Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n"
		"--outer\nContent-Type: text/plain\nContent-Disposition: attachment\n\nlog text\n"
		"--outer--\nepilogue\n");
	is_str(m != NULL ? m->text : NULL, "plain version\nsecond inline part",
	       "nested: plain alternative, then the next inline part");
	ok(m != NULL && !m->text_from_html, "nested: not from HTML");
	is_int(m != NULL ? m->attachments->len : 0, 2,
	       "nested: two attachments (related image skipped)");
	a = attachment(m, 0);
	is_str(a != NULL ? a->filename : NULL, "résumé.pdf", "nested: RFC 2047 encoded filename");
	is_str(a != NULL ? a->content_type : NULL, "application/pdf", "nested: content type");
	ok(a != NULL && g_bytes_get_size(a->data) == 8 &&
		   memcmp(g_bytes_get_data(a->data, NULL), "%PDF-1.4", 8) == 0,
	   "nested: attachment decoded from base64");
	a = attachment(m, 1);
	ok(a != NULL && a->filename == NULL && strcmp(a->content_type, "text/plain") == 0 &&
		   g_bytes_get_size(a->data) == 8,
	   "nested: text/plain with disposition attachment is an attachment");
	message_free(&m);

	m = parse(HDR
		  "Content-Type: multipart/alternative; boundary=a\n\n"
		  "--a\nContent-Type: text/plain\n\n \n\n--a\nContent-Type: "
		  "text/html\n\n<b>real</b> text\n"
		  "--a\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--a--\n");
	is_str(m != NULL ? m->text : NULL, "real text",
	       "alternative: empty plain gives way to HTML");
	ok(m != NULL && m->text_from_html, "alternative: text_from_html");
	a = attachment(m, 0);
	is_str(a != NULL ? a->content_type : NULL, "text/calendar",
	       "alternative: calendar kept as attachment");
	message_free(&m);

	m = parse(
		HDR
		"Content-Type: multipart/related; boundary=r\n\n"
		"--r\nContent-Type: text/html\n\n<p>see <img src=\"cid:i1\"></p>\n"
		"--r\nContent-Type: image/gif\nContent-ID: <i1>\nContent-Transfer-Encoding: base64\n\n"
		"R0lGODlhAQABAAAAACw=\n--r--\n");
	is_str(m != NULL ? m->text : NULL, "see", "related: HTML text");
	a = attachment(m, 0);
	ok(a != NULL && a->filename == NULL && strcmp(a->content_type, "image/gif") == 0,
	   "related: inline image is an attachment without filename");
	message_free(&m);

	m = parse(
		HDR
		"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nsee\n"
		"--zz\nContent-Type: application/octet-stream\n"
		"Content-Disposition: attachment;\n filename*0*=UTF-8''R%C3%A9sum%C3%A9%20;\n"
		" filename*1*=de%20Jos%C3%A9;\n filename*2=\".txt\"\n\nabc\n--zz--\n");
	a = attachment(m, 0);
	is_str(a != NULL ? a->filename : NULL, "Résumé de José.txt",
	       "rfc2231: filename continuations");
	message_free(&m);

	m = parse(
		HDR
		"Content-Type: multipart/mixed; boundary=f\n\n--f\nContent-Type: text/plain\n\nFYI\n"
		"--f\nContent-Type: message/rfc822\n\nFrom: c@example.net\nSubject: "
		"=?utf-8?q?caf=C3=A9?= / help\n\n"
		"inner body\n--f\nContent-Type: message/rfc822\n\nFrom: d@example.net\n\nno "
		"subject\n--f--\n");
	is_str(m != NULL ? m->text : NULL, "FYI", "rfc822: only the outer text");
	a = attachment(m, 0);
	is_str(a != NULL ? a->filename : NULL, "café _ help.eml",
	       "rfc822: filename from the subject");
	is_str(a != NULL ? a->content_type : NULL, "message/rfc822", "rfc822: content type");
	ok(a != NULL && g_strstr_len(g_bytes_get_data(a->data, NULL), g_bytes_get_size(a->data),
				     "inner body") != NULL,
	   "rfc822: the attached message's bytes");
	a = attachment(m, 1);
	is_str(a != NULL ? a->filename : NULL, "message.eml",
	       "rfc822: no subject gives message.eml");
	message_free(&m);
}

static void test_broken(void)
{
	struct parsed_message *m;

	m = parse(HDR
		  "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
		  "text before the cut\n--b\nContent-Type: application/zip\n"
		  "Content-Transfer-Encoding: base64\n\nUEsDBBQAAAAIAL");
	like(m != NULL ? m->text : NULL, "text before the cut", "broken: missing closing boundary");
	ok(m != NULL && m->attachments->len == 1, "broken: truncated base64 attachment kept");
	ok(has_warning(m, "truncated"), "broken: truncation warned about");
	message_free(&m);

	m = parse(HDR "Content-Type: multipart/mixed; boundary=never\n\nall the text there is\n");
	like(m != NULL ? m->text : NULL, "all the text there is", "broken: boundary never appears");
	message_free(&m);

	m = parse(HDR "Content-Type: multipart/mixed\n\n--xyz\nContent-Type: "
		      "text/plain\n\nrecovered\n--xyz--\n");
	is_str(m != NULL ? m->text : NULL, "recovered",
	       "broken: no boundary parameter, part recovered");
	ok(has_warning(m, "without boundary"), "broken: missing boundary warned about");
	message_free(&m);

	m = parse(HDR
		  "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nSGVsbG8gd29y");
	is_str(m != NULL ? m->text : NULL, "Hello wor", "broken: truncated base64 text");
	message_free(&m);

	m = parse("\n\n" HDR "Subject: late\n\nbody\n");
	is_str(m != NULL ? m->subject : NULL, "late", "broken: blank lines before the header");
	message_free(&m);

	m = parse("From alice@example.com Mon Mar  2 10:00:00 2026\n" HDR "\nbody\n");
	is_str(m != NULL ? m->from->addr : NULL, "alice@example.com", "broken: mbox From_ line");
	message_free(&m);
}

/* Issue 15: GMime 3.2.13 stopped decoding a run of base64 words of one
 * charset at the first '=' padding, cutting the subject short. */
static void test_split_words(void)
{
	const char *top = getenv("TICKETD_TOP");
	char *path = g_build_filename(top != NULL ? top : ".", "tests", "data",
				      "rfc2047-split-base64.eml", NULL);
	struct parsed_message *m = NULL;
	char *data = NULL, *error = NULL;
	const struct mail_attachment *a;
	size_t len = 0;

	m = parse(HDR "Subject: =?koi8-r?b?7sUgzc/H1SDXz8rUySDXINDBzsXM2CDV0NLB18zFzsnR?=\n\nx\n");
	is_str(m != NULL ? m->subject : NULL, "Не могу войти в панель управления",
	       "split words: the issue's KOI8-R word whole");
	message_free(&m);

	if (file_read_all(path, 0, &data, &len, &error) < 0) {
		printf("# %s\n", error);
		ok(0, "split words: read the data file");
		g_free(error);
	} else if (message_parse(data, len, NULL, &m, &error) < 0) {
		printf("# message_parse: %s\n", error);
		ok(0, "split words: parse the data file");
		g_free(error);
	}
	is_str(m != NULL ? m->subject : NULL, "Не могу войти в панель управления",
	       "split words: KOI8-R subject split after padding, whole");
	is_str(m != NULL ? m->from->name : NULL, "Иван Петров",
	       "split words: From name split after padding, whole");
	a = attachment(m, 0);
	is_str(a != NULL ? a->filename : NULL, "отчёт об ошибке.txt",
	       "split words: UTF-8 filename split after padding, whole");
	is_str(m != NULL ? m->text : NULL, "Панель не открывается.", "split words: KOI8-R body");
	message_free(&m);
	g_free(data);
	g_free(path);

	m = parse(
		HDR
		"Subject: =?utf-8?b?0J3QtSDQvNA=?= =?UTF-8*ru?B?vtCz0YM=?= =?iso-8859-1?b?IGNhZuk=?= "
		"=?iso-8859-1?b?IG9r?= plain =?utf-8?b?eA==?=\n\nx\n");
	is_str(m != NULL ? m->subject : NULL, "Не могу café ok plain x",
	       "split words: a character split between words, language tag, mixed charsets");
	message_free(&m);

	m = parse(
		HDR
		"Subject: =?utf-8?q?caf=C3?= =?utf-8?q?=A9?= =?utf-8?b?IGF1?= =?utf-8?b?IGxhaXQ=?="
		" =?utf-8?b?Pz8=?=\n\nx\n");
	is_str(m != NULL ? m->subject : NULL, "café au lait??",
	       "split words: Q run, then a B run with padding in the middle and at the end");
	message_free(&m);
}

/* expectations from tests/data/README: name → "ok" / "fail" */
static GHashTable *read_readme(const char *dir)
{
	GHashTable *expect = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char *path = g_build_filename(dir, "README", NULL), *data = NULL, *error = NULL;
	size_t len;
	char **lines;

	if (file_read_all(path, 0, &data, &len, &error) < 0) {
		printf("# %s\n", error);
		g_free(error);
		g_free(path);
		return expect;
	}
	lines = g_strsplit(data, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		char **f = g_strsplit(*l, "\t", 3);
		if (g_strv_length(f) == 3)
			g_hash_table_replace(expect, g_strdup(f[0]), g_strdup(f[1]));
		else if (**l != '\0')
			ok(0, "corpus: README line has three tab-separated fields");
		g_strfreev(f);
	}
	g_strfreev(lines);
	g_free(data);
	g_free(path);
	return expect;
}

/* One parse must succeed with clean strings or fail with a reason. */
static bool parse_sane(const char *data, size_t len, int *ret_r)
{
	struct parsed_message *m = NULL;
	char *error = NULL;
	bool sane;
	int ret = message_parse(data, len, NULL, &m, &error);

	if (ret == 0)
		sane = message_clean(m) && error == NULL;
	else
		sane = ret == -1 && m == NULL && error != NULL && *error != '\0' &&
		       g_utf8_validate(error, -1, NULL);
	if (ret_r != NULL)
		*ret_r = ret;
	message_free(&m);
	g_free(error);
	return sane;
}

/* Cut and damaged copies of a corpus file must parse sanely too. */
static bool mutations_sane(const char *data, size_t len)
{
	GRand *rand = g_rand_new_with_seed((guint32)len);
	char *copy = g_malloc(len + 1);
	bool sane = true;

	for (int i = 1; i <= 12 && sane; i++)
		sane = parse_sane(data, len * i / 13, NULL);
	for (int i = 0; i < 12 && sane && len > 0; i++) {
		memcpy(copy, data, len);
		for (int j = 0; j < 8; j++)
			copy[g_rand_int_range(rand, 0, (gint32)MIN(len, G_MAXINT32))] =
				(char)g_rand_int_range(rand, 0, 256);
		sane = parse_sane(copy, len, NULL);
	}
	g_free(copy);
	g_rand_free(rand);
	return sane;
}

static void test_corpus(void)
{
	const char *top = getenv("TICKETD_TOP");
	char *dir = g_build_filename(top != NULL ? top : ".", "tests", "data", NULL);
	GHashTable *expect = read_readme(dir);
	GHashTableIter iter;
	gpointer key, value;
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	unsigned files = 0;

	ok(d != NULL, "corpus: tests/data opened");
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		char *path, *data = NULL, *error = NULL, *label;
		const char *want;
		size_t len = 0;
		int ret = 0;

		if (!g_str_has_suffix(name, ".eml"))
			continue;
		files++;
		path = g_build_filename(dir, name, NULL);
		want = g_hash_table_lookup(expect, name);
		label = g_strdup_printf("corpus: %s is listed in README", name);
		ok(want != NULL, label);
		g_free(label);
		if (file_read_all(path, 0, &data, &len, &error) < 0) {
			ok(0, error);
			g_free(error);
			g_free(path);
			continue;
		}
		label = g_strdup_printf("corpus: %s parses sanely", name);
		ok(parse_sane(data, len, &ret), label);
		g_free(label);
		label = g_strdup_printf("corpus: %s is %s as README says", name,
					want != NULL ? want : "?");
		ok(want != NULL && (strcmp(want, "ok") == 0 ? ret == 0 : ret == -1), label);
		g_free(label);
		label = g_strdup_printf("corpus: damaged copies of %s parse sanely", name);
		ok(mutations_sane(data, len), label);
		g_free(label);
		g_free(data);
		g_free(path);
	}
	ok(files >= 15, "corpus: at least 15 messages");
	g_hash_table_iter_init(&iter, expect);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		char *path = g_build_filename(dir, key, NULL);
		char *label = g_strdup_printf("corpus: README entry %s exists", (char *)key);
		ok(g_file_test(path, G_FILE_TEST_IS_REGULAR) &&
			   (strcmp(value, "ok") == 0 || strcmp(value, "fail") == 0),
		   label);
		g_free(label);
		g_free(path);
	}
	if (d != NULL)
		g_dir_close(d);
	g_hash_table_unref(expect);
	g_free(dir);
}

int main(void)
{
	message_init();
	message_init(); /* idempotent */
	test_charsets();
	test_html();
	test_headers();
	test_senders();
	test_addresses();
	test_limits();
	test_bodies();
	test_broken();
	test_split_words();
	test_corpus();
	message_deinit();
	return tap_done();
}
