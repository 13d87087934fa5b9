/*
 * test-smtp.c - the SMTP transport without root or real servers: URL
 * parsing, and whole sessions against a scripted fake server on 127.0.0.1
 * (a thread) that records every byte the client sends, with and without
 * PIPELINING.  TLS, certificates and real AUTH against Dovecot are in
 * tests/integration/70-smtp.sh, which also runs this program's send mode
 * (send_main()) against Postfix.
 */
#include "config.h"
#include "smtp.h"
#include "tap.h"
#include "transport.h"
#include "util.h"

#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the fake server ---- */

struct fake {
	int lfd;
	unsigned port;
	GThread *thread;
	/* behaviour */
	const char *ehlo;       /* whole reply to EHLO; NULL: "250 fake.test" */
	const char *end_reply;  /* reply to the final dot; NULL: 250 */
	const char *mail_reply; /* reply to MAIL FROM; NULL: 250 */
	const char *rcpt_reply; /* reply to RCPT TO but perm... and temp...; NULL: 250 */
	bool data_anyway;       /* 354 to DATA even without recipients (RFC 2920 3.1) */
	bool hold_replies;      /* replies to MAIL and RCPT wait for DATA: pipelining only */
	int close_after;        /* drop the connection after this many messages */
	int refuse_after;       /* after this many messages: 421 to the next command */
	int end_delay;          /* seconds before the reply to the final dot */
	/* what happened */
	GMutex lock;
	GString *log; /* everything the client sent */
	int connections;
	int messages;
	char *auth_seen; /* the decoded AUTH PLAIN response */
};

static void fake_say(int fd, const char *text)
{
	(void)send(fd, text, strlen(text), MSG_NOSIGNAL);
}

static void fake_log(struct fake *f, const char *line)
{
	g_mutex_lock(&f->lock);
	g_string_append(f->log, line);
	g_mutex_unlock(&f->lock);
}

static bool fake_check_plain(struct fake *f, const char *b64)
{
	gsize len;
	guchar *raw = g_base64_decode(b64, &len);
	/* authzid NUL authcid NUL password */
	const char *nul1 = memchr(raw, '\0', len);
	const char *nul2 =
		nul1 != NULL ? memchr(nul1 + 1, '\0', len - (nul1 + 1 - (char *)raw)) : NULL;
	bool good = false;

	if (nul2 != NULL) {
		char *authcid = g_strndup(nul1 + 1, nul2 - nul1 - 1);
		char *pass = g_strndup(nul2 + 1, len - (nul2 + 1 - (char *)raw));
		g_free(f->auth_seen);
		f->auth_seen = g_strdup_printf("%s/%s", authcid, pass);
		good = strcmp(authcid, "ticketd") == 0 && strcmp(pass, "s3cret pass") == 0;
		g_free(authcid);
		g_free(pass);
	}
	g_free(raw);
	return good;
}

