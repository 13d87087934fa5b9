/*
 * test-bounce.c - bounce_parse() on every bounce of tests/data (our
 * Message-ID put into each at test time, since it is signed under the
 * test's secret) and the pure field parsers on edge cases.
 */
#include "bounce.h"
#include "compose.h"
#include "message.h"
#include "tap.h"
#include "util.h"

#include <string.h>

static const char secret[] = "test-secret-for-bounces";
static struct ticketd_config cfg;

/* The corpus file with every @@MSGID@@ replaced by msgid (NULL: as is). */
static char *load(const char *name, const char *msgid, size_t *len_r)
{
	const char *top = getenv("TICKETD_TOP");
	char *path = g_build_filename(top != NULL ? top : ".", "tests", "data", name, NULL);
	char *data = NULL, *error = NULL, **pieces;
	char *result;
	size_t len = 0;

	if (file_read_all(path, 0, &data, &len, &error) < 0) {
		printf("# %s: %s\n", path, error);
		g_free(error);
		g_free(path);
		*len_r = 0;
		return g_strdup("");
	}
	g_free(path);
	if (msgid == NULL) {
		*len_r = len;
		return data;
	}
	pieces = g_strsplit(data, "@@MSGID@@", -1);
	result = g_strjoinv(msgid, pieces);
	g_strfreev(pieces);
	g_free(data);
	*len_r = strlen(result);
	return result;
}

/* Parses a corpus file; returns the bounce or NULL, checking the result
 * code against want_bounce. */
static struct bounce *parse_file(const char *name, const char *msgid, bool want_bounce)
{
	size_t len;
	char *data = load(name, msgid, &len);
	struct bounce *b = NULL;
	char *label = g_strdup_printf("%s: %s", name, want_bounce ? "a bounce" : "not a bounce");
	int r = bounce_parse(data, len, &cfg, &b);

	is_int(r, want_bounce ? 1 : 0, label);
	ok(want_bounce ? b != NULL : b == NULL, "  and the result is set as the code says");
	g_free(label);
	g_free(data);
	return b;
}

static void check_recipient(const struct bounce *b, guint i, const char *address,
			    const char *original, const char *action, const char *status,
			    const char *diagnostic, const char *remote_mta)
{
	const struct bounce_recipient *r;

	if (!ok(b != NULL && i < b->recipients->len, "  recipient present")) {
		return;
	}
	r = b->recipients->pdata[i];
	is_str(r->address, address, "  address");
	is_str(r->original, original, "  original recipient");
	is_str(r->action, action, "  action");
	is_str(r->status, status, "  status");
	is_str(r->diagnostic, diagnostic, "  diagnostic");
	is_str(r->remote_mta, remote_mta, "  remote MTA");
}

static void check_summary(const struct bounce *b, long long ticket, const char *msgid,
			  guint recipients, bool dsn, bool permanent, bool delayed_only)
{
	if (b == NULL) {
		ok(0, "  no bounce to check");
		return;
	}
	is_int(b->ticket_id, ticket, "  ticket id");
	is_str(b->original_message_id, msgid, "  original Message-ID");
	is_int(b->recipients->len, recipients, "  number of recipients");
	is_int(b->dsn, dsn, "  DSN or heuristic");
	is_int(b->permanent, permanent, "  permanent");
	is_int(b->delayed_only, delayed_only, "  delayed only");
}

