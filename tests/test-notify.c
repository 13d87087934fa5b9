/*
 * test-notify.c - who is told of mail on a ticket (lib/notify.c), on a
 * config built by hand: the queue's notify setting for tickets nobody
 * holds, the assignee otherwise, never the actor.
 */
#include "notify.h"

#include "tap.h"

#include <string.h>

static char *support_q[] = { "support", NULL };
static char *both_q[] = { "support", "sales", NULL };
static char *sales_q[] = { "sales", NULL };

static struct config_staff staff[] = {
	{ .login = "alice",
	  .name = "Alice",
	  .email = "alice@example.com",
	  .role = STAFF_ROLE_ADMIN,
	  .queues = support_q },
	{ .login = "bob",
	  .name = "Bob",
	  .email = "bob@example.com",
	  .role = STAFF_ROLE_SUPPORT,
	  .queues = both_q },
	{ .login = "carl",
	  .name = "Carl",
	  .email = "carl@example.com",
	  .role = STAFF_ROLE_ADMIN,
	  .queues = sales_q },
};
static struct config_queue queues[2];
static struct ticketd_config cfg;

/* The logins (or addresses) told, comma-separated. */
static char *who(enum notify_event ev, struct config_queue *q, const char *assignee,
		 const struct config_staff *actor)
{
	struct notify_target out[NOTIFY_MAX];
	size_t n = notify_targets(&cfg, q, ev, assignee, actor, out);
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%s", i > 0 ? "," : "",
				       out[i].staff != NULL ? out[i].staff->login : out[i].addr);
	return g_string_free(s, FALSE);
}

#define IS_WHO(call, want, name)                                                                   \
	do {                                                                                       \
		char *got_ = call;                                                                 \
		is_str(got_, want, name);                                                          \
		g_free(got_);                                                                      \
	} while (0)

int main(void)
{
	queues[0] = (struct config_queue){ .name = "support", .notify = "admins" };
	queues[1] = (struct config_queue){ .name = "sales", .notify = "admins" };
	cfg = (struct ticketd_config){ .staff = staff,
				       .staff_count = 3,
				       .queues = queues,
				       .queue_count = 2,
				       .default_queue = &queues[0] };

	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[1], NULL, NULL), "carl",
	       "new ticket: the admins entitled to the queue");
	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[0], NULL, NULL), "alice,carl",
	       "the default queue: every admin");
	IS_WHO(who(NOTIFY_FOLLOWUP, &queues[1], "bob", NULL), "bob", "a follow-up: the assignee");
	IS_WHO(who(NOTIFY_FOLLOWUP, &queues[1], NULL, NULL), "carl", "nobody holds it: the admins");
	IS_WHO(who(NOTIFY_FOLLOWUP, &queues[1], "gone", NULL), "carl",
	       "an assignee no longer in the config: as if nobody");
	IS_WHO(who(NOTIFY_NOTE, &queues[1], "bob", &staff[1]), "",
	       "nobody is told of their own note");
	IS_WHO(who(NOTIFY_NOTE, &queues[1], "bob", &staff[2]), "bob",
	       "a note by another: the assignee");
	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[1], NULL, &staff[2]), "",
	       "the admin who opened it is not told");
	queues[1].notify = "queue";
	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[1], NULL, NULL), "bob,carl",
	       "queue: every member entitled to it");
	queues[1].notify = "all";
	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[1], NULL, NULL), "bob,carl", "all: the same");
	queues[1].notify = "none";
	IS_WHO(who(NOTIFY_NEW_TICKET, &queues[1], NULL, NULL), "", "none: nobody");
	IS_WHO(who(NOTIFY_FOLLOWUP, &queues[1], "bob", NULL), "bob",
	       "none: the assignee is still told of a follow-up");
	queues[1].notify = "sales-team@example.com";
	IS_WHO(who(NOTIFY_BOUNCE, &queues[1], NULL, NULL), "sales-team@example.com",
	       "an address: that list");
	IS_WHO(who(NOTIFY_ESCALATION, &queues[1], NULL, NULL), "carl",
	       "an escalation nobody holds: the queue's admins, whatever notify says");
	queues[1].notify = "none";
	IS_WHO(who(NOTIFY_ESCALATION, &queues[1], NULL, NULL), "carl", "... even notify = none");
	IS_WHO(who(NOTIFY_ESCALATION, &queues[1], "bob", NULL), "bob",
	       "an escalation of a held ticket: the assignee");
	ok(strstr(notify_separator, "Write your reply above this line") != NULL,
	   "the separator is the one commands.h recognises");
	return tap_done();
}