/* One connection, until QUIT or EOF. */
static void fake_session(struct fake *f, int fd)
{
	FILE *in = fdopen(dup(fd), "r");
	char *line = NULL;
	size_t cap = 0;
	int messages = 0, rcpts = 0; /* recipients accepted in this transaction */
	bool in_data = false, mail = false;
	GString *held = g_string_new(NULL);

	fake_say(fd, "220 fake.test ESMTP\r\n");
	while (in != NULL && getline(&line, &cap, in) > 0) {
		char verb[16] = "";
		const char *reply;

		fake_log(f, line);
		if (in_data) {
			if (strcmp(line, ".\r\n") != 0)
				continue;
			in_data = mail = false;
			if (rcpts == 0) { /* DATA was accepted anyway: nothing to deliver */
				fake_say(fd, "554 5.5.1 Error: no valid recipients\r\n");
				continue;
			}
			rcpts = 0;
			g_mutex_lock(&f->lock);
			f->messages++;
			g_mutex_unlock(&f->lock);
			if (f->end_delay > 0)
				sleep((unsigned)f->end_delay);
			fake_say(fd, f->end_reply != NULL ? f->end_reply : "250 2.0.0 queued\r\n");
			if (f->close_after > 0 && ++messages >= f->close_after)
				break;
			if (f->refuse_after > 0)
				messages++;
			continue;
		}
		sscanf(line, "%15[A-Za-z]", verb);
		if (f->refuse_after > 0 && messages >= f->refuse_after) {
			fake_say(fd, "421 4.4.2 fake.test Error: timeout exceeded\r\n");
			break;
		}
		if (g_ascii_strcasecmp(verb, "EHLO") == 0) {
			fake_say(fd, f->ehlo != NULL ? f->ehlo : "250 fake.test\r\n");
		} else if (g_ascii_strcasecmp(verb, "HELO") == 0) {
			fake_say(fd, "250 fake.test\r\n");
		} else if (g_ascii_strcasecmp(verb, "MAIL") == 0) {
			reply = f->mail_reply != NULL ? f->mail_reply : "250 2.1.0 ok\r\n";
			mail = strncmp(reply, "250", 3) == 0;
			rcpts = 0;
			g_string_append(held, reply);
		} else if (g_ascii_strcasecmp(verb, "RCPT") == 0) {
			if (!mail)
				reply = "503 5.5.1 Error: need MAIL command\r\n";
			else if (strncmp(line, "RCPT TO:<perm", 13) == 0)
				reply = "550 5.1.1 <perm>: Recipient address rejected: "
					"User unknown\r\n";
			else if (strncmp(line, "RCPT TO:<temp", 13) == 0)
				reply = "450 4.2.0 <temp>: greylisted, try again\r\n";
			else
				reply = f->rcpt_reply != NULL ? f->rcpt_reply : "250 2.1.5 ok\r\n";
			if (strncmp(reply, "25", 2) == 0)
				rcpts++;
			g_string_append(held, reply);
		} else if (g_ascii_strcasecmp(verb, "DATA") == 0) {
			in_data = rcpts > 0 || f->data_anyway;
			g_string_append(held, in_data ? "354 go ahead\r\n"
					      : !mail ? "503 5.5.1 Error: need RCPT command\r\n"
						      : "554 5.5.1 Error: no valid recipients\r\n");
			fake_say(fd, held->str);
			g_string_truncate(held, 0);
		} else if (g_ascii_strcasecmp(verb, "RSET") == 0 ||
			   g_ascii_strcasecmp(verb, "NOOP") == 0) {
			mail = false;
			rcpts = 0;
			fake_say(fd, "250 2.0.0 ok\r\n");
		} else if (g_ascii_strcasecmp(verb, "AUTH") == 0) {
			char *b64 = NULL;
			if (strncmp(line, "AUTH PLAIN ", 11) == 0) {
				b64 = g_strstrip(g_strdup(line + 11));
			} else if (strncmp(line, "AUTH PLAIN", 10) == 0) {
				fake_say(fd, "334 \r\n");
				if (getline(&line, &cap, in) > 0) {
					fake_log(f, line);
					b64 = g_strstrip(g_strdup(line));
				}
			}
			if (b64 != NULL && fake_check_plain(f, b64))
				fake_say(fd, "235 2.7.0 Authentication successful\r\n");
			else
				fake_say(fd, "535 5.7.8 Error: authentication failed\r\n");
			g_free(b64);
		} else if (g_ascii_strcasecmp(verb, "QUIT") == 0) {
			fake_say(fd, "221 2.0.0 bye\r\n");
			break;
		} else {
			fake_say(fd, "502 5.5.2 command not recognized\r\n");
		}
		if (!f->hold_replies && held->len > 0) {
			fake_say(fd, held->str);
			g_string_truncate(held, 0);
		}
	}
	g_string_free(held, TRUE);
	free(line);
	if (in != NULL)
		fclose(in);
}

static gpointer fake_main(gpointer data)
{
	struct fake *f = data;
	int fd;

	while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
		g_mutex_lock(&f->lock);
		f->connections++;
		g_mutex_unlock(&f->lock);
		fake_session(f, fd);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	g_mutex_init(&f->lock);
	f->log = g_string_new(NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 8) < 0 || getsockname(f->lfd, (struct sockaddr *)&sa, &len) < 0) {
		printf("Bail out! cannot listen on 127.0.0.1\n");
		exit(1);
	}
	f->port = ntohs(sa.sin_port);
	f->thread = g_thread_new("fake-smtp", fake_main, f);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR); /* wakes accept() */
	g_thread_join(f->thread);
	close(f->lfd);
	g_string_free(f->log, TRUE);
	g_free(f->auth_seen);
	g_mutex_clear(&f->lock);
}

static char *fake_log_copy(struct fake *f)
{
	char *copy;

	g_mutex_lock(&f->lock);
	copy = g_strdup(f->log->str);
	g_mutex_unlock(&f->lock);
	return copy;
}

/* Waits up to 2 s for the server to have read text. */
static bool fake_wait_for(struct fake *f, const char *text)
{
	for (int i = 0; i < 200; i++) {
		char *log = fake_log_copy(f);
		bool seen = strstr(log, text) != NULL;

		g_free(log);
		if (seen)
			return true;
		g_usleep(10 * 1000);
	}
	return false;
}

