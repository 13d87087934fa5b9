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

#include "classify.h"
#include "config.h"
#include "db.h"
#include "message.h"
#include "thread.h"
#include "ticket.h"

struct apply_ctx {
	struct db *db;
	const struct ticketd_config *cfg;
	const int *queue_ids; /* database ids, parallel to cfg->queues */
	time_t now;
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
	bool names_no_ticket; /* no reference, no tag: surely a new ticket */
	/* decided */
	long long duplicate_of; /* another copy of it is on this ticket */
	enum thread_rule rule;
	long long ticket;        /* its ticket (a new one: after apply_open) */
	struct ticket_info info; /* the ticket a follow-up is on */
	long long recent;        /* auto-responses to the sender within the limit */
	/* done */
	unsigned mails; /* mails written */
};

void apply_begin(const struct apply_ctx *ctx, const struct parsed_message *msg,
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

#endif
