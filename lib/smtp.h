/*
 * smtp.h - the SMTP client behind transport.c's smtp:// and smtps:// URLs,
 * on libetpan's low-level mailsmtp API.  transport.c is its only caller;
 * everybody else goes through transport.h, which documents the results.
 *
 * smtp_open() only checks and copies the settings (and reads the password
 * file); the connection is made by the first smtp_send() and kept for the
 * following ones, so many messages share one session.  An error that breaks
 * the session closes it and the next send connects again, except that a
 * failure to set a session up (connect, greeting, EHLO, STARTTLS, the
 * certificate check, AUTH) is remembered for SMTP_SETUP_HOLD seconds:
 * sends in that time fail at once with the same reason, so a batch of
 * messages does not wait for a dead server once per message.
 *
 * Memory: smtp_open() copies what it needs from cfg; smtp_close() sends QUIT
 * and frees everything.  Errors: -1 or TRANSPORT_TEMPFAIL/_PERMFAIL with a
 * newly allocated reason in *error_r; the password never appears in one.
 */
#ifndef TICKETD_SMTP_H
#define TICKETD_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "transport.h"

/* Seconds during which a failed session setup is not retried. */
#define SMTP_SETUP_HOLD 30

struct smtp;

/* Splits "smtp://host[:port][/]" or "smtps://..." (scheme in any case; host
 * a name, an IPv4 address or a bracketed IPv6 address, no user info).
 * *host_r is newly allocated, without brackets; *port_r is the port given
 * or the scheme's default (25, 465).  Returns 0 or -1. */
int smtp_parse_url(const char *url, bool *implicit_tls_r, char **host_r, unsigned *port_r,
		   char **error_r);

int smtp_open(const struct config_transport *cfg, struct smtp **smtp_r, char **error_r);
/* rcpts is NULL-terminated; data has CRLF line ends; hook (may be NULL)
 * as transport.h says: called after the 354 to DATA. */
enum transport_result smtp_send(struct smtp *smtp, const char *envelope_from,
				const char *const *rcpts, const char *data, size_t len,
				const struct transport_hook *hook, char **error_r);
void smtp_close(struct smtp **smtp);

#endif