static int fake_messages(struct fake *f)
{
	int n;

	g_mutex_lock(&f->lock);
	n = f->messages;
	g_mutex_unlock(&f->lock);
	return n;
}

static int fake_connections(struct fake *f)
{
	int n;

	g_mutex_lock(&f->lock);
	n = f->connections;
	g_mutex_unlock(&f->lock);
	return n;
}

/* ---- helpers ---- */

static const char message[] = "From: support@example.com\r\n"
			      "To: customer@example.net\r\n"
			      "Subject: test\r\n"
			      "\r\n"
			      ".a line with a leading dot\r\n"
			      "last line\r\n";

static struct transport *open_fake(const struct fake *f, const char *starttls, const char *user,
				   const char *password_file)
{
	struct config_transport cfg = { .starttls = (char *)starttls,
					.user = (char *)user,
					.password_file = (char *)password_file,
					.tls_verify = true,
					.timeout = 1 };
	struct transport *tr = NULL;
	char *error = NULL;

	cfg.url = g_strdup_printf("smtp://127.0.0.1:%u", f->port);
	if (transport_open(&cfg, &tr, &error) < 0) {
		printf("# transport_open: %s\n", error);
		g_free(error);
	}
	g_free(cfg.url);
	return tr;
}

static enum transport_result send1(struct transport *tr, const char *from, const char *rcpt,
				   char **error_r)
{
	const char *rcpts[] = { rcpt, NULL };

	return transport_send(tr, from, rcpts, message, strlen(message), error_r);
}

/* ---- tests ---- */

static void test_parse_url(void)
{
	static const struct {
		const char *url, *host;
		unsigned port;
		bool implicit;
	} good[] = {
		{ "smtp://mail.example.com", "mail.example.com", 25, false },
		{ "smtp://mail.example.com/", "mail.example.com", 25, false },
		{ "SMTP://Mail.Example.com:587", "Mail.Example.com", 587, false },
		{ "smtps://mail.example.com", "mail.example.com", 465, true },
		{ "smtps://127.0.0.1:10007", "127.0.0.1", 10007, true },
		{ "smtp://[::1]:25", "::1", 25, false },
		{ "smtp://[2001:db8::1]", "2001:db8::1", 25, false },
	};
	static const char *const bad[] = {
		"",
		"smtp:",
		"smtp:host",
		"smtp://",
		"smtp://:25",
		"smtp://host:0",
		"smtp://host:65536",
		"smtp://host:",
		"smtp://host:25x",
		"smtp://user@host",
		"smtp://[]:25",
		"smtp://[::1",
		"smtp://[zz::1]",
		"smtp://host/path",
		"imap://host",
		"smtp://host\r\nx",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		char *host = NULL, *error = NULL, *name;
		unsigned port = 0;
		bool implicit = !good[i].implicit;

		name = g_strdup_printf("parse %s", good[i].url);
		is_int(smtp_parse_url(good[i].url, &implicit, &host, &port, &error), 0, name);
		is_str(host, good[i].host, "  ... host");
		is_int(port, good[i].port, "  ... port");
		is_int(implicit, good[i].implicit, "  ... implicit TLS");
		g_free(name);
		g_free(host);
		g_free(error);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *host = NULL, *error = NULL, *clean = g_strescape(bad[i], NULL);
		char *name = g_strdup_printf("parse rejects \"%s\"", clean);
		unsigned port;
		bool implicit;

		is_int(smtp_parse_url(bad[i], &implicit, &host, &port, &error), -1, name);
		ok(error != NULL && host == NULL, "  ... with a reason");
		g_free(name);
		g_free(clean);
		g_free(error);
	}
}

static void test_open(const char *top)
{
	struct config_transport cfg = { .url = "smtp://mail.example.invalid",
					.starttls = "required",
					.tls_verify = true,
					.timeout = 5 };
	char *pw = g_build_filename(top, "password", NULL);
	struct transport *tr = NULL;
	char *error = NULL;

	is_int(transport_open(&cfg, &tr, &error), 0, "smtp open connects to nothing yet");
	transport_close(&tr);
	ok(tr == NULL, "close sets the pointer to NULL");

	cfg.user = "ticketd";
	is_int(transport_open(&cfg, &tr, &error), -1, "user without password_file");
	like(error, "password_file", "  ... says so");
	g_clear_pointer(&error, g_free);

	cfg.password_file = pw;
	is_int(transport_open(&cfg, &tr, &error), -1, "missing password file");
	like(error, pw, "  ... names it");
	g_clear_pointer(&error, g_free);

	g_file_set_contents(pw, "two\nlines\n", -1, NULL);
	is_int(transport_open(&cfg, &tr, &error), -1, "password file of two lines");
	g_clear_pointer(&error, g_free);

	cfg.starttls = "sometimes";
	g_file_set_contents(pw, "x\n", -1, NULL);
	is_int(transport_open(&cfg, &tr, &error), -1, "bad starttls value");
	g_clear_pointer(&error, g_free);
	g_unlink(pw);
	g_free(pw);
}

