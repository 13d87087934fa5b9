#!/bin/sh
# Customers with unusual but valid addresses (RFC 5322 quoted local parts,
# apostrophes, +tags, IDN domains) get a ticket with the exact requestor and
# an auto-response whose To: is their address; a truly invalid From is kept
# as failed with a reason that names it.  The To: headers are read by
# Python's email package, not by our code.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to read the auto-responses"
start_pg || skip_all "cannot start PostgreSQL"
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >"$T/migrate.out"
ok $? "ticketctl db migrate"

# One message per customer: uid, then the address as written in From.
n=0
for addr in '"j,s"@customer.example' "o'brien@example.ie" 'user+tag@example.com' \
	'kunde@bücher.example' '"john doe"@example.com' 'jörg@bücher.example'; do
	n=$((n + 1))
	printf 'From: Customer %s <%s>\nTo: support@example.com\nSubject: help %s\nMessage-ID: <a%s@test>\nDate: Mon, 23 Nov 2026 09:00:00 +0000\n\nHelp me, please.\n' \
		"$n" "$addr" "$n" "$n" | deliver support "a$n"
done
# A From that breaks the rule, and nothing else to answer to.
deliver support bad <<'MAIL'
From: Broken <a..b@customer.example>
To: support@example.com
Subject: broken sender
Message-ID: <bad@test>

Can anybody read this?
MAIL

run_once --now=2026-11-23T10:00:00Z
ok $? "ticketd --once"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "every message left new/ (stored)"

# subject -> requestor, exactly
is "$(psql_q "SELECT subject || ' ' || requestor FROM tickets ORDER BY subject")" \
	"$(printf '%s\n' 'help 1 "j,s"@customer.example' "help 2 o'brien@example.ie" \
		'help 3 user+tag@example.com' 'help 4 kunde@bücher.example' \
		'help 5 "john doe"@example.com' 'help 6 jörg@bücher.example')" \
	"a ticket for each customer, with the exact requestor"
is "$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'auto-response' AND status = 'sent'")" 6 \
	"six auto-responses sent"
is "$(psql_q "SELECT t.subject || ' ' || o.recipient FROM outbox o JOIN tickets t ON t.id = o.ticket_id ORDER BY t.subject")" \
	"$(psql_q "SELECT subject || ' ' || requestor FROM tickets ORDER BY subject")" \
	"each envelope recipient is the requestor as stored (RCPT TO form: test-smtp)"

# The To: of every auto-response, by Python's email package.  An IDN domain
# is written as its A-label (Python's idna codec gives the expected one).
python3 - "$T/outgoing/new" >"$T/to.txt" 2>"$T/python.err" <<'PY'
import email, email.policy, os, sys
d = sys.argv[1]
rows = []
for name in os.listdir(d):
    with open(os.path.join(d, name), "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    subject = str(msg["Subject"]).split("] ", 1)[-1]
    to = msg.get_all("To")
    try:
        addrs = to[0].addresses if to and len(to) == 1 else ()
        addr = addrs[0].addr_spec if len(addrs) == 1 else "(not one address)"
    except Exception as e:  # the raw UTF-8 local part: Python has no RFC 6532 parser
        addr = "(unreadable: %s)" % e
    rows.append("%s %s" % (subject, addr))
print("\n".join(sorted(rows)))
PY
py=$?; [ $py -eq 0 ] || sed "s/^/# /" "$T/python.err"
ok $py "python reads the auto-responses"
idn=$(python3 -c 'print("bücher.example".encode("idna").decode())')
is "$(grep -v '^help 6 ' "$T/to.txt")" \
	"$(printf '%s\n' 'help 1 "j,s"@customer.example' "help 2 o'brien@example.ie" \
		'help 3 user+tag@example.com' "help 4 kunde@$idn" \
		'help 5 "john doe"@example.com')" \
	"each auto-response's To: is exactly the customer's address"
grep -q '^help 6 ' "$T/to.txt"
ok $? "the UTF-8 local part got an auto-response too"

# The broken sender: no ticket (nobody to answer), but kept with the reason.
is "$(psql_q "SELECT count(*) FROM tickets WHERE subject = 'broken sender'")" 0 \
	"no ticket for an invalid From"
is "$(psql_q "SELECT status FROM raw_messages WHERE status = 'failed'")" failed \
	"the message is kept as failed"
"$TICKETCTL" -c "$T/ticketd.conf" failed list --format=json >"$T/failed.json"
grep -q 'no sender address (unusable From a..b@customer.example: two dots' "$T/failed.json"
ok $? "ticketctl failed list names the broken From and what is wrong with it"

done_testing
