/*
 * autoresponse.h - when a customer gets an automatic answer (DESIGN §3,
 * RFC 3834): never to mail that is itself automatic (classify.h says which),
 * only when the queue sends them, and at most autoresponse_limit.count per
 * sender per autoresponse_limit.per.  The mail itself is made by mailout.h.
 */
#ifndef TICKETD_AUTORESPONSE_H
#define TICKETD_AUTORESPONSE_H

#include <stdbool.h>
#include <time.h>

#include "classify.h"
#include "config.h"
#include "db.h"

/* Pipelines the question of the rate limit (how many auto-responses went
 * to addr in the last autoresponse_per before now), to be asked with the
 * other lookups of a message in one round trip; the answer is read with
 * outbox_count_result(). */
enum db_status autoresponse_ask_limit(struct db *db, const struct ticketd_config *cfg,
				      const char *addr, time_t now, int *handle_r, char **error_r);

/* Whether a message so classified, to queue, may get an auto-response at
 * all (then its sender's rate limit is asked). */
bool autoresponse_wanted(const struct config_queue *queue, const struct classification *cls);

/* Whether one more may go to a sender who got recent within the period. */
bool autoresponse_within_limit(const struct ticketd_config *cfg, long long recent);

#endif
