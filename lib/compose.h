/*
 * compose.h - build outgoing mail with GMime, and our Message-IDs.
 *
 * compose_message() produces one complete RFC 5322 message (CRLF line ends,
 * MIME-Version 1.0, text/plain; charset=utf-8 with quoted-printable or 7bit
 * as needed, RFC 2047-encoded headers for non-ASCII display names and
 * subjects), or, with an encrypted payload, the same headers over an
 * RFC 3156 multipart/encrypted.  Header values from outside are never written raw: each goes
 * through GMime's encoders, and CR/LF in them are removed.
 *
 * Our Message-IDs (DESIGN §3) carry the ticket id, a random part and an
 * HMAC-SHA256 over both under the server secret:
 *     t<ticket>.<16 hex random>.<20 hex mac>@<domain>
 * so a reply threads even if our stored copy is gone, and nobody can forge
 * one.  msgid_verify() checks one and returns its ticket id.
 *
 * Memory: results are newly allocated and owned by the caller.
 */
#ifndef TICKETD_COMPOSE_H
#define TICKETD_COMPOSE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct outgoing_mail {
	const char *from_name; /* may be NULL */
	const char *from_addr;
	const char *to_name; /* may be NULL */
	const char *to_addr;
	const char *const *cc;         /* NULL-terminated addr-specs, or NULL */
	const char *subject;           /* final subject, tag already in it */
	const char *body;              /* UTF-8 text */
	const char *message_id;        /* without <> */
	const char *in_reply_to;       /* without <>, or NULL */
	const char *const *references; /* NULL-terminated, without <>, oldest first, or NULL */
	bool automatic;                /* Auto-Submitted: auto-replied, Precedence: bulk,
			   X-Auto-Response-Suppress: All */
	const char *auto_submitted;    /* value when automatic; NULL: "auto-replied" */
	GPtrArray *extra_headers;      /* struct mail_header * (template overrides), or NULL */
	GPtrArray *attachments;        /* struct mail_attachment * (message.h) passed on, or NULL:
				   then the mail is multipart/mixed, the text first */
	time_t date;
	/* The ASCII-armored OpenPGP message (pgp_encrypt_mime() of a
	 * compose_entity()), or NULL.  When set, the mail is RFC 3156
	 * multipart/encrypted and body and attachments are not used (they
	 * are inside it); the headers are the same. */
	const GByteArray *encrypted;
};

int compose_message(const struct outgoing_mail *mail, GByteArray **out_r, char **error_r);

/* The MIME entity compose_message() makes of body and attachments
 * (text/plain; charset=utf-8, or multipart/mixed of it and the
 * attachments), alone with its Content-* headers, CRLF line ends: what a
 * PGP/MIME mail encrypts. */
int compose_entity(const char *body, GPtrArray *attachments, GByteArray **out_r, char **error_r);

/* Generates a new Message-ID for a mail about ticket_id (without <>). */
char *msgid_generate(const void *secret, size_t secret_len, long long ticket_id,
		     const char *domain);
/* Returns the ticket id carried by one of our Message-IDs (with or without
 * <>), or 0 when msgid is not ours or its MAC does not verify. */
long long msgid_verify(const void *secret, size_t secret_len, const char *msgid);

/* Thread-Index value for Outlook (base64 of 22 bytes derived from the first
 * Message-ID of the thread and the time). */
char *compose_thread_index(const char *root_msgid, time_t now);

#endif
