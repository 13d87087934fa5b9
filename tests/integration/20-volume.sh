#!/bin/sh
# 1,000 generated messages in a Maildir: exactly 1,000 stored (tickets +
# follow-ups + failed), none lost, none twice; a second run adds nothing.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
BATCH_SIZE=64 write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

N=1000
# Every 10th message follows up an earlier one (In-Reply-To); every
# 50th has no sender at all and must be kept as failed.
awk -v n=$N -v dir="$T/mail/support/new" 'BEGIN {
	for (i = 1; i <= n; i++) {
		f = sprintf("%s/%010d.gen%d", dir, 1700000000 + i, i)
		if (i % 50 == 0) {
			printf("Subject: nobody %d\n\nno sender\n", i) > f
		} else {
			printf("From: customer%d@example.net\nTo: support@example.com\n", int(i / 10)) > f
			printf("Subject: message %d\nMessage-ID: <gen%d@example.net>\n", i, i) > f
			if (i % 10 == 1 && i > 1)  # i - 2 is never a failed one
				printf("In-Reply-To: <gen%d@example.net>\n", i - 2) > f
			printf("\nBody of message %d.\n", i) > f
		}
		close(f)
	}
}'
is "$(ls "$T/mail/support/new" | wc -l)" $N "$N messages generated"
run_once
ok $? "ticketd --once"
is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "$N raw messages stored"
is "$(psql_q "SELECT count(DISTINCT source_uid) FROM raw_messages")" $N "each exactly once"
failed=$(psql_q "SELECT count(*) FROM raw_messages WHERE status = 'failed'")
is "$failed" 20 "20 kept as failed"
is "$(psql_q "SELECT count(*) FROM messages WHERE direction = 'in'")" $((N - failed)) \
	"every other message is on a ticket"
tickets=$(psql_q "SELECT count(*) FROM tickets")
followups=$(psql_q "SELECT count(*) FROM messages m WHERE direction = 'in' AND id <> (SELECT min(id) FROM messages WHERE ticket_id = m.ticket_id)")
is "$((tickets + followups + failed))" $N "tickets + follow-ups + failed = $N"
is "$followups" 99 "the 99 In-Reply-To follow-ups threaded"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "the mailbox's new/ is empty"
is "$(ls "$T/mail/support/cur" | wc -l)" $N "all $N are in cur/"
run_once
is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "a second run adds nothing"
done_testing
