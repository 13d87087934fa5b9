/*
 * test-timers.c - lib/timers.c's arithmetic: the escalated priority and the
 * time of its next step, the escalation notice's threshold, auto-close's
 * cutoff, the rules' stamp and the closed-ticket response's policy.  The
 * sweep itself runs on a real PostgreSQL in tests/integration/65-timers.sh.
 */
#include "timers.h"

#include "tap.h"

#include <glib.h>

#define MINUTE 60
#define HOUR   3600
#define DAY    86400

static const time_t t0 = 1767225600; /* 2026-01-01T00:00:00Z */

static struct config_queue hourly(int step, int max)
{
	return (struct config_queue){ .name = "support",
				      .escalation_every = HOUR,
				      .escalation_step = step,
				      .escalation_max = max };
}

/* The priority after minutes of waiting, from base 50, 5 per hour. */
static int after(long seconds, time_t *next_r)
{
	struct config_queue q = hourly(5, 99);

	return timers_priority(&q, 50, t0, t0 + seconds, next_r);
}

static void test_priority(void)
{
	time_t next;

	is_int(after(0, &next), 50, "0 min unanswered: the base");
	is_int(next - t0, HOUR, "... next step at 60 min");
	is_int(after(59 * MINUTE, &next), 50, "59 min: still the base");
	is_int(next - t0, HOUR, "... next step at 60 min");
	is_int(after(60 * MINUTE, &next), 55, "60 min: one step");
	is_int(next - t0, 2 * HOUR, "... next at 120 min");
	is_int(after(61 * MINUTE, &next), 55, "61 min: one step");
	is_int(after(300 * MINUTE, &next), 75, "300 min: five steps");
	is_int(next - t0, 6 * HOUR, "... next at 6 h");
	is_int(after(30L * DAY, &next), 99, "30 days: capped at 99");
	ok(next == TICKET_NEVER, "... and never looked at again");
	is_int(after(10 * HOUR - 1, &next), 95, "9 h 59 min 59 s: nine steps");
	is_int(after(10 * HOUR, &next), 99, "10 h: the step past 99 is cut to 99");
	ok(next == TICKET_NEVER, "... capped: never");
	is_int(after(-5 * MINUTE, &next), 50, "a clock in the future (a skewed now): the base");
	is_int(next - t0, HOUR, "... next step one period after the clock's start");

	struct config_queue q = hourly(5, 60);
	is_int(timers_priority(&q, 50, t0, t0 + 2 * HOUR, &next), 60, "max 60 caps it");
	ok(next == TICKET_NEVER, "... for good");
	is_int(timers_priority(&q, 50, t0, t0 + HOUR, &next), 55, "below max: grows");
	is_int(timers_priority(&q, 70, t0, t0 + 5 * HOUR, &next), 70,
	       "a base above max is never lowered");
	ok(next == TICKET_NEVER, "... nor looked at again");
	q = hourly(10, 99);
	is_int(timers_priority(&q, 20, t0, t0 + 3 * HOUR, &next), 50, "step 10 from base 20");
	q = hourly(5, 99);
	q.escalation_every = 0;
	is_int(timers_priority(&q, 42, t0, t0 + 300 * DAY, &next), 42,
	       "no escalation: the base, whatever the time");
	ok(next == TICKET_NEVER, "... never due");
	is_int(timers_priority(NULL, 42, t0, t0 + DAY, &next), 42, "no queue: the base");
}

static void test_notice(void)
{
	struct config_queue q = hourly(5, 99);

	ok(!timers_notice_due(&q, 85, 90), "notify_at unset: no notice");
	q.escalation_notify_at = 90;
	ok(timers_notice_due(&q, 85, 90), "85 → 90 reaches 90");
	ok(timers_notice_due(&q, 50, 99), "50 → 99 passes 90");
	ok(!timers_notice_due(&q, 90, 95), "90 → 95: reached before, no second notice");
	ok(!timers_notice_due(&q, 80, 85), "80 → 85: not yet");
	ok(!timers_notice_due(&q, 85, 85), "no change: nothing");
	q.escalation_every = 0;
	ok(!timers_notice_due(&q, 85, 95), "no escalation: no notice");
}

static void test_close(void)
{
	struct config_queue q = { .name = "support", .autoclose = 0 };
	time_t cutoff;

	ok(timers_close_cutoff(&q, t0, &cutoff), "autoclose 0 closes");
	is_int(cutoff, t0, "... every answer up to now");
	q.autoclose = 7 * DAY;
	ok(timers_close_cutoff(&q, t0, &cutoff), "autoclose 7d closes");
	is_int(t0 - cutoff, 7 * DAY, "... answers at least 7 days old");
	/* an answer at a: closed at a + 7d, not at a + 6d23h59m */
	time_t a = t0 - 7 * DAY;
	ok(a <= cutoff, "an answer exactly 7 days old is due");
	ok(a + MINUTE > cutoff, "one 6 days 23 h 59 min old is not");
	q.autoclose = -1;
	ok(!timers_close_cutoff(&q, t0, &cutoff), "autoclose -1 never closes");
}

static void test_stamp(void)
{
	struct config_queue q = hourly(5, 99);
	char *s = timers_escalation_stamp(&q);

	is_str(s, "3600/5/99", "stamp: every/step/cap");
	g_free(s);
	q.escalation_notify_at = 90;
	s = timers_escalation_stamp(&q);
	is_str(s, "3600/5/99", "the notice's threshold is not part of the rules");
	g_free(s);
	q.escalation_step = 10;
	s = timers_escalation_stamp(&q);
	is_str(s, "3600/10/99", "a new step: a new stamp");
	g_free(s);
	q.escalation_every = 0;
	ok(timers_escalation_stamp(&q) == NULL, "no escalation: no stamp");
}

static void test_response(void)
{
	struct ticketd_config cfg = { .autoresponse_count = 3 };
	struct config_queue q = { .name = "support", .closed_response = true };

	ok(timers_closed_response(&cfg, &q, true, 0), "a customer's ticket gets it");
	ok(!timers_closed_response(&cfg, &q, false, 0),
	   "not when the latest incoming mail was automatic");
	ok(timers_closed_response(&cfg, &q, true, 2), "within the rate limit");
	ok(!timers_closed_response(&cfg, &q, true, 3), "not past it");
	q.closed_response = false;
	ok(!timers_closed_response(&cfg, &q, true, 0), "closed_response = false: never");
}

int main(void)
{
	test_priority();
	test_notice();
	test_close();
	test_stamp();
	test_response();
	return tap_done();
}
