#!/bin/sh
# The timers (issue 17) on Maildir queues and a real PostgreSQL, every
# cycle at a --now of its own: escalation by step per full period up to
# max, stopped by an answer and started again by the customer's next mail,
# rebased by a staff member's #priority; the escalation notice when
# notify_at is crossed; auto-close at once, after 7 days or never, with
# its closed-ticket response (none after automatic mail, none when
# closed_response is false) and the reopening by a customer's reply; a
# sweep at the same now changes nothing; two daemons sweep each ticket
# once; a session holding the timers' lock makes a sweep skip; a
# customer's mail taken while another daemon's sweep escalates the ticket
# keeps the escalation; SIGHUP brings new escalation rules into the next
# sweep of the running daemon.
. "$(dirname "$0")/../lib.sh"

MINE= # our background processes, stopped by pid on the way out
stop_mine() { for pid in $MINE; do kill "$pid" 2>/dev/null; done; }
trap 'stop_mine; cleanup' EXIT

start_pg || skip_all "cannot start PostgreSQL"
QUEUES="esc capped notice close0 close7 never quiet bulk hup"
for q in $QUEUES; do mkdir -p "$T/mail/$q/new" "$T/mail/$q/cur" "$T/mail/$q/tmp"; done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
chmod 600 "$T/secret"

# timers_conf [HUP_STEP]: a queue per rule under test; alice is the admin
# of all of them.  notify = "none" everywhere: the escalation notice goes
# to the admins whatever notify says, and nothing else does.
timers_conf() {
	{
		cat <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret";
  staff_auth = [ "authres" ]; authserv_id = "mx.example.com";
  autoresponse_limit = { count = 5; per = "1h"; }; };
transport = { url = "maildir:$T/outgoing"; };
staff = ( { login = "alice"; name = "Alice Woods"; email = "alice@example.com"; role = "admin";
            queues = [ $(echo "$QUEUES" | sed 's/\([a-z0-9]*\)/"\1"/g; s/ /, /g') ]; } );
CONF
		echo "queues = ("
		for q in $QUEUES; do
			case $q in
			esc) rules='escalation = { every = "1h"; step = 5; max = 99; }; autoclose = -1; default = true;' ;;
			capped) rules='escalation = { every = "1h"; step = 5; max = 60; }; autoclose = -1;' ;;
			notice) rules='escalation = { every = "1h"; step = 5; max = 99; notify_at = 60; }; autoclose = -1;' ;;
			close0) rules='autoclose = 0;' ;;
			close7) rules='autoclose = "7d";' ;;
			never) rules='autoclose = -1;' ;;
			quiet) rules='autoclose = 0; closed_response = false;' ;;
			bulk) rules='escalation = { every = "1h"; step = 5; max = 99; }; autoclose = "7d";' ;;
			hup) rules="escalation = { every = \"1h\"; step = ${1:-5}; max = 99; }; autoclose = -1;" ;;
			esac
			printf '  { name = "%s"; address = "%s@example.com"; priority = 50; notify = "none";\n' \
				"$q" "$q"
			printf '    mailbox = { url = "maildir:%s/mail/%s"; };\n    %s }\n' "$T" "$q" "$rules"
		done | sed '$!s/ }$/ },/'
		echo ");"
	} >"$T/ticketd.conf"
}
timers_conf
"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null || { echo "Bail out! the test's config"; exit 1; }
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

q() { psql_q "$1"; }
# iso EPOCH: the --now text of a time
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s; }
at() { run_once --now="$(iso "$1")"; } # at EPOCH: one cycle then
H=3600
D=86400
AR_OK='Authentication-Results: mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=alice@example.com'

