#!/bin/sh
# Staff work by email (issue 16), on Maildir queues and a real PostgreSQL:
# a new ticket notifies the admins; an admin's reply with "#priority 80"
# and text reaches the customer as an answer (Assigned-to line, signature,
# the customer's message quoted, threaded to it), and the ticket is
# answered and hers; a note never reaches the customer; a forged From with
# #assign and #close changes nothing; a support member's #assign is refused
# with a reply; sticky and non-sticky tickets on a customer's reply;
# least-loaded assignment across three members.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
for q in support sales; do mkdir -p "$T/mail/$q/new" "$T/mail/$q/cur" "$T/mail/$q/tmp"; done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
chmod 600 "$T/secret"
cat >"$T/ticketd.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { tag = "Ticket"; secret_file = "$T/secret"; staff_auth = [ "authres" ];
  authserv_id = "mx.example.com"; };
transport = { url = "maildir:$T/outgoing"; };
staff = (
  { login = "alice"; name = "Alice Woods"; description = "senior engineer";
    email = "Alice@Example.com"; role = "admin"; queues = [ "support" ];
    signature = "Alice Woods\\nExample Hosting"; },
  { login = "bob"; name = "Bob Stone"; email = "bob@example.com"; role = "support";
    queues = [ "support" ]; },
  { login = "erin"; name = "Erin E"; email = "erin@example.com"; role = "support"; queues = [ "sales" ]; },
  { login = "frank"; name = "Frank F"; email = "frank@example.com"; role = "support"; queues = [ "sales" ]; },
  { login = "gina"; name = "Gina G"; email = "gina@example.com"; role = "support"; queues = [ "sales" ]; },
  { login = "hank"; name = "Hank H"; email = "hank@example.com"; role = "support"; queues = [ "sales" ];
    available = false; }
);
queues = (
  { name = "support"; address = "support@example.com"; default = true; autoclose = -1;
    mailbox = { url = "maildir:$T/mail/support"; }; },
  { name = "sales"; address = "sales@example.com"; assign = "least-loaded"; notify = "none";
    autoclose = -1;
    mailbox = { url = "maildir:$T/mail/sales"; }; }
);
CONF
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

# mails TO-ADDR: the outgoing mails to that address, one file name a line
mails() {
	python3 - "$T/outgoing/new" "$1" <<'PY'
import email, email.policy, os, sys
d, want = sys.argv[1], sys.argv[2].lower()
for f in sorted(os.listdir(d)):
    m = email.message_from_binary_file(open(os.path.join(d, f), "rb"), policy=email.policy.default)
    if any(a.addr_spec.lower() == want for a in m["To"].addresses):
        print(f)
PY
}
# part FILE HEADER|body: a header's value, or the decoded text body
part() {
	python3 - "$T/outgoing/new/$1" "$2" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
if sys.argv[2] == "body":
    sys.stdout.write(m.get_body(("plain",)).get_content())
else:
    print(m[sys.argv[2]] or "")
PY
}
q() { psql_q "$1"; }
AR_OK='Authentication-Results: mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=alice@example.com'

deliver support c1 <<'MAIL'
From: Carol Customer <carol@customer.example>
To: support@example.com
Subject: Printer on fire
Message-ID: <c1@customer.example>

My printer is on fire.
MAIL
run_once --now=2026-11-23T10:00:00Z
ok $? "ticketd --once"
is "$(mails carol@customer.example | wc -l)" 1 "the customer got the auto-response"
N=$(mails alice@example.com)
is "$(echo "$N" | grep -c .)" 1 "the admin of the queue is notified of the new ticket"
is "$(mails bob@example.com | wc -l)" 0 "a support member is not (the ticket is nobody's)"
is "$(part "$N" Subject)" "[Ticket#1] Printer on fire" "the notification's subject carries the tag"
is "$(part "$N" From)" "support <support@example.com>" "... From the queue"
is "$(part "$N" Reply-To)" "support@example.com" "... Reply-To the queue"
part "$N" body >"$T/n1.txt"
is "$(head -n 1 "$T/n1.txt")" "-- Write your reply above this line (commands at the top) --" \
	"... the reply separator first"
