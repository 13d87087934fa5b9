#!/bin/sh
# Intake from IMAP and POP3 on a private Dovecot: STARTTLS/STLS and implicit
# TLS, certificate checks that stop before any password is sent, move to a
# folder, a wrong password beside a working Maildir queue, messages that
# were stored but not removed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../servers.sh"

servers_require dovecot
start_pg || skip_all "cannot start PostgreSQL"
if ! start_dovecot; then
	echo "Bail out! the private Dovecot did not start"
	servers_diag dovecot
	exit 1
fi
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

USER=support@example.com
PW=$(password_file $USER) || { echo "Bail out! password_file"; exit 1; }
BAD_PW="$T/passwords/bad"
(umask 077; echo "not-the-password-42" >"$BAD_PW")
INBOX=$(mailbox_dir $USER)
DLOG="$DOVECOT_DIR/dovecot.log"
IMAP_URL="imap://localhost:$DOVECOT_IMAP_PORT/INBOX"

# net_config URL [MAILBOX-SETTINGS]: queue support polls URL as $USER (with
# $PWFILE, $CA); queue billing keeps its Maildir.
net_config() {
	cat >"$T/net.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret"; };
transport = { url = "maildir:$T/outgoing"; };
staff = ( { login = "alice"; name = "Alice Woods"; email = "alice@example.com";
            role = "admin"; queues = [ "support", "billing" ]; } );
queues = (
  { name = "support"; address = "support@example.com"; default = true;
    mailbox = { url = "$1"; user = "$USER"; password_file = "${PWFILE:-$PW}";
                ca_file = "${CA:-$TLS_CA}"; timeout = "10s"; ${2:-} }; },
  { name = "billing"; address = "billing@example.com";
    mailbox = { url = "maildir:$T/mail/billing"; after = "delete"; }; }
);
CONF
}

# put_mail NAME SUBJECT: a message straight into the Dovecot Maildir of $USER
put_mail() {
	mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp"
	cat >"$INBOX/tmp/$1" <<MAIL
From: Carol Customer <carol@customer.example>
To: support@example.com
Subject: $2
Message-ID: <$1@customer.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000

Text of $1.
.a line that starts with a dot
.
The end.
MAIL
	mv "$INBOX/tmp/$1" "$INBOX/new/$1"
	chown -R "$MAIL_OWNER:" "$INBOX"
}

