/*
 * pgp-private.h - what pgp.c (verification), pgp-crypt.c (decryption,
 * inline blocks) and pgp-keys.c (encryption, keys) share: one way to set
 * up a GPGME context, to tell the engine's failures from the message's, and
 * to read a signature result; and, defined in pgp-crypt.c for pgp-keys.c,
 * fingerprint parsing, passphrase lookup, the loopback context and the
 * bounded output sink.
 * Not for other modules; their contract is pgp.h.
 */
#ifndef TICKETD_PGP_PRIVATE_H
#define TICKETD_PGP_PRIVATE_H

#include <gpgme.h>

#include "pgp.h"

/* A new OpenPGP context on gnupg_home (NULL: GnuPG's default home): 0, or
 * -1 with *error_r. */
int pgp_context_new(const char *gnupg_home, gpgme_ctx_t *ctx_r, char **error_r);

/* Failures that are GPGME's or the engine's, not the message's. */
bool pgp_engine_failure(gpgme_error_t err);

/* *error_r = "WHAT: GPGME's text of err". */
void pgp_gpgme_error(char **error_r, const char *what, gpgme_error_t err);

/* Fills sig_r from a verify result that has at least one signature: the
 * first good signature speaks, else the first; ctx is the context that
 * made the result (to look up the signer's primary key). */
void pgp_signature_from_result(gpgme_ctx_t ctx, gpgme_verify_result_t result,
			       struct pgp_signature *sig_r);

/* pgp-crypt.c's passphrase requests of one operation (ask_passphrase). */
struct pgp_ask_state;

/* Output that refuses to grow past max bytes. */
struct pgp_sink {
	GByteArray *buf;
	size_t max;
	bool over;
};

/* fpr as 40 or 64 upper-case hex digits, newly allocated; NULL when it is
 * not a fingerprint. */
char *pgp_fpr_normal(const char *fpr);

/* The configured passphrase for main key id keyid, else the one for any
 * key; NULL without either. */
const struct pgp_passphrase *pgp_passphrase_for(const struct pgp_keyring *keys, const char *keyid);

/* A loopback, offline context on keys' home; st (NULL: none) gets the
 * passphrase requests.  0, or -1 with *error_r. */
int pgp_crypt_context(const struct pgp_keyring *keys, struct pgp_ask_state *st, gpgme_ctx_t *ctx_r,
		      char **error_r);

/* *dh writes into s (a new s->buf, at most max bytes): 0, or -1 with
 * *error_r. */
int pgp_sink_open(struct pgp_sink *s, size_t max, gpgme_data_t *dh, char **error_r);

/* Releases s->buf unless it was taken (set to NULL). */
void pgp_sink_free(struct pgp_sink *s);

#endif
