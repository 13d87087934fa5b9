/*
 * secure.h - the encrypted sections of one incoming message and its
 * signature (DESIGN §1 "secure part", issue 18), between the parser and
 * apply: what staff may read only through "ticketctl show --decrypt".
 *
 * secure_open() runs once per message, right after message_parse():
 *   - every inline "-----BEGIN PGP MESSAGE-----" block of msg->text
 *     (pgp_blocks_find) and every PGP/MIME multipart/encrypted part
 *     (msg->encrypted, in the order the parser met them) is one section,
 *     numbered 1, 2 ... : inline blocks in text order first, then the
 *     PGP/MIME parts;
 *   - a section that decrypts becomes secure parts (part 0: its text; for
 *     PGP/MIME the decrypted entity is parsed again and each attachment
 *     inside it is part 1, 2 ...), and msg->text shows
 *     "[encrypted section N]" in its place (a PGP/MIME section's
 *     placeholder is appended to the text on a line of its own);
 *   - a section that does not decrypt stays as it came: the inline block
 *     verbatim in msg->text, a PGP/MIME part as an attachment
 *     ("encrypted.asc", application/pgp-encrypted) in msg->attachments;
 *     its reason is one of sm->failures;
 *   - the message's own signature (clear-signed text, PGP/MIME signed) is
 *     verified when the raw bytes look signed; sm->sig, PGP_SIG_NONE
 *     otherwise.  A section's own signature (encrypted and signed) is on
 *     its parts.
 * So after secure_open() no plaintext is left in msg: everything
 * downstream (threading, the message row, answers quoting it,
 * notifications, logs) sees placeholders only.  The plaintext lives in
 * sm->parts until ticket-message.c stores it in secure_parts.
 *
 * Failure is never loss: secure_open() cannot fail the message.  GnuPG
 * missing, no key, a wrong passphrase, corrupt armor: the section stays as
 * it came and a failure says why (never any plaintext).  Without keys
 * (no pgp.gnupg_home configured) nothing is decrypted and each section is
 * a failure "no key configured".
 *
 * Memory: struct secure_message owns everything in it; secure_message_clear()
 * releases it (the plaintext buffers are zeroed first).
 * Threads: one call per message; GPGME contexts are per call (pgp.h).
 */
#ifndef TICKETD_SECURE_H
#define TICKETD_SECURE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "message.h"
#include "pgp.h"

/* "[encrypted section N]" */
#define SECURE_PLACEHOLDER_FMT "[encrypted section %u]"

struct secure_part {
	unsigned section;   /* 1, 2 ... */
	unsigned part;      /* 0: the section's text; 1, 2 ...: attachments in it */
	bool attachment;    /* kind 'attachment' (else 'text') */
	char *filename;     /* UTF-8, NULL when none */
	char *content_type; /* "text/plain; charset=utf-8" for a text part */
	GBytes *content;    /* the plaintext */
	enum pgp_sig_status sig_status;
	char *sig_fingerprint; /* primary key's fingerprint when known, else the
				  signing key's; NULL when unsigned */
};

struct secure_failure {
	unsigned section;
	enum pgp_decrypt_status status;
	char *reason; /* human text, never plaintext */
};

struct secure_message {
	unsigned sections;   /* encrypted sections found (decrypted or not) */
	GPtrArray *parts;    /* struct secure_part *, by section and part */
	GPtrArray *failures; /* struct secure_failure * */
	/* the message's own signature; for a PGP/MIME message with nothing
	 * around its encrypted part (see whole), the signature inside it */
	struct pgp_signature sig;
	bool sig_checked; /* sig was verified (the raw bytes looked signed, or whole) */
	/* the section that is the whole message (a PGP/MIME message with no
	 * text of its own, as a mail client encrypts a reply), decrypted; 0:
	 * none.  Its text is the writer's: a staff member's commands and
	 * answer are read from it (apply-staff.c). */
	unsigned whole;
	double seconds; /* time spent in GnuPG (for the bench's figures) */
};

/* The keys secure_open() decrypts with, from the config (pgp.gnupg_home,
 * pgp.key and its passphrase, each queue's pgp = { key; passphrase_file; }).
 * NULL when no gnupg_home is configured.  Newly allocated; borrows nothing
 * from cfg after it returns. */
struct secure_keys;
struct secure_keys *secure_keys_new(const struct ticketd_config *cfg);
void secure_keys_free(struct secure_keys **keys);
/* The keyring pgp.h functions take (NULL when keys is NULL). */
const struct pgp_keyring *secure_keyring(const struct secure_keys *keys);

/* For ticketd -t: each configured key pair (pgp.key, or every secret key
 * of the home when unset; each queue's pgp.key) is in the home, its
 * passphrase opens it, and a round trip through it works (pgp_check_key);
 * each staff member's pgp_key given as a whole fingerprint is in the home.
 * The home must belong to the calling user (run it as the daemon's user)
 * and be private (mode 700).  Returns the problems found, each a line of
 * text (char *), empty when none or when no pgp is configured; *notes_r
 * (new, may be empty): what works but is worth a word (a staff key named
 * by a short id: signatures are checked, notifications go unencrypted). */
GPtrArray *secure_check_keys(const struct ticketd_config *cfg, const struct secure_keys *keys,
			     GPtrArray **notes_r);

/* The cheap test secure_open() makes before it runs GnuPG for a signature:
 * the raw bytes hold a PGP signature marker. */
bool secure_looks_signed(const char *data, size_t len);
/* msg has something secure_open() would try to decrypt. */
bool secure_has_sections(const struct parsed_message *msg);

/* See above.  data, len: the raw message (for the signature); keys may be
 * NULL; limits: the parser's, for a decrypted PGP/MIME entity. */
void secure_open(struct parsed_message *msg, const char *data, size_t len,
		 const struct secure_keys *keys, const struct message_limits *limits,
		 struct secure_message *sm);
void secure_message_clear(struct secure_message *sm);

/* The text of section (its part 0), newly allocated; NULL when it has
 * none (not decrypted).  Plaintext: for the staff's own mail only. */
char *secure_section_text(const struct secure_message *sm, unsigned section);

/* The event that records section of sm on its ticket: *type_r "decrypted"
 * or "decrypt-failed"; the value returned (newly allocated) names the
 * section and the message (msgid, its Message-ID without <>, may be NULL)
 * and says how it was signed, or why it failed: "section 1 of <a@b>,
 * signature good by FPR", "section 2 of <a@b>: no secret key ...".
 * Never plaintext. */
char *secure_section_event(const struct secure_message *sm, unsigned section, const char *msgid,
			   const char **type_r);

/* How a signature status is stored: "good", "bad", "unknown-key",
 * "expired", "revoked", "error"; NULL for PGP_SIG_NONE (sql/008). */
const char *secure_sig_name(enum pgp_sig_status status);

/* The number N of a placeholder "[encrypted section N]" that starts at
 * text[pos] and stands at the start of its line (after blanks only, where
 * secure_open() puts them: a quoted one is not a section of this message);
 * *len_r its length.  0 when there is none. */
unsigned secure_placeholder_at(const char *text, size_t pos, size_t *len_r);

/* text with each section's placeholder (secure_placeholder_at) replaced by
 * the plaintext of its part 0 (for a notification encrypted to a staff
 * member's own key).  Newly allocated. */
char *secure_fill_placeholders(const char *text, const struct secure_message *sm);

#endif
