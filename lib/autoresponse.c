/*
 * autoresponse.c - the RFC 3834 policy and the rate limit of auto-responses.
 */
#include "autoresponse.h"
#include "outbox.h"
#include "util.h"

enum db_status autoresponse_ask_limit(struct db *db, const struct ticketd_config *cfg,
				      const char *addr, time_t now, int *handle_r, char **error_r)
{
	char since[32];

	time_iso(now - cfg->autoresponse_per, since, sizeof(since));
	return outbox_ask_autoresponses_since(db, addr, since, handle_r, error_r);
}

bool autoresponse_wanted(const struct config_queue *queue, const struct classification *cls)
{
	return queue->autoresponse && !cls->automatic;
}

bool autoresponse_within_limit(const struct ticketd_config *cfg, long long recent)
{
	return recent < cfg->autoresponse_count;
}
