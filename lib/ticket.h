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
	char *requestor_name;
	char *subject;
	enum ticket_status status;
	int priority;
	int assignee_id; /* 0: nobody */
	char *assignee;  /* the assignee's login, NULL: nobody */
	bool sticky;
};

/* The columns ticket_get_result() reads, for every lookup of a ticket
 * (t is the tickets table, s the assignee's staff row, LEFT JOINed). */
#define TICKET_INFO_COLUMNS                                                                        \
	"t.id, t.queue_id, t.requestor, t.status, t.requestor_name, t.subject, t.priority, "       \
	"coalesce(t.assignee_id, 0), s.login, t.sticky"
#define TICKET_INFO_FROM "tickets t LEFT JOIN staff s ON s.id = t.assignee_id"

/* What staff, commands and policies change on a ticket.  The strings are
 * borrowed. */
struct ticket_state {
	enum ticket_status status;
	int assignee_id;      /* 0: nobody */
	const char *assignee; /* login, NULL: nobody */
	int priority;
	bool sticky;
	int queue_id;
	const char *queue; /* its name, for the event; NULL: unchanged */
	const char *requestor;
};

/* Why a change is written: besides the fields, the ticket's clocks. */
enum ticket_touch {
	TICKET_TOUCH_STAFF = 0,    /* updated only */
	TICKET_TOUCH_CUSTOMER = 1, /* last_customer_at too */
	TICKET_TOUCH_ANSWER = 2,   /* last_answer_at too */
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
/* Row row of a result whose first columns are TICKET_INFO_COLUMNS. */
void ticket_info_from_row(const PGresult *res, int row, struct ticket_info *info);
void ticket_info_clear(struct ticket_info *info);

/* Waits for the new ticket's number (the auto-response needs it), unless
 * it was drawn already (t->id): then the insert is pipelined. */
enum db_status ticket_create(struct db *db, const struct ticket_new *t, long long *id_r,
			     char **error_r);
/* The changes below are pipelined: in pipeline mode their errors come with
 * the next synchronous call. */
enum db_status ticket_add_cc(struct db *db, long long id, const char *addr, char **error_r);
/* The state of t, to start a change from. */
void ticket_state_of(const struct ticket_info *t, struct ticket_state *s);
/* The state after a customer's reply (DESIGN §4, pure): a sticky ticket
 * stays with its assignee (and wants its attention: assigned); a
 * non-sticky one goes back to nobody, reopened, to be picked up again; a
 * resolved, closed or answered ticket nobody holds is reopened. */
void ticket_followup_state(const struct ticket_info *t, struct ticket_state *s);
/* Writes the change from t (the ticket as read) to s in one statement:
 * only the fields that differ, so that what another transaction changed
 * meanwhile in the others is kept; and an event (by actor:
 * a login or an address) for every field that changed: status, assign
 * (old login → new login, "release" when nobody is left), priority,
 * sticky, queue, requestor.  Closing sets closed_at, anything else clears
 * it. */
enum db_status ticket_change(struct db *db, const struct ticket_info *t,
			     const struct ticket_state *s, enum ticket_touch touch,
			     const char *actor, const char *now, char **error_r);
/* The ticket's Cc addresses (read with ticket_cc_result(): a
 * NULL-terminated array, g_strfreev). */
enum db_status ticket_ask_cc(struct db *db, long long id, int *handle_r, char **error_r);
char **ticket_cc_result(struct db *db, int handle);
/* The requestor's latest tickets, newest first (read with
 * ticket_recent_result(): one line each, "#42 answered  Printer on fire",
 * or "(none)"). */
#define TICKET_RECENT_MAX 5
enum db_status ticket_ask_recent(struct db *db, const char *requestor, int *handle_r,
				 char **error_r);
char *ticket_recent_result(struct db *db, int handle);

/* Additions, each with its event. */
enum db_status ticket_add_tag(struct db *db, long long id, const char *tag, const char *actor,
			      const char *now, char **error_r);
/* Links both ways (the other ticket must exist: a foreign key says so). */
enum db_status ticket_add_link(struct db *db, long long id, long long other, const char *actor,
			       const char *now, char **error_r);
enum db_status ticket_add_cc_by(struct db *db, long long id, const char *addr, const char *actor,
				const char *now, char **error_r);
enum db_status ticket_event(struct db *db, long long id, const char *now, const char *actor,
			    const char *type, const char *old_value, const char *new_value,
			    char **error_r);

#endif
