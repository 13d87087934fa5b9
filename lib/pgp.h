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

#include <glib.h>
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

/*
 * Decryption, encryption and keys (issue 18): decryption and inline
 * blocks in lib/pgp-crypt.c, encryption, export and key checks in
 * lib/pgp-keys.c.
 *
 * Every call makes its own GPGME context on keys->gnupg_home with
 * pinentry mode "loopback": GnuPG never opens a tty or a pinentry; a
 * secret key's passphrase comes only from keys->passphrases, written by
 * GPGME's passphrase callback.  That callback picks the entry whose
 * fingerprint ends in the main key id GnuPG names (the last 16 hex digits
 * of the primary key's fingerprint), else the first entry whose
 * fingerprint is NULL.  Without one (or when it holds a line break) it
 * answers an empty line: that key fails, and GnuPG goes on with the
 * message's next recipient (an error from the callback would end the
 * whole operation).  When GnuPG asks again for a key it has had its answer
 * for, the callback refuses ("canceled"): that passphrase was wrong, and
 * nothing loops.  A symmetric ("passphrase only") request gets the empty
 * line too, never remembered: such messages are PGP_DECRYPT_NO_KEY.
 * No key servers are asked (offline).
 *
 * gpg-agent caches a passphrase once it has opened a key with it
 * (default-cache-ttl 600 s, renewed on use, at most max-cache-ttl 7200 s).
 * Decryption uses that cache, so a wrong passphrase in the config goes
 * unnoticed while the agent holds the right one.  pgp_check_key() is not
 * fooled: it has the agent verify the configured passphrase with its cache
 * ignored (PASSWD --verify, the agent's own check), without clearing the
 * cache or restarting the agent that a running ticketd shares.
 *
 * Limits: input above PGP_MAX_MESSAGE is refused without running GnuPG;
 * plaintext above keys->max_plaintext (0: PGP_MAX_PLAINTEXT, and never
 * more than that) is refused as it grows: GnuPG is stopped, nothing is
 * kept, and the outcome is PGP_DECRYPT_ERROR with a reason saying so (a
 * compressed message can expand a thousandfold).
 *
 * Errors: pgp_decrypt() returns 0 with the outcome in *out, also for
 * every fault of the message; -1 with *error_r only when GPGME itself
 * fails (no engine, no context).  The other functions return 0, or -1 with
 * a reason in *error_r that names the key and the home.
 *
 * Memory: struct pgp_decrypted's members are owned by the caller and
 * released with pgp_decrypted_clear(); the keyring's strings stay the
 * caller's.  Returned strings and arrays are newly allocated (g_free,
 * g_byte_array_unref, g_array_unref).
 */

/* The most plaintext pgp_decrypt() keeps. */
#define PGP_MAX_PLAINTEXT PGP_MAX_MESSAGE
/* pgp_blocks_find() reports at most this many blocks; later ones stay text. */
#define PGP_MAX_BLOCKS 32

struct pgp_passphrase {
	/* Primary key fingerprint, upper-case hex (case and spaces do not
	 * matter), or NULL: the passphrase for any key without its own entry. */
	const char *fingerprint;
	const char *passphrase;
};

struct pgp_keyring {
	const char *gnupg_home; /* NULL: GnuPG's default home */
	const struct pgp_passphrase *passphrases;
	size_t n;
	/* Most plaintext pgp_decrypt() keeps; 0: PGP_MAX_PLAINTEXT. */
	size_t max_plaintext;
};

enum pgp_decrypt_status {
	PGP_DECRYPT_OK,
	PGP_DECRYPT_NO_KEY,         /* no secret key for any recipient (or symmetric only) */
	PGP_DECRYPT_BAD_PASSPHRASE, /* wrong or no configured passphrase */
	PGP_DECRYPT_CORRUPT,        /* bad armor, truncated, not OpenPGP, integrity check failed */
	PGP_DECRYPT_UNSUPPORTED,    /* unknown algorithm; legacy cipher without MDC */
	PGP_DECRYPT_ERROR,          /* anything else, also the plaintext limit */
};

struct pgp_decrypted {
	enum pgp_decrypt_status status;
	char *reason;             /* human text (never plaintext); NULL when OK */
	GBytes *plaintext;        /* when PGP_DECRYPT_OK, else NULL */
	struct pgp_signature sig; /* PGP_SIG_NONE when unsigned; partial is false */
	bool is_mime;             /* the sender flagged the plaintext as a MIME entity */
};

/* Decrypts one OpenPGP message, armored or binary, and verifies its
 * signature when it is signed. */
int pgp_decrypt(const void *data, size_t len, const struct pgp_keyring *keys,
		struct pgp_decrypted *out, char **error_r);
void pgp_decrypted_clear(struct pgp_decrypted *d);
/* "decrypted", "no secret key", ... */
const char *pgp_decrypt_status_text(enum pgp_decrypt_status status);

/*
 * Inline blocks in a decoded text part, without GnuPG.  A block starts at
 * a line "-----BEGIN PGP MESSAGE-----" that begins at a line start, or
 * after spaces and tabs only: a quoted block ("> -----BEGIN ...") is a
 * copy of an earlier message and is not found.  start is the first byte
 * of "-----BEGIN", end the byte after the last '-' of the next
 * "-----END PGP MESSAGE-----" line (line breaks and trailing blanks are
 * outside).  A block without its END line is incomplete (complete false)
 * and runs to the end of text, or to the line break before the next BEGIN
 * line, where the next block starts.
 */
struct pgp_block {
	size_t start, end;
	bool complete;
};

/* The blocks in order (at most PGP_MAX_BLOCKS); an empty array when none. */
GArray *pgp_blocks_find(const char *text, size_t len);
/* pgp_decrypt() of text[block->start, block->end), indentation removed;
 * an incomplete block is PGP_DECRYPT_CORRUPT without running GnuPG. */
int pgp_decrypt_block(const char *text, size_t len, const struct pgp_block *block,
		      const struct pgp_keyring *keys, struct pgp_decrypted *out, char **error_r);

/* Encrypts a MIME entity's bytes to one key of the keyring, named by its
 * primary fingerprint and trusted because it is named (always-trust; no
 * encrypt-to keys from gpg.conf).  *armored_r: the ASCII-armored message
 * for the second part of an RFC 3156 multipart/encrypted.  An unknown,
 * expired, revoked, disabled or not encryption-capable key is refused. */
int pgp_encrypt_mime(const void *mime_entity, size_t len, const struct pgp_keyring *keys,
		     const char *recipient_fpr, GByteArray **armored_r, char **error_r);

/* The armored public key of fingerprint, or (NULL) of every key in the
 * home that has a secret part. */
int pgp_export_public(const char *gnupg_home, const char *fingerprint_or_null, char **armored_r,
		      char **error_r);

/* For ticketd -t: the home is a directory, the key (fingerprint, or NULL:
 * every key with a secret encryption subkey, at least one) has its secret
 * encryption subkey, the configured passphrase opens it (checked with the
 * agent's cache ignored), and a few bytes encrypted to it decrypt. */
int pgp_check_key(const struct pgp_keyring *keys, const char *fingerprint_or_null, char **error_r);

#endif
