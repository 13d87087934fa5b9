#!/bin/sh
# Exactly once under crashes: 300 messages over IMAP, the daemon killed
# with SIGKILL at random moments and restarted; then every message is
# stored exactly once and every due auto-response was sent.  The number of
# auto-responses sent twice (possible only for the one in flight at a kill)
# is printed.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
BATCH_SIZE=7 write_imap_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

N=${CRASH_MESSAGES:-300}
KILLS=${CRASH_KILLS:-6}
i=1
while [ $i -le $N ]; do
	# every fifth message follows up the one before it
	if [ $((i % 5)) -eq 0 ]; then irt="In-Reply-To: <crash$((i - 1))@example.net>"; else irt="X-Plain: yes"; fi
	printf 'From: customer%d@example.net\nTo: support@example.com\nSubject: crash test %d\nMessage-ID: <crash%d@example.net>\n%s\n\nMessage %d.\n' \
		$((i - i % 5)) $i $i "$irt" $i | drop_imap support@example.com "$((1700000000 + i)).crash$i.test"
	i=$((i + 1))
done
is "$(mail_count support@example.com)" $N "$N messages in the IMAP mailbox"

# Start, let it work for a random moment, SIGKILL; again and again.
kills=0
start_daemon() {
	"$TICKETD" -f -c "$T/ticketd.conf" 2>>"$T/ticketd.log" &
	daemon_pid=$!
}
while [ $kills -lt $KILLS ]; do
	start_daemon
	sleep "0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ' | awk '{ printf "%03d", 10 + $1 % 200 }')"
	kill -KILL $daemon_pid 2>/dev/null && kills=$((kills + 1))
	wait $daemon_pid 2>/dev/null
done
echo "# $kills SIGKILLs; stored so far: $(psql_q "SELECT count(*) FROM raw_messages")"
# Then let it finish, and stop it cleanly.
start_daemon
for _ in $(seq 1 300); do
	[ "$(mail_count support@example.com)" -eq 0 ] &&
		[ "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'pending'")" -eq 0 ] && break
	sleep 0.2
done
kill -TERM $daemon_pid
wait $daemon_pid
is $? 0 "the last daemon stops cleanly on SIGTERM"
ok $([ $kills -ge 5 ] && echo 0 || echo 1) "killed $kills times (at least 5)"

is "$(mail_count support@example.com)" 0 "the IMAP mailbox is empty"
is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "$N raw messages stored"
is "$(psql_q "SELECT count(DISTINCT header_message_id) FROM raw_messages")" $N "each message exactly once"
is "$(psql_q "SELECT count(*) FROM messages WHERE direction = 'in'")" $N "$N messages on tickets"
tickets=$(psql_q "SELECT count(*) FROM tickets")
is "$tickets" $((N - N / 5)) "follow-ups threaded, the rest are new tickets"
is "$(psql_q "SELECT count(*) FROM outbox")" "$tickets" "one auto-response queued per new ticket"
is "$(psql_q "SELECT count(*) FROM outbox WHERE status <> 'sent'")" 0 "every due auto-response sent"
sent_files=$(ls "$T/outgoing/new" | wc -l)
distinct=$(cat "$T"/outgoing/new/* | grep -i '^Message-ID:' | sort -u | wc -l)
is "$distinct" "$tickets" "every auto-response arrived"
twice=$((sent_files - distinct))
echo "# auto-responses sent twice: $twice (after $kills kills)"; echo "# auto-responses sent twice: $twice (after $kills kills)" >&2
ok $([ $twice -le $kills ] && echo 0 || echo 1) "at most one auto-response twice per kill"
done_testing
