#!/bin/sh
# A mail that cannot be made never fails the change that caused it: a
# new-ticket template whose From override is no address stores the
# customer's message and its ticket all the same, with a mail-failed event
# saying why; the other queue's auto-response goes out in the same run.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
printf 'From: no address at all\n\nWe got your mail about {{ticket.subject}}.\n' >"$T/bad.txt"
SUPPORT_EXTRA="templates = { new_ticket = \"$T/bad.txt\"; };" write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

deliver support m1 <<'MAIL'
From: Dana Customer <dana@customer.example>
To: support@example.com
Subject: Cannot log in
Message-ID: <m1@customer.example>

The login page says no.
MAIL
deliver billing m2 <<'MAIL'
From: Eve Customer <eve@customer.example>
To: billing@example.com
Subject: Invoice twice
Message-ID: <m2@customer.example>

I was billed twice.
MAIL
run_once --now=2026-11-23T10:00:00Z
ok $? "ticketd --once"
is "$(psql_q "SELECT q.name || '|' || t.requestor || '|' || t.subject FROM tickets t JOIN queues q ON q.id = t.queue_id ORDER BY t.id")" \
	"support|dana@customer.example|Cannot log in
billing|eve@customer.example|Invoice twice" "both customers have their ticket"
is "$(psql_q "SELECT status, count(*) FROM raw_messages GROUP BY status")" "stored|2" \
	"both messages stored, none kept as failed"
is "$(psql_q "SELECT t.requestor || '|' || m.kind || '|' || m.body FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'in' AND t.requestor LIKE 'dana%'")" \
	"dana@customer.example|customer|The login page says no." "the customer's message is on the ticket"
is "$(psql_q "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.requestor LIKE 'dana%' AND m.direction = 'out'")" \
	0 "no auto-response stored for the failed mail"
is "$(psql_q "SELECT e.type || '|' || e.old FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.requestor LIKE 'dana%' AND e.type <> 'create'")" \
	"mail-failed|auto-response" "the failure is an event on the ticket"
psql_q "SELECT new FROM events WHERE type = 'mail-failed'" | grep -q "From override"
ok $? "the event says why (the From override)"
is "$(ls "$T/outgoing/new" | wc -l)" 1 "the other queue's auto-response went out"
grep -l "^To: .*eve@customer.example" "$T/outgoing/new/"* >/dev/null
ok $? "... to the billing customer"
grep -q "ticket=1 auto-response not sent: From override" "$T/ticketd.log"
ok $? "the failure is logged with the ticket"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "the message left its mailbox"

done_testing
