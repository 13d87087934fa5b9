/*
 * autoresponse.h - the new-ticket auto-response of a queue (DESIGN §3):
 * rendered from the queue's template, built per RFC 3834 (Auto-Submitted:
 * auto-replied, the null envelope sender, In-Reply-To/References to the
 * customer's message), limited to autoresponse_limit per sender, stored as an
 * outgoing message on the ticket and queued in the outbox, all in the
 * caller's transaction.
 */
#ifndef TICKETD_AUTORESPONSE_H
#define TICKETD_AUTORESPONSE_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "message.h"

struct autoresponse_request {
	const struct ticketd_config *cfg;
	const struct config_queue *queue;
	enum template_kind kind;
	long long ticket_id;
	const char *ticket_subject;
	const char *ticket_status;
	int ticket_priority;
	const char *requestor_addr, *requestor_name;
	const struct parsed_message *msg; /* the customer's message */
	time_t now;
	long long recent; /* auto-responses to this address within the limit's period */
};

/* Queues the question of the rate limit (how many auto-responses went to
 * this address in the last autoresponse_per), to be asked with the other
 * lookups of a message in one round trip; the answer, read with
 * outbox_count_result(), goes to the request's recent. */
enum db_status autoresponse_ask_limit(struct db *db, const struct ticketd_config *cfg,
				      const char *addr, time_t now, int *handle_r, char **error_r);
/* Stores and enqueues the auto-response (queued statements) unless the
 * limit holds it back: then *queued_r is false. */
enum db_status autoresponse_queue(struct db *db, const struct autoresponse_request *req,
				  bool *queued_r, char **error_r);

/* The text quoted for a reply: each line prefixed with "> ". */
char *autoresponse_quote(const char *text);

#endif
