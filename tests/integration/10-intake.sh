#!/bin/sh
# Intake from Maildir queues into a real PostgreSQL: new tickets,
# threading, automatic mail, two copies, failures, auto-responses.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config

# A schema that is behind: the daemon refuses and names the command.
run_once
ok $([ $? -eq 78 ] && echo 0 || echo 1) "ticketd refuses to run on an old schema (exit 78)"
grep -q "ticketctl -c .* db migrate" "$T/ticketd.log"
ok $? "the refusal names 'ticketctl db migrate'"
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >"$T/migrate.out"
ok $? "ticketctl db migrate"
"$TICKETCTL" -c "$T/ticketd.conf" db migrate | grep -q "0 migrations applied"
ok $? "a second migrate applies nothing"

deliver support m1 <<'MAIL'
From: Carol Customer <carol@customer.example>
To: support@example.com
Subject: Printer on fire
Message-ID: <m1@customer.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000

My printer is on fire.  Please help.
MAIL
run_once --now=2026-11-23T10:00:00Z
ok $? "ticketd --once"
is "$(psql_q "SELECT count(*) FROM tickets")" 1 "one ticket"
is "$(psql_q "SELECT requestor || '|' || status || '|' || priority || '|' || subject FROM tickets")" \
	"carol@customer.example|new|50|Printer on fire" "ticket fields"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "message left new/"
is "$(ls "$T/mail/support/cur")" "m1:2,S" "message moved to cur/ with the S flag"
is "$(psql_q "SELECT created FROM tickets")" "2026-11-23 10:00:00+00" "--now sets the time"
is "$(ls "$T/outgoing/new" | wc -l)" 1 "one auto-response delivered"
AR="$T/outgoing/new/$(ls "$T/outgoing/new" | head -n 1)"
grep -q "^Subject: \[Ticket#1\] Printer on fire" "$AR"
ok $? "auto-response subject carries the tag"
grep -q "^In-Reply-To: <m1@customer.example>" "$AR"
ok $? "auto-response In-Reply-To"
grep -q "^References: <m1@customer.example>" "$AR"
ok $? "auto-response References"
grep -q "^Auto-Submitted: auto-replied" "$AR"
ok $? "auto-response Auto-Submitted"
grep -q "^To: .*carol@customer.example" "$AR"
ok $? "auto-response goes to the requestor"
AR_ID=$(sed -n 's/^Message-ID: <\(.*\)>.*/\1/Ip' "$AR" | head -n 1)
case "$AR_ID" in t1.*@example.com) ok 0 "our Message-ID carries the ticket";; *) ok 1 "our Message-ID: $AR_ID";; esac
is "$(psql_q "SELECT status FROM outbox")" sent "outbox row sent"
is "$(psql_q "SELECT kind FROM messages WHERE direction = 'out'")" auto-response "auto-response stored on the ticket"

# A reply to the auto-response threads by In-Reply-To, without any tag.
deliver support m2 <<MAIL
From: carol@customer.example
To: support@example.com
Subject: Re: still burning
Message-ID: <m2@customer.example>
In-Reply-To: <$AR_ID>
References: <m1@customer.example> <$AR_ID>

