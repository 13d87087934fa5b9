/*
 * test-sender.c - the sender's pure arithmetic: the backoff after a failed
 * attempt and where it stops.  Sending itself is tested against real
 * servers (tests/integration/70-smtp.sh, 80-crash.sh).
 */
#include "sender.h"
#include "tap.h"

static void test_backoff(void)
{
	is_int(sender_backoff(1), 60, "first retry after a minute");
	is_int(sender_backoff(2), 120, "then doubling: 2 minutes");
	is_int(sender_backoff(3), 240, "4 minutes");
	is_int(sender_backoff(8), 60 << 7, "the 8th: 128 minutes");
	is_int(sender_backoff(9), 4 * 3600, "the 9th would be 256 minutes: capped at 4 hours");
	is_int(sender_backoff(SENDER_MAX_ATTEMPTS), 4 * 3600, "capped up to the last attempt");
	is_int(sender_backoff(1000), 4 * 3600, "no overflow for absurd counts");
	is_int(sender_backoff(0), 60, "attempt 0 (never happens) is not less than a minute");
	is_int(sender_backoff(-5), 60, "nor a negative count");
	for (int i = 1; i < 40; i++)
		if (!ok(sender_backoff(i + 1) >= sender_backoff(i),
			"never shorter than the one before"))
			break;
}

static void test_give_up(void)
{
	long total = 0;

	/* what SENDER_MAX_ATTEMPTS means in time: a mail is tried for about
	 * a day and a half before it becomes a permanent failure */
	for (int i = 1; i < SENDER_MAX_ATTEMPTS; i++)
		total += sender_backoff(i);
	is_int(total, (60 + 120 + 240 + 480 + 960 + 1920 + 3840 + 7680) + 3 * 4 * 3600,
	       "11 waits before the 12th and last attempt");
	ok(total > 12 * 3600 && total < 2 * 24 * 3600,
	   "a temporary failure is retried for between half a day and two days");
}

int main(void)
{
	test_backoff();
	test_give_up();
	return tap_done();
}
