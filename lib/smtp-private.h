/*
 * smtp-private.h - what smtp.c (sessions, replies, smtp_send) and
 * smtp-transaction.c (one message's MAIL, RCPT, DATA) share.  Not for
 * other modules: they use smtp.h.
 */
#ifndef TICKETD_SMTP_PRIVATE_H
#define TICKETD_SMTP_PRIVATE_H

#include <glib.h>
#include <libetpan/libetpan.h>
#include <stdbool.h>
#include <time.h>

#include "transport.h"

enum smtp_tls {
	SMTP_TLS_OFF,      /* smtp://, starttls = "off" */
	SMTP_TLS_OPTIONAL, /* smtp://, starttls = "optional" */
	SMTP_TLS_REQUIRED, /* smtp://, starttls = "required" */
	SMTP_TLS_IMPLICIT, /* smtps:// */
};

/* Which command failed decides what a 5xx reply means. */
enum smtp_stage {
	SMTP_STAGE_SETUP, /* greeting, EHLO, STARTTLS, AUTH: the server or our config */
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,
};

struct smtp {
	char *host; /* for connect, SNI and the certificate check */
	unsigned port;
	char *label; /* "host" or "host:port" in messages */
	enum smtp_tls tls;
	char *user;     /* NULL: no AUTH */
	char *password; /* with user */
	char *ca_file;  /* NULL: the system's trust store */
	bool tls_verify;
	long timeout;

	mailsmtp *session;          /* NULL: not connected */
	unsigned long transactions; /* MAIL FROMs sent in this session */
	char *setup_error;          /* why the last session setup failed */
	time_t setup_failed_at;
	const char *bad_reply; /* why smtp_read_reply() could not read one */
};

/* Before each command: a reply code left at 0 means there was no reply. */
void smtp_expect(mailsmtp *s);
/* Ends the session: QUIT when the server still talks to us. */
void smtp_disconnect(struct smtp *smtp, bool quit);
/* A failed command: its reason into *why_r ("WHAT: reply"), the session
 * dropped when it cannot carry on (no reply, 421, TLS), and the result. */
enum transport_result smtp_fail(struct smtp *smtp, enum smtp_stage stage, int r, const char *what,
				char **why_r);
/* After a failed transaction: RSET, or drop the session if that fails. */
void smtp_reset(struct smtp *smtp);

/* One message on an open session (smtp-transaction.c).  *stale_r: the
 * session had carried mail before and did not answer MAIL FROM (or said
 * 421): it went stale while idle, and the message may go again on a new
 * one. */
enum transport_result smtp_transaction(struct smtp *smtp, const char *from,
				       const char *const *rcpts, const char *data, size_t len,
				       const struct transport_hook *hook, bool *stale_r,
				       char **why_r);

#endif
