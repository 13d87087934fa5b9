/*
 * staff-auth.h - does this mail come from a staff member?  (DESIGN §3)
 *
 * A From address proves nothing.  A mail counts as staff mail only when
 * its From address (the addr-spec, compared by the address rule of
 * address.h, never the display name) is a configured staff email AND one
 * of the methods the config allows for that member holds:
 *   "pgp"      a good signature (pgp.h) by the member's pgp_key, covering
 *              the whole message (pgp_signature.partial false);
 *   "authres"  an Authentication-Results header (RFC 8601) written by our
 *              own MTA (daemon.authserv_id) with dkim=pass for the From
 *              domain (header.d, or header.i's domain when there is no
 *              header.d) or spf=pass with smtp.mailfrom in the From domain;
 *   "none"     nothing: the From address is believed (only on purpose).
 * The methods are the member's own `auth` list when set, else
 * daemon.staff_auth.
 *
 * Our MTA must remove Authentication-Results headers that carry its own
 * authserv-id from incoming mail (RFC 8601 §5); headers with another id
 * are ignored here.  The header's raw (undecoded) value is read, so an
 * RFC 2047 encoded-word cannot smuggle in our id past the MTA's filter.
 *
 * Key matching for "pgp": pgp_key and the fingerprints are compared
 * without case, spaces and a leading "0x".  A pgp_key of 40 (v4) or 64
 * (v5) hex digits must equal the signing key's fingerprint or its primary
 * key's; one of 16 or 8 hex digits (a key id) must equal the tail of one
 * of them.  So a member may name the primary key (the usual case) or the
 * one signing subkey.  Key ids are weak (8 digits collide easily): the man
 * page advises the full fingerprint.
 *
 * Both functions are pure: no database, no GnuPG (the signature has been
 * checked by pgp_verify() before).  Returned strings are static, point
 * into cfg, or (*why_not_r) into a per-thread buffer valid until the next
 * staff_auth_check() in the same thread; nothing is to be freed.
 */
#ifndef TICKETD_STAFF_AUTH_H
#define TICKETD_STAFF_AUTH_H

#include "config.h"
#include "message.h"
#include "pgp.h"

/* Headers and results looked at, at most: beyond them a hostile message
 * gets no further work. */
#define STAFF_AUTH_MAX_HEADERS 64
#define STAFF_AUTH_MAX_VALUE   (64 * 1024)

/* 1 when one of msg's Authentication-Results headers with authserv-id
 * authserv_id (case-insensitive; NULL accepts nothing) shows dkim=pass or
 * spf=pass for from_domain, as described above; *method_r (may be NULL) is
 * then "dkim" or "spf".  0 otherwise, also for a header that does not
 * parse (it is ignored as a whole). */
int staff_auth_authres(const struct parsed_message *msg, const char *authserv_id,
		       const char *from_domain, const char **method_r);

/* The staff member msg comes from, authenticated; *how_r is then "pgp",
 * "authres" or "none".  NULL when it does not: *why_not_r says why ("not a
 * staff address", "no good signature by alice's key and no
 * Authentication-Results pass from mx.example.com"), and the mail is a
 * customer's.  sig may be NULL (not verified).  how_r and why_not_r may be
 * NULL. */
const struct config_staff *staff_auth_check(const struct ticketd_config *cfg,
					    const struct parsed_message *msg,
					    const struct pgp_signature *sig, const char **how_r,
					    const char **why_not_r);

/* 1 when pgp_key names the key with fingerprint fpr (rule above). */
int staff_auth_key_matches(const char *pgp_key, const char *fpr);

#endif
