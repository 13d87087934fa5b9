/*
 * smtp.c - the SMTP client of the transport table (smtp://, smtps://), on
 * libetpan's low-level mailsmtp API (../shared/LIBRARIES.md, "SMTP").
 *
 * A session: connect (our own TCP connect, see smtp_tcp_connect(); smtps:
 * TLS at once, SNI set by tls_sni_callback), EHLO (HELO when the server
 * refuses EHLO), STARTTLS as transport.starttls asks and EHLO again, the
 * certificate check of tls.h after every handshake and before AUTH
 * (libetpan checks nothing itself), then AUTH PLAIN or LOGIN through
 * cyrus-sasl when transport.user is set (never in clear text unless
 * starttls = "off").  The session then carries
 * one message after the other: MAIL FROM, RCPT TO per recipient, DATA.
 * A failed transaction is cleared with RSET; a session without replies
 * (timeout, closed connection, 421) is dropped and the next send connects
 * again.  smtp_close() sends QUIT.
 *
 * One message's exchange (MAIL, RCPT, DATA, with PIPELINING when the
 * server offers it) is in smtp-transaction.c; this file sets sessions up,
 * classifies replies and runs smtp_send().
 *
 * Results are classified in one place, smtp_classify().
 *
 * Envelope addresses follow the address rule (address.h): IDN domains are
 * sent as A-labels, quoted local parts quoted.
 *
 * Not done, because libetpan 1.9.4 cannot: SMTPUTF8 (addresses with a
 * non-ASCII local part are refused here), BODY=8BITMIME, a chosen EHLO name (libetpan sends
 * gethostname()).
 *
 * libetpan writes with send() without MSG_NOSIGNAL, so every exchange runs
 * with SIGPIPE blocked in the calling thread, and a SIGPIPE raised meanwhile
 * is consumed (as the sendmail driver does).
 */
#include "smtp.h"
#include "smtp-private.h"

#include "address.h"

#include "net.h"
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its brackets. */
/* libetpan formats "AUTH PLAIN <base64>" into 513 bytes. */
#define SMTP_CREDENTIALS_MAX   360
#define SMTP_PASSWORD_FILE_MAX 4096
/* The warning about tls_verify = false is given once per process. */
static gint smtp_verify_warned;

/* ---- SIGPIPE ---- */

struct smtp_sigpipe {
	sigset_t old_mask;
	bool was_pending;
};

static void smtp_sigpipe_block(struct smtp_sigpipe *sp)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &sp->old_mask);
	sigpending(&pending);
	sp->was_pending = sigismember(&pending, SIGPIPE);
}

/* Consumes a SIGPIPE our writes raised, then restores the mask. */
static void smtp_sigpipe_restore(const struct smtp_sigpipe *sp)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	if (!sp->was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &sp->old_mask, NULL);
}

/* ---- URL, addresses, settings ---- */

int smtp_parse_url(const char *url, bool *implicit_tls_r, char **host_r, unsigned *port_r,
		   char **error_r)
{
	const char *p, *host_start, *host_end;
	unsigned long port;
	bool implicit;

	if (url != NULL && g_ascii_strncasecmp(url, "smtps:", 6) == 0) {
		implicit = true;
		p = url + 6;
	} else if (url != NULL && g_ascii_strncasecmp(url, "smtp:", 5) == 0) {
		implicit = false;
		p = url + 5;
	} else {
		error_set(error_r, "not an smtp:// or smtps:// URL");
		return -1;
	}
	if (strncmp(p, "//", 2) != 0) {
		error_set(error_r, "expected //host[:port] after the scheme");
		return -1;
	}
	p += 2;
	if (*p == '[') {
		struct in6_addr addr;
		char *literal;
		bool good;

		host_start = p + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL || host_end == host_start || host_end - host_start > 45) {
			error_set(error_r, "bad IPv6 address");
			return -1;
		}
		literal = g_strndup(host_start, host_end - host_start);
		good = inet_pton(AF_INET6, literal, &addr) == 1;
		g_free(literal);
		if (!good) {
			error_set(error_r, "bad IPv6 address");
			return -1;
		}
		p = host_end + 1;
	} else {
		host_start = p;
		host_end = p + strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789.-_");
		if (host_end == p) {
			error_set(error_r, "missing host name");
			return -1;
		}
		if (host_end - host_start > 253) {
			error_set(error_r, "host name too long");
			return -1;
		}
		p = host_end;
	}
	port = implicit ? 465 : 25;
	if (*p == ':') {
		const char *digits = ++p;

		port = 0;
		while (g_ascii_isdigit(*p) && port <= 65535)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == digits || port == 0 || port > 65535) {
			error_set(error_r, "bad port number");
			return -1;
		}
	}
	if (*p == '/')
		p++;
	if (*p != '\0') {
		error_set(error_r, "unexpected text after host[:port]");
		return -1;
	}
	*implicit_tls_r = implicit;
	*host_r = g_strndup(host_start, host_end - host_start);
	*port_r = (unsigned)port;
	return 0;
}

