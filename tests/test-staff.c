/*
 * test-staff.c - unit tests for lib/staff.c's pure part: which queues a
 * member sees whole (ticketctl --as), from a config built in memory.  The
 * SQL side is tested on a real PostgreSQL by tests/probe-staff.c and
 * tests/integration/42-staff.sh.
 */
#include <glib.h>
#include <string.h>

#include "staff.h"
#include "tap.h"

/* The queues seen whole, joined with ',' ("-" for none). */
static char *joined(const struct staff_viewer *v)
{
	return v->queues == NULL ? g_strdup("-") : g_strjoinv(",", (char **)v->queues);
}

int main(void)
{
	char *alice_q[] = { "billing", "support", NULL }, *dora_q[] = { "sales", "sales", NULL },
	     *bob_q[] = { "support", NULL }, *erin_q[] = { NULL };
	struct config_queue queues[3] = { { .name = "support" },
					  { .name = "billing" },
					  { .name = "sales" } };
	struct config_staff staff[] = {
		{ .login = "alice", .role = STAFF_ROLE_ADMIN, .queues = alice_q },
		{ .login = "bob", .role = STAFF_ROLE_SUPPORT, .queues = bob_q },
		{ .login = "dora", .role = STAFF_ROLE_ADMIN, .queues = dora_q },
		{ .login = "erin", .role = STAFF_ROLE_ADMIN, .queues = erin_q },
	};
	struct ticketd_config cfg = { .path = "t.conf",
				      .queues = queues,
				      .queue_count = 3,
				      .default_queue = &queues[0],
				      .staff = staff,
				      .staff_count = G_N_ELEMENTS(staff) };
	struct staff_viewer v;
	char *error = NULL, *got;

	is_int(staff_viewer_for(&cfg, "alice", &v, &error), 0, "alice is staff");
	is_str(v.login, "alice", "alice: login");
	ok(v.admin, "alice: admin");
	got = joined(&v);
	is_str(got, "billing,support", "alice: her queues, the default one not twice");
	g_free(got);
	staff_viewer_clear(&v);

	is_int(staff_viewer_for(&cfg, "bob", &v, &error), 0, "bob is staff");
	ok(!v.admin, "bob: support");
	got = joined(&v);
	is_str(got, "-", "bob: no queue whole, only his own tickets");
	g_free(got);
	staff_viewer_clear(&v);

	is_int(staff_viewer_for(&cfg, "dora", &v, &error), 0, "dora is staff");
	got = joined(&v);
	is_str(got, "sales,support", "dora: her queue once, and the default queue");
	g_free(got);
	staff_viewer_clear(&v);

	is_int(staff_viewer_for(&cfg, "erin", &v, &error), 0, "erin is staff");
	got = joined(&v);
	is_str(got, "support", "erin: an admin of no queue sees the default queue");
	g_free(got);
	staff_viewer_clear(&v);

	is_int(staff_viewer_for(&cfg, "mallory\n", &v, &error), -1, "unknown login refused");
	is_str(error, "no staff member has the login mallory? in t.conf",
	       "the reason names the login, sanitised, and the config");
	ok(v.login == NULL && v.queues == NULL, "nothing filled in for an unknown login");
	g_free(error);
	error = NULL;

	cfg.default_queue = NULL;
	is_int(staff_viewer_for(&cfg, "erin", &v, &error), 0, "no default queue");
	got = joined(&v);
	is_str(got, "", "erin without a default queue: no queue whole");
	g_free(got);
	staff_viewer_clear(&v);
	return tap_done();
}