Still burning.
MAIL
# A stranger who guesses the tag gets a ticket of their own.
deliver support m3 <<'MAIL'
From: mallory@evil.example
To: support@example.com
Subject: [Ticket#1] give me the data
Message-ID: <m3@evil.example>

Hello.
MAIL
# The requestor with only the tag threads.
deliver support m4 <<'MAIL'
From: Carol <CAROL@customer.example>
To: support@example.com
Subject: Re: [Ticket#1] Printer on fire
Message-ID: <m4@customer.example>

Any news?
MAIL
run_once --now=2026-11-23T10:05:00Z
is "$(psql_q "SELECT count(*) FROM messages WHERE ticket_id = 1 AND direction = 'in'")" 3 \
	"reference and tag follow-ups on ticket 1"
is "$(psql_q "SELECT requestor FROM tickets WHERE id = 2")" "mallory@evil.example" \
	"a stranger with a tag gets a new ticket"
is "$(psql_q "SELECT count(*) FROM messages WHERE ticket_id = 1 AND message_id = 'm3@evil.example'")" 0 \
	"the stranger's message is not on ticket 1"
is "$(psql_q "SELECT count(*) FROM outbox")" 2 "follow-ups get no auto-response"

# A follow-up to a closed ticket reopens it.
psql_q "UPDATE tickets SET status = 'closed', closed_at = now() WHERE id = 1" >/dev/null
deliver support m5 <<'MAIL'
From: carol@customer.example
To: support@example.com
Subject: Re: [Ticket#1] Printer on fire
Message-ID: <m5@customer.example>
In-Reply-To: <m4@customer.example>

It is back.
MAIL
run_once --now=2026-11-23T10:10:00Z
is "$(psql_q "SELECT status FROM tickets WHERE id = 1")" reopened "a follow-up reopens a closed ticket"
is "$(psql_q "SELECT old || '>' || new FROM events WHERE ticket_id = 1 AND type = 'status'")" \
	"closed>reopened" "the reopening is an event"

# An out-of-office reply is recorded and changes nothing.
psql_q "UPDATE tickets SET status = 'answered' WHERE id = 2" >/dev/null
deliver support m6 <<'MAIL'
From: mallory@evil.example
To: support@example.com
Subject: Out of office: [Ticket#2] give me the data
Message-ID: <m6@evil.example>
Auto-Submitted: auto-replied
In-Reply-To: <m3@evil.example>

I am away.
MAIL
# Bulk mail that starts nothing gets a ticket but no auto-response.
deliver support m7 <<'MAIL'
From: news@shop.example
To: support@example.com
Subject: Our newsletter
Message-ID: <m7@shop.example>
Precedence: bulk
List-Id: <news.shop.example>

Buy things.
MAIL
run_once --now=2026-11-23T10:15:00Z
is "$(psql_q "SELECT status FROM tickets WHERE id = 2")" answered "an auto-reply changes no state"
is "$(psql_q "SELECT kind FROM messages WHERE message_id = 'm6@evil.example'")" automatic \
	"the auto-reply is recorded as automatic"
is "$(psql_q "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE t.requestor = 'news@shop.example'")" 0 \
	"no auto-response to bulk mail"

# One message to two queue addresses, delivered to both mailboxes: one ticket.
for q in support billing; do
	deliver $q m8 <<'MAIL'
From: dave@customer.example
To: support@example.com
Cc: billing@example.com, eve@customer.example
Subject: Invoice and outage
Message-ID: <m8@customer.example>

Both, please.
MAIL
done
run_once --now=2026-11-23T10:20:00Z
is "$(psql_q "SELECT count(*) FROM tickets WHERE requestor = 'dave@customer.example'")" 1 \
	"two copies make one ticket"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE header_message_id = 'm8@customer.example'")" 2 \
	"both copies are kept raw"
is "$(psql_q "SELECT status FROM raw_messages WHERE header_message_id = 'm8@customer.example' ORDER BY id")" \
	"stored
duplicate" "the second copy is marked duplicate"
is "$(ls "$T/mail/billing/new" "$T/mail/billing/cur" | grep -c m8)" 0 "after = delete removes the copy"
is "$(psql_q "SELECT address FROM ticket_cc tc JOIN tickets t ON t.id = tc.ticket_id WHERE t.requestor = 'dave@customer.example'")" \
	"eve@customer.example" "other recipients become CCs, our addresses do not"

# A message that cannot be parsed is kept with its reason.
printf 'X-Nothing: here\n\nno sender at all\n' | deliver support m9
run_once --now=2026-11-23T10:25:00Z
is "$(ls "$T/mail/support/new" | wc -l)" 0 "the failed message left the mailbox (it is stored)"
"$TICKETCTL" -c "$T/ticketd.conf" failed list --format=json >"$T/failed.json"
grep -q '"uid": "m9"' "$T/failed.json" && grep -q '"reason": "no sender address"' "$T/failed.json"
ok $? "ticketctl failed list shows it with the reason"

# Nothing twice: a second run adds nothing; a stored-but-unacknowledged
# message (crash between COMMIT and the move) is recognised.
before=$(psql_q "SELECT count(*) FROM raw_messages")
run_once
is "$(psql_q "SELECT count(*) FROM raw_messages")" "$before" "a second run adds nothing"
cp "$T/mail/support/cur/m1:2,S" "$T/mail/support/new/m1"
run_once
is "$(psql_q "SELECT count(*) FROM raw_messages")" "$before" "a message stored before is not stored again"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "and it leaves new/"

# At most autoresponse_limit (3 per hour here) auto-responses per sender.
for i in 1 2 3 4 5; do
	deliver support rate$i <<MAIL
From: greg@customer.example
To: support@example.com
Subject: question $i
Message-ID: <rate$i@customer.example>

Question $i.
MAIL
done
run_once --now=2026-11-23T11:00:00Z
is "$(psql_q "SELECT count(*) FROM tickets WHERE requestor = 'greg@customer.example'")" 5 "five new tickets"
is "$(psql_q "SELECT count(*) FROM outbox WHERE recipient = 'greg@customer.example'")" 3 \
	"but only three auto-responses within the hour"
deliver support rate6 <<'MAIL'
From: greg@customer.example
To: support@example.com
Subject: question 6
Message-ID: <rate6@customer.example>

Question 6.
MAIL
run_once --now=2026-11-23T12:00:01Z
is "$(psql_q "SELECT count(*) FROM outbox WHERE recipient = 'greg@customer.example'")" 4 \
	"an hour later the sender gets one again"

# A message over a MiB goes to the database by COPY, streamed: stored whole.
head -c 3000000 /dev/urandom >"$T/blob"
{
	printf 'From: big@customer.example\nTo: support@example.com\nSubject: big one\n'
	printf 'Message-ID: <big@customer.example>\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary=BB\n\n--BB\nContent-Type: text/plain\n\nattached\n'
	printf -- '--BB\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="blob.bin"\n'
	printf 'Content-Transfer-Encoding: base64\n\n'
	base64 -w 76 "$T/blob"
	printf -- '--BB--\n'
} | deliver support big
run_once
is "$(psql_q "SELECT size = length(raw) AND size = $(stat -c %s "$T/mail/support/cur/big:2,S") FROM raw_messages WHERE header_message_id = 'big@customer.example'")" t \
	"a 4 MB message is stored whole"
is "$(psql_q "SELECT filename || ' ' || size || ' ' || encode(sha256(content), 'hex') FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.message_id = 'big@customer.example'")" \
	"blob.bin 3000000 $(sha256sum "$T/blob" | cut -d' ' -f1)" "its 3 MB attachment is stored whole"
cp "$T/mail/support/cur/big:2,S" "$T/mail/support/new/big"
run_once
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE header_message_id = 'big@customer.example'")" 1 \
	"back in new/ after a crash, it is recognised and not stored again"

# A message that breaks a statement of its own (here a trigger refuses
# it) is kept as failed, whether it is in the middle of a batch or last,
# and the messages around it are stored; intake queues its writes in
# pipeline mode, so the failure shows only at the next round trip.
psql_q "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.subject LIKE '%POISON%' THEN RAISE EXCEPTION 'poisoned for the test'; END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison();" >/dev/null
poison_mail() { # poison_mail UID SUBJECT
	printf 'From: Pat <pat@customer.example>\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s@customer.example>\n\nText of %s.\n' \
		"$2" "$1" "$1" | deliver support "$1"
}
tickets_before=$(psql_q "SELECT count(*) FROM tickets")
poison_mail p1 "Fine one"
poison_mail p2 "POISON in the middle"
poison_mail p3 "Fine two"
poison_mail p4 "POISON at the end"
run_once
is "$(psql_q "SELECT count(*) FROM tickets")" "$((tickets_before + 2))" \
	"the messages around two that break a statement make their tickets"
is "$(psql_q "SELECT string_agg(source_uid || ' ' || status || ' ' || split_part(reason, E'\\n', 1), ', ' ORDER BY source_uid) FROM raw_messages WHERE source_uid IN ('p2', 'p4')")" \
	"p2 failed database: ERROR:  poisoned for the test, p4 failed database: ERROR:  poisoned for the test" \
	"in the middle of a batch or last, each is kept as failed with the reason"
is "$(psql_q "SELECT count(*) FROM messages WHERE subject LIKE '%POISON%' OR subject LIKE 'Fine%'") $(psql_q "SELECT count(*) FROM raw_messages WHERE source_uid IN ('p1', 'p3') AND status = 'stored'")" \
	"2 2" "nothing of them is stored but the raw copy; the others are stored"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "all four left the mailbox"
# When not even the raw copy can be kept, the message stays for the next cycle.
psql_q "CREATE FUNCTION poison_raw() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.status = 'failed' AND NEW.reason LIKE '%poisoned%' THEN RAISE EXCEPTION 'no room'; END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER poison_raw BEFORE INSERT ON raw_messages FOR EACH ROW EXECUTE FUNCTION poison_raw();" >/dev/null
poison_mail p5 "POISON kept nowhere"
poison_mail p6 "Fine three"
run_once
is "$(ls "$T/mail/support/new")" p5 "a message that cannot be kept at all stays in new/"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE source_uid = 'p5'") $(psql_q "SELECT count(*) FROM messages WHERE subject = 'Fine three'")" \
	"0 1" "and the one after it is stored"
psql_q "DROP TRIGGER poison_raw ON raw_messages; DROP TRIGGER poison ON messages" >/dev/null
run_once
is "$(ls "$T/mail/support/new" | wc -l) $(psql_q "SELECT count(*) FROM messages WHERE subject = 'POISON kept nowhere'")" \
	"0 1" "once the cause is gone, the next cycle stores it"

# ticketctl list and show.
"$TICKETCTL" -c "$T/ticketd.conf" list --format=json >"$T/list.json"
ok $? "ticketctl list --format=json"
grep -q '"id": 1, "queue": "support", "status": "reopened", "priority": 50, "subject": "Printer on fire", "requestor": "carol@customer.example", "assignee": null, "sticky": false' "$T/list.json"
ok $? "list JSON has the ticket's fields"
"$TICKETCTL" -c "$T/ticketd.conf" list | grep -q "Printer on fire"
ok $? "ticketctl list table"
"$TICKETCTL" -c "$T/ticketd.conf" show 1 --format=json >"$T/show.json"
ok $? "ticketctl show 1 --format=json"
grep -q '"messages": \[' "$T/show.json" && grep -q '"events": \[' "$T/show.json" && grep -q '"text": "My printer is on fire.  Please help.' "$T/show.json"
ok $? "show JSON has messages, events and the text"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; json.load(open(sys.argv[1])); json.load(open(sys.argv[2]))' "$T/list.json" "$T/show.json"
	ok $? "list and show print valid JSON"
fi
"$TICKETCTL" -c "$T/ticketd.conf" show 999 >/dev/null 2>&1
is $? 65 "show of a missing ticket exits 65"
done_testing
