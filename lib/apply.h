/*
 * apply.h - one parsed incoming message applied to its ticket (DESIGN §2,
 * §3): which queue it is for, whether it is automatic, what the database
 * knows about the tickets it names (asked in one round trip with intake's
 * own questions), the threading decision, the new ticket or the follow-up
 * (a closed ticket reopens), the message row, and which mails it causes.
 *
 * intake.c drives it, in the message's savepoint and pipeline round trips:
 *
 *   apply_begin     queue and classification (no database)
 *   apply_ask       pipelines the lookups            ─┐ one round trip, with
 *                                                     │ intake's "stored before?"
 *   apply_decide    reads the answers: duplicate? which rule, which ticket
 *   apply_open      the new ticket, when the rule says so (a round trip only
 *                   when its number was not drawn with the lookups)
 *                   ... intake pipelines the raw copy ...
 *   apply_store     the message row (with the raw copy's id), the follow-up
 *                   on the ticket, and the mails (mailout.h) it causes
 *
 * Writes are pipelined: their errors come with the next synchronous call.
 * Functions return an enum db_status with the reason in *error_r.  A mail
 * that cannot be made never fails the message (mailout.h).
 */
#ifndef TICKETD_APPLY_H
#define TICKETD_APPLY_H

#include <stdbool.h>
#include <time.h>

#include "bounce.h"
#include "classify.h"
#include "commands.h"
#include "mailout.h"
#include "notify.h"
#include "config.h"
#include "db.h"
#include "message.h"
#include "thread.h"
#include "ticket.h"
#include "secure.h"

struct apply_ctx {
	struct db *db;
	const struct ticketd_config *cfg;
	const int *queue_ids;           /* database ids, parallel to cfg->queues */
	const int *staff_ids;           /* database ids, parallel to cfg->staff */
	const struct secure_keys *keys; /* secure.h, NULL: no pgp configured */
	time_t now;
};

/* What a mail from authenticated staff is (DESIGN §3). */
enum apply_staff_mail {
	STAFF_MAIL_NONE,     /* not from staff (or not authenticated): a customer's */
	STAFF_MAIL_ANSWER,   /* text for the customer, and any commands */
	STAFF_MAIL_NOTE,     /* #note, or to the queue's comment address */
	STAFF_MAIL_COMMANDS, /* commands and no text */
	STAFF_MAIL_REFUSED,  /* a command refused: nothing of it is applied */
	STAFF_MAIL_OPENS,    /* threads to no ticket: opens one (for a customer it forwards) */
};

/* Our own signed Message-IDs looked up per id: at most this many. */
#define APPLY_SIGNED_REFS_MAX 16

/* One message on its way through the steps above. */
struct apply_plan {
	const struct config_queue *queue;
	struct classification cls;
	/* handles of the pipelined lookups (DB_NOT_ASKED when not asked) */
	int ask_copy, ask_by_ids, ask_tag, ask_tag_cc, ask_limit;
	int ask_signed[APPLY_SIGNED_REFS_MAX];
	unsigned nsigned;
	bool names_no_ticket;  /* no reference, no tag: surely a new ticket */
	int ask_recent;        /* the sender's latest tickets, for notifications */
	char *recent_tickets;  /* ... read by apply_decide(), NULL: not asked */
	struct bounce *bounce; /* a delivery report about mail we sent, or NULL */
	/* its encrypted sections and signature (secure.h), borrowed; NULL:
	 * none looked for */
	const struct secure_message *secure;
	/* staff (apply-staff.c) */
	const struct config_staff *staff; /* authenticated staff member, or NULL */
	bool to_comment;                  /* sent to the queue's comment address */
	enum apply_staff_mail staff_mail;
	struct commands *cmds;
	char *refusal;   /* STAFF_MAIL_REFUSED: why */
	char *requestor; /* STAFF_MAIL_OPENS: the customer's address, or NULL */
	char *requestor_name;
	/* decided */
	long long duplicate_of; /* another copy of it is on this ticket */
	enum thread_rule rule;
	long long ticket;        /* its ticket (a new one: after apply_open) */
	struct ticket_info info; /* the ticket a follow-up is on */
	long long recent;        /* auto-responses to the sender within the limit */
	/* done */
	unsigned mails; /* mails written */
};

/* data, len: the raw message (a staff member's signature is checked on it);
 * sm: what secure_open() found in it (borrowed for the plan's life), or NULL. */
void apply_begin(const struct apply_ctx *ctx, const struct parsed_message *msg,
		 const struct secure_message *sm, const char *data, size_t len,
		 const struct config_queue *const *queues, size_t nqueues, struct apply_plan *plan);
enum db_status apply_ask(const struct apply_ctx *ctx, const struct parsed_message *msg,
			 struct apply_plan *plan, char **error_r);
/* After the sync that read the lookups. */
void apply_decide(const struct apply_ctx *ctx, const struct parsed_message *msg,
		  struct apply_plan *plan);
/* drawn: the ticket number drawn with the lookups, or 0. */
enum db_status apply_open(const struct apply_ctx *ctx, const struct parsed_message *msg,
			  struct apply_plan *plan, long long drawn, char **error_r);
enum db_status apply_store(const struct apply_ctx *ctx, const struct parsed_message *msg,
			   struct apply_plan *plan, long long raw_id, char **error_r);
void apply_plan_clear(struct apply_plan *plan);

/* Which of queues a message is for, from its recipients (Delivered-To,
 * X-Original-To, To, Cc in that order); the default among them, or the
 * first, when none matches. */
const struct config_queue *apply_choose_queue(const struct parsed_message *msg,
					      const struct config_queue *const *queues,
					      size_t nqueues);

/* apply-staff.c: who among the staff wrote msg, proven (NULL: nobody, it
 * is a customer's), and what the mail is once its ticket is known. */
const struct config_staff *apply_staff_author(const struct apply_ctx *ctx,
					      const struct parsed_message *msg,
					      const struct secure_message *sm, const char *data,
					      size_t len);
void apply_staff_decide(const struct apply_ctx *ctx, const struct parsed_message *msg,
			struct apply_plan *plan);
/* Carries out a staff mail on its ticket, after its message row. */
enum db_status apply_staff_store(const struct apply_ctx *ctx, const struct parsed_message *msg,
				 struct apply_plan *plan, const char *now, char **error_r);
/* The mail about plan's ticket that notifications and answers start from. */
void apply_mail_base(const struct apply_ctx *ctx, const struct parsed_message *msg,
		     const struct apply_plan *plan, struct mailout *m);
/* Notifies who notify.h says of event on plan's ticket. */
enum db_status apply_notify(const struct apply_ctx *ctx, const struct parsed_message *msg,
			    struct apply_plan *plan, enum notify_event event, const char *text,
			    char **error_r);
/* Gives plan's ticket (state s) to the least-loaded member of its queue
 * when the queue says so and nobody holds it; one round trip. */
enum db_status apply_auto_assign(const struct apply_ctx *ctx, struct apply_plan *plan,
				 struct ticket_state *s, char **error_r);

#endif
