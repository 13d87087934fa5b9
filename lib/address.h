/*
 * address.h - the one rule for email addresses (addr-specs) in ticketd: what
 * is valid, how two addresses compare, and how one is written when sending.
 *
 * Valid is an RFC 5322 addr-spec without comments or folding:
 *     local-part "@" domain
 *     local-part = dot-atom / quoted-string      ("j,s", "john doe", o'brien)
 *     domain     = host name / domain literal    (example.com, [192.0.2.1])
 * with RFC 6531/6532 UTF-8 allowed in both parts (jörg@bücher.example).
 * Host name labels are letters, digits and '-' (or UTF-8 U-labels), at most
 * 63 octets, not starting or ending with '-'.  The whole address is at most
 * 254 octets (RFC 5321's 256-octet path minus the angle brackets).  The
 * local part's 64-octet limit of RFC 5321 is not enforced: real customers'
 * servers exceed it (VERP, SRS) and the receiving server is the judge.  No
 * control character (C0, DEL, C1), CR or LF is ever valid, so a valid
 * address can never start a header line or an SMTP command of its own.
 *
 * Spelling and comparison:
 *   address_normalise()  the stored spelling: as written, domain lower-cased
 *                        (U-labels stay U-labels: readable in ticketctl).
 *   address_key()        the matching form: quotes that add nothing removed
 *                        ("john"@x is john@x), the local part lower-cased too.
 *                        RFC 5321 lets a server tell John@ from john@, but no
 *                        real one does and ticketd has always matched staff,
 *                        queues and requestors case-insensitively; keep that.
 *   address_equal()      equality of the keys.
 *   address_envelope()   the form for SMTP MAIL FROM / RCPT TO: the local part
 *                        exactly as written (a quoted one stays quoted), the
 *                        domain as A-label (xn--...).  libetpan cannot speak
 *                        SMTPUTF8, and A-labels are what DNS and every server
 *                        understand, so an ASCII local part at an IDN domain
 *                        is deliverable anywhere; GMime writes the A-label in
 *                        headers too, so To: and RCPT TO agree.
 *
 * Errors: address_check() returns 0, or -1 with a reason ("empty local part",
 * "unbalanced quote" ...) in *error_r.  Memory: every returned string is newly
 * allocated and owned by the caller (g_free); inputs are never changed.
 */
#ifndef TICKETD_ADDRESS_H
#define TICKETD_ADDRESS_H

#include <stdbool.h>

#define ADDRESS_MAX_LEN 254

/* Checks addr against the rule above.  0, or -1 with *error_r set. */
int address_check(const char *addr, char **error_r);
/* address_check() without the reason. */
bool address_valid(const char *addr);
/* The stored spelling (domain lower-cased), or NULL when addr is invalid. */
char *address_normalise(const char *addr);
/* The matching form (see above), or NULL when addr is invalid. */
char *address_key(const char *addr);
/* True when a and b name the same mailbox.  Invalid input is compared as
 * ASCII text without regard to case, so a broken address still equals itself. */
bool address_equal(const char *a, const char *b);
/* The SMTP envelope form, or NULL with *error_r set when addr is invalid
 * or its domain has no A-label form. */
char *address_envelope(const char *addr, char **error_r);

#endif