# customer QUEUE WHO [TICKET]: WHO@customer.example writes to QUEUE, a new
# ticket or (TICKET) a reply on it.
n_mail=0
customer() {
	n_mail=$((n_mail + 1))
	if [ -n "${3:-}" ]; then subj="Re: [Ticket#$3] help $2"; else subj="help $2"; fi
	printf 'From: %s <%s@customer.example>\nTo: %s@example.com\nSubject: %s\nMessage-ID: <c%d.%s@customer.example>\n\nPlease help, %s.\n' \
		"$2" "$2" "$1" "$subj" "$n_mail" "$2" "$2" | deliver "$1" "c$n_mail"
}
# staff QUEUE TICKET BODY: alice's mail on TICKET, authenticated by our MTA
staff() {
	n_mail=$((n_mail + 1))
	{
		echo "$AR_OK"
		printf 'From: Alice Woods <alice@example.com>\nTo: %s@example.com\nSubject: Re: [Ticket#%s] help\nMessage-ID: <a%d@example.com>\n\n%s\n' \
			"$1" "$2" "$n_mail" "$3"
	} | deliver "$1" "a$n_mail"
}
tid() { q "SELECT id FROM tickets WHERE requestor = '$1@customer.example'"; }
prio() { q "SELECT priority FROM tickets WHERE id = $1"; }
status() { q "SELECT status FROM tickets WHERE id = $1"; }
# pevents TICKET: its priority events, "actor:old>new" a line
pevents() {
	q "SELECT actor || ':' || old || '>' || new FROM events WHERE ticket_id = $1 AND type = 'priority' ORDER BY id"
}
# closed_rows TICKET: its closed-ticket responses in the outbox
closed_rows() {
	q "SELECT count(*) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.ticket_id = $1
		AND o.kind = 'auto-response' AND m.body LIKE '%has been closed%'"
}
# dump: what a sweep could change, all of it
dump() {
	q "SELECT string_agg(concat_ws('|', id, priority, status, base_priority, escalate_from,
		escalate_next, updated, closed_at, assignee_id), ',' ORDER BY id) FROM tickets"
	q "SELECT count(*) FROM events"
	q "SELECT count(*) FROM outbox"
	q "SELECT count(*) FROM messages"
}
# again EPOCH NAME: a second cycle at the same now changes nothing
again() {
	dump >"$T/before"
	at "$1"
	dump >"$T/after"
	cmp -s "$T/before" "$T/after"
	rc=$?
	ok $rc "a second sweep at the same now changes nothing ($2)"
	[ $rc -eq 0 ] || diff "$T/before" "$T/after" | sed 's/^/# /'
}

# --- 1, 4: the steps of a full period, and max -------------------------
A0=$(epoch 2026-01-01T10:00:00Z)
customer esc ann
customer capped carl
at $A0
ok $? "ticketd --once"
E1=$(tid ann)
CAP=$(tid carl)
got=$(prio $E1)
for s in $((59 * 60)) $((60 * 60)) $((61 * 60)) $((300 * 60)); do
	at $((A0 + s))
	got="$got $(prio $E1)"
done
is "$got" "50 50 55 55 75" "every 1h step 5 from 50: at +0, +59m, +60m, +61m, +300m"
again $((A0 + 300 * 60)) "after a step"
at $((A0 + 30 * D))
is "$(prio $E1)" 99 "at +30d: the cap, 99"
is "$(pevents $E1)" "ticketd:50>55
ticketd:55>75
ticketd:75>99" "one priority event by ticketd per change, none without one"
is "$(q "SELECT string_agg(to_char(at AT TIME ZONE 'UTC', 'DD HH24:MI'), ',' ORDER BY id) FROM events WHERE ticket_id = $E1 AND type = 'priority'")" \
	"01 11:00,01 15:00,31 10:00" "each at the now of its sweep"
is "$(q "SELECT escalate_next FROM tickets WHERE id = $E1")" infinity "at the cap: never looked at again"
is "$(pevents $CAP)" "ticketd:50>55
ticketd:55>60" "max = 60: 50, 55, then 60 and no further"
is "$(prio $CAP)" 60 "max = 60 holds at +30d"

