/*
 * pgp.h - OpenPGP for incoming mail, through GPGME.
 *
 * Today the module verifies signatures: pgp_verify() finds the signature of
 * one whole RFC 5322 message (PGP/MIME, RFC 3156 multipart/signed, at the
 * top level or as the first part of a multipart/mixed; or an inline
 * clear-signed text part) and has GnuPG check it against the keyring in
 * gnupg_home.  Issue 18 adds decryption here (same context setup, same
 * result conventions).
 *
 * What "good" means: the signature is cryptographically sound and made by a
 * key that is neither expired nor revoked.  Web-of-trust validity is not
 * asked for: ticketd pins each staff member's key by fingerprint in the
 * config (staff-auth.h), and that pin is the trust decision.
 *
 * Errors: pgp_verify() returns 0 with the outcome in *sig_r: PGP_SIG_NONE
 * when the message carries no signature (also for bytes that do not parse
 * as a message), PGP_SIG_ERROR when it has the shape of a signed message
 * but the signature cannot be read (corrupt armor, armor without its end,
 * a multipart/signed without its parts); -1 with *error_r only when GPGME
 * itself fails (no engine, cannot create a context).
 *
 * Memory: the strings in struct pgp_signature are newly allocated, owned by
 * the caller and released with pgp_signature_clear().
 *
 * Threads: message_init() (GMime) and pgp_init() once before threads start; then one GPGME context per
 * call, so pgp_verify() may run in several threads at once.
 */
#ifndef TICKETD_PGP_H
#define TICKETD_PGP_H

#include <stdbool.h>
#include <stddef.h>

/* The largest input pgp_verify() looks at: the config's upper bound for
 * daemon.max_message_size (intake has already applied the configured one). */
#define PGP_MAX_MESSAGE ((size_t)1 << 30)

enum pgp_sig_status {
	PGP_SIG_NONE,        /* no signature in the message */
	PGP_SIG_GOOD,        /* sound, by a key neither expired nor revoked */
	PGP_SIG_BAD,         /* the signed data was changed */
	PGP_SIG_UNKNOWN_KEY, /* signer's key not in the keyring */
	PGP_SIG_EXPIRED,     /* signature or key expired */
	PGP_SIG_REVOKED,     /* key revoked */
	PGP_SIG_ERROR,       /* anything else: corrupt signature, unsupported algorithm */
};

struct pgp_signature {
	enum pgp_sig_status status;
	/* Upper-case hex fingerprint of the signing (sub)key as GnuPG reports it
	 * (for an unknown key possibly only its 16-digit key id), or NULL. */
	char *fingerprint;
	/* Fingerprint of the primary key the signing key belongs to, when the
	 * key is in the keyring; NULL otherwise. */
	char *primary_fingerprint;
	/* True when the message has text outside what the signature covers
	 * (text around a clear-signed block, parts after the signed one in a
	 * multipart/mixed): that text is not proved by the signature. */
	bool partial;
};

/* Once, before threads: gpgme_check_version(). */
void pgp_init(void);

int pgp_verify(const char *data, size_t len, const char *gnupg_home, struct pgp_signature *sig_r,
	       char **error_r);
void pgp_signature_clear(struct pgp_signature *sig);

/* "good", "bad", "unknown key" ... for logs and reasons. */
const char *pgp_sig_status_text(enum pgp_sig_status status);

#endif
