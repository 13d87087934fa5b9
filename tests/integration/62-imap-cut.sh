#!/bin/sh
# Failure scope (isync's message/box distinction): the IMAP connection is
# cut in the middle of a batch.  What was stored before the cut is
# committed; the mailbox's batch ends there and the mailbox backs off, once,
# instead of every remaining message failing on its own; the next run
# takes the rest, each message stored exactly once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../servers.sh"
. "$(dirname "$0")/../imap-config.sh"

servers_require dovecot
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }

N=150
body=$(head -c 6000 /dev/zero | tr '\0' 'x' | fold -w 76)
i=1
while [ $i -le $N ]; do
	printf 'From: cut%d@customer.example\nTo: support@example.com\nSubject: cut test %d\nMessage-ID: <cut%d@customer.example>\n\nMessage %d.\n%s\n' \
		$i $i $i $i "$body" | drop_imap support@example.com "$((1700000000 + i)).cut$i.test"
	i=$((i + 1))
done
is "$(mail_count support@example.com)" $N "$N messages in the IMAP mailbox"

# The proxy passes the greeting, STARTTLS, login and the first read-ahead
# window (64 messages of ~6 KB), then cuts the connection in the second.
python3 "$TOP/tests/cut-proxy.py" "$T/proxy.port" "$DOVECOT_IMAP_PORT" 600000 &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null; servers_cleanup; cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
PROXY_PORT=$(cat "$T/proxy.port")
IMAP_URL="imap://localhost:$PROXY_PORT/INBOX" BATCH_SIZE=50 write_imap_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

run_once
stored=$(psql_q "SELECT count(*) FROM raw_messages")
ok $([ "$stored" -gt 0 ] && [ "$stored" -lt $N ] && echo 0 || echo 1) \
	"the run stored what came before the cut ($stored of $N)"
is "$(grep -c 'cannot be read, left in the mailbox' "$T/ticketd.log")" 0 \
	"no message after the cut is counted as a failure of its own"
is "$(grep -c 'source=imap.*failed 1 time in a row' "$T/ticketd.log")" 1 \
	"the mailbox failed once and backs off"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE status <> 'stored'")" 0 \
	"nothing kept as failed"

# The next run (the proxy passes everything now) takes the rest.
run_once
is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "$N messages stored in all"
is "$(psql_q "SELECT count(DISTINCT header_message_id) FROM raw_messages")" $N "each exactly once"
is "$(mail_count support@example.com)" 0 "the IMAP mailbox is empty"
kill "$proxy_pid" 2>/dev/null
wait "$proxy_pid" 2>/dev/null

done_testing