/* EHLO replies with and without PIPELINING */
static const char ehlo_pipelining[] = "250-fake.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n"
				      "250 8BITMIME\r\n";
static const char ehlo_plain[] = "250-fake.test\r\n250-SIZE 10000000\r\n250 8BITMIME\r\n";

static void test_session(bool pipelining)
{
	/* held replies: a client that waits for the reply to MAIL FROM before
	 * sending RCPT TO gets nothing and times out */
	struct fake f = { .ehlo = pipelining ? ehlo_pipelining : ehlo_plain,
			  .hold_replies = pipelining };
	struct transport *tr;
	char *error = NULL, *log;
	const char *data;

	printf("# session, %s\n", pipelining ? "pipelining" : "one command at a time");
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(fake_connections(&f), 0, "open does not connect");
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK, "null sender: sent");
	if (error != NULL)
		printf("# %s\n", error);
	g_clear_pointer(&error, g_free);
	is_int(send1(tr, "<>", "customer@example.net", &error), TRANSPORT_OK, "\"<>\": sent");
	is_int(send1(tr, "support@example.com", "customer@example.net", &error), TRANSPORT_OK,
	       "third message sent");
	is_int(fake_connections(&f), 1, "three messages, one connection");
	transport_close(&tr);
	ok(fake_wait_for(&f, "QUIT\r\n"), "close sends QUIT");
	log = fake_log_copy(&f);
	like(log, "\r\nMAIL FROM:<> SIZE=", "MAIL FROM:<> for the null sender (with SIZE)");
	ok(strstr(log, "MAIL FROM:<<>>") == NULL, "never MAIL FROM:<<>>");
	like(log, "MAIL FROM:<support@example.com> SIZE=", "MAIL FROM with an address");
	like(log, "RCPT TO:<customer@example.net>\r\nDATA\r\n", "RCPT TO, DATA");
	data = strstr(log, "DATA\r\n");
	like(data, "\r\n..a line with a leading dot\r\n", "dot-stuffing");
	like(data, "\r\nlast line\r\n.\r\n", "no empty line added before the final dot");
	ok(strstr(log, "RSET") == NULL, "no RSET after good transactions");
	g_free(log);
	fake_stop(&f);
}

/* A transport_hook that keeps what the fake server had read at its call,
 * and fails when told to. */
struct hook_probe {
	struct fake *f;
	char *log_then;
	int calls;
	bool fail;
};

static int probe_before_delivery(void *context, char **error_r)
{
	struct hook_probe *p = context;

	p->calls++;
	g_free(p->log_then);
	p->log_then = fake_log_copy(p->f);
	if (!p->fail)
		return 0;
	*error_r = g_strdup("probe says no");
	return -1;
}

/* The hook runs after DATA was answered, before the content; a failing
 * hook delivers nothing (the connection is dropped in DATA). */
static void test_hook(bool pipelining)
{
	struct fake f = { .ehlo = pipelining ? ehlo_pipelining : ehlo_plain,
			  .hold_replies = pipelining };
	struct hook_probe probe = { &f, NULL, 0, false };
	const struct transport_hook hook = { probe_before_delivery, &probe };
	const char *rcpts[] = { "customer@example.net", NULL };
	struct transport *tr;
	char *error = NULL;

	printf("# hook before delivery, %s\n", pipelining ? "pipelining" : "one command at a time");
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_OK, "hook: sent");
	is_int(probe.calls, 1, "hook: called once");
	like(probe.log_then, "RCPT TO:<customer@example.net>\r\nDATA\r\n",
	     "hook: called after DATA went");
	ok(probe.log_then != NULL && strstr(probe.log_then, "last line") == NULL,
	   "hook: and before the content");
	is_int(fake_messages(&f), 1, "hook: one message delivered");

	probe.fail = true;
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_TEMPFAIL, "failing hook: TEMPFAIL");
	like(error, "probe says no", "failing hook: its reason");
	g_clear_pointer(&error, g_free);
	is_int(fake_messages(&f), 1, "failing hook: nothing delivered");

	probe.fail = false;
	is_int(transport_send_hooked(tr, "", rcpts, message, strlen(message), &hook, &error),
	       TRANSPORT_OK, "after a failing hook: the next mail goes");
	is_int(fake_connections(&f), 2, "  ... on a new connection");
	is_int(fake_messages(&f), 2, "  ... delivered");
	transport_close(&tr);
	g_free(probe.log_then);
	fake_stop(&f);
}