# --- 9: the escalation notice when notify_at (60) is crossed -------------
B0=$(epoch 2026-03-01T10:00:00Z)
# notices TICKET: its escalation notices, "recipient:priority" a line
notices() {
	q "SELECT o.recipient || ':' || coalesce(substring(m.body from
		'still waiting for an\s+answer; its priority is now ([0-9]+)\.'), '?')
		FROM outbox o JOIN messages m ON m.id = o.message_id
		WHERE o.ticket_id = $1 AND o.kind = 'notification' ORDER BY o.id"
}
customer notice nora
at $B0
N1=$(tid nora)
at $((B0 + H))
is "$(prio $N1):$(notices $N1)" "55:" "55, under notify_at: no notice"
at $((B0 + 2 * H))
is "$(prio $N1):$(notices $N1)" "60:alice@example.com:60" \
	"reaching 60: one escalation notice to the admin (notify = none does not stop it)"
is "$(q "SELECT status FROM outbox WHERE ticket_id = $N1 AND kind = 'notification'")" sent "... sent in the same cycle"
customer notice nick
at $((B0 + 150 * 60))
N2=$(tid nick)
at $((B0 + 3 * H))
is "$(prio $N1):$(notices $N1)" "65:alice@example.com:60" "65: no second notice"
at $((B0 + 30 * D))
is "$(prio $N1):$(notices $N1)" "99:alice@example.com:60" "99: still the one notice"
is "$(prio $N2):$(notices $N2)" "99:alice@example.com:99" \
	"jumping from 50 over 60 to 99 in one sweep: one notice, with the new priority"

# --- 3, 5: an answer stops the clock, a customer's mail starts it again;
# a manual change rebases it ----------------------------------------------
C0=$(epoch 2026-05-01T10:00:00Z)
customer esc rita
customer esc mike
at $C0
R=$(tid rita)
M=$(tid mike)
at $((C0 + 2 * H))
is "$(prio $R) $(prio $M)" "60 60" "two unanswered tickets at +2h: 60"
staff esc $R "Hello Rita, it is fixed."
staff esc $M "#priority 20"
at $((C0 + 130 * 60))
is "$(status $R):$(prio $R)" "answered:60" "answered at +2h10m: 60"
is "$(prio $M):$(q "SELECT base_priority FROM tickets WHERE id = $M")" "20:20" \
	"#priority 20: 20 right after, the new base"
got=
for s in $((189 * 60)) $((190 * 60)); do
	at $((C0 + s))
	got="$got $(prio $R)/$(prio $M)"
done
is "$got" " 60/20 60/25" "59 minutes after the change still 20, one full period after 25; the answered one stays"
customer esc mike $M
at $((C0 + 290 * 60))
is "$(q "SELECT kind FROM messages WHERE ticket_id = $M AND direction = 'in' ORDER BY id DESC LIMIT 1")" \
	customer "a customer's second mail on the unanswered ticket"
at $((C0 + 5 * H))
is "$(status $R):$(prio $R)" "answered:60" "answered: still 60 three hours later"
customer esc rita $R
at $((C0 + 6 * H))
is "$(status $R):$(prio $R)" "reopened:60" "the customer writes again at +6h: reopened, 60"
is "$(prio $M)" 35 "the second mail did not restart the clock (20 + 3 periods since the change)"
at $((C0 + 419 * 60))
is "$(prio $R)" 60 "59 minutes after the customer's mail: 60"
at $((C0 + 7 * H))
is "$(prio $R)" 65 "one period after it: growing again from 60"
is "$(pevents $R)" "ticketd:50>60
ticketd:60>65" "the answered ticket's priority events"
is "$(pevents $M)" "ticketd:50>60
alice:60>20
ticketd:20>25
ticketd:25>30
ticketd:30>35
ticketd:35>40" "the rebased ticket's priority events"

