/*
 * transport.h - deliver finished messages:
 *   maildir:/path       drop into a Maildir's new/ (for trying ticketd out and
 *                       for tests)
 *   sendmail:/path      run a sendmail-compatible program, no shell,
 *                       recipients after "--"
 *   smtp://host[:port]  SMTP (port 25), STARTTLS as cfg->starttls says
 *   smtps://host[:port] SMTP over TLS from the start (port 465)
 *
 * transport_open() takes the whole [transport] section: url for every
 * driver; starttls, user, password_file, ca_file, tls_verify and timeout
 * for SMTP.  cfg is not referenced after transport_open() returns (SMTP
 * reads the password file there).  SMTP connects on the first
 * transport_send() and keeps the session for the following ones; a
 * broken session is closed and the next send connects again (a failed
 * session setup is TEMPFAIL for that message, and the next send tries to
 * connect anew).
 * transport_close() ends the session with QUIT.
 *
 * Signals: the sendmail and SMTP drivers block SIGPIPE in the calling
 * thread while they write and consume a SIGPIPE their writes raised, so the
 * daemon need not ignore SIGPIPE.  SIGCHLD must not be SIG_IGN (waitpid
 * would lose the child's exit status) and nobody else may reap our child.
 *
 * transport_send() returns TRANSPORT_OK, TRANSPORT_TEMPFAIL (retry later) or
 * TRANSPORT_PERMFAIL (record and stop retrying), with the reason in *error_r.
 * envelope_from "" (or "<>") is the null sender.  For SMTP: a 5xx reply to
 * MAIL FROM, RCPT TO or DATA is PERMFAIL; 4xx, timeouts, lost connections,
 * TLS and certificate trouble, and every refusal while setting the session
 * up (greeting, EHLO, STARTTLS, AUTH: a configuration problem, so mail waits
 * while the administrator fixes it) are TEMPFAIL, and so is 530
 * ("authentication required") at any point.  The reason names the
 * server, the command and the server's reply, e.g.
 * "mx.example.com: RCPT TO <x@example.com>: 550 5.1.1 ... User unknown".
 *
 * Several recipients (SMTP): the message goes out only when no recipient is
 * refused temporarily; then TEMPFAIL, nobody got it, and a retry sends it to
 * all of them.  Recipients refused permanently (5xx) are left out: the
 * others get the message and the result is PERMFAIL naming the refused ones
 * ("sent to 2 of 3 recipients; refused: RCPT TO <...>: 550 ..."), or, when
 * every recipient is refused, PERMFAIL without sending.  So OK means every
 * recipient accepted it.  (The outbox has one recipient per row.)
 */
#ifndef TICKETD_TRANSPORT_H
#define TICKETD_TRANSPORT_H

#include <stddef.h>

struct config_transport; /* config.h */

enum transport_result {
	TRANSPORT_OK = 0,
	TRANSPORT_TEMPFAIL = -1,
	TRANSPORT_PERMFAIL = -2
};

struct transport;

/* Validates url without opening anything (used by ticketd -t). */
int transport_check_url(const char *url, char **error_r);
int transport_open(const struct config_transport *cfg, struct transport **tr_r, char **error_r);
enum transport_result transport_send(struct transport *tr, const char *envelope_from,
				     const char *const *rcpts, const void *data, size_t len,
				     char **error_r);

/* The last moment before a message may be delivered, for a caller that
 * must finish something first (the sender: make sure the previous mail's
 * outcome is committed, so that a crash can leave only one mail sent but
 * not recorded).  Each driver calls it as late as it can, so that the
 * caller's work overlaps the driver's:
 *   smtp    after the server's 354 to DATA (MAIL, RCPT and DATA done),
 *           before the content and its final dot;
 *   maildir with the file written and synced in tmp/, before the rename
 *           into new/;
 *   sendmail before the program is started.
 * It may be called more than once for one message (SMTP tries a message
 * again on a fresh session when the idle one went stale) or not at all
 * (the message failed before that point), so it must be idempotent.
 * 0 goes on; -1 (reason in *error_r) leaves the message undelivered, and
 * the result is TRANSPORT_TEMPFAIL with that reason. */
struct transport_hook {
	int (*before_delivery)(void *context, char **error_r);
	void *context;
};
/* transport_send() with a hook (NULL: none). */
enum transport_result transport_send_hooked(struct transport *tr, const char *envelope_from,
					    const char *const *rcpts, const void *data, size_t len,
					    const struct transport_hook *hook, char **error_r);
/* For the drivers: runs hook's before_delivery, if any.  0 or -1. */
int transport_hook_call(const struct transport_hook *hook, char **error_r);
void transport_close(struct transport **tr);

#endif
