#!/bin/sh
# The SMTP transport against the private Postfix of tests/servers.sh (which
# delivers into Dovecot): STARTTLS on the SMTP port, AUTH PLAIN on the
# submission port, smtps, certificate and password failures that keep the
# mail for later, 5xx refusals that fail it with an event, PIPELINING
# (Postfix's command counts show DATA sent in the group; several recipients
# through tests/test-smtp's send mode), and 200 auto-responses through one
# session.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../servers.sh"
servers_require dovecot postfix
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }

CUSTOMER=customer@example.net
SUPPORT_PW=$(password_file support@example.com)
WRONG_PW="$T/wrong-password"
(umask 077; echo "not-the-password" >"$WRONG_PW")

# write_config's queues and staff, with auto-responses enough for 200 tickets
write_config
sed -i "s|autoresponse_limit = { count = 3;|autoresponse_limit = { count = 1000;|" "$T/ticketd.conf"
grep -q "count = 1000;" "$T/ticketd.conf" || { echo "Bail out! config not rewritten"; exit 1; }
# smtp_config TRANSPORT-SETTINGS: mail goes out through this [transport]
smtp_config() {
	sed -i "s|^transport = .*|transport = { $1 };|" "$T/ticketd.conf"
	grep -qF "transport = { $1 };" "$T/ticketd.conf" || { echo "Bail out! config not rewritten"; exit 1; }
}
STARTTLS="url = \"smtp://127.0.0.1:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\""

