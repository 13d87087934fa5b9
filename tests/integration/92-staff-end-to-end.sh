#!/bin/sh
# Staff by email end to end on real servers (issue 16): a customer writes by
# SMTP to support@ (Postfix → Dovecot); ticketd takes it over IMAP and
# notifies the admin, whose mail arrives in her own Dovecot mailbox; she
# replies to the notification with "#priority 80" and text, submitted to
# Postfix; ticketd takes the reply and sends the answer, which arrives in
# the customer's mailbox with the Assigned-to line, the signature, the
# quote and the threading headers; a note never reaches the customer.
#
# Staff mail is proven by our MTA's Authentication-Results (authserv-id
# mx.example.com); this Postfix writes none, so the staff mail carries the
# header as our MTA would add it after SMTP AUTH.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot postfix
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }
NOTIFY=admins TRANSPORT="url = \"smtp://localhost:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\";" \
	write_imap_config
sed -i -e 's|^daemon = {|daemon = { staff_auth = [ "authres" ]; authserv_id = "mx.example.com";|' \
	-e 's|role = "admin";|role = "admin"; description = "senior engineer"; signature = "Alice Woods\\nExample Hosting";|' \
	"$T/ticketd.conf"
grep -q 'authserv_id' "$T/ticketd.conf" && grep -q 'senior engineer' "$T/ticketd.conf" ||
	{ echo "Bail out! config not rewritten"; exit 1; }
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

header() { # header NAME FILE: the first header NAME of FILE, decoded
	python3 - "$2" "$1" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print(m[sys.argv[2]] or "")
PY
}
body() { # body FILE: the decoded text
	python3 - "$1" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
sys.stdout.write(m.get_body(("plain",)).get_content())
PY
}
newest_mail() { # newest_mail USER
	d=$(mailbox_dir "$1")
	ls -t "$d"/new/* "$d"/cur/* 2>/dev/null | head -n 1
}

cat >"$T/c1.eml" <<'MAIL'
From: Customer <customer@example.net>
To: support@example.com
Subject: Website down
Message-ID: <se2e-1@example.net>

Our website shows error 500.
MAIL
smtp_send customer@example.net support@example.com "$T/c1.eml" && wait_for_mail support@example.com 1
ok $? "the customer's mail is in support@'s mailbox"
run_once
id=$(psql_q "SELECT id FROM tickets WHERE subject = 'Website down'")
ok $([ -n "$id" ] && echo 0 || echo 1) "ticketd made ticket $id"
wait_for_mail staff@example.com 1
ok $? "the notification arrived in the admin's mailbox"
n=$(newest_mail staff@example.com)
is "$(header Subject "$n")" "[Ticket#$id] Website down" "... its subject carries the tag"
body "$n" | grep -q "^Our website shows error 500.$"
ok $? "... and the customer's text"

wait_for_mail customer@example.net 1
ok $? "the customer got the auto-response"
cust_before=$(mail_count customer@example.net)
cat >"$T/a1.eml" <<MAIL
Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=staff@example.com
From: Alice Woods <staff@example.com>
To: support@example.com
Subject: Re: [Ticket#$id] Website down
Message-ID: <se2e-a1@example.com>
In-Reply-To: $(header Message-ID "$n")

#priority 80

We restarted the server; please try again.

> $(body "$n" | head -n 1)
MAIL
smtp_submit staff@example.com staff@example.com support@example.com "$T/a1.eml" &&
	wait_for_mail support@example.com 1
ok $? "the admin's reply went through Postfix into support@'s mailbox"
run_once
is "$(psql_q "SELECT status || '|' || priority FROM tickets WHERE id = $id")" "answered|80" \
	"the ticket is answered, priority 80"
wait_for_mail customer@example.net $((cust_before + 1))
ok $? "the answer arrived in the customer's mailbox"
a=$(newest_mail customer@example.net)
is "$(header Subject "$a")" "[Ticket#$id] Website down" "the answer's subject"
is "$(header In-Reply-To "$a")" "<se2e-1@example.net>" "it replies to the customer's message"
header References "$a" | grep -q "<se2e-1@example.net>"
ok $? "and References it"
body "$a" >"$T/answer.txt"
is "$(sed -n 1p "$T/answer.txt")" "Assigned to: Alice Woods (senior engineer)" "the Assigned-to line"
grep -q "^We restarted the server; please try again.$" "$T/answer.txt" &&
	grep -q "^Alice Woods$" "$T/answer.txt" && grep -q "^Example Hosting$" "$T/answer.txt" &&
	grep -q "^> Our website shows error 500.$" "$T/answer.txt"
ok $? "the text, the signature and the quoted customer message"
! grep -q "#priority\|Write your reply" "$T/answer.txt"
ok $? "no command and no separator"

cat >"$T/a2.eml" <<MAIL
Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=staff@example.com
From: staff@example.com
To: support@example.com
Subject: Re: [Ticket#$id] Website down
Message-ID: <se2e-a2@example.com>
In-Reply-To: <se2e-a1@example.com>

#note
The disk was full.
MAIL
cust_before=$(mail_count customer@example.net)
smtp_submit staff@example.com staff@example.com support@example.com "$T/a2.eml" &&
	wait_for_mail support@example.com 1
run_once
is "$(psql_q "SELECT kind FROM messages WHERE message_id = 'se2e-a2@example.com'")" internal-note \
	"the note is on the ticket"
sleep 1
is "$(mail_count customer@example.net)" "$cust_before" "and never reaches the customer"
done_testing
