#!/bin/sh
# The mail-server harness itself (tests/servers.sh): a private Dovecot and
# Postfix on 127.0.0.1 with a test CA.  IMAP/POP3 with STARTTLS/STLS and
# implicit TLS, certificate checks that must fail, SMTP -> Postfix -> LMTP ->
# Dovecot delivery, SMTP AUTH on the submission port, and a clean stop.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../servers.sh"

servers_require dovecot postfix

start_dovecot
ok $? "a private Dovecot starts"
start_postfix
ok $? "a private Postfix starts"
if [ "$tap_failed" -ne 0 ]; then
	servers_diag
	done_testing
	exit 1
fi
RUNNING=$(servers_pids)

H=$SERVERS_HOST
U=support@example.com
P=$(user_password "$U")
CURL="curl -sS --max-time 20"

# curl_rc COMMAND...: run it, keep its output in $T/curl.out, print the
# exit status (0 ok, 60 certificate rejected, 67 login denied, 55 refused)
curl_rc() {
	"$@" >"$T/curl.out" 2>"$T/curl.err"
	echo $?
}

# --- reading mail: TLS with the test CA ---------------------------------------

is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "imap://$H:$DOVECOT_IMAP_PORT/INBOX" -u "$U:$P")" 0 \
	"IMAP login after STARTTLS, certificate checked against the test CA"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "imap://$H:$DOVECOT_IMAP_PORT/" -u "$U:$P" \
	-X 'STATUS INBOX (MESSAGES)'; cat "$T/curl.out" | tr -d '\r')" "0
* STATUS INBOX (MESSAGES 0)" "an empty INBOX to begin with"
is "$(curl_rc $CURL --cacert "$TLS_CA" "imaps://$H:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P")" 0 \
	"IMAPS login"
is "$(curl_rc $CURL --cacert "$TLS_CA" "imaps://localhost:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P")" 0 \
	"the certificate is valid for the name localhost too"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "pop3://$H:$DOVECOT_POP3_PORT/" -u "$U:$P")" 0 \
	"POP3 login after STLS"
is "$(curl_rc $CURL --cacert "$TLS_CA" "pop3s://$H:$DOVECOT_POP3S_PORT/" -u "$U:$P")" 0 \
	"POP3S login"
$CURL -v "imap://$H:$DOVECOT_IMAP_PORT/" -X CAPABILITY >/dev/null 2>"$T/curl.err" &&
	grep -q '^< \* CAPABILITY .*STARTTLS' "$T/curl.err"
ok $? "the plain IMAP port offers STARTTLS"
is "$(curl_rc $CURL "imap://$H:$DOVECOT_IMAP_PORT/INBOX" -u "$U:$P")" 0 \
	"a plain-text IMAP login works too on loopback"
is "$(curl_rc $CURL --cacert "$TLS_CA" "imaps://$H:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:wrong")" 67 \
	"a wrong password is refused"
is "$(curl_rc $CURL --cacert "$TLS_CA" "imaps://$H:$DOVECOT_IMAPS_PORT/INBOX" -u "billing@example.com:$(user_password billing@example.com)")" 0 \
	"another user logs in after a failed login, without a penalty delay"

# --- certificate checks that must fail -----------------------------------------

is "$(curl_rc $CURL --cacert "$TLS_CA" "imaps://$TLS_WRONG_HOST:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P")" 60 \
	"IMAPS: a certificate for another host name is rejected"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "imap://$TLS_WRONG_HOST:$DOVECOT_IMAP_PORT/INBOX" -u "$U:$P")" 60 \
	"IMAP STARTTLS: a certificate for another host name is rejected"
is "$(curl_rc $CURL --cacert "$TLS_CA" "pop3s://$TLS_WRONG_HOST:$DOVECOT_POP3S_PORT/" -u "$U:$P")" 60 \
	"POP3S: a certificate for another host name is rejected"