static void test_refusals(bool pipelining)
{
	struct fake f = { .ehlo = pipelining ? ehlo_pipelining : NULL };
	struct transport *tr;
	const char *two[] = { "customer@example.net", "perm@example.net", NULL };
	const char *mixed[] = { "customer@example.net", "temp@example.net", "perm@example.net",
				NULL };
	const char *both[] = { "perm@example.net", "perm2@example.net", NULL };
	char *error = NULL, *log;

	printf("# refusals, %s\n", pipelining ? "pipelining" : "one command at a time");
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "perm@example.net", &error), TRANSPORT_PERMFAIL,
	       "550 to RCPT: PERMFAIL");
	like(error, "127.0.0.1:", "  ... names the server");
	like(error, "RCPT TO <perm@example.net>: 550 5.1.1 <perm>: Recipient address rejected",
	     "  ... the command and the reply");
	g_clear_pointer(&error, g_free);
	is_int(send1(tr, "", "temp@example.net", &error), TRANSPORT_TEMPFAIL,
	       "450 to RCPT: TEMPFAIL");
	like(error, "RCPT TO <temp@example.net>: 450 4.2.0", "  ... the reply");
	g_clear_pointer(&error, g_free);
	log = fake_log_copy(&f);
	if (pipelining)
		like(log, "RCPT TO:<perm@example.net>\r\nDATA\r\nRSET\r\n",
		     "DATA in the group, refused; then RSET");
	else
		like(log, "RCPT TO:<perm@example.net>\r\nRSET\r\n",
		     "RSET after the refused recipient");
	ok(pipelining || strstr(log, "DATA") == NULL, "no DATA for refused recipients");
	ok(strstr(log, "Subject:") == NULL, "no content for refused recipients");
	g_free(log);

	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "the session carries on after refusals");
	is_int(fake_connections(&f), 1, "  ... on the same connection");

	is_int(transport_send(tr, "", two, message, strlen(message), &error), TRANSPORT_PERMFAIL,
	       "one of two refused: PERMFAIL");
	like(error, "sent to 1 of 2 recipients; refused: RCPT TO <perm@example.net>: 550",
	     "  ... names the refused one");
	g_clear_pointer(&error, g_free);
	is_int(fake_messages(&f), 2, "  ... and the other got it");

	is_int(transport_send(tr, "", mixed, message, strlen(message), &error), TRANSPORT_TEMPFAIL,
	       "one refused for now: TEMPFAIL");
	is_int(fake_messages(&f), 2, "  ... and nobody got it");
	like(error, "RCPT TO <temp@example.net>: 450 4.2.0", "  ... says why");
	g_clear_pointer(&error, g_free);
	if (pipelining) {
		/* DATA had its 354: any end of the data would deliver */
		usleep(100 * 1000);
		is_int(fake_messages(&f), 2, "  ... not even an empty message");
		log = fake_log_copy(&f);
		ok(g_str_has_suffix(log, "RCPT TO:<perm@example.net>\r\nDATA\r\n"),
		   "  ... the connection was dropped in DATA");
		g_free(log);
	}

	is_int(transport_send(tr, "", both, message, strlen(message), &error), TRANSPORT_PERMFAIL,
	       "all refused: PERMFAIL");
	is_int(fake_messages(&f), 2, "  ... nothing sent");
	like(error,
	     "RCPT TO <perm@example.net>: 550 5.1.1 <perm>: Recipient address rejected: "
	     "User unknown; RCPT TO <perm2@example.net>: 550",
	     "  ... both refusals in the reason");
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), pipelining ? 2 : 1,
	       pipelining ? "  ... on a new connection" : "  ... on the same connection");

	is_int(send1(tr, "", "bad\r\nRSET@example.net", &error), TRANSPORT_PERMFAIL,
	       "CRLF in a recipient: PERMFAIL");
	is_int(send1(tr, "", "kund\xc3\xa9@example.net", &error), TRANSPORT_PERMFAIL,
	       "non-ASCII recipient: PERMFAIL");
	like(error, "SMTPUTF8", "  ... says why");
	g_clear_pointer(&error, g_free);
	is_int(send1(tr, "", "\"j,s\"@customer.example", &error), TRANSPORT_OK,
	       "quoted local part: sent");
	is_int(send1(tr, "", "\"john doe\"@example.com", &error), TRANSPORT_OK,
	       "quoted blank in the local part: sent");
	is_int(send1(tr, "", "kunde@bücher.example", &error), TRANSPORT_OK, "IDN domain: sent");
	g_clear_pointer(&error, g_free);
	log = fake_log_copy(&f);
	like(log, "RCPT TO:<\"j,s\"@customer.example>\r\n", "  ... quoted as written");
	like(log, "RCPT TO:<\"john doe\"@example.com>\r\n", "  ... the blank inside the quotes");
	like(log, "RCPT TO:<kunde@xn--bcher-kva.example>\r\n", "  ... the domain as A-label");
	g_free(log);
	log = fake_log_copy(&f);
	ok(strstr(log, "bad") == NULL, "  ... nothing of them reached the server");
	g_free(log);
	transport_close(&tr);
	fake_stop(&f);

	f = (struct fake){ .ehlo = f.ehlo, .end_reply = "554 5.7.1 spam\r\n" };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_PERMFAIL,
	       "554 after the data: PERMFAIL");
	like(error, "end of DATA: 554 5.7.1 spam", "  ... the reply");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	fake_stop(&f);

	f = (struct fake){ .ehlo = f.ehlo, .mail_reply = "530 5.7.0 Authentication required\r\n" };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "530 to MAIL FROM: TEMPFAIL (our configuration, not the message)");
	like(error, "MAIL FROM <>: 530 5.7.0 Authentication required", "  ... the reply");
	ok(error != NULL && strstr(error, "503") == NULL, "  ... and no other");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	fake_stop(&f);

	f = (struct fake){ .ehlo = f.ehlo, .mail_reply = "553 5.1.8 sender rejected\r\n" };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "support@example.com", "customer@example.net", &error), TRANSPORT_PERMFAIL,
	       "553 to MAIL FROM: PERMFAIL");
	g_clear_pointer(&error, g_free);
	is_int(send1(tr, "support@example.com", "customer@example.net", &error), TRANSPORT_PERMFAIL,
	       "  ... again, on the same session");
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), 1, "  ... which stays usable");
	log = fake_log_copy(&f);
	like(log, "\r\nRSET\r\n", "  ... RSET after the failed MAIL FROM");
	if (pipelining)
		like(log, "RCPT TO:<customer@example.net>\r\nDATA\r\nRSET\r\n",
		     "  ... after the rest of the group");
	else
		ok(strstr(log, "RCPT") == NULL, "  ... and no RCPT TO");
	g_free(log);
	transport_close(&tr);
	fake_stop(&f);

	f = (struct fake){ .ehlo = f.ehlo, .end_reply = "452 4.3.1 disk full\r\n" };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "452 after the data: TEMPFAIL");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	fake_stop(&f);
}