static void test_corpus(void)
{
	char *id12 = msgid_generate(secret, strlen(secret), 12, "support.example.com");
	char *id7 = msgid_generate(secret, strlen(secret), 7, "support.example.com");
	char *id31 = msgid_generate(secret, strlen(secret), 31, "support.example.com");
	char *id5 = msgid_generate(secret, strlen(secret), 5, "support.example.com");
	char *id44 = msgid_generate(secret, strlen(secret), 44, "support.example.com");
	char *id9 = msgid_generate(secret, strlen(secret), 9, "support.example.com");
	char *id3 = msgid_generate(secret, strlen(secret), 3, "support.example.com");
	char *other = msgid_generate("another secret", 14, 12, "support.example.com");
	struct bounce *b;

	b = parse_file("bounce-postfix.eml", id12, true);
	check_summary(b, 12, id12, 1, true, true, false);
	check_recipient(b, 0, "nobody@customer.example", "nobody@customer.example", "failed",
			"5.1.1",
			"550 5.1.1 <nobody@customer.example>: Recipient address rejected: User "
			"unknown",
			"mx.customer.example");
	bounce_free(&b);
	ok(b == NULL, "bounce_free sets the pointer to NULL");

	b = parse_file("bounce-postfix.eml", other, true);
	check_summary(b, 0, other, 1, true, true, false);
	bounce_free(&b);

	b = parse_file("bounce-dsn.eml", NULL, true);
	check_summary(b, 0, "ticket-12-a@support.example.com", 1, true, true, false);
	check_recipient(b, 0, "nobody@example.net", NULL, "failed", "5.1.1", NULL, NULL);
	bounce_free(&b);

	b = parse_file("bounce-exim-dsn.eml", id7, true);
	check_summary(b, 7, id7, 1, true, true, false);
	check_recipient(b, 0, "gone@customer.example", NULL, "failed", "5.0.0",
			"550 5.1.1 mailbox unavailable", "mx.customer.example");
	bounce_free(&b);

	b = parse_file("bounce-exim-plain.eml", id3, true);
	check_summary(b, 3, id3, 2, false, true, false);
	check_recipient(b, 0, "first@customer.example", NULL, "failed", NULL, NULL, NULL);
	check_recipient(b, 1, "second@customer.example", NULL, "failed", NULL, NULL, NULL);
	bounce_free(&b);
	/* the same daemon mail naming no mail of ours is left to classify.c */
	b = parse_file("bounce-exim-plain.eml", other, false);
	bounce_free(&b);

	b = parse_file("bounce-sendmail-two.eml", id31, true);
	check_summary(b, 31, id31, 2, true, true, false);
	check_recipient(b, 0, "alice@customer.example", "Alice@Customer.example", "failed", "5.7.1",
			"550 5.7.1 Relaying denied", "mx.customer.example");
	check_recipient(b, 1, "bob@slow.example", NULL, "delayed", "4.4.1",
			"421 4.4.1 Connection timed out (will retry)", "mx.slow.example");
	bounce_free(&b);

	b = parse_file("bounce-delayed.eml", id5, true);
	check_summary(b, 5, id5, 1, true, false, true);
	check_recipient(b, 0, "later@customer.example", "later@customer.example", "delayed",
			"4.4.2",
			"conversation with mx.customer.example[192.0.2.8] timed out while "
			"receiving the initial server greeting",
			NULL);
	bounce_free(&b);

	b = parse_file("bounce-qmail.eml", id44, true);
	check_summary(b, 44, id44, 2, false, true, false);
	check_recipient(b, 0, "nobody@customer.example", NULL, "failed", "5.1.1",
			"Sorry, no mailbox here by that name. (#5.1.1)", NULL);
	check_recipient(b, 1, "full@customer.example", NULL, "failed", NULL,
			"192.0.2.10 does not like recipient. Remote host said: 552 5.2.2 "
			"Mailbox full Giving up on 192.0.2.10.",
			NULL);
	bounce_free(&b);
	b = parse_file("bounce-qmail.eml", other, false);
	bounce_free(&b);

	/* ours only in References: the returned mail is the spammer's */
	b = parse_file("bounce-not-ours.eml", id12, true);
	check_summary(b, 0, "t12.0123456789abcdef.0123456789abcdef0123@support.example.com", 1,
		      true, true, false);
	check_recipient(b, 0, "victim@elsewhere.example", NULL, "failed", "5.7.1",
			"554 5.7.1 spam rejected", NULL);
	bounce_free(&b);

	b = parse_file("bounce-truncated.eml", NULL, true);
	check_summary(b, 0, NULL, 1, true, false, false);
	check_recipient(b, 0, "cut@customer.example", NULL, NULL, NULL, NULL, NULL);
	bounce_free(&b);

	b = parse_file("bounce-no-status-part.eml", id9, true);
	check_summary(b, 9, id9, 0, true, true, false);
	bounce_free(&b);

	/* mail that is no bounce at all */
	b = parse_file("auto-reply.eml", NULL, false);
	bounce_free(&b);
	b = parse_file("forwarded-rfc822.eml", NULL, false);
	bounce_free(&b);
	b = parse_file("binary-junk.eml", NULL, false);
	bounce_free(&b);
	b = parse_file("empty.eml", NULL, false);
	bounce_free(&b);
	b = parse_file("truncated-mime.eml", NULL, false);
	bounce_free(&b);

	g_free(id12);
	g_free(id7);
	g_free(id31);
	g_free(id5);
	g_free(id44);
	g_free(id9);
	g_free(id3);
	g_free(other);
}

