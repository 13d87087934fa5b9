/*
 * tls.h - certificate checks for libetpan's TLS streams.
 *
 * libetpan (GnuTLS build) checks no certificate at all (../shared/LIBRARIES.md,
 * pitfall 1), so every TLS connection of ticketd, IMAP, POP3 and SMTP alike,
 * calls tls_check_peer() right after the handshake (after connect for
 * imaps/pop3s/smtps, after STARTTLS otherwise) and before any credential is
 * sent.  The chain is verified with GnuTLS against ca_file, or the system's
 * trust store when ca_file is NULL, and the leaf must match host.
 *
 * tls_sni_callback() is the connect callback that sets SNI: pass it to the
 * *_ssl_connect_with_callback / *_starttls functions with the host name
 * (a const char *) as its data.
 *
 * Returns 0, or -1 with the reason ("certificate signed by an unknown
 * authority", "certificate is for another host", ...) in *error_r.
 */
#ifndef TICKETD_TLS_H
#define TICKETD_TLS_H

#include <libetpan/libetpan.h>

int tls_check_peer(mailstream *stream, const char *host, const char *ca_file, char **error_r);
void tls_sni_callback(struct mailstream_ssl_context *ssl_context, void *data);

#endif