# net_once: one ticketd cycle on net.conf; its log is in $T/net.log.  Each
# cycle is one connection to Dovecot, which ends in one "Disconnected" line
# of its (asynchronous) log: wait for that line, so the log can be checked.
net_once() {
	_disc=$(grep -c "Disconnected" "$DLOG")
	"$TICKETD" -c "$T/net.conf" --once "$@" 2>"$T/net.log"
	_rc=$?
	sed 's/^/#   /' "$T/net.log" >>"$T/all-net.log"
	_n=50
	while [ "$(grep -c "Disconnected" "$DLOG")" -le "$_disc" ] && [ $_n -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	return $_rc
}

tickets() { psql_q "SELECT count(*) FROM tickets"; }
# no_auth_attempt: the last session Dovecot saw ended before any AUTH/LOGIN
no_auth_attempt() { grep "Disconnected" "$DLOG" | tail -n 1 | grep -q "(no auth attempts"; }
log_has() { grep -q -- "$1" "$T/net.log"; }
# body_ok NAME: the stored text has the lines that start with a dot, and the end
body_ok() {
	psql_q "SELECT body FROM messages WHERE message_id = '$1@customer.example'" >"$T/body"
	grep -qx '\.a line that starts with a dot' "$T/body" && grep -qx '\.' "$T/body" &&
		grep -qx 'The end\.' "$T/body"
}

# --- imap:// with STARTTLS required ---------------------------------------------
net_config "$IMAP_URL" 'tls = "required";'
put_mail m1 "Printer on fire"
net_once
ok $? "imap:// (STARTTLS required): ticketd --once"
is "$(tickets)" 1 "imap://: the message became a ticket"
is "$(psql_q "SELECT subject FROM tickets WHERE id = 1")" "Printer on fire" "imap://: its subject"
is "$(mail_count $USER)" 0 "imap://: the message left the mailbox"
is "$(psql_q "SELECT source FROM raw_messages")" \
	"imap://$USER@localhost:$DOVECOT_IMAP_PORT/INBOX" "imap://: the source names user, host, folder"
psql_q "SELECT source_uid FROM raw_messages" | grep -qE '^[0-9]+:[0-9]+$'
ok $? "imap://: the uid is UIDVALIDITY:UID"
body_ok m1
ok $? "imap://: the text arrives whole"
grep "imap-login: Info: Login: user=<$USER>" "$DLOG" | tail -n 1 | grep -q ", TLS,"
ok $? "imap://: Dovecot saw the login over TLS"
log_has "warning"
ok $((! $?)) "imap://: no warning"

net_once
is "$(tickets)" 1 "a second run adds nothing"

# --- imaps:// -------------------------------------------------------------------
net_config "imaps://localhost:$DOVECOT_IMAPS_PORT"
put_mail m2 "imaps message"
net_once
ok $? "imaps://: ticketd --once"
is "$(tickets)" 2 "imaps://: a ticket"
is "$(mail_count $USER)" 0 "imaps://: the mailbox is empty"

# --- pop3:// with STLS, pop3s:// ---------------------------------------------------
net_config "pop3://localhost:$DOVECOT_POP3_PORT" 'tls = "required";'
put_mail m3 "pop3 message"
net_once
ok $? "pop3:// (STLS required): ticketd --once"
is "$(tickets)" 3 "pop3://: a ticket"
is "$(mail_count $USER)" 0 "pop3://: the message was deleted"
grep "pop3-login: Info: Login: user=<$USER>" "$DLOG" | tail -n 1 | grep -q ", TLS,"
ok $? "pop3://: Dovecot saw the login over TLS"
uidl=$(psql_q "SELECT source_uid FROM raw_messages WHERE header_message_id = 'm3@customer.example'")
echo "$uidl" | grep -qxE "[0-9A-Fa-f]{16}"
ok $? "pop3://: the uid is the UIDL ($uidl)"
body_ok m3
ok $? "pop3://: dot-stuffing is undone, the text arrives whole"

net_config "pop3s://localhost:$DOVECOT_POP3S_PORT"
put_mail m4 "pop3s message"
net_once
ok $? "pop3s://: ticketd --once"
is "$(tickets)" 4 "pop3s://: a ticket"
is "$(mail_count $USER)" 0 "pop3s://: the message was deleted"

# --- after = "move:Archive" --------------------------------------------------------
net_config "$IMAP_URL" 'after = "move:Archive";'
put_mail m5 "to be archived"
net_once
ok $? "imap:// move:Archive: ticketd --once"
is "$(tickets)" 5 "move: a ticket"
is "$(mail_count $USER)" 0 "move: INBOX is empty"
is "$(grep -l "^Message-ID: <m5@customer.example>" "$INBOX"/.Archive/new/* "$INBOX"/.Archive/cur/* \
	2>/dev/null | wc -l)" 1 "move: the message is in the Archive folder"

# --- certificate from an unknown CA: fails before the password is sent ------------
put_mail m6 "certificate trouble"
for url in "$IMAP_URL" "imaps://localhost:$DOVECOT_IMAPS_PORT" \
	"pop3://localhost:$DOVECOT_POP3_PORT" "pop3s://localhost:$DOVECOT_POP3S_PORT"; do
	CA=$TLS_OTHER_CA
	net_config "$url"
	CA=
	net_once
	log_has "queue=support mailbox: .*certificate signed by an unknown authority"
	ok $? "unknown CA (${url%%:*}): the log names the certificate problem"
	no_auth_attempt
	ok $? "unknown CA (${url%%:*}): Dovecot saw no login attempt, the password was not sent"
done
is "$(tickets)" 5 "unknown CA: nothing was fetched"
is "$(mail_count $USER)" 1 "unknown CA: the message stays"

# --- wrong host name ----------------------------------------------------------------
net_config "imaps://$TLS_WRONG_HOST:$DOVECOT_IMAPS_PORT"
net_once
log_has "certificate is for another host: it names wrong.example, not $TLS_WRONG_HOST"
ok $? "wrong host: the log says the certificate is for another host"
no_auth_attempt
ok $? "wrong host: no login attempt"
is "$(mail_count $USER)" 1 "wrong host: the message stays"

# --- tls_verify = false ------------------------------------------------------------
CA=$TLS_OTHER_CA
net_config "$IMAP_URL" 'tls_verify = false;'
CA=
net_once
ok $? "tls_verify = false: ticketd --once"
log_has "TLS certificate verification is off for $IMAP_URL"
ok $? "tls_verify = false: a warning says verification is off"
is "$(tickets)" 6 "tls_verify = false: the message is fetched"
is "$(mail_count $USER)" 0 "tls_verify = false: and removed"

# --- tls = "off" (loopback: no warning about clear text) ---------------------------
net_config "$IMAP_URL" 'tls = "off";'
put_mail m7 "no tls"
net_once
is "$(tickets)" 7 "tls = off: the message is fetched"
grep "imap-login: Info: Login: user=<$USER>" "$DLOG" | tail -n 1 | grep -q ", TLS,"
ok $((! $?)) "tls = off: the login went without TLS"
log_has "in clear"
ok $((! $?)) "tls = off on loopback: no clear-text warning"

# --- stored but not removed: recognised, not stored twice -------------------------
# A folder Dovecot refuses to create makes the move fail after the commit.
net_config "$IMAP_URL" 'after = "move:bad/../folder";'
put_mail m8 "stored but not removed"
raw_before=$(psql_q "SELECT count(*) FROM raw_messages")
net_once
log_has "cannot move stored messages to bad/../folder"
ok $? "a failed move is logged"
is "$(mail_count $USER)" 1 "the message stays after a failed move"
is "$(psql_q "SELECT count(*) FROM raw_messages")" $((raw_before + 1)) "it was stored once"
net_once
is "$(psql_q "SELECT count(*) FROM raw_messages")" $((raw_before + 1)) \
	"the next run recognises it and stores nothing"
log_has "1 already stored"
ok $? "the next run counts it as already stored"
net_config "$IMAP_URL"
net_once
is "$(mail_count $USER)" 0 "with a working 'after' it leaves the mailbox"
is "$(psql_q "SELECT count(*) FROM raw_messages")" $((raw_before + 1)) "still stored once"

# --- a wrong password: this mailbox fails, the Maildir queue goes on ----------------
PWFILE=$BAD_PW
net_config "$IMAP_URL"
put_mail m9 "wrong password"
deliver billing b1 <<'MAIL'
From: dan@customer.example
To: billing@example.com
Subject: Invoice question
Message-ID: <b1@customer.example>

Where is my invoice?
MAIL
net_once
log_has "queue=support mailbox: IMAP localhost:$DOVECOT_IMAP_PORT: login as $USER failed"
ok $? "wrong password: the log names the login failure"
is "$(mail_count $USER)" 1 "wrong password: the message stays"
is "$(psql_q "SELECT count(*) FROM tickets WHERE requestor = 'dan@customer.example'")" 1 \
	"wrong password: the Maildir queue was processed in the same run"
net_config "pop3://localhost:$DOVECOT_POP3_PORT"
net_once
log_has "queue=support mailbox: POP3 localhost:$DOVECOT_POP3_PORT: login as $USER failed"
ok $? "wrong password (POP3): the log names the login failure"
is "$(mail_count $USER)" 1 "wrong password (POP3): the message stays"
PWFILE=

# --- secrets ----------------------------------------------------------------------
grep -qF -e "$(cat "$PW")" -e "$(cat "$BAD_PW")" "$T/all-net.log"
ok $((! $?)) "no password in any log line"

if [ "$tap_failed" -gt 0 ]; then
	echo "# ticketd logs:"
	cat "$T/all-net.log"
	servers_diag dovecot
fi
done_testing
