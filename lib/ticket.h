/*
 * ticket.h - every change to a ticket.  Nobody else writes the tickets and
 * events tables; each state change writes an event.  The messages stored on
 * a ticket are ticket-message.h's.
 *
 * All functions run inside the caller's transaction on the one connection,
 * with statements prepared once (ticket_prepare()).  They return an
 * enum db_status with the reason in *error_r.  Times are ISO 8601 text (the
 * caller's "now": time is an input, DESIGN §2).
 */
#ifndef TICKETD_TICKET_H
#define TICKETD_TICKET_H

#include <glib.h>
#include <stdbool.h>

#include "db.h"
#include "message.h"

/* The statuses of a ticket (DESIGN §1), as the schema's CHECK list has
 * them; tests/test-ticket.c holds the two in step. */
enum ticket_status {
	TICKET_NEW,
	TICKET_ASSIGNED,
	TICKET_ANSWERED,
	TICKET_ON_HOLD,
	TICKET_REOPENED,
	TICKET_RESOLVED,
	TICKET_CLOSED,
	TICKET_STATUS_COUNT
};

/* What a stored message is (messages.kind). */
enum message_kind {
	MESSAGE_CUSTOMER,
	MESSAGE_AUTOMATIC, /* incoming automatic mail (RFC 3834): changes nothing */
	MESSAGE_STAFF_ANSWER,
	MESSAGE_INTERNAL_NOTE,
	MESSAGE_AUTO_RESPONSE,
	MESSAGE_NOTIFICATION,
	MESSAGE_SYSTEM,
	MESSAGE_KIND_COUNT
};

/* The schema's spelling ("on-hold", "staff-answer" ...). */
const char *ticket_status_name(enum ticket_status status);
const char *message_kind_name(enum message_kind kind);
/* From the schema's spelling; -1 when name is none of them. */
int ticket_status_parse(const char *name, enum ticket_status *status_r);
int message_kind_parse(const char *name, enum message_kind *kind_r);
/* Resolved and closed tickets have left the working lists. */
bool ticket_status_is_done(enum ticket_status status);

struct ticket_info {
	long long id;
	int queue_id;
	char *requestor;
	enum ticket_status status;
};

struct ticket_new {
	long long id; /* drawn from tickets_id_seq already, or 0 */
	int queue_id;
	const char *subject;
	const char *requestor;
	const char *requestor_name;
	int priority;
	const char *origin; /* "email" | "cli" */
	const char *now;
	const char *actor; /* for the event: an address or a login */
};

enum db_status ticket_prepare(struct db *db, char **error_r);

/*
 * Lookups are pipelined (db_send) so that intake asks everything it needs to
 * place a message in one round trip; after db_sync() the answers are read
 * with the *_result functions from the handle.
 */
enum db_status ticket_ask_get(struct db *db, long long id, int *handle_r, char **error_r);
enum db_status ticket_ask_has_cc(struct db *db, long long id, const char *addr, int *handle_r,
				 char **error_r);
/* For ticket_ask_get and ticket_message_ask_by_ids: false when there is no
 * such ticket. */
bool ticket_get_result(struct db *db, int handle, struct ticket_info *info);
/* For ticket_message_ask_incoming_copy: the ticket id, 0 if none.  For
 * ticket_ask_has_cc: 1 or 0. */
long long ticket_id_result(struct db *db, int handle);
void ticket_info_clear(struct ticket_info *info);

/* Waits for the new ticket's number (the auto-response needs it), unless
 * it was drawn already (t->id): then the insert is pipelined. */
enum db_status ticket_create(struct db *db, const struct ticket_new *t, long long *id_r,
			     char **error_r);
/* The changes below are pipelined: in pipeline mode their errors come with
 * the next synchronous call. */
enum db_status ticket_add_cc(struct db *db, long long id, const char *addr, char **error_r);
/* A customer wrote on the ticket: timestamps, and a resolved or closed
 * ticket is reopened (with its event). */
enum db_status ticket_customer_followup(struct db *db, const struct ticket_info *info,
					const char *now, const char *actor, char **error_r);
enum db_status ticket_event(struct db *db, long long id, const char *now, const char *actor,
			    const char *type, const char *old_value, const char *new_value,
			    char **error_r);

#endif