/* RFC 2920 3.1: a server may accept DATA although no recipient was; the
 * client then sends "." alone, and the session carries on. */
static void test_pipelined_data_anyway(void)
{
	struct fake f = { .ehlo = ehlo_pipelining, .data_anyway = true };
	const char *both[] = { "perm@example.net", "perm2@example.net", NULL };
	struct transport *tr;
	char *error = NULL, *log;

	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(transport_send(tr, "", both, message, strlen(message), &error), TRANSPORT_PERMFAIL,
	       "pipelining, all refused, DATA accepted anyway: PERMFAIL");
	like(error, "RCPT TO <perm2@example.net>: 550", "  ... for the refusals");
	g_clear_pointer(&error, g_free);
	log = fake_log_copy(&f);
	like(log, "RCPT TO:<perm2@example.net>\r\nDATA\r\n.\r\nRSET\r\n",
	     "  ... \".\" alone after the 354, then RSET");
	ok(strstr(log, "Subject:") == NULL, "  ... without the content");
	g_free(log);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "  ... and the next message goes out");
	is_int(fake_connections(&f), 1, "  ... on the same connection");
	transport_close(&tr);
	fake_stop(&f);
}

/* Replies the pipelined path reads itself: several lines, and junk. */
static void test_pipelined_replies(void)
{
	static const struct {
		const char *reply, *name, *error;
		enum transport_result result;
	} cases[] = {
		{ "250-2.1.5 first\r\n250-2.1.5 second\r\n250 2.1.5 ok\r\n", "reply of three lines",
		  NULL, TRANSPORT_OK },
		{ "551-5.1.6 gone\r\n551 5.1.6 try elsewhere\r\n", "refusal of two lines",
		  "RCPT TO <customer@example.net>: 551 5.1.6 gone 5.1.6 try elsewhere",
		  TRANSPORT_PERMFAIL },
		{ "hello\r\n", "not a reply",
		  "RCPT TO <customer@example.net>: unreadable reply (not an SMTP reply)",
		  TRANSPORT_TEMPFAIL },
		{ "250-more\r\n", "lines of different codes (250-, then DATA's 354)",
		  "unreadable reply (lines of different codes)", TRANSPORT_TEMPFAIL },
	};
	char *long_reply = g_strdup_printf("250 %0*d\r\n", 5000, 0);
	char *error = NULL;

	for (size_t i = 0; i <= G_N_ELEMENTS(cases); i++) {
		bool last = i == G_N_ELEMENTS(cases);
		struct fake f = { .ehlo = ehlo_pipelining,
				  .rcpt_reply = last ? long_reply : cases[i].reply };
		struct transport *tr;
		char *name = g_strdup_printf("pipelining, %s",
					     last ? "line of 5000 bytes" : cases[i].name);

		fake_start(&f);
		tr = open_fake(&f, "off", NULL, NULL);
		is_int(send1(tr, "", "customer@example.net", &error),
		       last ? TRANSPORT_TEMPFAIL : cases[i].result, name);
		if (last || cases[i].error != NULL)
			like(error, last ? "unreadable reply (line too long)" : cases[i].error,
			     "  ... the reason");
		g_clear_pointer(&error, g_free);
		transport_close(&tr);
		fake_stop(&f);
		g_free(name);
	}
	g_free(long_reply);
}

