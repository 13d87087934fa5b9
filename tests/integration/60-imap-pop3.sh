#!/bin/sh
# Intake from IMAP and POP3 on a private Dovecot: STARTTLS/STLS and implicit
# TLS, certificate checks that stop before any password is sent, move to a
# folder, a wrong password beside a working Maildir queue, messages that
# were stored but not removed, fetching in read-ahead windows (150 messages,
# some large; two deleted by another client between list and fetch; a run
# stopped with messages read ahead).
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
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret";
           batch_size = ${NET_BATCH:-200}; };
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
# net_settle STATUS: keeps net.log, waits for Dovecot's line, returns STATUS
net_settle() {
	sed 's/^/#   /' "$T/net.log" >>"$T/all-net.log"
	_n=50
	while [ "$(grep -c "Disconnected" "$DLOG")" -le "$_disc" ] && [ $_n -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	return "$1"
}
net_once() {
	_disc=$(grep -c "Disconnected" "$DLOG")
	"$TICKETD" -c "$T/net.conf" --once "$@" 2>"$T/net.log"
	net_settle $?
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

# --- read-ahead: 150 messages in windows of at most 64 messages / 16 MiB ------------
# put_many PREFIX FIRST LAST: small messages PREFIX<n>, written at once
put_many() {
	mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp"
	for _i in $(seq "$2" "$3"); do
		printf 'From: bulk@customer.example\nTo: support@example.com\nSubject: %s %s\nMessage-ID: <%s%s@customer.example>\n\nText %s.\n' \
			"$1" "$_i" "$1" "$_i" "$_i" >"$INBOX/tmp/$1$_i"
		mv "$INBOX/tmp/$1$_i" "$INBOX/new/$1$_i"
	done
	chown -R "$MAIL_OWNER:" "$INBOX"
}
# put_large NAME KB: a message with KB kilobytes of base64 text
put_large() {
	mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp"
	{ printf 'From: bulk@customer.example\nTo: support@example.com\nSubject: large %s\nMessage-ID: <%s@customer.example>\n\n' "$1" "$1"
	  head -c $(($2 * 768)) /dev/urandom | base64 -w 76; } >"$INBOX/tmp/$1"
	mv "$INBOX/tmp/$1" "$INBOX/new/$1"
	chown -R "$MAIL_OWNER:" "$INBOX"
}
# dove_sync: Dovecot gives the new messages their UIDs now (so that UIDs
# follow the order of the put_* calls between syncs)
dove_sync() { doveadm -c "$DOVECOT_DIR/dovecot.conf" mailbox status -u $USER messages INBOX >/dev/null; }
dove_uids() { doveadm -c "$DOVECOT_DIR/dovecot.conf" search -u $USER mailbox INBOX "$@" | awk '{print $2}'; }
stored() { psql_q "SELECT count(*) || ' ' || count(DISTINCT header_message_id) FROM raw_messages WHERE header_message_id LIKE '$1%'"; }
# windows: "N BYTES" per read-ahead of the last run
windows() { sed -n 's/.*reading ahead \([0-9]*\) message(s) from UID [0-9]*, \([0-9]*\) bytes/\1 \2/p' "$T/net.log"; }

# UIDs in this order: 10 small, three of 6 MB, one of 18 MB, 136 small.
NET_BATCH=50 net_config "$IMAP_URL"
put_many bulk 1 10; dove_sync
put_large bulk-big1 6000; put_large bulk-big2 6000; put_large bulk-big3 6000; dove_sync
put_large bulk-huge 18000; dove_sync
put_many bulk 11 146; dove_sync
net_once -v
ok $? "read-ahead: ticketd --once on 150 messages, 4 of them large"
is "$(stored bulk)" "150 150" "read-ahead: all 150 stored, each once"
is "$(mail_count $USER)" 0 "read-ahead: the mailbox is empty"
windows >"$T/windows"
# 10 small + two of 6 MB (a third would pass 16 MiB), the third alone (it
# and the 18 MB one would), the 18 MB one alone, then 64, 64 and 8 small
is "$(cut -d' ' -f1 "$T/windows" | tr '\n' ' ')" "12 1 1 64 64 8 " \
	"read-ahead: windows of at most 64 messages, split at 16 MiB"
is "$(awk '$2 > 16777216 && $1 > 1' "$T/windows" | wc -l)" 0 \
	"read-ahead: no window over 16 MiB but a message alone"
log_has "warning"
ok $((! $?)) "read-ahead: no warning"

# hold_uid UID: another transaction inserts the raw row of the message with
# that UID and waits: ticketd's INSERT of it (UNIQUE (source, source_uid))
# waits for that transaction until release_uid rolls it back.
hold_uid() {
	_v=$(doveadm -c "$DOVECOT_DIR/dovecot.conf" mailbox status -u $USER uidvalidity INBOX | sed 's/.*=//')
	PGAPPNAME=holder "$PG_BINDIR/psql" -X -q -h "$PGDIR" -U ticketd -d tickets -c "BEGIN;
		INSERT INTO raw_messages (source, source_uid, received, sha256, size, raw, status)
		VALUES ('imap://$USER@localhost:$DOVECOT_IMAP_PORT/INBOX', '$_v:$1', now(), '', 0, '', 'stored');
		SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
	HOLDER=$!
	_n=100
	until [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holder' AND wait_event = 'PgSleep'")" = 1 ] ||
		[ $_n -le 0 ]; do sleep 0.1; _n=$((_n - 1)); done
}
wait_blocked() {
	_n=300
	until [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")" -ge 1 ] ||
		[ $_n -le 0 ]; do sleep 0.1; _n=$((_n - 1)); done
}
release_uid() {
	psql_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null
	wait "$HOLDER"
}
# net_bg: ticketd --once -v on net.conf in the background ($TD), log in net.log
net_bg() {
	_disc=$(grep -c "Disconnected" "$DLOG")
	"$TICKETD" -c "$T/net.conf" --once -v 2>"$T/net.log" &
	TD=$!
}
net_bg_wait() {
	wait "$TD"
	net_settle $?
}

# Deleted by another client after the list, before its window was read.
put_many gone 1 150; dove_sync
uids=$(dove_uids all)
u100=$(echo "$uids" | sed -n 100p)
u150=$(echo "$uids" | sed -n 150p)
hold_uid "$(echo "$uids" | head -n 1)"
net_bg
wait_blocked
is "$(windows | cut -d" " -f1)" 64 "vanished: ticketd waits, one window of 64 messages read"
doveadm -c "$DOVECOT_DIR/dovecot.conf" expunge -u $USER mailbox INBOX uid "$u100,$u150"
release_uid
net_bg_wait
ok $? "vanished: ticketd --once"
is "$(stored gone)" "148 148" "vanished: the 148 others stored, each once"
for u in "$u100" "$u150"; do
	log_has "uid=[0-9]*:$u cannot be read, left in the mailbox: .*message UID $u is no longer in INBOX"
	ok $? "vanished: UID $u is logged as no longer in the mailbox"
done
is "$(mail_count $USER)" 0 "vanished: the mailbox is empty"

# A run stopped (SIGTERM) with a window read ahead: what it did not store
# stays, \Seen as before; the next run takes it.
put_many stop 1 150; dove_sync
hold_uid "$(dove_uids all | head -n 1)"
net_bg
wait_blocked
kill -TERM "$TD"
release_uid
net_bg_wait
taken=$(stored stop | cut -d' ' -f1)
left=$(mail_count $USER)
is "$((taken + left))" 150 "stopped: stored + left = 150 ($taken + $left)"
is "$(windows)" "64 $(windows | cut -d' ' -f2)" "stopped: one window of 64 messages was read"
[ "$taken" -lt 64 ]
ok $? "stopped: $((64 - taken)) messages read ahead but not stored are left"
is "$(dove_uids seen | wc -l | tr -d ' ')" 0 "stopped: none of them is \\Seen"
is "$(dove_uids unseen | wc -l | tr -d ' ')" "$left" "stopped: all $left unseen"
net_once
is "$(stored stop)" "150 150" "stopped: the next run stores the rest, each message once"
is "$(mail_count $USER)" 0 "stopped: the mailbox is empty"

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
