/*
 * message.h - turn the raw bytes of one incoming RFC 5322 message into a
 * parsed_message: decoded UTF-8 headers, the readable text, attachments.
 *
 * message_parse() never crashes on hostile input: malformed MIME, missing
 * boundaries, NUL bytes, 8-bit headers, bad or wrong charset labels and absurd
 * nesting all give either a best-effort parse or -1 with a reason in *error_r
 * ("no sender address", "message too large" ...).  Every string in the result
 * is valid UTF-8 with no NUL bytes, so it can go to PostgreSQL as text.
 *
 * Memory: the parsed_message and everything in it are owned by the caller and
 * released with message_free().  message_parse() copies what it keeps; the
 * input buffer may be freed afterwards.
 *
 * message_init() must be called once before any thread starts (it calls
 * g_mime_init()).
 */
#ifndef TICKETD_MESSAGE_H
#define TICKETD_MESSAGE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Only addresses that pass the address rule (address.h) are kept; the
 * others are dropped with a warning. */
struct mail_address {
	char *name;     /* display name, UTF-8, may be "" */
	char *addr;     /* matching key (address_key): lower-cased, needless quotes
			 * removed; what tickets store and compare; never NULL */
	char *spelling; /* as written, domain lower-cased (address_normalise): for
			 * sending, where the local part's case is kept; never NULL */
};

struct mail_header {
	char *name;  /* as written, e.g. "Auto-Submitted" */
	char *value; /* unfolded, RFC 2047-decoded, UTF-8 */
	/* as written (folded, not decoded; non-UTF-8 bytes repaired): for
	 * headers that decoding must not change, e.g. Authentication-Results,
	 * where an encoded-word could hide our authserv-id from our MTA */
	char *raw_value;
};

struct mail_attachment {
	char *filename;     /* UTF-8 (RFC 2231/2047 decoded), may be NULL */
	char *content_type; /* "image/png" */
	GBytes *data;       /* decoded content (transfer encoding removed) */
};

struct message_limits {
	size_t max_size;    /* whole message in bytes; 0: no limit */
	unsigned max_depth; /* MIME nesting walked; deeper parts are ignored; 0: 32 */
	unsigned max_parts; /* parts walked; 0: 1000 */
	size_t max_text;    /* bytes of body text kept; 0: 4 MiB */
};

struct parsed_message {
	char *message_id;            /* without <>, NULL if none or unusable */
	char *in_reply_to;           /* first msg-id of In-Reply-To, without <>, or NULL */
	GPtrArray *references;       /* char *, msg-ids of References in order, without <> */
	struct mail_address *from;   /* From, else Sender, else Return-Path; never NULL */
	struct mail_address *sender; /* Sender:, or NULL */
	char *return_path;           /* Return-Path key (address_key); "" for <>; NULL when
					absent or unusable */
	GPtrArray *to;               /* struct mail_address * */
	GPtrArray *cc;               /* struct mail_address * */
	GPtrArray *headers;          /* struct mail_header *, top-level headers in order */
	char *subject;               /* decoded UTF-8, "" when absent */
	gint64 date;                 /* Date: as Unix time, 0 when absent or absurd */
	char *text;                  /* the readable body text, UTF-8, "" when none */
	bool text_from_html;         /* text was converted from an HTML-only body */
	GPtrArray *attachments;      /* struct mail_attachment * */
	/* GBytes *: the encrypted payload (second part) of each RFC 3156
	 * multipart/encrypted part, in the order met; such parts add neither
	 * text nor attachments (secure.h decides what becomes of them) */
	GPtrArray *encrypted;
	GPtrArray *warnings; /* char *, what was repaired (bad charset, ...) */
	char *content_type;  /* top-level "type/subtype", lower-cased */
};

void message_init(void);
void message_deinit(void);

int message_parse(const char *data, size_t len, const struct message_limits *limits,
		  struct parsed_message **msg_r, char **error_r);
void message_free(struct parsed_message **msg);

/* Parses a MIME entity that is not a whole message (the plaintext of a
 * PGP/MIME part: a header with Content-Type, a blank line, the body) for
 * its text and attachments only: from is an empty address, the other
 * header fields are empty. */
int message_parse_entity(const char *data, size_t len, const struct message_limits *limits,
			 struct parsed_message **msg_r, char **error_r);

/* First header with that name (case-insensitive), or NULL. */
const char *message_header(const struct parsed_message *msg, const char *name);

/* Converts bytes in a declared charset to UTF-8.  A missing, unknown or wrong
 * label (bytes invalid in it) falls back to UTF-8 if valid, then windows-1252,
 * then ISO-8859-1 (which never fails).  Returns a new NUL-free string. */
char *charset_to_utf8(const char *data, size_t len, const char *charset);

/* Valid UTF-8, taking NUL bytes (which the parser drops) as valid too. */
bool charset_utf8_valid(const char *data, size_t len);

/* Renders HTML as readable plain text (block elements → line breaks, lists →
 * "- ", links → "text <url>", entities decoded, script/style dropped). */
char *html_to_text(const char *html, size_t len);

#endif