/* The form of addr for MAIL FROM / RCPT TO (address_envelope(): a quoted
 * local part stays quoted, an IDN domain becomes its A-label), or NULL with
 * the reason.  The address rule admits no CR, LF or '<>' outside quotes, so
 * nothing can be smuggled into the command; what is left non-ASCII would
 * need SMTPUTF8. */
static char *smtp_envelope_addr(const char *addr, char **why_r)
{
	char *out = address_envelope(addr, why_r);

	if (out == NULL)
		return NULL;
	for (const char *p = out; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80) {
			error_set(why_r, "not ASCII (SMTPUTF8 is not supported)");
			g_free(out);
			return NULL;
		}
	}
	return out;
}

/* The password from its file, one trailing newline (LF or CRLF) removed. */
static int smtp_read_password(const char *path, char **password_r, char **error_r)
{
	char *data = NULL, *why = NULL;
	size_t len;

	if (file_read_all(path, SMTP_PASSWORD_FILE_MAX, &data, &len, &why) < 0) {
		error_set(error_r, "password_file: %s", why);
		g_free(why);
		return -1;
	}
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	data[len] = '\0';
	if (len == 0 || strlen(data) != len || strpbrk(data, "\r\n") != NULL) {
		error_set(error_r, "password_file %s: must hold the password on one line", path);
		explicit_bzero(data, len);
		g_free(data);
		return -1;
	}
	*password_r = data;
	return 0;
}

int smtp_open(const struct config_transport *cfg, struct smtp **smtp_r, char **error_r)
{
	struct smtp *smtp = g_new0(struct smtp, 1);
	bool implicit;

	*smtp_r = NULL;
	if (smtp_parse_url(cfg->url, &implicit, &smtp->host, &smtp->port, error_r) < 0)
		goto fail;
	if (implicit)
		smtp->tls = SMTP_TLS_IMPLICIT;
	else if (cfg->starttls == NULL || strcmp(cfg->starttls, "required") == 0)
		smtp->tls = SMTP_TLS_REQUIRED;
	else if (strcmp(cfg->starttls, "optional") == 0)
		smtp->tls = SMTP_TLS_OPTIONAL;
	else if (strcmp(cfg->starttls, "off") == 0)
		smtp->tls = SMTP_TLS_OFF;
	else {
		error_set(error_r, "starttls must be \"required\", \"optional\" or \"off\"");
		goto fail;
	}
	smtp->label = smtp->port == (implicit ? 465u : 25u)
			      ? g_strdup(smtp->host)
			      : g_strdup_printf("%s:%u", smtp->host, smtp->port);
	if (cfg->user != NULL) {
		for (const char *p = cfg->user; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				error_set(error_r, "user: control character in the name");
				goto fail;
			}
		}
		if (cfg->password_file == NULL) {
			error_set(error_r, "user is set but password_file is not");
			goto fail;
		}
		if (smtp_read_password(cfg->password_file, &smtp->password, error_r) < 0)
			goto fail;
		if (strlen(cfg->user) + strlen(smtp->password) > SMTP_CREDENTIALS_MAX) {
			error_set(error_r, "user and password are longer than %d bytes together",
				  SMTP_CREDENTIALS_MAX);
			goto fail;
		}
		smtp->user = g_strdup(cfg->user);
	}
	smtp->ca_file = g_strdup(cfg->ca_file);
	smtp->tls_verify = cfg->tls_verify;
	smtp->timeout = cfg->timeout > 0 ? cfg->timeout : 60;
	*smtp_r = smtp;
	return 0;
