#!/bin/sh
# ticketd deliver: the MTA pipe.  Exit 0 only after COMMIT, 75 when the
# database cannot be reached (the MTA retries), a message handed over twice
# is stored once, an unparseable one is kept as failed and accepted.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

cat >"$T/m1" <<'MAIL'
From: Henry <henry@customer.example>
To: billing@example.com
Subject: piped in
Message-ID: <pipe1@customer.example>

Through the pipe.
MAIL
"$TICKETD" deliver -c "$T/ticketd.conf" --queue billing <"$T/m1"
is $? 0 "deliver exits 0 after storing"
is "$(psql_q "SELECT q.name || '|' || t.subject FROM tickets t JOIN queues q ON q.id = t.queue_id")" \
	"billing|piped in" "the ticket is in the named queue"
is "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'pending'")" 1 \
	"its auto-response waits in the outbox for the daemon"
"$TICKETD" deliver -c "$T/ticketd.conf" --queue billing <"$T/m1"
is $? 0 "the same message handed over again exits 0"
is "$(psql_q "SELECT count(*) FROM raw_messages")" 1 "and is not stored twice"

printf 'garbage without headers\n' | "$TICKETD" deliver -c "$T/ticketd.conf" --queue billing
is $? 0 "an unparseable message is accepted"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE status = 'failed'")" 1 "and kept as failed"

"$TICKETD" deliver -c "$T/ticketd.conf" --queue nosuch <"$T/m1" 2>/dev/null
is $? 78 "an unknown queue is EX_CONFIG (the MTA defers)"

sed "s|conninfo = \"[^\"]*\"|conninfo = \"host=$T/nowhere dbname=tickets user=ticketd connect_timeout=2\"|" \
	"$T/ticketd.conf" >"$T/nodb.conf"
sed 's/pipe1/pipe2/' "$T/m1" | "$TICKETD" deliver -c "$T/nodb.conf" --queue billing 2>/dev/null
is $? 75 "no database: EX_TEMPFAIL, so the MTA retries"
is "$(psql_q "SELECT count(*) FROM raw_messages")" 2 "nothing stored"
"$TICKETD" deliver -c "$T/ticketd.conf" --queue billing </dev/null
is $? 0 "an empty message is accepted (kept as failed)"
# Global options before the verb (as admins write postfix -c), or after it.
sed 's/pipe1/order1/; s/piped in/global first/' "$T/m1" |
	"$TICKETD" -c "$T/ticketd.conf" deliver --queue support
is $? 0 "ticketd -c FILE deliver --queue NAME"
is "$(psql_q "SELECT q.name FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.subject = 'global first'")" \
	support "stores the message in that queue"
sed 's/pipe1/order2/; s/piped in/fixed time/' "$T/m1" |
	"$TICKETD" -v -c "$T/ticketd.conf" --now=2026-01-02T03:04:05Z deliver --queue billing 2>/dev/null
is $? 0 "ticketd -v -c FILE --now=TIME deliver --queue NAME"
is "$(psql_q "SELECT to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM tickets WHERE subject = 'fixed time'")" \
	"2026-01-02 03:04:05" "a --now before the verb is the time of the ticket"
sed 's/pipe1/order3/; s/piped in/mixed order/' "$T/m1" |
	"$TICKETD" deliver --queue billing -c "$T/ticketd.conf" --now=2026-01-02T03:04:05Z
is $? 0 "ticketd deliver --queue NAME -c FILE --now=TIME"
is "$(psql_q "SELECT count(*) FROM tickets WHERE subject = 'mixed order'")" 1 "stores the message"
before=$(psql_q "SELECT count(*) FROM raw_messages")
sed 's/pipe1/order4/' "$T/m1" | "$TICKETD" -c "$T/ticketd.conf" --queue billing 2>"$T/e1"
is $? 64 "--queue without the verb is a usage error"
grep -q "queue is an option of deliver" "$T/e1"
ok $? "which says --queue belongs to deliver"
sed 's/pipe1/order5/' "$T/m1" | "$TICKETD" -c "$T/ticketd.conf" deliver --queue billing --once 2>"$T/e2"
is $? 64 "--once after deliver is a usage error"
grep -q -e "--once is not an option of deliver" "$T/e2"
ok $? "which names it"
sed 's/pipe1/order6/' "$T/m1" | "$TICKETD" -f -c "$T/ticketd.conf" deliver --queue billing 2>/dev/null
is $? 64 "-f before deliver is a usage error"
sed 's/pipe1/order7/' "$T/m1" | "$TICKETD" deliver -c "$T/ticketd.conf" 2>/dev/null
is $? 64 "deliver without --queue is a usage error"
sed 's/pipe1/order8/' "$T/m1" | "$TICKETD" -c "$T/ticketd.conf" deliver --queue billing --bogus 2>/dev/null
is $? 64 "an unknown option after deliver is a usage error"
is "$(psql_q "SELECT count(*) FROM raw_messages")" "$before" "none of the refused calls stored anything"

done_testing