# --- 6, 7, 8: auto-close and its response ------------------------------
D0=$(epoch 2026-07-01T10:00:00Z)
customer close0 zoe
customer close7 sam
customer close7 val
customer never nat
customer quiet quinn
at $D0
Z=$(tid zoe)
S=$(tid sam)
V=$(tid val)
NV=$(tid nat)
QT=$(tid quinn)
for t in $Z $S $V $NV $QT; do
	qn=$(q "SELECT q.name FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.id = $t")
	staff "$qn" $t "Done, see you."
done
at $((D0 + H))
is "$(status $Z)" closed "autoclose = 0: closed in the cycle of the answer"
is "$(q "SELECT string_agg(actor || ':' || old || '>' || new, ',' ORDER BY id) FROM events WHERE ticket_id = $Z AND type = 'status'")" \
	"alice:new>answered,ticketd:answered>closed" "... the close is a status event by ticketd"
is "$(closed_rows $Z)" 1 "... one closed-ticket response"
is "$(q "SELECT o.recipient || '|' || o.envelope_from || '|' || m.subject || '|' || o.status FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.ticket_id = $Z AND m.body LIKE '%has been closed%'")" \
	"zoe@customer.example||[Ticket#$Z] help zoe|sent" \
	"... to the requestor, null sender, the tag in its subject, sent"
q "SELECT convert_from(o.raw, 'UTF8') FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.ticket_id = $Z AND m.body LIKE '%has been closed%'" >"$T/closed.eml"
grep -q "^Auto-Submitted: auto-replied" "$T/closed.eml" && grep -q "^Subject: \[Ticket#$Z\] help zoe" "$T/closed.eml"
ok $? "... its raw says Auto-Submitted: auto-replied"
# threaded to the answer the customer got (not to the staff mail that
# came in, nor to a notification)
is "$(tr -d '\r' <"$T/closed.eml" | sed -n 's/^In-Reply-To: <\(.*\)>$/\1/p')" \
	"$(q "SELECT message_id FROM messages WHERE ticket_id = $Z AND direction = 'out' AND kind = 'staff-answer'")" \
	"... In-Reply-To the staff answer the customer received"
is "$(q "SELECT count(*) FROM outbox WHERE ticket_id = $Z AND kind = 'auto-response'")" 2 \
	"... the only auto-response besides the new-ticket one"
is "$(status $QT):$(closed_rows $QT):$(q "SELECT count(*) FROM outbox WHERE ticket_id = $QT AND kind = 'auto-response'")" \
	"closed:0:1" "closed_response = false: closed, no closed-ticket response"
is "$(status $S) $(status $V) $(status $NV)" "answered answered answered" "7d and -1: answered"
again $((D0 + H)) "after a close"
is "$(closed_rows $Z)" 1 "no second closed-ticket response"

# the customer's vacation reply after the answer
n_mail=$((n_mail + 1))
printf 'From: val <val@customer.example>\nTo: close7@example.com\nSubject: Out of office: Re: [Ticket#%s] help val\nMessage-ID: <vac%d@customer.example>\nAuto-Submitted: auto-replied\n\nI am away.\n' \
	"$V" $n_mail | deliver close7 vac$n_mail
at $((D0 + 2 * H))
is "$(q "SELECT kind FROM messages WHERE ticket_id = $V AND direction = 'in' ORDER BY id DESC LIMIT 1"):$(status $V)" \
	"automatic:answered" "a vacation reply is automatic mail and leaves the ticket answered"
customer close0 zoe $Z
at $((D0 + 3 * H))
is "$(status $Z)" reopened "a customer's reply on the auto-closed ticket reopens it"
is "$(q "SELECT actor || ':' || old || '>' || new FROM events WHERE ticket_id = $Z AND type = 'status' ORDER BY id DESC LIMIT 1")" \
	"zoe@customer.example:closed>reopened" "... a status event by the customer"