fail:
	smtp_close(&smtp);
	return -1;
}

/* ---- replies and their meaning ---- */

/* The one place that maps a command's outcome to a result: success is
 * TRANSPORT_OK; a 5xx reply to MAIL, RCPT or DATA refuses this message
 * (TRANSPORT_PERMFAIL); everything else is worth a retry: 4xx, no reply
 * (timeout, lost connection), TLS trouble, and any refusal while setting a
 * session up (greeting, EHLO, STARTTLS, certificate, AUTH: the server's or
 * our configuration's problem, not the message's).  530 "authentication
 * required" or "must issue STARTTLS first" is our configuration as well. */
static enum transport_result smtp_classify(enum smtp_stage stage, int r, int code)
{
	if (r == MAILSMTP_NO_ERROR)
		return TRANSPORT_OK;
	if (stage == SMTP_STAGE_SETUP || code == 530)
		return TRANSPORT_TEMPFAIL;
	if (code >= 500 && code <= 599)
		return TRANSPORT_PERMFAIL;
	return TRANSPORT_TEMPFAIL;
}

/* Before each command: a reply code left at 0 means there was no reply. */
void smtp_expect(mailsmtp *s)
{
	s->response_code = 0;
}

/* The server's reply as one line ("550 5.1.1 <x>: user unknown"), or why
 * there was none.  Newly allocated. */
static char *smtp_reply_text(const struct smtp *smtp, int r)
{
	const mailsmtp *s = smtp->session;
	char *flat, *clean, *text;

	switch (r) {
	case MAILSMTP_ERROR_SSL:
		return g_strdup("TLS handshake failed");
	case MAILSMTP_ERROR_MEMORY:
		return g_strdup("out of memory in libetpan");
	case MAILSMTP_ERROR_HOSTNAME:
		return g_strdup("gethostname() failed");
	default:
		break;
	}
	if (s != NULL && s->response_code == 0 && smtp->bad_reply != NULL)
		return g_strdup_printf("unreadable reply (%s)", smtp->bad_reply);
	if (s == NULL || s->response_code == 0)
		return g_strdup_printf("no reply (connection closed, or nothing within %lds)",
				       smtp->timeout);
	/* libetpan keeps the text of every line, each ended by '\n' */
	flat = g_strdup(s->response != NULL ? s->response : "");
	g_strdelimit(g_strstrip(flat), "\r\n", ' ');
	clean = log_sanitize(flat, 400);
	text = g_strdup_printf("%d %s", s->response_code, clean);
	g_free(flat);
	g_free(clean);
	return text;
}

/* Ends the session: QUIT when the server still talks to us. */
void smtp_disconnect(struct smtp *smtp, bool quit)
{
	if (smtp->session == NULL)
		return;
	if (!quit)
		net_stream_drop(&smtp->session->stream);
	mailsmtp_free(smtp->session); /* sends QUIT when the stream is open */
	smtp->session = NULL;
	smtp->transactions = 0;
	smtp->bad_reply = NULL;
}

/* A failed command: its reason into *why_r ("WHAT: reply"), the session
 * dropped when it cannot carry on (no reply, 421, TLS), and the result. */
enum transport_result smtp_fail(struct smtp *smtp, enum smtp_stage stage, int r, const char *what,
				char **why_r)
{
	int code = smtp->session->response_code;
	char *reply = smtp_reply_text(smtp, r);
	enum transport_result ret = smtp_classify(stage, r, code);

	*why_r = g_strdup_printf("%s: %s", what, reply);
	g_free(reply);
	if (code == 0 || code == 421 || r == MAILSMTP_ERROR_SSL)
		smtp_disconnect(smtp, code != 0 && r != MAILSMTP_ERROR_SSL);
	return ret;
}

/* After a failed transaction: RSET, or drop the session if that fails. */
void smtp_reset(struct smtp *smtp)
{
	if (smtp->session == NULL)
		return;
	smtp_expect(smtp->session);
	if (mailsmtp_reset(smtp->session) != MAILSMTP_NO_ERROR ||
	    smtp->session->response_code != 250)
		smtp_disconnect(smtp, smtp->session->response_code != 0);
}

/* ---- session setup ---- */