/* A customer forwarding one of our answers is not a bounce, even with our
 * Message-ID in an attached message; from a daemon without the signs
 * (a real Return-Path, no Auto-Submitted) neither. */
#define SIGNS_FORMAT                                                                               \
	"From: %s\nReturn-Path: %s\nTo: support@example.com\nSubject: x\n\nMessage-ID: <%s>\n"
static void test_signs(void)
{
	char *id = msgid_generate(secret, strlen(secret), 8, "support.example.com");
	struct {
		const char *from, *return_path;
		int want;
		const char *name;
	} cases[] = {
		{ "a@customer.example", "<>", 0, "a customer with a null Return-Path" },
		{ "MAILER-DAEMON@mx.example", "<a@mx.example>", 0, "a daemon with a Return-Path" },
		{ "MAILER-DAEMON@mx.example", "<>", 1, "a daemon with a null Return-Path" },
		{ "Postmaster <POSTMASTER@mx.example>", "< >", 1, "postmaster, \"< >\"" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *raw = g_strdup_printf(SIGNS_FORMAT, cases[i].from, cases[i].return_path, id);
		struct bounce *b = NULL;

		is_int(bounce_parse(raw, strlen(raw), &cfg, &b), cases[i].want, cases[i].name);
		if (cases[i].want == 1)
			is_int(b != NULL ? b->ticket_id : -1, 8, "  its ticket");
		bounce_free(&b);
		g_free(raw);
	}
	g_free(id);
}

static void test_delivery_status(void)
{
	GPtrArray *r;
	const struct bounce_recipient *x;
	GString *many;

	r = bounce_parse_delivery_status("", 0);
	is_int(r->len, 0, "status: empty text, no recipients");
	g_ptr_array_unref(r);

	r = bounce_parse_delivery_status("Reporting-MTA: dns; a\n", 22);
	is_int(r->len, 0, "status: per-message fields alone are no recipient");
	g_ptr_array_unref(r);

	/* CRLF, comments, folds, any case, "RFC822;<>" */
	{
		const char t[] = "Reporting-MTA: dns; mx\r\n\r\n"
				 "final-recipient: RFC822;<a@b.example> (the user)\r\n"
				 "ACTION: Failed (gone)\r\n"
				 "Status: 5.1.10 (mailbox\r\n  unknown)\r\n"
				 "Diagnostic-Code: smtp;550 no (really)\r\n"
				 "\t such user\r\n";

		r = bounce_parse_delivery_status(t, strlen(t));
		is_int(r->len, 1, "status: one recipient with CRLF");
		x = r->len > 0 ? r->pdata[0] : NULL;
		is_str(x ? x->address : NULL, "a@b.example", "status: comment and <> removed");
		is_str(x ? x->action : NULL, "failed", "status: action lower-cased, comment gone");
		is_str(x ? x->status : NULL, "5.1.10", "status: a folded comment removed");
		is_str(x ? x->diagnostic : NULL, "550 no (really) such user",
		       "status: diagnostic unfolded, its parentheses kept");
		g_ptr_array_unref(r);
	}

	/* no blank line between two recipients, no per-message group */
	{
		const char t[] = "Final-Recipient: rfc822; one@x\nAction: failed\nStatus: 5.0.0\n"
				 "Final-Recipient: rfc822; two@x\nAction: delayed\nStatus: 4.0.0\n";

		r = bounce_parse_delivery_status(t, strlen(t));
		is_int(r->len, 2, "status: a second Final-Recipient starts a recipient");
		x = r->len > 1 ? r->pdata[1] : NULL;
		is_str(x ? x->address : NULL, "two@x", "status: the second address");
		is_str(x ? x->action : NULL, "delayed", "status: the second action");
		g_ptr_array_unref(r);
	}

	/* junk values become NULL, junk lines are skipped */
	{
		const char t[] = "\n\nthis is not a field\nFinal-Recipient: rfc822;\n"
				 "Action: exploded\nStatus: 6.1.1\nStatus: 5.0.0\n"
				 "Original-Recipient: rfc822; orig@x\n";

		r = bounce_parse_delivery_status(t, strlen(t));
		is_int(r->len, 1, "status: junk makes one recipient");
		x = r->len > 0 ? r->pdata[0] : NULL;
		is_str(x ? x->address : NULL, "orig@x",
		       "status: empty Final-Recipient, original used");
		is_str(x ? x->action : NULL, NULL, "status: an unknown action is NULL");
		is_str(x ? x->status : NULL, NULL, "status: class 6 is no status (the first wins)");
		g_ptr_array_unref(r);
	}
	{
		static const char *const bad[] = { "5.1",    "5.1.1.1", "5.1234.1",
						   "51.1.1", "5.1.x",   "x" };

		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			char *t = g_strdup_printf("Final-Recipient: rfc822; a@b\nStatus: %s\n",
						  bad[i]);
			char *label = g_strdup_printf("status: \"%s\" is no status", bad[i]);

			r = bounce_parse_delivery_status(t, strlen(t));
			x = r->len > 0 ? r->pdata[0] : NULL;
			is_str(x ? x->status : "missing", NULL, label);
			g_ptr_array_unref(r);
			g_free(label);
			g_free(t);
		}
	}

	/* NUL bytes and invalid UTF-8 in a value */
	{
		const char t[] =
			"Final-Recipient: rfc822; a\0b@x\nDiagnostic-Code: smtp; caf\xe9\n";

		r = bounce_parse_delivery_status(t, sizeof(t) - 1);
		x = r->len > 0 ? r->pdata[0] : NULL;
		is_str(x ? x->address : NULL, "a b@x", "status: NUL becomes a space");
		is_str(x ? x->diagnostic : NULL, "caf\xef\xbf\xbd",
		       "status: invalid UTF-8 replaced");
		g_ptr_array_unref(r);
	}

	/* limits: 100 recipients, 998 octets */
	many = g_string_new("Reporting-MTA: dns; x\n\n");
	for (int i = 0; i < 150; i++)
		g_string_append_printf(many, "Final-Recipient: rfc822; u%d@x\nAction: failed\n\n",
				       i);
	r = bounce_parse_delivery_status(many->str, many->len);
	is_int(r->len, BOUNCE_MAX_RECIPIENTS, "status: at most 100 recipients");
	x = r->len > 0 ? r->pdata[r->len - 1] : NULL;
	is_str(x ? x->address : NULL, "u99@x", "status: the first 100 are kept");
	g_ptr_array_unref(r);
	g_string_assign(many, "Final-Recipient: rfc822; a@x\nDiagnostic-Code: smtp; ");
	for (int i = 0; i < 3000; i++)
		g_string_append(many, i % 2 ? "\xc3\xa9" : "e");
	g_string_append(many, "\n   more\n");
	r = bounce_parse_delivery_status(many->str, many->len);
	x = r->len > 0 ? r->pdata[0] : NULL;
	ok(x != NULL && x->diagnostic != NULL && strlen(x->diagnostic) <= BOUNCE_MAX_FIELD &&
		   strlen(x->diagnostic) >= BOUNCE_MAX_FIELD - 1 &&
		   g_utf8_validate(x->diagnostic, -1, NULL),
	   "status: a long value cut to 998 octets on a character boundary");
	g_ptr_array_unref(r);
	g_string_free(many, TRUE);
}

