/*
 * thread.h - which ticket does an incoming message belong to (DESIGN §3)?
 *
 * The decision is a pure function of facts the caller gathered from the
 * database: the ticket named by a Message-ID in In-Reply-To/References (ours
 * or stored), the ticket named by the subject tag, and whether the sender is
 * a participant of that tagged ticket.  First match wins:
 *   1. a reference to a Message-ID we stored or sent;
 *   2. the subject tag, only when the sender is the requestor, a CC of the
 *      ticket, or staff (ticket numbers are guessable, our Message-IDs are
 *      not), so a stranger with a tag opens a new ticket;
 *   3. otherwise a new ticket.
 */
#ifndef TICKETD_THREAD_H
#define TICKETD_THREAD_H

#include <stdbool.h>

enum thread_rule {
	THREAD_NEW,
	THREAD_BY_REFERENCE,
	THREAD_BY_TAG
};

struct thread_facts {
	long long ref_ticket;       /* ticket of a referenced Message-ID, 0: none */
	long long tag_ticket;       /* existing ticket named by the subject tag, 0: none */
	bool sender_is_participant; /* sender is that ticket's requestor, a CC, or staff */
};

enum thread_rule thread_decide(const struct thread_facts *facts, long long *ticket_r);
const char *thread_rule_name(enum thread_rule rule);

/* The ticket number of the first "[TAG#N]" in subject (TAG compared
 * case-insensitively, spaces allowed around '#'), or 0. */
long long thread_subject_tag(const char *subject, const char *tag);
/* subject with "[TAG#N] " in front, unless that tag is already in it.
 * Newly allocated. */
char *thread_subject_add_tag(const char *subject, const char *tag, long long ticket_id);

#endif
