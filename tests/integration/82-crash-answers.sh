#!/bin/sh
# Exactly once under crashes, with staff answers in flight (issue 16): N
# customer tickets are made first, without crashes (their auto-responses
# and the admins' notifications are out); then 2 × N staff answers, each
# with its own text and Message-ID, are put into the support mailbox: the
# first of each ticket threads by In-Reply-To to the notification the admin
# received, the second by the subject tag alone, from the proven staff
# address (our MTA's Authentication-Results).  ticketd is SIGKILLed at
# random moments and restarted until everything is stored and sent.  Then,
# at the real servers: every answer arrived in its customer's mailbox (none
# lost), at most kills × sessions extra copies (a crash resends only the
# mail in flight, one per sending session: DESIGN §2), every staff mail
# stored once, each ticket answered and held by the admin who answered it,
# no outbox row pending.  One pass per entry of CRASH_SESSIONS
# (transport.sessions; default "1 3"), each on a fresh database.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot postfix

N=${CRASH_TICKETS:-60}
KILLS=${CRASH_KILLS:-6}
SESSIONS=${CRASH_SESSIONS:-1 3}
ANSWERS=$((2 * N))
# customer1 .. customerN, one ticket each; two admins: alice (staff@) answers
# the odd customers' tickets, carl the even ones'
CUSTOMERS=
i=1
while [ $i -le $N ]; do CUSTOMERS="$CUSTOMERS customer$i@example.net"; i=$((i + 1)); done
MAIL_USERS="$MAIL_USERS carl@example.com$CUSTOMERS"

start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
chmod 600 "$T/secret"
write_config_sessions() { # write_config_sessions SESSIONS
	cat >"$T/ticketd.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret"; batch_size = 7;
  staff_auth = [ "authres" ]; authserv_id = "mx.example.com"; };
transport = { url = "smtp://127.0.0.1:$POSTFIX_SMTP_PORT"; starttls = "required";
  ca_file = "$TLS_CA"; sessions = $1; };
staff = (
  { login = "alice"; name = "Alice Woods"; email = "staff@example.com"; role = "admin";
    queues = [ "support" ]; },
  { login = "carl"; name = "Carl Berg"; email = "carl@example.com"; role = "admin";
    queues = [ "support" ]; }
);
queues = (
  { name = "support"; address = "support@example.com"; default = true; notify = "admins";
    autoclose = -1;
    mailbox = { url = "imap://localhost:$DOVECOT_IMAP_PORT/INBOX"; user = "support@example.com";
                password_file = "$(password_file support@example.com)"; ca_file = "$TLS_CA";
                tls = "required"; timeout = "10s"; }; }
);
CONF
}

start_daemon() {
	"$TICKETD" -f -c "$T/ticketd.conf" 2>>"$T/ticketd.log" &
	daemon_pid=$!
}
pending() { psql_q "SELECT count(*) FROM outbox WHERE status = 'pending'"; }
answers_stored() { psql_q "SELECT count(*) FROM raw_messages WHERE header_message_id LIKE 'crashans-%'"; }
answers_sent() { psql_q "SELECT count(*) FROM outbox WHERE kind = 'staff-answer' AND status = 'sent'"; }
# finish: let a daemon take and send everything, then stop it with SIGTERM
finish() {
	start_daemon
	for _ in $(seq 1 300); do
		[ "$(mail_count support@example.com)" -eq 0 ] && [ "$(pending)" -eq 0 ] && break
		sleep 0.2
	done
	kill -TERM $daemon_pid
	wait $daemon_pid
}
# answers_received: "recipient token" for every copy of every answer in
# the customers' mailboxes (the token in the answer's own text, not in a
# quote), decoded as a mail reader would
answers_received() {
	for _c in $CUSTOMERS; do echo "$_c $(mailbox_dir "$_c")"; done | python3 -c '
import email, email.policy, os, re, sys
for line in sys.stdin:
    rcpt, d = line.split()
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        for f in sorted(os.listdir(p)) if os.path.isdir(p) else []:
            m = email.message_from_binary_file(open(os.path.join(p, f), "rb"),
                                               policy=email.policy.default)
            body = m.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            for t in sorted({t for l in text.splitlines() if not l.startswith(">")
                             for t in re.findall(r"crashans-[0-9]+-[0-9]+-[0-9]", l)}):
                print(rcpt, t)
'
}
# notification_ids MAILBOX-DIR: "ticket-id message-id" of each notification
notification_ids() {
	python3 - "$1" <<'PY'
import email, email.policy, os, re, sys
for sub in ("new", "cur"):
    p = os.path.join(sys.argv[1], sub)
    for f in sorted(os.listdir(p)) if os.path.isdir(p) else []:
        m = email.message_from_binary_file(open(os.path.join(p, f), "rb"),
                                           policy=email.policy.default)
        t = re.match(r"\[Ticket#([0-9]+)\] ", m["Subject"] or "")
        if t:
            print(t.group(1), m["Message-ID"])
PY
}