# customer_mail NAME SUBJECT [FROM]: a new customer message into support's Maildir
customer_mail() {
	deliver support "$1" <<MAIL
From: Customer <${3:-$CUSTOMER}>
To: support@example.com
Subject: $2
Message-ID: <$1@example.net>
Date: Mon, 23 Nov 2026 09:00:00 +0000

Help, please ($1).
MAIL
}
header() { # header NAME FILE: the first header NAME of FILE, unfolded
	awk -v n="$1" '/^\r?$/ { exit }
		tolower($0) ~ "^" tolower(n) ":" { v = $0; while ((getline l) > 0 && l ~ /^[ \t]/) v = v l; print v; exit }' "$2" |
		tr -d '\r' | sed "s/^[^:]*: *//"
}
received_with() { # received_with PROTOCOL FILE: a Received header says "with PROTOCOL"
	sed '/^\r*$/q' "$2" | grep -q "with $1 "
}
newest_mail() { # newest_mail USER
	ls -t "$(mailbox_dir "$1")"/new/* "$(mailbox_dir "$1")"/cur/* 2>/dev/null | head -n 1
}
row() { # row SUBJECT COLUMNS: the outbox row of the ticket with that subject
	psql_q "SELECT $2 FROM outbox WHERE ticket_id = (SELECT id FROM tickets WHERE subject = '$1')"
}
smtpd_connects() { # Postfix's "connect from" lines of the plain SMTP port so far
	grep -c "postfix-ticketd-test/smtpd\[[0-9]*\]: connect from" "$POSTFIX_DIR/maillog"
}
smtpd_disconnects() { # ... and its "disconnect from" lines
	grep -c "postfix-ticketd-test/smtpd\[[0-9]*\]: disconnect from" "$POSTFIX_DIR/maillog"
}
# session_counts N: the command counts Postfix logs when a session of the
# plain SMTP port ends ("ehlo=2 starttls=1 mail=1 rcpt=1/2 data=1 quit=1
# commands=7/8": accepted/sent), of the first session to end after N
# disconnects, once it has ended
session_counts() {
	_sc=50
	while [ "$(smtpd_disconnects)" -le "$1" ] && [ $_sc -gt 0 ]; do
		sleep 0.1
		_sc=$((_sc - 1))
	done
	grep "postfix-ticketd-test/smtpd\[[0-9]*\]: disconnect from" "$POSTFIX_DIR/maillog" |
		sed -n "$(($1 + 1))p" | sed 's/.*: disconnect from [^ ]* //'
}

smtp_config "$STARTTLS"
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

# --- STARTTLS on the SMTP port, certificate checked against the test CA
customer_mail m1 "Printer on fire"
run_once
ok $? "ticketd --once with an smtp:// transport"
is "$(row "Printer on fire" status)" sent "STARTTLS: the outbox row is sent"
wait_for_mail $CUSTOMER 1
ok $? "STARTTLS: the auto-response arrived in the customer's Maildir"
ar=$(newest_mail $CUSTOMER)
is "$(header Auto-Submitted "$ar")" auto-replied "Auto-Submitted: auto-replied"
is "$(header In-Reply-To "$ar")" "<m1@example.net>" "In-Reply-To of the original"
is "$(header References "$ar")" "<m1@example.net>" "References of the original"
is "$(header Return-Path "$ar")" "<>" "sent with MAIL FROM:<> (null sender)"
received_with ESMTPS "$ar"
ok $? "Postfix received it over TLS (with ESMTPS)"
tail -n 1 "$ar" | grep -q '^$'
ok $((! $?)) "no empty line added at the end of the message"

# --- submission port: STARTTLS, then AUTH PLAIN as a Dovecot user
smtp_config "url = \"smtp://127.0.0.1:$POSTFIX_SUBMISSION_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\"; user = \"support@example.com\"; password_file = \"$SUPPORT_PW\""
customer_mail m2 "Submission please"
run_once
ok $? "ticketd --once with AUTH on the submission port"
is "$(row "Submission please" status)" sent "submission + AUTH PLAIN: sent"
wait_for_mail $CUSTOMER 2
ok $? "submission: the auto-response arrived"
received_with ESMTPSA "$(newest_mail $CUSTOMER)"
ok $? "Postfix received it over TLS and authenticated (with ESMTPSA)"
grep -q "sasl_method=PLAIN, sasl_username=support@example.com" "$POSTFIX_DIR/maillog"
ok $? "Postfix logged AUTH PLAIN as support@example.com"

# --- smtps: TLS from the start, AUTH
smtp_config "url = \"smtps://127.0.0.1:$POSTFIX_SMTPS_PORT\"; ca_file = \"$TLS_CA\"; user = \"support@example.com\"; password_file = \"$SUPPORT_PW\""
customer_mail m3 "Implicit TLS"
run_once
ok $? "ticketd --once with smtps://"
is "$(row "Implicit TLS" status)" sent "smtps: sent"
wait_for_mail $CUSTOMER 3
ok $? "smtps: the auto-response arrived"

# --- failures that keep the mail: wrong CA, wrong host name, wrong password
# check_kept SUBJECT PATTERN NAME: pending after one attempt, retry due later,
# last_error matching PATTERN, nothing delivered
check_kept() {
	is "$(row "$1" "status || ' ' || attempts || ' ' || (next_attempt > now())")" "pending 1 true" \
		"$3: the row stays pending (attempts 1, next attempt in the future)"
	err=$(row "$1" last_error)
	case $err in
	*$2*) ok 0 "$3: last_error says why" ;;
	*) ok 1 "$3: last_error says why: '$err'" ;;
	esac
	sleep 0.5
	is "$(mail_count $CUSTOMER)" "$count" "$3: nothing delivered"
}
count=$(mail_count $CUSTOMER)

smtp_config "url = \"smtp://127.0.0.1:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_OTHER_CA\""
customer_mail m4 "Wrong CA"
run_once
check_kept "Wrong CA" "certificate signed by an unknown authority" "unknown CA"

smtp_config "url = \"smtp://$TLS_WRONG_HOST:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\""
customer_mail m5 "Wrong host"
run_once
check_kept "Wrong host" "certificate is for another host" "certificate for another host"

smtp_config "url = \"smtp://127.0.0.1:$POSTFIX_SUBMISSION_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\"; user = \"support@example.com\"; password_file = \"$WRONG_PW\""
customer_mail m6 "Wrong password"
run_once
check_kept "Wrong password" "AUTH PLAIN as support@example.com: 535 " "wrong password"
grep -q "not-the-password" "$T/ticketd.log" "$POSTFIX_DIR/maillog"
ok $((! $?)) "the password appears in no log"

# Once the configuration is right, the kept rows go out.
smtp_config "$STARTTLS"
psql_q "UPDATE outbox SET next_attempt = now() - interval '1 minute' WHERE status = 'pending'" >/dev/null
run_once
is "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'sent'")" 6 "fixed configuration: the kept rows are sent"
wait_for_mail $CUSTOMER $((count + 3))
ok $? "  ... and arrive"

# tls_verify = false: accepted with a warning
smtp_config "url = \"smtp://127.0.0.1:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_OTHER_CA\"; tls_verify = false"
customer_mail m7 "No verification"
run_once
is "$(row "No verification" status)" sent "tls_verify = false: sent despite the unknown CA"
grep -q "tls_verify is off" "$T/ticketd.log"
ok $? "  ... with a warning in the log"

# --- 5xx refusals: the row fails and the ticket gets an event
smtp_config "$STARTTLS"
customer_mail m8 "Unknown user" nobody@example.net
customer_mail m9 "Elsewhere" someone@elsewhere.invalid
disconnects=$(smtpd_disconnects)
run_once
is "$(row "Unknown user" status)" failed "user unknown in a local domain: failed"
err=$(row "Unknown user" last_error)
case $err in
"127.0.0.1:$POSTFIX_SMTP_PORT: RCPT TO <nobody@example.net>: 550 5.1.1 "*) ok 0 "  ... last_error: the server, the command and the 550 reply" ;;
*) ok 1 "  ... last_error: '$err'" ;;
esac
is "$(psql_q "SELECT e.type || ' ' || e.old FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.subject = 'Unknown user' AND e.type = 'delivery-failed'")" \
	"delivery-failed nobody@example.net" "  ... and a delivery-failed event on the ticket"
is "$(row "Elsewhere" status)" failed "a domain Postfix does not relay to: failed"
err=$(row "Elsewhere" last_error)
case $err in
*"RCPT TO <someone@elsewhere.invalid>: 554 5.7.1 "*"Relay access denied"*) ok 0 "  ... 554 relay access denied" ;;
*) ok 1 "  ... last_error: '$err'" ;;
esac
is "$(psql_q "SELECT count(*) FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.subject = 'Elsewhere' AND e.type = 'delivery-failed'")" \
	1 "  ... with its event"
# Only a pipelining client sends DATA when every recipient was refused
# (RFC 2920 3.1: in the same group as MAIL and RCPT); Postfix refuses it.
case " $(session_counts "$disconnects") " in
*" mail=2 rcpt=0/2 data=0/2 "*) ok 0 "PIPELINING: DATA went out with MAIL and RCPT, and was refused" ;;
*) ok 1 "PIPELINING: DATA went out with MAIL and RCPT: '$(session_counts "$disconnects")'" ;;
esac

# --- PIPELINING with several recipients, through tests/test-smtp's send
# mode (an outbox row has one recipient): a refused recipient leaves the
# others their copy; all refused, nothing goes out.
send_mail() { # send_mail RCPT...: $T/pipelined.eml by STARTTLS; prints the result
	[ -x "$TOP/tests/test-smtp" ] || echo "# tests/test-smtp is not built (make check builds it)" >&2
	"$TOP/tests/test-smtp" send "smtp://127.0.0.1:$POSTFIX_SMTP_PORT" "$TLS_CA" \
		support@example.com "$@" <"$T/pipelined.eml"
}
printf 'From: support@example.com\r\nTo: %s\r\nSubject: Pipelined\r\nMessage-ID: <pipelined@example.com>\r\n\r\n.One group.\r\n' \
	"$CUSTOMER" >"$T/pipelined.eml"
count=$(mail_count $CUSTOMER)
disconnects=$(smtpd_disconnects)
out=$(send_mail $CUSTOMER nobody@example.net)
case $out in
"PERMFAIL 127.0.0.1:$POSTFIX_SMTP_PORT: sent to 1 of 2 recipients; refused: RCPT TO <nobody@example.net>: 550 5.1.1 "*)
	ok 0 "one of two recipients refused: PERMFAIL, naming the refused one" ;;
*) ok 1 "one of two recipients refused: '$out'" ;;
esac
wait_for_mail $CUSTOMER $((count + 1))
ok $? "  ... and the other recipient got it"
is "$(header Subject "$(newest_mail $CUSTOMER)")" Pipelined "  ... this message"
tail -n 1 "$(newest_mail $CUSTOMER)" | tr -d '\r' | grep -qx '\.One group\.'
ok $? "  ... with its leading dot (dot-stuffed)"
case " $(session_counts "$disconnects") " in
*" mail=1 rcpt=1/2 data=1 quit=1 "*) ok 0 "  ... one transaction, DATA accepted" ;;
*) ok 1 "  ... one transaction, DATA accepted: '$(session_counts "$disconnects")'" ;;
esac

count=$(mail_count $CUSTOMER)
disconnects=$(smtpd_disconnects)
out=$(send_mail nobody@example.net nobody2@example.net)
case $out in
"PERMFAIL "*"RCPT TO <nobody@example.net>: 550 5.1.1 "*"; RCPT TO <nobody2@example.net>: 550 5.1.1 "*)
	ok 0 "all recipients refused: PERMFAIL, naming both" ;;
*) ok 1 "all recipients refused: '$out'" ;;
esac
case " $(session_counts "$disconnects") " in
*" mail=1 rcpt=0/2 data=0/1 rset=1 quit=1 "*) ok 0 "  ... DATA in the group, refused, then RSET" ;;
*) ok 1 "  ... DATA in the group, refused, then RSET: '$(session_counts "$disconnects")'" ;;
esac
sleep 0.5
is "$(mail_count $CUSTOMER)" "$count" "  ... nothing delivered"

# --- 200 auto-responses in one cycle, through one session
# First the tickets and their rows, with the transport pointing at a closed
# port: one failed connection holds all of them back (SMTP_SETUP_HOLD).
smtp_config "url = \"smtp://127.0.0.1:$((SERVERS_PORT_BASE + 9))\"; starttls = \"off\"; timeout = \"5s\""
i=0
while [ $i -lt 200 ]; do
	i=$((i + 1))
	customer_mail "bulk$i" "Bulk $i"
done
run_once
is "$(psql_q "SELECT count(*) || ' ' || count(DISTINCT last_error) || ' ' || max(attempts) FROM outbox WHERE status = 'pending'")" \
	"200 1 1" "server down: 200 rows kept after one connection attempt"
psql_q "UPDATE outbox SET next_attempt = now() - interval '1 minute' WHERE status = 'pending'" >/dev/null
smtp_config "$STARTTLS"
count=$(mail_count $CUSTOMER)
connects=$(smtpd_connects)
start=$(date +%s.%N)
run_once
ok $? "ticketd --once delivers 200 auto-responses"
end=$(date +%s.%N)
echo "# 200 auto-responses over one STARTTLS session in $(echo "$start $end" | awk '{ printf "%.2f", $2 - $1 }') s (the whole ticketd --once run)"
is "$(psql_q "SELECT count(*) FROM outbox WHERE status = 'sent' AND ticket_id IN (SELECT id FROM tickets WHERE subject LIKE 'Bulk %')")" \
	200 "all 200 rows sent"
wait_for_mail $CUSTOMER $((count + 200)) 60
ok $? "all 200 arrived"
sleep 0.5
is "$(($(smtpd_connects) - connects))" 1 "through one SMTP connection"

# transport.sessions: several senders share the outbox (each claims its
# rows FOR UPDATE SKIP LOCKED), each with its own SMTP connection.
i=0
while [ $i -lt 120 ]; do
	i=$((i + 1))
	customer_mail "multi$i" "Multi $i"
done
smtp_config "$STARTTLS; sessions = 3"
count=$(mail_count $CUSTOMER)
connects=$(smtpd_connects)
run_once
ok $? "ticketd --once with three senders"
is "$(psql_q "SELECT count(*) || ' ' || max(attempts) FROM outbox WHERE status = 'sent' AND ticket_id IN (SELECT id FROM tickets WHERE subject LIKE 'Multi %')")" \
	"120 1" "all 120 rows sent, each in one attempt"
wait_for_mail $CUSTOMER $((count + 120)) 60
ok $? "all 120 arrived"
sleep 1
is "$(mail_count $CUSTOMER)" "$((count + 120))" "and none twice"
is "$(($(smtpd_connects) - connects))" 3 "through three SMTP connections"

if [ "$tap_failed" -gt 0 ]; then
	echo "# --- $T/ticketd.log"
	tail -n 30 "$T/ticketd.log" | sed 's/^/# /'
	servers_diag postfix
fi
done_testing