at $((D0 + H + 7 * D - 60))
is "$(status $S) $(status $V)" "answered answered" "7d: still answered at answer + 6d23h59m"
at $((D0 + H + 7 * D))
is "$(status $S) $(status $V)" "closed closed" "7d: closed at answer + 7d"
is "$(q "SELECT count(*) FROM events WHERE ticket_id IN ($S, $V) AND type = 'status' AND actor = 'ticketd' AND old = 'answered' AND new = 'closed' AND at = '$(iso $((D0 + H + 7 * D)))'")" \
	2 "... each by ticketd, at that now"
is "$(closed_rows $S):$(closed_rows $V)" "1:0" \
	"a closed-ticket response, but none when the latest incoming mail was automatic"
again $((D0 + H + 7 * D)) "after the 7d close"
is "$(closed_rows $S)" 1 "still one closed-ticket response"
at $((D0 + 365 * D))
is "$(status $NV)" answered "autoclose = -1: still answered a year later"
is "$(q "SELECT count(*) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.body LIKE '%has been closed%'")" \
	2 "two closed-ticket responses in all"

# --- 10: two daemons at one now; a session holding the timers' lock ----
E0=$(epoch 2027-08-01T10:00:00Z)
i=1
while [ $i -le 200 ]; do
	customer bulk "b$i"
	i=$((i + 1))
done
at $E0
BULK="SELECT t.id FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE q.name = 'bulk'"
is "$(q "SELECT count(*) FROM ($BULK) b")" 200 "200 tickets in the bulk queue"
i=1
while [ $i -le 200 ]; do
	staff bulk "$(tid "b$i")" "Answer $i."
	i=$((i + 2))
done
at $((E0 + H))
is "$(q "SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (SELECT status, count(*) n FROM tickets WHERE id IN ($BULK) GROUP BY status) s")" \
	"answered:100,new:100" "100 answered, 100 waiting"
NOW8=$(iso $((E0 + 8 * D)))
"$TICKETD" -c "$T/ticketd.conf" --once --now="$NOW8" 2>"$T/d1.log" &
p1=$!
"$TICKETD" -c "$T/ticketd.conf" --once --now="$NOW8" 2>"$T/d2.log" &
p2=$!
MINE="$p1 $p2"
wait $p1
r1=$?
wait $p2
r2=$?
MINE=
is "$r1:$r2" "0:0" "two ticketd --once at the same now, side by side"
is "$(q "SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (SELECT status, count(*) n FROM tickets WHERE id IN ($BULK) GROUP BY status) s")" \
	"closed:100,new:100" "the answered ones closed, the others open"
is "$(q "SELECT count(*) || '/' || count(DISTINCT ticket_id) FROM events WHERE ticket_id IN ($BULK) AND type = 'status' AND new = 'closed' AND actor = 'ticketd'")" \
	"100/100" "each answered ticket closed exactly once"
is "$(q "SELECT count(*) || '/' || count(DISTINCT ticket_id) || '/' || string_agg(DISTINCT old || '>' || new, ',') FROM events WHERE ticket_id IN ($BULK) AND type = 'priority' AND at = '$NOW8'")" \
	"100/100/55>99" "each waiting ticket escalated exactly once (55 to the cap)"
is "$(q "SELECT count(*) || '/' || count(DISTINCT o.ticket_id) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.ticket_id IN ($BULK) AND m.body LIKE '%has been closed%'")" \
	"100/100" "one closed-ticket response per close"
cat "$T/d1.log" "$T/d2.log" >"$T/d12.log"
! grep -qi "error\|warning" "$T/d12.log"
ok $? "no error or warning in either daemon's log"
is "$(grep -c "timers: [0-9]* looked at, 100 escalated, 0 escalation notices, 100 closed, 100 closed-ticket responses" "$T/d12.log")" \
	1 "one of them swept, once"
echo "# the other: $(grep -h "timers:" "$T/d1.log" "$T/d2.log" | grep -v "looked at" || echo "found nothing due")"
again $((E0 + 8 * D)) "after the two daemons"