static void test_helpers(void)
{
	char *v, *id, *found = NULL;
	const char block[] = "Subject: x\nMessage-ID:\n <a@b>\nTo: y\n\nMessage-ID: <body@x>\n";
	char *ours = msgid_generate(secret, strlen(secret), 77, "support.example.com");
	char *text;

	v = bounce_header_field(block, strlen(block), "message-id");
	is_str(v, "<a@b>", "header: folded value unfolded, name in any case");
	g_free(v);
	v = bounce_header_field(block + 12, strlen(block) - 12, "To");
	is_str(v, "y", "header: a continuation line without its field is skipped");
	g_free(v);
	v = bounce_header_field("To: y\n\nMessage-ID: <body@x>\n", 27, "Message-ID");
	is_str(v, NULL, "header: the block ends at the first blank line");
	g_free(v);

	id = bounce_msgid_of(" <a@b> (comment)");
	is_str(id, "a@b", "msgid: <> and comment");
	g_free(id);
	id = bounce_msgid_of("bare@x.example");
	is_str(id, "bare@x.example", "msgid: without <>");
	g_free(id);
	id = bounce_msgid_of("<unclosed@x");
	is_str(id, NULL, "msgid: unclosed <");
	g_free(id);
	id = bounce_msgid_of("<a b@x>");
	is_str(id, NULL, "msgid: a space inside");
	g_free(id);
	id = bounce_msgid_of("<>");
	is_str(id, NULL, "msgid: empty");
	g_free(id);

	text = g_strdup_printf("References: <%s>\nIn-Reply-To: <%s>\n> Message-ID: <%s>\n", ours,
			       ours, ours);
	is_int(bounce_find_our_msgid(text, strlen(text), secret, strlen(secret), &found), 0,
	       "inline: References, In-Reply-To and quoted lines are not looked at");
	is_str(found, NULL, "inline: nothing found");
	g_free(text);
	text = g_strdup_printf("Message-ID: <t1.x@y>\n   message-id:\n\t<%s>\n", ours);
	is_int(bounce_find_our_msgid(text, strlen(text), secret, strlen(secret), &found), 77,
	       "inline: an indented, folded Message-ID after a foreign one");
	is_str(found, ours, "inline: the id found");
	g_free(found);
	g_free(text);

	ok(bounce_is_daemon_address("MAILER-DAEMON@mx.example"), "daemon: MAILER-DAEMON");
	ok(bounce_is_daemon_address("postmaster"), "daemon: postmaster without domain");
	ok(!bounce_is_daemon_address("mailer-daemon-fan@x"), "daemon: a longer local part");
	ok(!bounce_is_daemon_address("someone@mailer-daemon"), "daemon: only the local part");
	ok(!bounce_is_daemon_address(NULL), "daemon: NULL");

	ok(bounce_subject_is_delay("Delayed Mail (still being retried)"), "delay: Postfix");
	ok(bounce_subject_is_delay("Warning: message 1abc delayed 24 hours"), "delay: Exim");
	ok(!bounce_subject_is_delay("Undelivered Mail Returned to Sender"), "delay: a failure");
	ok(!bounce_subject_is_delay(NULL), "delay: no subject");

	{
		const char q[] = "<a@x>:\nreason one (#4.4.1)\nmore\n\n<b@x>: not a paragraph\n"
				 "--- Below this line is a copy of the message.\n\n<c@x>:\nno\n";
		GPtrArray *r = bounce_parse_qmail(q, strlen(q));
		const struct bounce_recipient *x = r->len > 0 ? r->pdata[0] : NULL;

		is_int(r->len, 1, "qmail: one paragraph before the copy");
		is_str(x ? x->address : NULL, "a@x", "qmail: address");
		is_str(x ? x->diagnostic : NULL, "reason one (#4.4.1) more", "qmail: reason");
		is_str(x ? x->status : NULL, "4.4.1", "qmail: status");
		is_str(x ? x->action : NULL, "failed", "qmail: a bounce is a failure");
		g_ptr_array_unref(r);
	}

	{
		struct bounce b = { .recipients = g_ptr_array_new() };
		struct bounce_recipient none = { 0 }, five = { .status = "5.0.0" },
					four = { .status = "4.0.0" },
					delivered = { .action = "delivered", .status = "5.0.0" };

		bounce_summarise(&b, "Delivery Status Notification (Failure)");
		ok(b.permanent && !b.delayed_only, "summary: no recipients, a failure subject");
		bounce_summarise(&b, "Delayed Mail");
		ok(!b.permanent && b.delayed_only, "summary: no recipients, a delay subject");
		g_ptr_array_add(b.recipients, &four);
		bounce_summarise(&b, NULL);
		ok(!b.permanent && b.delayed_only, "summary: 4.x.x without Action is a delay");
		g_ptr_array_add(b.recipients, &five);
		bounce_summarise(&b, NULL);
		ok(b.permanent && !b.delayed_only, "summary: 5.x.x without Action fails");
		g_ptr_array_set_size(b.recipients, 0);
		g_ptr_array_add(b.recipients, &delivered);
		g_ptr_array_add(b.recipients, &none);
		bounce_summarise(&b, "Delayed");
		ok(!b.permanent && !b.delayed_only, "summary: the Action wins over the Status");
		g_ptr_array_unref(b.recipients);
	}
	g_free(ours);
}

int main(void)
{
	message_init();
	cfg.secret = (char *)secret;
	cfg.secret_len = strlen(secret);
	test_corpus();
	test_signs();
	test_delivery_status();
	test_helpers();
	message_deinit();
	return tap_done();
}
