/*
 * bounce.h - is an incoming message a delivery failure report for mail we
 * sent, which ticket does it concern, and what does it say?  (DESIGN §3:
 * bounces are recorded on the ticket they concern, never a new ticket.)
 *
 * Two kinds are recognised:
 *   - RFC 3464 DSNs: a top-level multipart/report; report-type=
 *     delivery-status.  Its message/delivery-status part gives the
 *     recipients; the returned message (message/rfc822 or
 *     text/rfc822-headers) gives the original Message-ID.  A DSN is a bounce
 *     whatever else is wrong with it: a missing or unreadable status part
 *     only leaves the recipients empty.
 *   - Non-standard bounces (qmail, Exim without DSN, old Exchange NDRs): mail
 *     from MAILER-DAEMON or postmaster with an empty Return-Path or
 *     Auto-Submitted: auto-replied/auto-generated.  These count only when
 *     one of our own signed Message-IDs is found in a "Message-ID:" line of
 *     their text or in an attached message: otherwise they are left to the
 *     RFC 3834 rules of classify.c.
 *
 * Matching: only the returned message's own Message-ID is looked at, never
 * its In-Reply-To or References (those name the customer's mail).  It must
 * verify with msgid_verify() under cfg->secret; then ticket_id is the ticket
 * it carries.  A DSN whose returned message is not ours (a customer's own
 * bounce forwarded to us, spam backscatter) has ticket_id 0: the caller
 * records it as automatic mail and changes no ticket.  The VERP path
 * (<queue-local>+t<ticket>.<mac>@domain as the bounce's recipient) is not
 * implemented: we do not send VERP envelopes yet.
 *
 * Limits: at most BOUNCE_MAX_RECIPIENTS recipients (further ones ignored),
 * field values cut to BOUNCE_MAX_FIELD octets, at most BOUNCE_MAX_TEXT
 * octets of any one part read.  Every string handed out is valid UTF-8
 * without NUL or control characters.
 *
 * Errors: bounce_parse() never fails on bad input; it returns 1 (a bounce)
 * or 0 (not one).  message_init() must have been called first.
 *
 * Memory: a struct bounce and its recipients are owned by the caller and
 * released with bounce_free().  The pure helpers return newly allocated
 * values (g_free) or arrays (g_ptr_array_unref frees the recipients).
 */
#ifndef TICKETD_BOUNCE_H
#define TICKETD_BOUNCE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define BOUNCE_MAX_RECIPIENTS 100
#define BOUNCE_MAX_FIELD      998
#define BOUNCE_MAX_TEXT       (1024 * 1024)

struct bounce_recipient {
	char *address;    /* Final-Recipient, else Original-Recipient, as written
			     without the "rfc822;" type and <>; or NULL */
	char *original;   /* Original-Recipient likewise, or NULL */
	char *action;     /* failed|delayed|delivered|relayed|expanded, lower-case,
			     NULL when absent or another word */
	char *status;     /* "5.1.1": class 2, 4 or 5 and two numbers; else NULL */
	char *diagnostic; /* Diagnostic-Code without its type ("smtp;"), folds
			     joined by one space; or NULL */
	char *remote_mta; /* Remote-MTA without its type ("dns;"), or NULL */
};

struct bounce {
	long long ticket_id;       /* from our Message-ID; 0: the returned mail is
				      not ours (or not found) */
	char *original_message_id; /* the returned message's Message-ID without
				      <>, ours or not; NULL when none found */
	GPtrArray *recipients;     /* struct bounce_recipient *, maybe empty */
	bool dsn;                  /* an RFC 3464 report, not a heuristic match */
	bool permanent;            /* a recipient failed (Action: failed, or no
				      Action and a 5.x.x Status) */
	bool delayed_only;         /* every recipient is delayed (Action: delayed,
				      or no Action and a 4.x.x Status) */
};

/* Decides whether data (one raw message) is a bounce; see the top. */
int bounce_parse(const char *data, size_t len, const struct ticketd_config *cfg,
		 struct bounce **bounce_r);
void bounce_free(struct bounce **bounce);

/* The pure parts, for the unit tests and for callers with text in hand. */

/* Reads the text of a message/delivery-status part (RFC 3464 §2: groups of
 * header-like fields separated by blank lines, the per-message group first,
 * folded lines, comments).  Returns the per-recipient groups, in order. */
GPtrArray *bounce_parse_delivery_status(const char *text, size_t len);

/* The unfolded value of the first field called name (case-insensitive) in
 * the header block at the start of text (up to the first blank line), or
 * NULL. */
char *bounce_header_field(const char *text, size_t len, const char *name);

/* The msg-id in a Message-ID field value ("<a@b> (comment)" gives "a@b"),
 * or NULL when there is none. */
char *bounce_msgid_of(const char *value);

/* Scans every line of text that starts with "Message-ID:" (a returned
 * message quoted inline) for one of our Message-IDs.  Returns its ticket id
 * and sets *msgid_r (newly allocated, may be NULL) to it; 0 when none
 * verifies. */
long long bounce_find_our_msgid(const char *text, size_t len, const void *secret, size_t secret_len,
				char **msgid_r);

/* Reads qmail-send's failure paragraphs ("<addr>:" then the reason, with
 * "(#5.1.1)") into recipients with action "failed". */
GPtrArray *bounce_parse_qmail(const char *text, size_t len);

/* Is the address (addr-spec) MAILER-DAEMON or postmaster at any domain? */
bool bounce_is_daemon_address(const char *addr);

/* Does a bounce's subject speak of a delay ("Delayed Mail", "Warning: ...")? */
bool bounce_subject_is_delay(const char *subject);

/* Sets b->permanent and b->delayed_only from b->recipients; with no
 * recipients from the subject (delay words: delayed_only, else permanent). */
void bounce_summarise(struct bounce *b, const char *subject);

#endif