E9=$((E0 + 9 * D))
customer bulk lena
at $E9
L=$(tid lena)
mkfifo "$T/lock.fifo"
"$PG_BINDIR/psql" -X -q -A -t -h "$PGDIR" -U ticketd -d tickets <"$T/lock.fifo" >"$T/lock.out" 2>&1 &
holder=$!
MINE=$holder
exec 3>"$T/lock.fifo"
echo "SELECT pg_advisory_lock(1952740461, 0);" >&3
LOCKS="SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1952740461 AND objid = 0 AND objsubid = 2 AND granted"
for _ in $(seq 1 100); do [ "$(q "$LOCKS")" = 1 ] && break; sleep 0.05; done
is "$(q "$LOCKS")" 1 "a psql session holds the timers' lock"
dump >"$T/before"
"$TICKETD" -c "$T/ticketd.conf" --once --now="$(iso $((E9 + 2 * H)))" 2>"$T/locked.log"
is "$?:$(grep "timers:" "$T/locked.log")" "0:ticketd: info: timers: another ticketd is sweeping; skipped" \
	"the sweep is skipped, and says so"
dump >"$T/after"
cmp -s "$T/before" "$T/after"
ok $? "... and changes nothing"
is "$(prio $L)" 50 "... the due ticket keeps 50"
kill $holder
wait $holder 2>/dev/null # (killed: no "Terminated" from the shell)
exec 3>&-
MINE=
for _ in $(seq 1 100); do [ "$(q "$LOCKS")" = 0 ] && break; sleep 0.05; done
is "$(q "$LOCKS")" 0 "the holder is gone, and its lock"
"$TICKETD" -c "$T/ticketd.conf" --once --now="$(iso $((E9 + 2 * H)))" 2>"$T/unlocked.log"
grep -q "timers: [0-9]* looked at, 1 escalated" "$T/unlocked.log"
ok $? "the next run sweeps"
is "$(prio $L):$(pevents $L)" "60:ticketd:50>60" "... and does the work: 60"

# A customer's mail taken by one daemon while another's sweep escalates
# the ticket: the sweep holds the ticket (FOR UPDATE) and is held up in
# its escalation notice; the intake reads the ticket meanwhile and waits
# for the sweep to commit.  The traffic light: a psql session's
# uncommitted messages rows with the ids the two inserts will draw.
G0=$(epoch 2027-09-01T10:00:00Z)
customer notice wanda
at $G0
WT=$(tid wanda)
at $((G0 + H))
is "$(prio $WT)" 55 "a ticket at 55, one step under notify_at"
"$PG_BINDIR/psql" -X -q -A -t -h "$PGDIR" -U ticketd -d tickets <"$T/lock.fifo" >"$T/light.out" 2>&1 &
light=$!
MINE=$light
exec 3>"$T/lock.fifo"
echo "BEGIN; INSERT INTO messages (id, ticket_id, direction, kind, created) SELECT last_value + g, $QT, 'in', 'customer', now() FROM messages_id_seq, generate_series(1, 20) g;" >&3
for _ in $(seq 1 100); do [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")" = 1 ] && break; sleep 0.05; done
WAITING="SELECT a.application_name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted"
PGAPPNAME=sweeper "$TICKETD" -c "$T/ticketd.conf" --once --now="$(iso $((G0 + 2 * H)))" 2>"$T/sweeper.log" &
sw=$!
MINE="$light $sw"
for _ in $(seq 1 100); do q "$WAITING" | grep -q sweeper && break; sleep 0.05; done
customer notice wanda $WT
PGAPPNAME=intaker "$TICKETD" -c "$T/ticketd.conf" --once --now="$(iso $((G0 + 2 * H)))" 2>"$T/intaker.log" &
ip=$!
MINE="$light $sw $ip"
for _ in $(seq 1 100); do q "$WAITING" | grep -q intaker && break; sleep 0.05; done
echo "ROLLBACK;" >&3
wait $sw
r1=$?
wait $ip
r2=$?
echo '\q' >&3
exec 3>&-
wait $light
MINE=
is "$r1:$r2:$(notices $WT)" "0:0:alice@example.com:60" "the sweep escalated it to 60 and sent the notice"
is "$(q "SELECT priority || '|' || base_priority || '|' || to_char(escalate_from AT TIME ZONE 'UTC', 'HH24:MI') FROM tickets WHERE id = $WT")" \
	"60|50|10:00" "the customer's mail taken meanwhile keeps the escalation and the clock"