grep -q "^Requestor: Carol Customer <carol@customer.example>" "$T/n1.txt" &&
	grep -q "^Latest tickets from this requestor:" "$T/n1.txt" &&
	grep -q "^My printer is on fire.$" "$T/n1.txt" && grep -q "priority 50" "$T/n1.txt"
ok $? "... the ticket, the requestor, the latest tickets and the message"
NID=$(part "$N" Message-ID)

# Alice answers from her mail client, with a command on top.
{
	echo "$AR_OK"
	cat <<MAIL
From: Alice Woods <alice@example.com>
To: support@example.com
Subject: Re: [Ticket#1] Printer on fire
Message-ID: <a1@example.com>
In-Reply-To: $NID

#priority 80

Hello Carol, please unplug it.

On Mon, 23 Nov 2026, support wrote:
> -- Write your reply above this line (commands at the top) --
> Ticket [Ticket#1] in queue support
MAIL
} | deliver support a1
run_once --now=2026-11-23T11:00:00Z
is "$(q "SELECT status || '|' || priority || '|' || coalesce(s.login, '-') FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 1")" \
	"answered|80|alice" "answered: priority 80, and the answerer holds it"
is "$(q "SELECT type || ':' || coalesce(old, '') || '>' || coalesce(new, '') FROM events WHERE ticket_id = 1 AND actor = 'alice' ORDER BY id")" \
	"status:new>answered
assign:>alice
priority:50>80
answer:>alice" "every change is an event by alice"
A=$(mails carol@customer.example | tail -n 1)
is "$(mails carol@customer.example | wc -l)" 2 "the customer got the answer"
is "$(part "$A" Subject)" "[Ticket#1] Printer on fire" "... under the ticket's subject"
is "$(part "$A" In-Reply-To)" "<c1@customer.example>" "... in reply to her own message"
part "$A" References | grep -q "<c1@customer.example>"
ok $? "... and it References it"
part "$A" body >"$T/a1.txt"
is "$(sed -n 1p "$T/a1.txt")" "Assigned to: Alice Woods (senior engineer)" "the Assigned-to line"
grep -q "^Hello Carol, please unplug it.$" "$T/a1.txt"
ok $? "the answer's text"
grep -q "^Alice Woods$" "$T/a1.txt" && grep -q "^Example Hosting$" "$T/a1.txt"
ok $? "the signature"
grep -q "^> My printer is on fire.$" "$T/a1.txt"
ok $? "the customer's message quoted"
! grep -q "#priority\|Write your reply\|support wrote" "$T/a1.txt"
ok $? "no command, separator or notification in the answer"

# The answer bounces: recorded on ticket 1, never a new ticket; alice is told.
AID=$(part "$A" Message-ID)
tickets_before=$(q "SELECT count(*) FROM tickets")
alice_before=$(mails alice@example.com | wc -l)
cat <<MAIL | deliver support d1
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.customer.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your mail could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; carol@customer.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--B
Content-Type: text/rfc822-headers

From: support <support@example.com>
To: carol@customer.example
Subject: [Ticket#1] Printer on fire
Message-ID: $AID

--B--
MAIL
run_once --now=2026-11-23T11:05:00Z
is "$(q "SELECT count(*) FROM tickets")" "$tickets_before" "a bounce opens no ticket"
is "$(q "SELECT type || '|' || old || '|' || new FROM events WHERE ticket_id = 1 AND type LIKE 'delivery-%'")" \
	"delivery-failed|carol@customer.example|5.1.1 550 5.1.1 no such user" \
	"the bounce is an event on the ticket of the answer"
is "$(q "SELECT kind FROM messages WHERE message_id = 'dsn1@mx.customer.example'")" automatic \
	"the report is recorded on it"
is "$(( $(mails alice@example.com | wc -l) - alice_before ))" 1 "the assignee is told that the answer did not arrive"
is "$(q "SELECT status FROM tickets WHERE id = 1")" answered "the bounce changes no state"

# A note: stored, never sent to the customer, the ticket stays answered.
{
	echo "$AR_OK"
	printf 'From: alice@example.com\nTo: support@example.com\nSubject: Re: [Ticket#1] Printer on fire\nMessage-ID: <a2@example.com>\nIn-Reply-To: %s\n\n#note\nShe has called twice already.\n' "$NID"
} | deliver support a2
run_once --now=2026-11-23T11:10:00Z
is "$(q "SELECT kind FROM messages WHERE message_id = 'a2@example.com'")" internal-note "a note is stored as a note"
is "$(mails carol@customer.example | wc -l)" 2 "the note never reaches the customer"
is "$(q "SELECT status FROM tickets WHERE id = 1")" answered "a note does not make the ticket answered"

# Alice's vacation reply to a notification never reaches the customer.
{
	echo "$AR_OK"
	printf 'From: alice@example.com\nTo: support@example.com\nSubject: Out of office: [Ticket#1] Printer on fire\nMessage-ID: <v0@example.com>\nAuto-Submitted: auto-replied\nIn-Reply-To: %s\n\nI am away until Monday.\n' "$NID"
} | deliver support v0
run_once --now=2026-11-23T11:15:00Z
is "$(q "SELECT kind || '|' || ticket_id FROM messages WHERE message_id = 'v0@example.com'")" "automatic|1" \
	"a staff member's vacation reply is recorded as automatic"
is "$(mails carol@customer.example | wc -l)" 2 "... and never reaches the customer"
is "$(q "SELECT status FROM tickets WHERE id = 1")" answered "... nor changes the ticket"

# Forged: a customer writes as Alice, without our MTA's proof.
cat <<MAIL | deliver support f1
Authentication-Results: mx.evil.example; dkim=pass header.d=example.com
From: Alice Woods <alice@example.com>
To: support@example.com
Subject: [Ticket#1] Printer on fire
Message-ID: <f1@evil.example>
In-Reply-To: $NID

#assign bob
#close
MAIL
run_once --now=2026-11-23T11:20:00Z
is "$(q "SELECT status || '|' || coalesce(s.login, '-') FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 1")" \
	"reopened|-" "the forged #assign and #close did nothing (a customer's reply reopened it)"
is "$(q "SELECT kind FROM messages WHERE message_id = 'f1@evil.example'")" customer "stored as a customer message"
is "$(q "SELECT count(*) FROM events WHERE actor = 'bob' OR (type = 'status' AND new = 'closed')")" 0 \
	"no event of the forged commands"

# Alice gives ticket 2 to Bob; Bob (support) tries to pass it on.
printf 'From: dan@customer.example\nTo: support@example.com\nCc: Bob <bob@example.com>, ed@customer.example\nSubject: Invoice\nMessage-ID: <c2@customer.example>\n\nWhere is my invoice?\n' | deliver support c2
run_once --now=2026-11-23T12:00:00Z
{
	echo "$AR_OK"
	printf 'From: alice@example.com\nTo: support@example.com\nSubject: Re: [Ticket#2] Invoice\nMessage-ID: <a3@example.com>\n\n#assign bob\n#sticky on\n' 
} | deliver support a3
run_once --now=2026-11-23T12:05:00Z
is "$(q "SELECT coalesce(s.login, '-') || '|' || t.sticky FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 2")" \
	"bob|true" "alice assigned ticket 2 to bob, sticky"
is "$(mails dan@customer.example | wc -l)" 1 "commands alone send the customer nothing"
is "$(q "SELECT string_agg(address, ',') FROM ticket_cc WHERE ticket_id = 2")" "ed@customer.example" \
	"the customer's Cc follows the ticket, the staff member in it does not"
{
	echo "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=bob@example.com"
	printf 'From: Bob Stone <bob@example.com>\nTo: support@example.com\nSubject: Re: [Ticket#2] Invoice\nMessage-ID: <b1@example.com>\n\n#assign alice\n\nHere it is.\n'
} | deliver support b1
run_once --now=2026-11-23T12:10:00Z
is "$(q "SELECT coalesce(s.login, '-') || '|' || t.status FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 2")" \
	"bob|assigned" "bob's #assign was refused: nothing of his mail applied"
is "$(mails dan@customer.example | wc -l)" 1 "... not even his text went to the customer"
R=$(mails bob@example.com | tail -n 1)
part "$R" body | grep -q "#assign alice: a support member cannot assign tickets"
ok $? "bob got a reply saying why"
# Bob (no description) answers his own ticket.
{
	echo "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=bob@example.com"
	printf 'From: Bob Stone <bob@example.com>\nTo: support@example.com\nSubject: Re: [Ticket#2] Invoice\nMessage-ID: <b2@example.com>\n\nIt is on its way.\n'
} | deliver support b2
run_once --now=2026-11-23T12:20:00Z
is "$(part "$(mails dan@customer.example | tail -n 1)" Cc)" "ed@customer.example" "the answer goes to the ticket's Cc too"
is "$(part "$(mails dan@customer.example | tail -n 1)" body | sed -n 1p)" "Assigned to: Bob Stone" \
	"no description: the name alone, no empty parentheses"
is "$(q "SELECT string_agg(o.recipient, ',' ORDER BY o.recipient) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.ticket_id = 2 AND m.kind = 'staff-answer' AND m.direction = 'out'")" \
	"dan@customer.example,ed@customer.example" "the answer is sent to the requestor and to the Cc"
# Bob (support) picks up a ticket nobody holds and answers it in one mail.
printf 'From: fay@customer.example\nTo: support@example.com\nSubject: Mail quota\nMessage-ID: <c5@customer.example>\n\nMy mailbox is full.\n' | deliver support c5
run_once --now=2026-11-23T12:30:00Z
F=$(q "SELECT id FROM tickets WHERE requestor = 'fay@customer.example'")
{
	echo "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=bob@example.com"
	printf 'From: bob@example.com\nTo: support@example.com\nSubject: Re: [Ticket#%s] Mail quota\nMessage-ID: <b3@example.com>\n\n#pickup\n\nI raised it to 10 GB.\n' "$F"
} | deliver support b3
run_once --now=2026-11-23T12:35:00Z
is "$(q "SELECT coalesce(s.login, '-') || '|' || t.status FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = $F")" \
	"bob|answered" "a support member's #pickup of a ticket nobody holds, with an answer"
is "$(q "SELECT count(*) FROM events WHERE ticket_id = 2 AND actor = 'bob' AND type = 'command-refused'")" 1 "the refusal is an event"

# Customers reply: ticket 2 is sticky and stays bob's, ticket 1 (not
# sticky, answered by alice above... then reopened) goes back to nobody.
{
	echo "$AR_OK"
	printf 'From: alice@example.com\nTo: support@example.com\nSubject: Re: [Ticket#1] x\nMessage-ID: <a4@example.com>\n\n#pickup\n'
} | deliver support a4
run_once --now=2026-11-23T13:00:00Z
is "$(q "SELECT coalesce(s.login, '-') FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 1")" alice "alice picked ticket 1 up"
printf 'From: carol@customer.example\nTo: support@example.com\nSubject: Re: [Ticket#1] Printer on fire\nMessage-ID: <c3@customer.example>\nIn-Reply-To: <c1@customer.example>\n\nStill burning.\n' | deliver support c3
printf 'From: dan@customer.example\nTo: support@example.com\nSubject: Re: [Ticket#2] Invoice\nMessage-ID: <c4@customer.example>\nIn-Reply-To: <c2@customer.example>\n\nAny news?\n' | deliver support c4
before_bob=$(mails bob@example.com | wc -l)
run_once --now=2026-11-23T14:00:00Z
is "$(q "SELECT coalesce(s.login, '-') || '|' || t.status FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 1")" \
	"-|reopened" "not sticky: back to nobody, reopened"
is "$(q "SELECT coalesce(s.login, '-') || '|' || t.status FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id WHERE t.id = 2")" \
	"bob|assigned" "sticky: stays with bob"
is "$(( $(mails bob@example.com | wc -l) - before_bob ))" 1 "bob is told of the reply on his ticket"
is "$(q "SELECT type || ':' || old FROM events WHERE ticket_id = 1 AND actor = 'carol@customer.example' AND type = 'release'")" \
	"release:alice" "the release is an event"

# Alice forwards two customers' mails: inline and attached; each ticket
# is the customer's, and gets no automatic answer.
carol_mails=$(mails zoe@customer.example | wc -l)
{
	echo "$AR_OK"
	cat <<'MAIL'
From: alice@example.com
To: support@example.com
Subject: Fwd: Cannot log in
Message-ID: <fw1@example.com>

Zoe called about this, see below.

---------- Forwarded message ---------
From: Zoe Customer <zoe@customer.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
Subject: Cannot log in

The login page says no.
MAIL
} | deliver support fw1
{
	echo "$AR_OK"
	cat <<'MAIL'
From: alice@example.com
To: support@example.com
Subject: Fwd: Broken invoice
Message-ID: <fw2@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="F"

--F
Content-Type: text/plain

See the attached mail.
--F
Content-Type: message/rfc822

From: Yan Customer <yan@customer.example>
To: billing@example.com
Subject: Broken invoice
Message-ID: <y1@customer.example>

The PDF is empty.
--F--
MAIL
} | deliver support fw2
run_once --now=2026-11-23T14:30:00Z
is "$(q "SELECT requestor || '|' || requestor_name FROM tickets WHERE subject IN ('Fwd: Cannot log in', 'Fwd: Broken invoice') ORDER BY id")" \
	"zoe@customer.example|Zoe Customer
yan@customer.example|Yan Customer" "a forwarded mail's ticket is the customer's (inline and attached)"
is "$(mails zoe@customer.example | wc -l)" 0 "... and sends the customer nothing by itself"

# An answer with an attachment passes it on; an encrypted section shows as
# a placeholder in the staff's notification.
printf 'From: Vic <vic@customer.example>\nTo: support@example.com\nSubject: Secret\nMessage-ID: <v1@customer.example>\n\nMy password:\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1234567890abcdef\n=abcd\n-----END PGP MESSAGE-----\nThanks.\n' | deliver support v1
run_once --now=2026-11-23T14:40:00Z
V=$(q "SELECT id FROM tickets WHERE requestor = 'vic@customer.example'")
VN=$(mails alice@example.com | while read f; do [ "$(part "$f" Subject)" = "[Ticket#$V] Secret" ] && echo "$f"; done | tail -n 1)
part "$VN" body >"$T/vn.txt"
grep -q "^\[encrypted section 1\]$" "$T/vn.txt" && ! grep -q "BEGIN PGP\|hQEMA" "$T/vn.txt"
ok $? "the notification shows the encrypted section as a placeholder"
{
	echo "$AR_OK"
	cat <<MAIL
From: alice@example.com
To: support@example.com
Subject: Re: [Ticket#$V] Secret
Message-ID: <a9@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="G"

--G
Content-Type: text/plain

The steps are attached.
--G
Content-Type: text/plain; name="steps.txt"
Content-Disposition: attachment; filename="steps.txt"

1. Reset. 2. Log in.
--G--
MAIL
} | deliver support a9
run_once --now=2026-11-23T14:50:00Z
VA=$(mails vic@customer.example | tail -n 1)
is "$(python3 - "$T/outgoing/new/$VA" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for a in m.iter_attachments():
    print(a.get_filename() + "|" + a.get_content().strip())
PY
)" "steps.txt|1. Reset. 2. Log in." "the answer passes the staff's attachment on"
part "$VA" body | grep -q "^> \[encrypted section 1\]$"
ok $? "the answer quotes the placeholder, not the encrypted block"

# Least-loaded across three members (hank is unavailable).
i=1
while [ $i -le 7 ]; do
	printf 'From: buyer%d@customer.example\nTo: sales@example.com\nSubject: Offer %d\nMessage-ID: <s%d@customer.example>\n\nPrice?\n' $i $i $i |
		deliver sales s$i
	run_once --now=2026-11-23T15:0$i:00Z
	i=$((i + 1))
done
is "$(q "SELECT s.login || ':' || count(*) FROM tickets t JOIN staff s ON s.id = t.assignee_id JOIN queues qu ON qu.id = t.queue_id WHERE qu.name = 'sales' GROUP BY s.login ORDER BY s.login")" \
	"erin:3
frank:2
gina:2" "seven new tickets spread over erin, frank, gina; none to hank"
is "$(q "SELECT string_agg(s.login, ',' ORDER BY t.id) FROM tickets t JOIN staff s ON s.id = t.assignee_id JOIN queues qu ON qu.id = t.queue_id WHERE qu.name = 'sales'")" \
	"erin,frank,gina,erin,frank,gina,erin" "ties go to the one who waited longest"

done_testing
