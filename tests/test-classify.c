/* test-classify.c - RFC 3834 signs of automatic mail, each case alone. */
#include "classify.h"
#include "tap.h"
#include "util.h"

#include <string.h>

static struct queue_stub {
	struct ticketd_config cfg;
	struct config_queue queue;
} stub;

static void check(const char *headers, bool automatic, const char *name)
{
	char *raw = g_strdup_printf("%sTo: support@example.com\nSubject: hi\n\nbody\n", headers);
	struct parsed_message *msg = NULL;
	struct classification c;
	char *error = NULL;

	if (message_parse(raw, strlen(raw), NULL, &msg, &error) < 0) {
		ok(0, name);
		printf("#   parse failed: %s\n", error);
		g_free(error);
		g_free(raw);
		return;
	}
	classify_message(msg, &stub.cfg, &c);
	if (!ok(c.automatic == automatic, name))
		printf("#   automatic=%d reason=%s\n", c.automatic, c.reason ? c.reason : "-");
	if (automatic)
		ok(c.reason != NULL, "  with a reason");
	message_free(&msg);
	g_free(raw);
}

int main(void)
{
	message_init();
	stub.queue.name = "support";
	stub.queue.address = "support@example.com";
	stub.cfg.queues = &stub.queue;
	stub.cfg.queue_count = 1;

	check("From: a@customer.example\n", false, "a customer's mail is not automatic");
	check("From: a@customer.example\nAuto-Submitted: no\n", false, "Auto-Submitted: no");
	check("From: a@customer.example\nAuto-Submitted: auto-replied\n", true,
	      "Auto-Submitted: auto-replied");
	check("From: a@customer.example\nAuto-Submitted: auto-generated\n", true,
	      "Auto-Submitted: auto-generated");
	check("From: a@customer.example\nAuto-Submitted: Auto-Notified; owner-email=x@y\n", true,
	      "Auto-Submitted with parameters, any case");
	check("From: a@customer.example\nPrecedence: bulk\n", true, "Precedence: bulk");
	check("From: a@customer.example\nPrecedence: junk\n", true, "Precedence: junk");
	check("From: a@customer.example\nPrecedence: list\n", true, "Precedence: list");
	check("From: a@customer.example\nPrecedence: urgent\n", false,
	      "Precedence: urgent is not automatic");
	check("From: a@customer.example\nList-Id: <news.customer.example>\n", true, "List-Id");
	check("From: a@customer.example\nX-Autoreply: yes\n", true, "X-Autoreply");
	check("From: a@customer.example\nReturn-Path: <>\n", true, "empty Return-Path");
	check("From: a@customer.example\nReturn-Path: <a@customer.example>\n", false,
	      "a real Return-Path");
	check("From: MAILER-DAEMON@mx.customer.example\n", true, "MAILER-DAEMON");
	check("From: postmaster@customer.example\n", true, "postmaster");
	check("From: Support <SUPPORT@example.com>\n", true, "our own address");
	check("From: a@customer.example\nMIME-Version: 1.0\n"
	      "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n",
	      true, "a delivery report");
	message_deinit();
	return tap_done();
}