is "$(prio $WT)" "$(q "SELECT new FROM events WHERE ticket_id = $WT AND type = 'priority' ORDER BY id DESC LIMIT 1")" \
	"... the priority is its last priority event's"

# --- 11: SIGHUP brings step 10 into the next sweep ----------------------
# ticketd -f honours --now in its loop: every cycle sweeps at that now.
F0=$(epoch 2027-10-01T10:00:00Z)
customer hup hugo
at $F0
HG=$(tid hugo)
"$TICKETD" -c "$T/ticketd.conf" -f --now="$(iso $((F0 + 2 * H)))" 2>"$T/fg.log" &
fg=$!
MINE=$fg
for _ in $(seq 1 100); do [ "$(prio $HG)" = 60 ] && break; sleep 0.1; done
is "$(prio $HG)" 60 "the daemon's loop at +2h: step 5, 60"
q "SELECT id, priority FROM tickets WHERE id <> $HG ORDER BY id" >"$T/others.before"
timers_conf 10
kill -HUP $fg
for _ in $(seq 1 100); do [ "$(prio $HG)" = 70 ] && break; sleep 0.1; done
is "$(prio $HG)" 70 "after SIGHUP with step 10: 70 at the same now"
grep -q "reloaded $T/ticketd.conf" "$T/fg.log"
ok $? "the daemon logged the reload"
is "$(pevents $HG)" "ticketd:50>60
ticketd:60>70" "one priority event per change"
q "SELECT id, priority FROM tickets WHERE id <> $HG ORDER BY id" >"$T/others.after"
cmp -s "$T/others.before" "$T/others.after"
ok $? "the other queues' tickets keep their priorities"
kill -TERM $fg
wait $fg
is $? 0 "the daemon stops cleanly"
MINE=
! grep -qi "error\|warning" "$T/fg.log"
ok $? "no error or warning in its log"

# --- ticketctl priority: a manual change, the new base -------------------
P0=$(epoch 2027-11-01T10:00:00Z)
customer esc pia
at $P0
PT=$(tid pia)
at $((P0 + 3 * H))
is "$(prio $PT)" 65 "three hours unanswered: 65"
"$TICKETCTL" -c "$T/ticketd.conf" --now="$(iso $((P0 + 3 * H + 600)))" priority "$PT" 20 >/dev/null
is $? 0 "ticketctl priority N 20"
is "$(q "SELECT priority || '|' || base_priority || '|' || escalate_from FROM tickets WHERE id = $PT")" \
	"20|20|2027-11-01 13:10:00+00" "... 20, the new base, the clock restarted at the change"
is "$(pevents $PT | tail -n 1)" "ticketctl:65>20" "... a priority event by ticketctl"
at $((P0 + 4 * H))
is "$(prio $PT)" 20 "50 minutes after the change: still 20"
at $((P0 + 4 * H + 600))
is "$(prio $PT)" 25 "one full period after the change: 25"
"$TICKETCTL" -c "$T/ticketd.conf" --as alice --now="$(iso $((P0 + 5 * H)))" priority "$PT" 40 >/dev/null
is "$(pevents $PT | tail -n 1)" "alice:25>40" "--as alice: the event is hers"
"$TICKETCTL" -c "$T/ticketd.conf" priority "$PT" 100 2>/dev/null
is $? 64 "priority 100: a usage error"
"$TICKETCTL" -c "$T/ticketd.conf" priority 999999 50 2>/dev/null
is $? 65 "no such ticket: 65"
is "$(prio $PT)" 40 "... and neither changed anything"

done_testing
