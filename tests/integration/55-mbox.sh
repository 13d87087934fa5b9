#!/bin/sh
# mbox: messages split at From lines, >From unquoted, removed in place after
# the commit (same inode), and an interrupted removal finished on the next open.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config
MBOX="$T/mail/billing.mbox"
sed -i "s|url = \"maildir:$T/mail/billing\"; after = \"delete\";|url = \"mbox:$MBOX\";|" "$T/ticketd.conf"
grep -q "mbox:" "$T/ticketd.conf" || { echo "Bail out! config not rewritten"; exit 1; }
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

cat >"$MBOX" <<'MBOX'
From ivy@customer.example Mon Nov 23 09:00:00 2026
From: ivy@customer.example
To: billing@example.com
Subject: first
Message-ID: <mb1@customer.example>

Line one.
>From the top, quoted by the delivery agent.
>>From twice quoted.

From jack@customer.example Mon Nov 23 09:01:00 2026
From: jack@customer.example
To: billing@example.com
Subject: second
Message-ID: <mb2@customer.example>

Second body.

MBOX
inode=$(stat -c %i "$MBOX")
run_once
ok $? "ticketd --once on an mbox"
is "$(psql_q "SELECT string_agg(subject, ',' ORDER BY id) FROM tickets")" "first,second" "two tickets"
is "$(psql_q "SELECT body FROM messages WHERE message_id = 'mb1@customer.example'")" "Line one.
From the top, quoted by the delivery agent.
>From twice quoted." "From quoting undone (mboxrd)"
is "$(psql_q "SELECT body FROM messages WHERE message_id = 'mb2@customer.example'")" "Second body." \
	"the empty line before the next From line is not part of the message"
is "$(stat -c %s "$MBOX")" 0 "the stored messages left the mbox"
is "$(stat -c %i "$MBOX")" "$inode" "the mbox keeps its inode"
ok $([ ! -e "$MBOX.lock" ] && echo 0 || echo 1) "the dotlock is gone"

# A removal cut short by a crash: the keep file is written back first.
cat >"$MBOX.ticketd-keep" <<'MBOX'
From kim@customer.example Mon Nov 23 09:02:00 2026
From: kim@customer.example
To: billing@example.com
Subject: kept
Message-ID: <mb3@customer.example>

Kept by an interrupted flush.
MBOX
printf 'garbage left half-written' >"$MBOX"
run_once
is "$(psql_q "SELECT count(*) FROM tickets WHERE subject = 'kept'")" 1 "the kept message is taken after recovery"
ok $([ ! -e "$MBOX.ticketd-keep" ] && echo 0 || echo 1) "the keep file is gone"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE status = 'failed'")" 0 "nothing failed"
done_testing
