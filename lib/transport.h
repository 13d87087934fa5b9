/*
 * transport.h - deliver finished messages: maildir:/path (drop into a
 * Maildir's new/, for trying ticketd out and for tests) and sendmail:/path
 * (run a sendmail-compatible program, no shell, recipients after "--").
 * SMTP joins this table in a later issue.
 *
 * Signals: the sendmail driver blocks SIGPIPE in the calling thread while it
 * writes to the child and consumes a SIGPIPE the write raised, so the daemon
 * need not ignore SIGPIPE.  SIGCHLD must not be SIG_IGN (waitpid would lose
 * the child's exit status) and nobody else may reap our child.
 *
 * transport_send() returns TRANSPORT_OK, TRANSPORT_TEMPFAIL (retry later) or
 * TRANSPORT_PERMFAIL (record and stop retrying), with the reason in *error_r.
 */
#ifndef TICKETD_TRANSPORT_H
#define TICKETD_TRANSPORT_H

#include <stddef.h>

enum transport_result { TRANSPORT_OK = 0, TRANSPORT_TEMPFAIL = -1, TRANSPORT_PERMFAIL = -2 };

struct transport;

/* Validates url without opening anything (used by ticketd -t). */
int transport_check_url(const char *url, char **error_r);
int transport_open(const char *url, struct transport **tr_r, char **error_r);
enum transport_result transport_send(struct transport *tr, const char *envelope_from,
				     const char *const *rcpts, const void *data, size_t len,
				     char **error_r);
void transport_close(struct transport **tr);

#endif