/* Sessions that end under us, with and without pipelining; *dead_port_r:
 * the port of its last fake, stopped. */
static void test_stale(bool pipelining, unsigned *dead_port_r)
{
	const char *ehlo = pipelining ? ehlo_pipelining : NULL;
	struct transport *tr;
	struct fake f;
	char *error = NULL;

	printf("# sessions that end, %s\n", pipelining ? "pipelining" : "one command at a time");
	/* a session the server closed while idle is replaced */
	f = (struct fake){ .ehlo = ehlo, .close_after = 1 };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK, "first message");
	usleep(100 * 1000);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "the server closed the session: the next message connects again");
	if (error != NULL)
		printf("# %s\n", error);
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), 2, "  ... on a second connection");
	is_int(fake_messages(&f), 2, "  ... both arrived");
	transport_close(&tr);
	fake_stop(&f);

	/* ... also when it says 421 first */
	f = (struct fake){ .ehlo = ehlo, .refuse_after = 1 };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK, "first message");
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "421 to MAIL FROM on a used session: the message goes out on a new one");
	if (error != NULL)
		printf("# %s\n", error);
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), 2, "  ... on a second connection");
	is_int(fake_messages(&f), 2, "  ... both arrived");
	transport_close(&tr);
	fake_stop(&f);

	/* no reply within the timeout */
	f = (struct fake){ .ehlo = ehlo, .end_delay = 2 };
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "no reply after the data: TEMPFAIL");
	like(error, "end of DATA: no reply", "  ... says so");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	fake_stop(&f);
	*dead_port_r = f.port;
}

static void test_connections(void)
{
	struct fake f = { .ehlo = "502 5.5.2 what?\r\n" };
	struct transport *tr;
	char *error = NULL, *log, *url;
	unsigned dead_port;

	/* EHLO refused: HELO */
	fake_start(&f);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "EHLO refused: HELO and send");
	log = fake_log_copy(&f);
	like(log, "\r\nHELO ", "  ... HELO was sent");
	ok(strstr(log, "MAIL FROM:<>\r\n") != NULL, "  ... MAIL FROM:<> without ESMTP options");
	g_free(log);
	transport_close(&tr);

	/* the same server cannot do STARTTLS */
	tr = open_fake(&f, "required", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "starttls required, not offered: TEMPFAIL");
	like(error, "no STARTTLS", "  ... says so");
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), 2, "  ... after one connection");
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "the next send fails at once");
	like(error, "no STARTTLS", "  ... with the same reason");
	g_clear_pointer(&error, g_free);
	is_int(fake_connections(&f), 2, "  ... without connecting again");
	transport_close(&tr);
	fake_stop(&f);

	test_stale(true, &dead_port);
	test_stale(false, &dead_port); /* its last fake's port: nobody listens now */

	/* nobody listening */
	f = (struct fake){ .port = dead_port };
	url = g_strdup_printf("smtp://127.0.0.1:%u", dead_port);
	tr = open_fake(&f, "off", NULL, NULL);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "connection refused: TEMPFAIL");
	like(error, "cannot connect", "  ... says so");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	g_free(url);
}

