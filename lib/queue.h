/*
 * queue.h - the database mirror of the queues defined in the config.
 *
 * queue_sync() inserts or updates a row per configured queue (by name) and
 * fills ids[i] for cfg->queues[i].  A queue that is gone from the config
 * but still has tickets is an error naming it: its tickets would be
 * orphaned.
 */
#ifndef TICKETD_QUEUE_H
#define TICKETD_QUEUE_H

#include "config.h"
#include "db.h"

enum db_status queue_sync(struct db *db, const struct ticketd_config *cfg, int *ids,
			  char **error_r);

#endif
