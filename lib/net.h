/*
 * net.h - what the network mail modules share: the connection steps and
 * error wording that IMAP and POP3 (imap.c, pop3.c) do alike on libetpan,
 * and the password wiping that SMTP (smtp.c) does as well.
 *
 * A struct net_conn sits inside each IMAP or POP3 mailbox: the host and
 * port from the URL, the "IMAP host:port" that starts every error, the
 * timeout and whether the connection is broken.  A broken connection is
 * not used again: later calls fail at once (net_usable()) and close sends
 * nothing more (net_stream_drop()).
 *
 * Memory: net_conn_init() fills the struct with newly allocated strings
 * that net_conn_clear() frees; *path_r and passwords are the caller's, and a
 * password is freed with net_free_password(), which wipes it first.
 *
 * Errors: functions that can fail return 0 or -1 with a newly allocated
 * reason in *error_r, which starts with the URL (configuration) or with
 * conn->where (connection); they never print one.  The only log lines are
 * the warnings about TLS that is off or unchecked.
 */
#ifndef TICKETD_NET_H
#define TICKETD_NET_H

#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <libetpan/libetpan.h>

#include "config.h"

struct net_conn {
	char *host; /* from the URL: for connect, SNI and the certificate check */
	uint16_t port;
	char *where;  /* "IMAP host:port", the start of every error */
	long timeout; /* seconds; bounds every operation */
	bool broken;  /* the connection can no longer be used */
};

/* How a session is secured. */
enum net_tls {
	NET_TLS_IMPLICIT, /* imaps://, pop3s://: TLS from the start */
	NET_TLS_OFF,      /* tls = "off" */
	NET_TLS_OPTIONAL, /* tls = "optional" (the default) */
	NET_TLS_REQUIRED, /* tls = "required" */
};

/* What a failed libetpan command means for the session; each protocol
 * maps its own result codes onto these. */
enum net_failure {
	NET_FAIL_REFUSED,  /* the server said no: the session goes on */
	NET_FAIL_STREAM,   /* connection closed, or no answer in time */
	NET_FAIL_PARSE,    /* the answer cannot be parsed */
	NET_FAIL_TLS,      /* the TLS handshake failed */
	NET_FAIL_REJECTED, /* the server does not accept the connection */
	NET_FAIL_MEMORY,   /* out of memory in libetpan */
	NET_FAIL_PROTOCOL, /* any other libetpan error */
};

/* Sets up conn for cfg->url, scheme://host[:port][/path]: host (IPv6 in
 * brackets) and port (default_port when none), where ("PROTOCOL host:port")
 * and the timeout (mailbox.timeout, 60 s when unset).  A user name in the
 * URL is refused: it belongs in mailbox.user.  *path_r is the percent-encoded
 * text after the "/", NULL when empty; with path_r NULL a path is refused,
 * the protocol having no folders.  On failure conn is still to be cleared. */
int net_conn_init(struct net_conn *conn, const struct config_mailbox *cfg, const char *scheme,
		  const char *protocol, uint16_t default_port, char **path_r, char **error_r);
void net_conn_clear(struct net_conn *conn);

/* 0 while conn is usable, else -1 with "the connection was lost earlier". */
int net_usable(const struct net_conn *conn, char **error_r);

/* Sets *error_r to "WHERE: WHAT: why", WHAT from fmt: for NET_FAIL_REFUSED
 * the server's own words (response, may be NULL), else what broke (code is
 * libetpan's, named in NET_FAIL_PROTOCOL).  Anything but NET_FAIL_REFUSED
 * marks conn broken. */
void net_failv(struct net_conn *conn, enum net_failure failure, int code, const char *response,
	       char **error_r, const char *fmt, va_list ap) G_GNUC_PRINTF(6, 0);

/* The TLS mode cfg asks for; logs a warning when certificates will not be
 * checked on a connection that uses TLS.  Call it once per connection. */
enum net_tls net_tls_mode(const struct config_mailbox *cfg, bool implicit_tls);

/* After libetpan's connect said "connection refused" (which it says for
 * every failure): marks conn broken and sets *error_r to "WHERE: cannot
 * connect: why", why found again from the resolver, saved_errno (errno
 * right after the connect) and the time since started (monotonic, µs).
 * Returns -1. */
int net_connect_failed(struct net_conn *conn, int saved_errno, gint64 started, char **error_r);

/* tls.h's certificate check after a handshake on stream, when
 * cfg->tls_verify; a failure marks conn broken, so that no credential
 * follows. */
int net_check_peer(struct net_conn *conn, mailstream *stream, const struct config_mailbox *cfg,
		   char **error_r);

/* Warns that the password will cross the network in clear, unless
 * conn->host is this machine.  tls_off: because of tls = "off", else
 * because the server does not offer command (STARTTLS, STLS). */
void net_warn_clear_text(const struct net_conn *conn, const struct config_mailbox *cfg,
			 bool tls_off, const char *command);

/* Closes a stream without the goodbye (LOGOUT, QUIT) that freeing its
 * session would send: nothing more goes to a broken or untrusted server. */
void net_stream_drop(mailstream **stream);

/* Refuses a mailbox without mailbox.user or mailbox.password_file. */
int net_need_credentials(const struct config_mailbox *cfg, char **error_r);

/* The password in path, without its line end: one non-empty line of at
 * most max_len bytes (0: the file's limit, 4096 bytes). */
int net_read_password(const char *path, size_t max_len, char **password_r, char **error_r);

/* Wipes and frees *password; sets it to NULL. */
void net_free_password(char **password);

#endif
