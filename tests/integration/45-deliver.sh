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
done_testing
