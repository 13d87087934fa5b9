#!/bin/sh
# Two daemons at once on the same database and mailboxes (one over IMAP,
# one Maildir): no message stored twice, no outbox row sent twice.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
BATCH_SIZE=5 write_imap_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

N=${TWO_MESSAGES:-300}
i=1
while [ $i -le $N ]; do
	msg=$(printf 'From: c%d@example.net\nTo: support@example.com\nSubject: two daemons %d\nMessage-ID: <two%d@example.net>\n\nMessage %d.\n' $i $i $i $i)
	if [ $((i % 2)) -eq 0 ]; then
		echo "$msg" | drop_imap support@example.com "$((1700000000 + i)).two$i.test"
	else
		echo "$msg" >"$T/mail/billing/tmp/two$i" && mv "$T/mail/billing/tmp/two$i" "$T/mail/billing/new/two$i"
	fi
	i=$((i + 1))
done

"$TICKETD" -f -c "$T/ticketd.conf" 2>>"$T/d1.log" &
d1=$!
"$TICKETD" -f -c "$T/ticketd.conf" 2>>"$T/d2.log" &
d2=$!
for _ in $(seq 1 300); do
	[ "$(mail_count support@example.com)" -eq 0 ] && [ "$(ls "$T/mail/billing/new" | wc -l)" -eq 0 ] &&
		[ "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'pending'")" -eq 0 ] && break
	sleep 0.2
done
kill -TERM $d1 $d2
wait $d1
r1=$?
wait $d2
r2=$?
is "$r1:$r2" "0:0" "both daemons stop cleanly"
n1=$(grep -c "rule=" "$T/d1.log")
n2=$(grep -c "rule=" "$T/d2.log")
echo "# daemon 1 took $n1 messages, daemon 2 took $n2"; echo "# daemon 1 took $n1 messages, daemon 2 took $n2" >&2
is "$(psql_q "SELECT count(*) FROM raw_messages")" $N "$N raw messages"
is "$(psql_q "SELECT count(DISTINCT header_message_id) FROM raw_messages")" $N "each stored once"
is "$(psql_q "SELECT count(*) FROM tickets")" $N "$N tickets"
is "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'sent'")" $N "$N auto-responses sent"
is "$(ls "$T/outgoing/new" | wc -l)" $N "each delivered once"
is "$(cat "$T"/outgoing/new/* | grep -i '^Message-ID:' | sort -u | wc -l)" $N "no Message-ID twice"
done_testing
