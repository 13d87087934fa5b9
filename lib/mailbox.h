/*
 * mailbox.h - mail sources behind one small table of functions, as isync's
 * struct driver: list what is new, fetch one message, acknowledge it after
 * the commit that stored it.  Maildir and mbox (plain file code), IMAP and
 * POP3 (libetpan) are the drivers of the table.
 *
 * The identity of a message in its source is (mailbox_source(), uid): it
 * survives a crash between the commit and the acknowledgement, so the intake
 * recognises a message it already stored.
 *
 * Every function returns 0 or -1 with the reason in *error_r.  A failure of
 * list/open concerns the whole mailbox (retry next cycle); a failure of
 * ack concerns one message.  fetch says the scope of its failure, as
 * isync's drivers do (DRV_MSG_BAD / DRV_BOX_BAD): MAILBOX_MSG_BAD, this
 * message could not be read (it stays for the next cycle, the batch goes
 * on), or MAILBOX_BOX_BAD, the mailbox itself is gone (a lost connection:
 * the batch ends there and the mailbox backs off).
 */
#ifndef TICKETD_MAILBOX_H
#define TICKETD_MAILBOX_H

#include <glib.h>
#include <stddef.h>

#include "config.h"

struct mailbox;

enum mailbox_status {
	MAILBOX_OK = 0,
	MAILBOX_MSG_BAD = -1, /* this message */
	MAILBOX_BOX_BAD = -2, /* the whole mailbox, for this session */
};

struct mailbox_driver {
	const char *scheme; /* "maildir:" */
	int (*open)(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r);
	/* uids of the messages waiting, oldest first (char *, owned by caller) */
	int (*list)(struct mailbox *box, GPtrArray **uids_r, char **error_r);
	enum mailbox_status (*fetch)(struct mailbox *box, const char *uid, char **data_r,
				     size_t *len_r, char **error_r);
	/* The message was committed: remove it (or move it, per "after").
	 * A driver may only mark it here and apply the marks in flush. */
	int (*ack)(struct mailbox *box, const char *uid, char **error_r);
	/* Makes the acks so far permanent (IMAP EXPUNGE ...); NULL if ack
	 * already does. Called after the acks of each batch. */
	int (*flush)(struct mailbox *box, char **error_r);
	void (*close)(struct mailbox **box);
};

struct mailbox {
	const struct mailbox_driver *driver;
	/* Identity of the mailbox, set by mailbox_open(): the configured URL,
	 * with the user inserted for network URLs
	 * ("imaps://support@example.com@mail.example.com/INBOX"). */
	char *source;
};

/* The driver for url, or NULL. */
const struct mailbox_driver *mailbox_driver_for(const char *url);
int mailbox_open(const struct config_mailbox *cfg, struct mailbox **box_r, char **error_r);
void mailbox_close(struct mailbox **box);

/* The source identity for cfg (what mailbox_open() puts in box->source). */
char *mailbox_source(const struct config_mailbox *cfg);

extern const struct mailbox_driver maildir_driver;
extern const struct mailbox_driver mbox_driver;
extern const struct mailbox_driver imap_driver;  /* imap:// (STARTTLS) */
extern const struct mailbox_driver imaps_driver; /* imaps:// */
extern const struct mailbox_driver pop3_driver;  /* pop3:// (STLS) */
extern const struct mailbox_driver pop3s_driver; /* pop3s:// */

#endif
