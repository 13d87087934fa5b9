#!/bin/sh
# Exactly once under crashes: 300 messages over IMAP, the daemon killed
# with SIGKILL at random moments and restarted; then every message is
# stored exactly once and every due auto-response was sent.  The
# auto-responses go by SMTP to the private Postfix, which delivers them by
# LMTP into each customer's own mailbox at Dovecot; the copies there are
# counted.  A crash may resend only the mail in flight, one per sending
# session (DESIGN §2), so the test fails when the extra copies exceed
# kills × sessions.  One pass per entry of CRASH_SESSIONS (transport.sessions;
# default "1 3"), each on a fresh database.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot postfix

N=${CRASH_MESSAGES:-300}
KILLS=${CRASH_KILLS:-6}
SESSIONS=${CRASH_SESSIONS:-1 3}
# every fifth message is a follow-up; the others come from customer0,
# customer5, ...: each its own mailbox, at most 4 auto-responses each (the
# rate limit is 5 an hour)
CUSTOMERS=
i=0
while [ $i -le $N ]; do CUSTOMERS="$CUSTOMERS customer$i@example.net"; i=$((i + 5)); done
MAIL_USERS="$MAIL_USERS$CUSTOMERS"

start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }

start_daemon() {
	"$TICKETD" -f -c "$T/ticketd.conf" 2>>"$T/ticketd.log" &
	daemon_pid=$!
}
# every copy of every mail in the customers' mailboxes, by Message-ID
received_ids() {
	for _c in $CUSTOMERS; do
		_d=$(mailbox_dir "$_c")
		find "$_d/new" "$_d/cur" -type f 2>/dev/null | while read -r _f; do
			grep -i -m 1 '^Message-ID:' "$_f" | tr -d '\r'
		done
	done
}
received_count() {
	_n=0
	for _c in $CUSTOMERS; do _n=$((_n + $(mail_count "$_c"))); done
	echo $_n
}

for sessions in $SESSIONS; do
	echo "# pass: transport.sessions = $sessions"
	"$PG_BINDIR/psql" -X -q -h "$PGDIR" -U ticketd -d postgres \
		-c "DROP DATABASE IF EXISTS tickets WITH (FORCE)" -c "CREATE DATABASE tickets" ||
		exit 1
	for c in $CUSTOMERS; do
		d=$(mailbox_dir "$c")
		[ -d "$d" ] && find "$d/new" "$d/cur" -type f -exec rm -f {} + 2>/dev/null
	done
	TRANSPORT="url = \"smtp://127.0.0.1:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\"; sessions = $sessions;" \
		BATCH_SIZE=7 write_imap_config
	"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

	i=1
	while [ $i -le $N ]; do
		if [ $((i % 5)) -eq 0 ]; then irt="In-Reply-To: <crash$((i - 1))@example.net>"; else irt="X-Plain: yes"; fi
		printf 'From: customer%d@example.net\nTo: support@example.com\nSubject: crash test %d\nMessage-ID: <crash%d@example.net>\n%s\n\nMessage %d.\n' \
			$((i - i % 5)) $i $i "$irt" $i | drop_imap support@example.com "$((1700000000 + i)).crash$i.$sessions.test"
		i=$((i + 1))
	done
	is "$(mail_count support@example.com)" $N "sessions=$sessions: $N messages in the IMAP mailbox"

	# Start, let it work for a random moment, SIGKILL; again and again.
	kills=0
	while [ $kills -lt $KILLS ]; do
		start_daemon
		sleep "0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ' | awk '{ printf "%03d", 50 + $1 % 500 }')"
		kill -KILL $daemon_pid 2>/dev/null && kills=$((kills + 1))
		wait $daemon_pid 2>/dev/null
	done
	echo "# $kills SIGKILLs; stored so far: $(psql_q "SELECT count(*) FROM raw_messages"), sent: $(psql_q "SELECT count(*) FROM outbox WHERE status = 'sent'")"
	# Then let it finish, and stop it cleanly.
	start_daemon
	for _ in $(seq 1 300); do
		[ "$(mail_count support@example.com)" -eq 0 ] &&
			[ "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'pending'")" -eq 0 ] && break
		sleep 0.2
	done
	kill -TERM $daemon_pid
	wait $daemon_pid
	is $? 0 "sessions=$sessions: the last daemon stops cleanly on SIGTERM"
	ok $([ $kills -ge 5 ] && echo 0 || echo 1) "sessions=$sessions: killed $kills times (at least 5)"

	is "$(mail_count support@example.com)" 0 "sessions=$sessions: the IMAP mailbox is empty"
	is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "sessions=$sessions: $N raw messages stored"
	is "$(psql_q "SELECT count(DISTINCT header_message_id) FROM raw_messages")" $N "sessions=$sessions: each message exactly once"
	is "$(psql_q "SELECT count(*) FROM messages WHERE direction = 'in'")" $N "sessions=$sessions: $N messages on tickets"
	tickets=$(psql_q "SELECT count(*) FROM tickets")
	is "$tickets" $((N - N / 5)) "sessions=$sessions: follow-ups threaded, the rest are new tickets"
	is "$(psql_q "SELECT count(*) FROM outbox")" "$tickets" "sessions=$sessions: one auto-response queued per new ticket"
	is "$(psql_q "SELECT count(*) FROM outbox WHERE status <> 'sent'")" 0 "sessions=$sessions: every due auto-response sent"

	# What the customers received: Postfix delivers what it accepted within
	# moments; wait until the count stands still.
	last=-1
	for _ in $(seq 1 100); do
		now=$(received_count)
		[ "$now" -ge "$tickets" ] && [ "$now" -eq "$last" ] && break
		last=$now
		sleep 0.3
	done
	received_ids >"$T/received"
	copies=$(wc -l <"$T/received")
	distinct=$(sort -u "$T/received" | wc -l)
	is "$distinct" "$tickets" "sessions=$sessions: every auto-response arrived in its customer's mailbox"
	extra=$((copies - distinct))
	echo "# sessions=$sessions: $copies copies of $distinct auto-responses received, $extra extra (after $kills kills; at most $((kills * sessions)) allowed)" | tee /dev/stderr
	ok $([ $extra -le $((kills * sessions)) ] && echo 0 || echo 1) \
		"sessions=$sessions: at most one mail sent twice per kill and session"
done
done_testing