is "$(curl_rc $CURL -k -v "imaps://$TLS_WRONG_HOST:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P"; grep -c 'subject:.*CN *= *wrong.example' "$T/curl.err")" "0
1" "without checks that server answers, with the wrong.example certificate"
is "$(curl_rc env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR $CURL "imaps://$H:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P")" 60 \
	"IMAPS: without the test CA (system CAs only) the server is not trusted"
is "$(curl_rc $CURL --cacert "$TLS_OTHER_CA" "imaps://$H:$DOVECOT_IMAPS_PORT/INBOX" -u "$U:$P")" 60 \
	"IMAPS: another CA does not vouch for the server"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_OTHER_CA" "pop3://$H:$DOVECOT_POP3_PORT/" -u "$U:$P")" 60 \
	"POP3 STLS: another CA does not vouch for the server"

# --- SMTP -> Postfix -> LMTP -> Dovecot ----------------------------------------

cat >"$T/m1.eml" <<'MAIL'
From: Carol Customer <customer@example.net>
To: support@example.com
Subject: Printer on fire
Message-ID: <harness-1@example.net>

My printer is on fire.
.
..a line with two dots
Please help.
MAIL
servers_crlf "$T/m1.eml" >"$T/m1.crlf"   # for curl -T: SMTP wants CRLF
smtp_send customer@example.net "$U" "$T/m1.eml"
ok $? "smtp_send: Postfix accepts a message for support@example.com"
wait_for_mail "$U" 1 20
ok $? "it arrives in support's Maildir"
MD=$(mailbox_dir "$U")
is "$MD" "$T/vmail/example.com/support" "mailbox_dir names the Maildir"
is "$(mail_count "$U")" 1 "exactly one message there"
F=$(ls "$MD"/new/* "$MD"/cur/* 2>/dev/null | head -n 1)
grep -q '^Delivered-To: support@example.com$' "$F" && grep -q '^Message-ID: <harness-1@example.net>$' "$F"
ok $? "the Maildir file is the message, delivered by LMTP"
is "$(sed '1,/^$/d' "$F")" "My printer is on fire.
.
..a line with two dots
Please help." "the body arrives intact (dot lines survive SMTP)"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "imap://$H:$DOVECOT_IMAP_PORT/INBOX;UID=1" -u "$U:$P"; tr -d '\r' <"$T/curl.out" | grep -c -e '^Subject: Printer on fire$' -e '^My printer is on fire\.$')" "0
2" "the message is visible over IMAP as UID 1"
is "$(curl_rc $CURL --cacert "$TLS_CA" "pop3s://$H:$DOVECOT_POP3S_PORT/1" -u "$U:$P"; tr -d '\r' <"$T/curl.out" | grep -c '^Subject: Printer on fire$')" "0
1" "and over POP3 as message 1"

is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "smtp://$H:$POSTFIX_SMTP_PORT/localhost" \
	--mail-from customer@example.net --mail-rcpt billing@example.com -T "$T/m1.crlf")" 0 \
	"SMTP with STARTTLS, certificate checked"
wait_for_mail billing@example.com 1 20
ok $? "that one arrives in billing's Maildir"
F=$(ls "$(mailbox_dir billing@example.com)"/new/* | head -n 1)
is "$(sed '1,/^$/d' "$F")" "$(sed '1,/^$/d' "$T/m1.eml")" "intact as well"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "smtp://$TLS_WRONG_HOST:$POSTFIX_SMTP_PORT/localhost" \
	--mail-from customer@example.net --mail-rcpt billing@example.com -T "$T/m1.crlf")" 60 \
	"SMTP STARTTLS: a certificate for another host name is rejected"
is "$(curl_rc smtp_send customer@example.net someone@elsewhere.example "$T/m1.eml")" 55 \
	"no relaying to other domains"
is "$(curl_rc smtp_send customer@example.net nobody@example.com "$T/m1.eml")" 55 \
	"unknown users in our domains are refused"

# --- submission: STARTTLS, then SMTP AUTH via Dovecot ------------------------

cat >"$T/m2.eml" <<'MAIL'
From: Staff <staff@example.com>
To: customer@example.net
Subject: Re: Printer on fire
Message-ID: <harness-2@example.com>

Please unplug it.
MAIL
servers_crlf "$T/m2.eml" >"$T/m2.crlf"
is "$(curl_rc smtp_submit staff@example.com staff@example.com customer@example.net "$T/m2.eml" PLAIN)" 0 \
	"submission: AUTH PLAIN after STARTTLS"
is "$(curl_rc smtp_submit staff@example.com staff@example.com customer@example.net "$T/m2.eml" LOGIN)" 0 \
	"submission: AUTH LOGIN after STARTTLS"
is "$(curl_rc $CURL --cacert "$TLS_CA" "smtps://$H:$POSTFIX_SMTPS_PORT/localhost" \
	-u "staff@example.com:$(user_password staff@example.com)" --login-options AUTH=PLAIN \
	--mail-from staff@example.com --mail-rcpt customer@example.net -T "$T/m2.crlf")" 0 \
	"SMTPS: AUTH PLAIN over implicit TLS"
wait_for_mail customer@example.net 3 20
ok $? "all three arrive in customer@example.net's Maildir"
grep -l 'Authenticated sender: staff@example.com' "$(mailbox_dir customer@example.net)"/new/* \
	"$(mailbox_dir customer@example.net)"/cur/* 2>/dev/null | wc -l | grep -qx 3
ok $? "Postfix records the authenticated sender"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "smtp://$H:$POSTFIX_SUBMISSION_PORT/localhost" \
	-u staff@example.com:wrong --mail-from staff@example.com --mail-rcpt customer@example.net -T "$T/m2.crlf")" 67 \
	"submission: a wrong password is refused"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "smtp://$H:$POSTFIX_SUBMISSION_PORT/localhost" \
	--mail-from staff@example.com --mail-rcpt customer@example.net -T "$T/m2.crlf")" 55 \
	"submission: no AUTH, no mail"
$CURL -v "smtp://$H:$POSTFIX_SUBMISSION_PORT/localhost" -X NOOP >/dev/null 2>"$T/curl.err"
grep -q 'STARTTLS' "$T/curl.err" && ! grep -q 'AUTH' "$T/curl.err"
ok $? "submission offers AUTH only after STARTTLS"
is "$(curl_rc $CURL --ssl-reqd --cacert "$TLS_CA" "smtp://$H:$POSTFIX_SUBMISSION_PORT/localhost" \
	-u "staff@example.com:$(user_password staff@example.com)" \
	--mail-from staff@example.com --mail-rcpt someone@elsewhere.example -T "$T/m2.crlf")" 55 \
	"submission: no relaying to other domains, even with AUTH"

# --- helpers ----------------------------------------------------------------

PF=$(password_file "$U")
is "$(cat "$PF")" "$P" "password_file holds the password"
is "$(stat -c %a "$PF")" 600 "password_file is mode 600"

# --- stop: nothing left behind --------------------------------------------

ALL=$(servers_pids)
for p in $RUNNING; do
	case " $ALL " in *" $p "*) ;; *) ALL="$ALL $p" ;; esac
done
[ "$(echo $ALL | wc -w)" -ge 6 ]
ok $? "servers_pids lists the masters and their children"
stop_servers
ok $? "stop_servers"
left=
for p in $ALL; do servers_ours "$p" && left="$left $p"; done
is "$left" "" "no Dovecot or Postfix process of this test is left"
left=$(ps -eo pid=,args= | grep -F "$T" | grep -v grep | head -n 3)
is "$left" "" "no process names this test's directory"
servers_listening $DOVECOT_IMAP_PORT || servers_listening $POSTFIX_SMTP_PORT
ok $((! $?)) "the ports are closed"
done_testing
