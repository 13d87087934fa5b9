/*
 * intake.h - from a mailbox to tickets (DESIGN §2): fetch, keep the raw
 * bytes, parse, hand the message to apply.h (classify, thread, ticket,
 * mails); COMMIT; only then acknowledge the messages in their mailbox.
 *
 * Messages are taken in batches of batch_size per transaction, each in its
 * own savepoint, so one bad message never spoils the others and the commit
 * cost is shared.  A message that cannot be parsed is kept as a failed raw
 * message with its reason (ticketctl failed list) and leaves its mailbox
 * like any other stored message.  A message whose raw copy cannot be stored
 * at all stays in its mailbox and is tried again next cycle.
 *
 * intake_mailbox() returns 0 or -1 with the reason in *error_r; -1
 * concerns the mailbox (it could not be listed, or its connection broke in
 * the middle of a batch: what was stored before is committed) or the
 * database, never a single message; the caller backs off or reconnects.
 * The others return an enum db_status with the reason in *error_r.
 */
#ifndef TICKETD_INTAKE_H
#define TICKETD_INTAKE_H

#include <stdbool.h>
#include <time.h>

#include "apply.h"
#include "config.h"
#include "db.h"
#include "mailbox.h"
#include "message.h"

enum intake_result {
	INTAKE_NEW_TICKET,
	INTAKE_FOLLOWUP,
	INTAKE_DUPLICATE, /* a second copy of a message already on a ticket */
	INTAKE_ALREADY,   /* stored before, not yet acknowledged (crash) */
	INTAKE_FAILED,    /* kept raw, with the reason */
	INTAKE_RECORDED,  /* kept raw on no ticket: a bounce of mail we did not send */
};

struct intake_stats {
	unsigned new_tickets, followups, automatic, duplicates, already, failed, autoresponses;
	unsigned recorded; /* kept raw on no ticket */
	unsigned left;     /* left in the mailbox for the next cycle */
	/* messages with encrypted sections or a signature GnuPG looked at,
	 * their sections decrypted and not, and the time spent in GnuPG */
	unsigned pgp_messages, decrypted, undecrypted;
	double pgp_seconds;
};

/* The message whose statements are pipelined but not yet confirmed (pipeline
 * mode): what it takes to keep it as failed if they fail at the next sync. */
struct intake_pending {
	char *source, *uid, *data;
	size_t len;
	int queue_id;
	const void *ack;                  /* its entry in acks */
	struct intake_stats stats_before; /* undone if it fails */
};

struct intake {
	struct db *db;
	const struct ticketd_config *cfg;
	int *queue_ids; /* parallel to cfg->queues */
	int *staff_ids; /* parallel to cfg->staff */
	time_t now;
	struct apply_ctx apply;
	struct secure_keys *keys; /* secure.h, NULL: no pgp configured */
	volatile const int *stop; /* set by SIGTERM: finish the message in hand */
	struct intake_stats stats;
	GPtrArray *acks; /* uids of the batch that may leave after the commit */
	struct intake_pending pending;
};

/* Prepares statements and mirrors the queues; intake_deinit() frees. */
int intake_init(struct intake *in, struct db *db, const struct ticketd_config *cfg, time_t now,
		char **error_r);
void intake_deinit(struct intake *in);

/* Several daemons may share a database and its mailboxes: each mailbox is
 * polled by one of them at a time, under a session advisory lock keyed by
 * its source.  *locked_r false: another daemon has it now. */
enum db_status intake_lock_mailbox(struct intake *in, const char *source, bool *locked_r,
				   char **error_r);
void intake_unlock_mailbox(struct intake *in, const char *source);

/* Every waiting message of one mailbox, shared by queues[0..nqueues). */
int intake_mailbox(struct intake *in, struct mailbox *box, const struct config_queue *const *queues,
		   size_t nqueues, char **error_r);

/* One message in its own savepoint of the caller's transaction (opened
 * with db_begin_savepoint(); a fresh one is open again on return): stored,
 * or, when that fails for this message alone, kept as failed with the
 * reason.  *stored_r is false when not even the raw copy could be stored
 * (leave the message where it is); a connection failure is returned.
 * In pipeline mode (intake_mailbox) its writes are only pipelined: the next
 * call, or intake_settle(), confirms them, and if they failed keeps the
 * message as failed then (or takes its uid out of acks). */
enum db_status intake_store(struct intake *in, const char *source, const char *uid,
			    const char *data, size_t len, const struct config_queue *const *queues,
			    size_t nqueues, bool *stored_r, char **error_r);

/* Settles what the last intake_store() pipelined (pipeline mode). */
enum db_status intake_settle(struct intake *in, char **error_r);

/* Stores data as a failed raw message with reason (in the caller's
 * transaction). */
enum db_status intake_keep_failed(struct intake *in, const char *source, const char *uid,
				  const char *data, size_t len, int queue_id, const char *reason,
				  char **error_r);

#endif