static void test_auth(const char *top)
{
	struct fake f = { .ehlo = "250-fake.test\r\n250 AUTH LOGIN PLAIN\r\n" };
	char *pw = g_build_filename(top, "password", NULL);
	struct transport *tr;
	char *error = NULL, *log;

	fake_start(&f);
	g_file_set_contents(pw, "s3cret pass\n", -1, NULL);
	tr = open_fake(&f, "off", "ticketd", pw);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_OK,
	       "AUTH PLAIN, then send");
	if (error != NULL)
		printf("# %s\n", error);
	g_clear_pointer(&error, g_free);
	is_str(f.auth_seen, "ticketd/s3cret pass", "  ... with the password minus its newline");
	log = fake_log_copy(&f);
	like(log, "AUTH PLAIN", "  ... PLAIN preferred to LOGIN");
	g_free(log);
	transport_close(&tr);

	g_file_set_contents(pw, "wrong\r\n", -1, NULL);
	tr = open_fake(&f, "off", "ticketd", pw);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "535 to AUTH: TEMPFAIL (the configuration, not the message)");
	like(error, "AUTH PLAIN as ticketd: 535 5.7.8", "  ... the reply");
	ok(error != NULL && strstr(error, "wrong") == NULL, "  ... without the password");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);

	tr = open_fake(&f, "optional", "ticketd", pw);
	is_int(send1(tr, "", "customer@example.net", &error), TRANSPORT_TEMPFAIL,
	       "starttls optional, not offered, user set: TEMPFAIL");
	like(error, "clear text", "  ... the password is not sent in clear text");
	g_clear_pointer(&error, g_free);
	transport_close(&tr);
	fake_stop(&f);
	g_unlink(pw);
	g_free(pw);
}

/* For tests/integration/70-smtp.sh, which has no other way to send one
 * message to several recipients: "test-smtp send URL CA-FILE FROM RCPT...",
 * the message (CRLF line ends) on stdin, STARTTLS required.  Prints the
 * result and the reason on one line; exits 0 once it has tried. */
static int send_main(int argc, char **argv)
{
	struct config_transport cfg = { .starttls = "required", .tls_verify = true, .timeout = 20 };
	GString *data = g_string_new(NULL);
	struct transport *tr = NULL;
	enum transport_result r;
	char buf[4096], *error = NULL;
	size_t n;

	if (argc < 4) {
		fprintf(stderr, "usage: test-smtp send URL CA-FILE FROM RCPT... <MESSAGE\n");
		return 64;
	}
	cfg.url = argv[0];
	cfg.ca_file = argv[1];
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		g_string_append_len(data, buf, n);
	if (transport_open(&cfg, &tr, &error) < 0) {
		fprintf(stderr, "test-smtp: %s\n", error);
		return 1;
	}
	/* argv[argc] is NULL: the recipients are NULL-terminated */
	r = transport_send(tr, argv[2], (const char *const *)argv + 3, data->str, data->len,
			   &error);
	printf("%s%s%s\n",
	       r == TRANSPORT_OK         ? "OK"
	       : r == TRANSPORT_TEMPFAIL ? "TEMPFAIL"
					 : "PERMFAIL",
	       error != NULL ? " " : "", error != NULL ? error : "");
	transport_close(&tr);
	g_free(error);
	g_string_free(data, TRUE);
	return 0;
}

int main(int argc, char **argv)
{
	char *top;

	if (argc > 1 && strcmp(argv[1], "send") == 0) {
		log_open("test-smtp", true, false);
		return send_main(argc - 2, argv + 2);
	}
	top = g_dir_make_tmp("ticketd-smtp-XXXXXX", NULL);

	if (top == NULL) {
		printf("Bail out! cannot make a temporary directory\n");
		return 1;
	}
	log_open("test-smtp", true, false);
	test_parse_url();
	test_open(top);
	test_session(true);
	test_session(false);
	test_hook(true);
	test_hook(false);
	test_refusals(true);
	test_refusals(false);
	test_pipelined_data_anyway();
	test_pipelined_replies();
	test_connections();
	test_auth(top);
	g_rmdir(top);
	g_free(top);
	return tap_done();
}