/* A TCP connection within the timeout, non-blocking as libetpan leaves its
 * own.  We connect ourselves because mailsmtp_socket_connect() of libetpan
 * 1.9.4 opens the stream without the session's timeout (reads would wait
 * mailstream_network_delay, 300 s, for the greeting and every reply) and
 * says only "connection refused" whatever happened.  Returns the fd or -1. */
static int smtp_tcp_connect(const struct smtp *smtp, char **why_r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	int fd = -1, err = 0, r, one = 1;

	g_snprintf(port, sizeof(port), "%u", smtp->port);
	r = getaddrinfo(smtp->host, port, &hints, &res);
	if (r != 0) {
		*why_r = g_strdup_printf("cannot resolve %s: %s", smtp->host,
					 r == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(r));
		return -1;
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			socklen_t len = sizeof(err);

			do
				r = poll(&pfd, 1, (int)smtp->timeout * 1000);
			while (r < 0 && errno == EINTR);
			if (r == 0)
				err = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (err == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*why_r = g_strdup_printf("cannot connect to port %u: %s", smtp->port,
					 g_strerror(err != 0 ? err : EHOSTUNREACH));
		return -1;
	}
	/* Commands and replies alternate, but a message body goes out in
	 * several writes: without TCP_NODELAY its last piece may wait for a
	 * delayed ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* After each handshake and before any credential: tls.h's check. */
static int smtp_check_peer(struct smtp *smtp, char **why_r)
{
	char *why = NULL;

	if (!smtp->tls_verify) {
		if (g_atomic_int_compare_and_exchange(&smtp_verify_warned, 0, 1))
			log_warning("transport %s: tls_verify is off: the server's certificate "
				    "is not checked",
				    smtp->label);
		return 0;
	}
	if (tls_check_peer(smtp->session->stream, smtp->host, smtp->ca_file, &why) < 0) {
		*why_r = g_strdup_printf("TLS: %s", why);
		g_free(why);
		return -1;
	}
	return 0;
}

/* EHLO; HELO when the server refuses EHLO with 5xx and helo_ok. */
static int smtp_hello(struct smtp *smtp, bool helo_ok, char **why_r)
{
	mailsmtp *s = smtp->session;
	const char *what = "EHLO";
	int r;

	smtp_expect(s);
	r = mailesmtp_ehlo(s);
	if (r != MAILSMTP_NO_ERROR && helo_ok && s->response_code >= 500 &&
	    s->response_code <= 599) {
		what = "HELO";
		smtp_expect(s);
		r = mailsmtp_helo(s);
	}
	if (r != MAILSMTP_NO_ERROR) {
		smtp_fail(smtp, SMTP_STAGE_SETUP, r, what, why_r);
		return -1;
	}
	return 0;
}

static int smtp_starttls(struct smtp *smtp, char **why_r)
{
	mailsmtp *s = smtp->session;
	int r;

	smtp_expect(s);
	r = mailsmtp_socket_starttls_with_callback(s, tls_sni_callback, smtp->host);
	if (r != MAILSMTP_NO_ERROR) {
		smtp_fail(smtp, SMTP_STAGE_SETUP, r, "STARTTLS", why_r);
		return -1;
	}
	/* bytes that came with the 220 in clear text would be read as if
	 * they had come over TLS (CVE-2020-15953) */
	if (s->stream->read_buffer_len != 0) {
		*why_r = g_strdup("STARTTLS: the server sent more than its reply before the "
				  "handshake");
		return -1;
	}
	if (smtp_check_peer(smtp, why_r) < 0)
		return -1;
	/* what the server offered before TLS counts no more (RFC 3207 4.2) */
	return smtp_hello(smtp, false, why_r);
}

static int smtp_auth(struct smtp *smtp, bool tls, char **why_r)
{
	mailsmtp *s = smtp->session;
	const char *mech;
	char *what;
	int r;

	if (!tls && smtp->tls != SMTP_TLS_OFF) {
		*why_r = g_strdup("the server offers no STARTTLS: the password is not sent in "
				  "clear text unless starttls = \"off\"");
		return -1;
	}
	if ((s->esmtp & MAILSMTP_ESMTP) == 0) {
		*why_r = g_strdup("AUTH: the server does not speak ESMTP (EHLO was refused)");
		return -1;
	}
	if ((s->auth & MAILSMTP_AUTH_PLAIN) != 0)
		mech = "PLAIN";
	else if ((s->auth & MAILSMTP_AUTH_LOGIN) != 0)
		mech = "LOGIN";
	else {
		*why_r = g_strdup("AUTH: the server offers neither PLAIN nor LOGIN");
		return -1;
	}
	smtp_expect(s);
	r = mailesmtp_auth_sasl(s, mech, smtp->host, NULL, NULL, smtp->user, smtp->user,
				smtp->password, NULL);
	if (r == MAILSMTP_NO_ERROR)
		return 0;
	if (r == MAILSMTP_ERROR_AUTH_LOGIN && s->response_code == 0) {
		/* cyrus-sasl refused before anything was sent (../shared/LIBRARIES.md pitfall 2) */
		*why_r = g_strdup_printf("AUTH %s: the SASL library cannot do it (is "
					 "libsasl2-modules installed?)",
					 mech);
		return -1;
	}
	what = g_strdup_printf("AUTH %s as %s", mech, smtp->user);
	smtp_fail(smtp, SMTP_STAGE_SETUP, r, what, why_r);
	g_free(what);
	return -1;
}

/* Connects and brings the session to the point where MAIL FROM may follow. */
static int smtp_connect(struct smtp *smtp, char **why_r)
{
	mailsmtp *s = mailsmtp_new(0, NULL);
	mailstream *stream;
	bool tls = false;
	int fd, r;

	if (s == NULL)
		log_panic("out of memory");
	smtp->session = s;
	smtp->transactions = 0;
	mailsmtp_set_timeout(s, smtp->timeout); /* STARTTLS's handshake */
	fd = smtp_tcp_connect(smtp, why_r);
	if (fd < 0)
		goto fail;
	/* what mailsmtp_ssl_connect_with_callback() and _socket_connect() do
	 * after their connect, with the timeout on every read and write */
	if (smtp->tls == SMTP_TLS_IMPLICIT)
		stream = mailstream_ssl_open_with_callback_timeout(fd, smtp->timeout,
								   tls_sni_callback, smtp->host);
	else
		stream = mailstream_socket_open_timeout(fd, smtp->timeout);
	if (stream == NULL) {
		close(fd);
		*why_r = g_strdup(smtp->tls == SMTP_TLS_IMPLICIT ? "TLS handshake failed"
								 : "out of memory in libetpan");
		goto fail;
	}
	smtp_expect(s);
	r = mailsmtp_connect(s, stream); /* reads the greeting; closes stream on failure */
	if (r != MAILSMTP_NO_ERROR) {
		smtp_fail(smtp, SMTP_STAGE_SETUP, r, "greeting", why_r);
		goto fail;
	}
	if (smtp->tls == SMTP_TLS_IMPLICIT) {
		if (smtp_check_peer(smtp, why_r) < 0)
			goto fail;
		tls = true;
	}
	if (smtp_hello(smtp, !tls, why_r) < 0)
		goto fail;
	if (smtp->tls == SMTP_TLS_REQUIRED || smtp->tls == SMTP_TLS_OPTIONAL) {
		if ((s->esmtp & MAILSMTP_ESMTP_STARTTLS) != 0) {
			if (smtp_starttls(smtp, why_r) < 0)
				goto fail;
			tls = true;
		} else if (smtp->tls == SMTP_TLS_REQUIRED) {
			*why_r =
				g_strdup("the server offers no STARTTLS (starttls = \"required\")");
			goto fail;
		}
	}
	if (smtp->user != NULL && smtp_auth(smtp, tls, why_r) < 0)
		goto fail;
	log_debug("transport %s: session ready (%s%s%s)", smtp->label, tls ? "TLS" : "no TLS",
		  smtp->user != NULL ? ", authenticated as " : "",
		  smtp->user != NULL ? smtp->user : "");
	return 0;
fail:
	smtp_disconnect(smtp, smtp->session != NULL && smtp->session->stream != NULL);
	return -1;
}

/* ---- one message ---- */

/* Between transactions the server says nothing, so end-of-file waiting on
 * the socket means it closed the session (idle timeout, restart).  Checked
 * before each message: cheaper than a failed MAIL FROM, and libetpan 1.9.4
 * reads one byte before its buffer when a reply line is empty at EOF. */
static bool smtp_peer_closed(mailsmtp *s)
{
	int fd = mailstream_low_get_fd(mailstream_get_low(s->stream));
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	char c;

	if (fd < 0 || poll(&pfd, 1, 0) <= 0)
		return false;
	/* data (a TLS record, a 421) is left for the next reply to read */
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

enum transport_result smtp_send(struct smtp *smtp, const char *envelope_from,
				const char *const *rcpts, const char *data, size_t len,
				const struct transport_hook *hook, char **error_r)
{
	enum transport_result ret = TRANSPORT_PERMFAIL;
	struct smtp_sigpipe sp;
	GPtrArray *ascii = NULL;
	const char *from;
	char *why = NULL, *clean = NULL, *from_ascii = NULL;
	bool stale;

	/* "" and "<>" are the null reverse-path: MAIL FROM:<> */
	from = envelope_from == NULL || strcmp(envelope_from, "<>") == 0 ? "" : envelope_from;
	if (from[0] != '\0') {
		from_ascii = smtp_envelope_addr(from, &why);
		if (from_ascii == NULL) {
			clean = log_sanitize(from, 0);
			error_set(error_r, "%s: unusable envelope sender %s: %s", smtp->label,
				  clean, why);
			goto out;
		}
		from = from_ascii;
	}
	if (rcpts == NULL || rcpts[0] == NULL) {
		error_set(error_r, "%s: no recipients", smtp->label);
		goto out;
	}
	ascii = g_ptr_array_new_with_free_func(g_free);
	for (size_t i = 0; rcpts[i] != NULL; i++) {
		char *r = smtp_envelope_addr(rcpts[i], &why);
		if (r == NULL) {
			clean = log_sanitize(rcpts[i], 0);
			error_set(error_r, "%s: unusable recipient %s: %s", smtp->label, clean,
				  why);
			goto out;
		}
		g_ptr_array_add(ascii, r);
	}
	g_ptr_array_add(ascii, NULL);

	smtp_sigpipe_block(&sp);
	if (smtp->session != NULL && smtp_peer_closed(smtp->session)) {
		log_debug("transport %s: the server closed the idle session", smtp->label);
		smtp_disconnect(smtp, false);
	}
	for (int attempt = 0;; attempt++) {
		if (smtp->session == NULL) {
			time_t now = time(NULL);

			if (smtp->setup_error != NULL && now >= smtp->setup_failed_at &&
			    now - smtp->setup_failed_at < SMTP_SETUP_HOLD) {
				why = g_strdup(smtp->setup_error);
				ret = TRANSPORT_TEMPFAIL;
				break;
			}
			g_clear_pointer(&smtp->setup_error, g_free);
			if (smtp_connect(smtp, &why) < 0) {
				smtp->setup_error = g_strdup(why);
				smtp->setup_failed_at = now;
				ret = TRANSPORT_TEMPFAIL;
				break;
			}
		}
		ret = smtp_transaction(smtp, from, (const char *const *)ascii->pdata, data, len,
				       hook, &stale, &why);
		if (!stale || attempt > 0)
			break;
		log_debug("transport %s: idle session went stale (%s), connecting again",
			  smtp->label, why);
		g_clear_pointer(&why, g_free);
	}
	smtp_sigpipe_restore(&sp);
	if (ret != TRANSPORT_OK)
		error_set(error_r, "%s: %s", smtp->label, why);
out:
	if (ascii != NULL)
		g_ptr_array_unref(ascii);
	g_free(from_ascii);
	g_free(clean);
	g_free(why);
	return ret;
}

void smtp_close(struct smtp **smtp)
{
	struct smtp_sigpipe sp;

	if (*smtp == NULL)
		return;
	if ((*smtp)->session != NULL) {
		smtp_sigpipe_block(&sp);
		smtp_disconnect(*smtp, true);
		smtp_sigpipe_restore(&sp);
	}
	net_free_password(&(*smtp)->password);
	g_free((*smtp)->host);
	g_free((*smtp)->label);
	g_free((*smtp)->user);
	g_free((*smtp)->ca_file);
	g_free((*smtp)->setup_error);
	g_free(*smtp);
	*smtp = NULL;
}
