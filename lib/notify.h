/*
 * notify.h - who among the staff is told about mail on a ticket (DESIGN §3,
 * issue 16), and the notifications themselves, through mailout.h.
 *
 * A new ticket: the queue's notify setting says who ("admins": the admins
 * entitled to the queue, and every admin for the default queue; "all":
 * every member entitled to it; "none"; or one address, a list's).  A
 * customer's follow-up, an internal note, a bounce: the assignee, or, when
 * nobody holds the ticket, the same people as for a new ticket.  Nobody is
 * told about their own note or answer.  An escalation notice (a ticket's
 * priority reached the queue's escalation.notify_at): the assignee, or the
 * queue's admins whatever notify says.
 *
 * A staff member with a pgp_key in the config gets the decrypted sections
 * of the message in their notification, re-encrypted to that key (RFC 3156
 * PGP/MIME, mailout.h); everyone else, and they too when encrypting fails,
 * gets the placeholders.
 *
 * notify_targets() is pure; notify_write() writes the mails (pipelined, in
 * the caller's transaction) and returns an enum db_status with the reason
 * in *error_r.
 */
#ifndef TICKETD_NOTIFY_H
#define TICKETD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "mailout.h"

enum notify_event {
	NOTIFY_NEW_TICKET,
	NOTIFY_FOLLOWUP,
	NOTIFY_NOTE,
	NOTIFY_BOUNCE,
	NOTIFY_ESCALATION,
};

struct notify_target {
	const char *addr;                 /* borrowed from the config */
	const char *name;                 /* may be NULL */
	const struct config_staff *staff; /* NULL for notify = "an address" */
};

/* At most this many people are told of one event. */
#define NOTIFY_MAX 64

/* Fills out[NOTIFY_MAX]; returns how many.  assignee: the ticket's
 * assignee's login or NULL; actor: the staff member who caused the event
 * (not told), or NULL. */
size_t notify_targets(const struct ticketd_config *cfg, const struct config_queue *queue,
		      enum notify_event event, const char *assignee,
		      const struct config_staff *actor, struct notify_target *out);

/* The line that staff reply above; what they write below it is dropped
 * (commands.h recognises it in their answers). */
extern const char notify_separator[];

/* The key a target's notification is encrypted to (issue 18): the staff
 * member's pgp_key when base carries decrypted sections (base->secure has
 * parts), else NULL: the notification shows their placeholders only. */
const char *notify_encrypt_to(const struct mailout *base, const struct notify_target *target);

/* One notification per target: base is the mail about the ticket (ticket,
 * queue, requestor, message, text ...); kind, template (the escalation
 * notice's for NOTIFY_ESCALATION), recipient, the separator and
 * encrypt_to (notify_encrypt_to) are set here.  *count_r: how many were
 * written. */
enum db_status notify_write(struct db *db, const struct mailout *base, enum notify_event event,
			    const struct notify_target *targets, size_t n, unsigned *count_r,
			    char **error_r);

#endif
