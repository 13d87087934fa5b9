/*
 * pgp-private.h - what pgp.c (verification) and pgp-crypt.c (decryption,
 * encryption, keys) share: one way to set up a GPGME context, to tell the
 * engine's failures from the message's, and to read a signature result.
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

#endif
