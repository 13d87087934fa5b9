/*
 * mailout.h - one mail about a ticket: its template's variables, the
 * template rendered, the message composed (our signed Message-ID, the
 * ticket tag in the subject, In-Reply-To and the whole References chain),
 * and its message row and outbox row written by one statement in the
 * caller's transaction.  Every kind of mail ticketd writes goes through
 * here: auto-responses today; answers, notifications, refusals, closed-
 * ticket responses and escalation notices as they come.
 *
 * A mail that cannot be made (a template that fails to render, an address
 * the mail builder refuses, a compose error) never fails the change that
 * caused it: mailout_write() records the reason as a "mail-failed" event on
 * the ticket, logs it, and returns DB_OK with *written_r false.  Only a
 * database failure is returned (enum db_status, reason in *error_r).
 */
#ifndef TICKETD_MAILOUT_H
#define TICKETD_MAILOUT_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "message.h"
#include "ticket.h"

struct secure_message;
struct secure_keys;

struct mailout {
	const struct ticketd_config *cfg;
	const struct config_queue *queue;
	enum template_kind template;
	enum message_kind kind;
	bool automatic;             /* RFC 3834 headers and the null envelope sender */
	const char *auto_submitted; /* its value, NULL: "auto-replied" */
	long long ticket_id;
	const char *ticket_subject; /* without the tag */
	enum ticket_status ticket_status;
	int ticket_priority;
	const char *requestor_addr, *requestor_name;
	const char *to_addr, *to_name;    /* the recipient */
	const char *const *cc;            /* NULL-terminated, or NULL */
	const struct parsed_message *msg; /* the message answered (quoted, threaded to), or NULL */
	/* Overrides, NULL: from msg.  text: {{message.text}} (a staff member's
	 * answer, a refusal's reason); quoted: the text {{message.quoted}}
	 * quotes (the customer's last message); thread_id and thread_refs:
	 * the Message-ID replied to and the References before it. */
	const char *text, *quoted;
	const char *thread_id;
	GPtrArray *thread_refs;
	const struct config_staff *staff; /* {{staff.*}}: who answers, or the assignee */
	GPtrArray *attachments; /* struct mail_attachment *: passed on (an answer's), or NULL */
	const char *assignee;   /* {{ticket.assignee}}: name, or NULL: nobody */
	const char *requestor_tickets; /* {{requestor.tickets}}: one line each */
	const char *prefix;  /* put above the rendered body (a notification's reply separator) */
	bool reply_to_queue; /* Reply-To: the queue's address (notifications to staff) */
	/* The decrypted sections of msg (secure.h), or NULL.  Mail shows only
	 * their placeholders; with encrypt_to set (a staff member's pgp_key,
	 * notifications only) the mail goes out as RFC 3156 PGP/MIME encrypted
	 * to that key, the sections' plaintext in place of the placeholders,
	 * while the message row keeps the placeholders. */
	const struct secure_message *secure;
	const struct secure_keys *keys;
	const char *encrypt_to;
	time_t now;
};

enum db_status mailout_prepare(struct db *db, char **error_r);

/* A mail, made and not yet written. */
struct mailout_made {
	struct template_output *out; /* out->body: the rendered body with placeholders,
					what the message row stores */
	GPtrArray *refs;             /* char *, References (borrowed from m) */
	char *msgid, *subject;
	GByteArray *raw; /* the whole mail, outbox.raw */
	bool encrypted;  /* raw is PGP/MIME encrypted to m->encrypt_to */
	/* Why raw is not encrypted although m->encrypt_to asked for it (no
	 * key, an expired one, a GPGME error), or NULL; never plaintext.
	 * raw is then the mail with placeholders. */
	char *encrypt_error;
	const char *encrypt_login; /* the staff member encrypt_to is for (their
				      login, else the recipient's address) */
};

/* Renders and composes m without the database (and, for encrypt_to, runs
 * GnuPG): 0, or -1 with the reason (a template or address error; a failed
 * encryption is not one, see encrypt_error).  d is released with
 * mailout_made_clear(), also after a failure. */
int mailout_make(const struct mailout *m, struct mailout_made *d, char **error_r);
void mailout_made_clear(struct mailout_made *d);

/* Makes the mail and writes its rows (pipelined).  *written_r false: it
 * could not be made, and the ticket has a "mail-failed" event saying why. */
enum db_status mailout_write(struct db *db, const struct mailout *m, bool *written_r,
			     char **error_r);

/* text with each PGP-encrypted block replaced by a placeholder: what mail
 * shows of encrypted sections (DESIGN §1).  The sections are the blocks
 * pgp_blocks_find() reports (at a line start), the same secure_open()
 * numbers, so the numbers agree with the secure parts: a block that stayed
 * verbatim (it did not decrypt) becomes "[encrypted section N]", N one
 * more than the highest "[encrypted section K]" at a line start or block
 * before it (sections are numbered in text order, and those that did
 * decrypt show their placeholders already).  Any other armor, a quoted
 * block ("> -----BEGIN PGP MESSAGE-----" to its END line, or to the next
 * section when cut), is a copy of an earlier message and becomes
 * "[encrypted section]" without a number, so no mail we send carries
 * ciphertext.  Newly allocated. */
char *mailout_placeholders(const char *text);

/* text quoted for a reply: each line prefixed with "> " (">" before a line
 * quoted already).  Newly allocated. */
char *mailout_quote(const char *text);

#endif