for sessions in $SESSIONS; do
	echo "# pass: transport.sessions = $sessions"
	"$PG_BINDIR/psql" -X -q -h "$PGDIR" -U ticketd -d postgres \
		-c "DROP DATABASE IF EXISTS tickets WITH (FORCE)" -c "CREATE DATABASE tickets" ||
		exit 1
	for u in $CUSTOMERS staff@example.com carl@example.com; do
		d=$(mailbox_dir "$u")
		[ -d "$d" ] && find "$d/new" "$d/cur" -type f -exec rm -f {} + 2>/dev/null
	done
	write_config_sessions "$sessions"
	"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

	# The tickets, without crashes.
	i=1
	while [ $i -le $N ]; do
		printf 'From: Customer %d <customer%d@example.net>\nTo: support@example.com\nSubject: crash answers %d\nMessage-ID: <crashcust-%d-%d@example.net>\n\nTicket question %d.\n' \
			$i $i $i $sessions $i $i |
			drop_imap support@example.com "$((1700000000 + i)).crashcust$i.$sessions.test"
		i=$((i + 1))
	done
	finish
	is "$(psql_q "SELECT count(*) || '|' || count(DISTINCT requestor) FROM tickets")" "$N|$N" \
		"sessions=$sessions: $N tickets, one per customer"
	for _ in $(seq 1 150); do
		notification_ids "$(mailbox_dir staff@example.com)" >"$T/notifications"
		[ "$(cut -d' ' -f1 "$T/notifications" | sort -u | wc -l)" -ge $N ] && break
		sleep 0.2
	done
	is "$(cut -d' ' -f1 "$T/notifications" | sort -u | wc -l)" $N \
		"sessions=$sessions: the admin received a notification of each ticket"

	# Two answers per ticket; the first in reply to the notification.
	psql_q "SELECT id || ' ' || requestor FROM tickets ORDER BY id" >"$T/tickets"
	: >"$T/expected"
	: >"$T/assignees"
	k=0
	while read -r id rcpt; do
		c=${rcpt#customer}
		c=${c%@example.net}
		if [ $((c % 2)) -eq 1 ]; then name="Alice Woods" addr=staff@example.com login=alice
		else name="Carl Berg" addr=carl@example.com login=carl; fi
		echo "$rcpt|answered|$login" >>"$T/assignees"
		nid=$(awk -v id="$id" '$1 == id { print $2; exit }' "$T/notifications")
		for a in 1 2; do
			token="crashans-$sessions-$c-$a"
			echo "$rcpt $token" >>"$T/expected"
			if [ $a -eq 1 ]; then irt="In-Reply-To: $nid"; else irt="X-Threading: subject tag"; fi
			k=$((k + 1))
			printf 'Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=%s\nFrom: %s <%s>\nTo: support@example.com\nSubject: Re: [Ticket#%s] crash answers %s\nMessage-ID: <%s@example.com>\n%s\n\nAnswer %s: reply %d to customer %s.\n' \
				"$addr" "$name" "$addr" "$id" "$c" "$token" "$irt" "$token" $a "$c" |
				drop_imap support@example.com "$((1700001000 + k)).crashans$k.$sessions.test"
		done
	done <"$T/tickets"
	is "$(mail_count support@example.com)" $ANSWERS "sessions=$sessions: $ANSWERS answers in the IMAP mailbox"

	# Start, let it work for a random moment, SIGKILL; again and again,
	# at least KILLS times and on while answers wait to be taken or sent
	# (at most 4 × KILLS times), so that the kills hit answers in flight.
	kills=0 progress=
	while [ $kills -lt $KILLS ] ||
		{ [ $kills -lt $((4 * KILLS)) ] && [ "$(answers_sent)" -lt $ANSWERS ]; }; do
		start_daemon
		sleep "0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ' | awk '{ printf "%03d", 50 + $1 % 350 }')"
		kill -KILL $daemon_pid 2>/dev/null && kills=$((kills + 1))
		wait $daemon_pid 2>/dev/null
		progress="$progress $(answers_stored)/$(answers_sent)"
	done
	echo "# $kills SIGKILLs; answers stored/sent after each:$progress"
	finish
	is $? 0 "sessions=$sessions: the last daemon stops cleanly on SIGTERM"
	ok $([ $kills -ge 5 ] && echo 0 || echo 1) "sessions=$sessions: killed $kills times (at least 5)"

	is "$(mail_count support@example.com)" 0 "sessions=$sessions: the IMAP mailbox is empty"
	is "$(psql_q "SELECT count(*) || '|' || count(DISTINCT header_message_id) FROM raw_messages WHERE header_message_id LIKE 'crashans-%'")" \
		"$ANSWERS|$ANSWERS" "sessions=$sessions: every staff mail stored raw exactly once"
	is "$(psql_q "SELECT count(*) || '|' || count(DISTINCT message_id) FROM messages WHERE direction = 'in' AND kind = 'staff-answer'")" \
		"$ANSWERS|$ANSWERS" "sessions=$sessions: every staff mail on its ticket exactly once, as an answer"
	is "$(psql_q "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'in' AND m.kind = 'staff-answer' AND substring(m.message_id from '^crashans-$sessions-([0-9]+)-[12]@example[.]com\$') = substring(t.requestor from '^customer([0-9]+)@example[.]net\$')")" \
		"$ANSWERS" "sessions=$sessions: each answer on its customer's ticket"
	is "$(psql_q "SELECT t.requestor || '|' || t.status || '|' || coalesce(s.login, '-') FROM tickets t LEFT JOIN staff s ON s.id = t.assignee_id" | LC_ALL=C sort)" \
		"$(LC_ALL=C sort "$T/assignees")" "sessions=$sessions: each ticket answered, held by the admin who answered"
	is "$(pending)" 0 "sessions=$sessions: no outbox row pending"
	is "$(psql_q "SELECT count(*) || '|' || count(*) FILTER (WHERE status = 'sent') FROM outbox WHERE kind = 'staff-answer'")" \
		"$ANSWERS|$ANSWERS" "sessions=$sessions: one outbox row per answer, every one sent"

	# What the customers received: Postfix delivers what it accepted within
	# moments; wait until the count stands still.
	last=-1
	for _ in $(seq 1 100); do
		answers_received >"$T/received"
		now=$(wc -l <"$T/received")
		[ "$now" -ge $ANSWERS ] && [ "$now" -eq "$last" ] && break
		last=$now
		sleep 0.3
	done
	copies=$(wc -l <"$T/received")
	LC_ALL=C sort -u "$T/received" >"$T/received.distinct"
	is "$(LC_ALL=C sort "$T/expected" | LC_ALL=C comm -23 - "$T/received.distinct" | tr '\n' ' ')" "" \
		"sessions=$sessions: every answer arrived in its customer's mailbox (none lost)"
	is "$(LC_ALL=C sort "$T/expected" | LC_ALL=C comm -13 - "$T/received.distinct" | tr '\n' ' ')" "" \
		"sessions=$sessions: no answer arrived anywhere else"
	distinct=$(wc -l <"$T/received.distinct")
	extra=$((copies - distinct))
	# on stdout as TAP and on stderr for prove's summary (not tee /dev/stderr:
	# when stderr is a file that reopens and truncates it)
	figures="# sessions=$sessions: $copies copies of $distinct answers, $extra extra, after $kills kills (at most $((kills * sessions)) allowed)"
	echo "$figures"
	echo "$figures" >&2
	ok $([ $extra -le $((kills * sessions)) ] && echo 0 || echo 1) \
		"sessions=$sessions: at most one answer sent twice per kill and session"
done
done_testing
