#!/bin/sh
# Staff on a real PostgreSQL (lib/staff.c): the config's staff mirrored
# into staff and staff_queues, ticketctl --as for each role, and the
# least-loaded choice with its lock (tests/probe-staff.c).
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config
mkdir -p "$T/mail/sales/new" "$T/mail/sales/cur" "$T/mail/sales/tmp"

# staff_conf [DAVE]: alice admin of support+billing (support is the
# default queue), bob support of support, carol support of billing, and
# dave (unavailable) unless DAVE is "no".
staff_conf() {
	dave='{ login = "dave"; name = "Dave Hill"; email = "dave@example.com";
            role = "support"; queues = [ "support" ]; available = false; }'
	[ "${1:-}" = no ] && dave=
	cat >"$T/ticketd.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; secret_file = "$T/secret"; };
transport = { url = "maildir:$T/outgoing"; };
staff = (
  { login = "alice"; name = "Alice Woods"; email = "alice@example.com"; role = "admin";
    description = "senior engineer"; queues = [ "support", "billing" ]; },
  { login = "bob"; name = "Bob Stone"; email = "bob@example.com"; role = "support";
    queues = [ "support" ]; },
  { login = "carol"; name = "Carol King"; email = "carol@example.com"; role = "support";
    queues = [ "billing" ]; }${dave:+,
  $dave}
);
queues = (
  { name = "support"; address = "support@example.com"; default = true;
    mailbox = { url = "maildir:$T/mail/support"; }; },
  { name = "billing"; address = "billing@example.com";
    mailbox = { url = "maildir:$T/mail/billing"; }; },
  { name = "sales"; address = "sales@example.com";
    mailbox = { url = "maildir:$T/mail/sales"; }; }
);
CONF
}
staff_conf

"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null
is $? 0 "ticketctl db migrate"
is "$(psql_q "SELECT max(version) FROM schema_version")" 8 "schema at 008"

# Tickets 1..6, one run each so that their numbers are known.
n=0
for q in support support billing sales sales billing; do
	n=$((n + 1))
	deliver $q m$n <<MAIL
From: customer$n@customer.example
To: $q@example.com
Subject: request $n
Message-ID: <m$n@customer.example>

Hello.
MAIL
	run_once
done
is "$(psql_q "SELECT string_agg(id || ':' || subject, ',' ORDER BY id) FROM tickets")" \
	"1:request 1,2:request 2,3:request 3,4:request 4,5:request 5,6:request 6" \
	"six tickets by mail"

# The mirror (staff_sync, after queue_sync) of the config's staff.
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >"$T/sync1" 2>&1
is $? 0 "staff_sync"
rows="SELECT string_agg(concat_ws(' ', login, name, email, role, description, available,
	active, (SELECT coalesce(string_agg(q.name, '+' ORDER BY q.name), '-') FROM staff_queues sq
	JOIN queues q ON q.id = sq.queue_id WHERE sq.staff_id = s.id)), ',' ORDER BY login)
	FROM staff s"
want="alice Alice Woods alice@example.com admin senior engineer t t billing+support,bob Bob Stone bob@example.com support  t t support,carol Carol King carol@example.com support  t t billing,dave Dave Hill dave@example.com support  f t support"
is "$(psql_q "$rows")" "$want" "staff rows as the config says"
is "$(psql_q "SELECT string_agg(login || ' ' || id, ',' ORDER BY login) FROM staff")" \
	"$(sort "$T/sync1" | paste -sd, -)" "staff_sync's ids are the rows' ids"

# Nothing changed: nothing written (the rows keep their xmin).
before=$(psql_q "SELECT string_agg(xmin::text, ',' ORDER BY id) FROM staff")
qbefore=$(psql_q "SELECT string_agg(xmin::text, ',' ORDER BY staff_id, queue_id) FROM staff_queues")
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >/dev/null
is "$(psql_q "SELECT string_agg(xmin::text, ',' ORDER BY id) FROM staff")" "$before" \
	"a second sync with the same config writes no staff row"
is "$(psql_q "SELECT string_agg(xmin::text, ',' ORDER BY staff_id, queue_id) FROM staff_queues")" \
	"$qbefore" "nor any entitlement"

# A change of entitlement and availability is written.
sed -i 's/queues = \[ "billing" \]; }/queues = [ "billing", "sales" ]; available = false; }/' \
	"$T/ticketd.conf"
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >/dev/null
is "$(psql_q "SELECT concat_ws(' ', available, (SELECT string_agg(q.name, '+' ORDER BY q.name)
	FROM staff_queues sq JOIN queues q ON q.id = sq.queue_id WHERE sq.staff_id = s.id))
	FROM staff s WHERE login = 'carol'")" "f billing+sales" "carol: a new queue, unavailable"
staff_conf
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >/dev/null
is "$(psql_q "SELECT concat_ws(' ', available, (SELECT string_agg(q.name, '+' ORDER BY q.name)
	FROM staff_queues sq JOIN queues q ON q.id = sq.queue_id WHERE sq.staff_id = s.id))
	FROM staff s WHERE login = 'carol'")" "t billing" "carol: back as she was"

# A member gone from the config is kept, inactive; back, active again.
staff_conf no
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >/dev/null
is "$(psql_q "SELECT string_agg(login || ' ' || active, ',' ORDER BY login) FROM staff")" \
	"alice true,bob true,carol true,dave false" "dave gone from the config: active = false, row kept"
staff_conf
"$TOP/tests/probe-staff" "$CONNINFO" "$T/ticketd.conf" >/dev/null
is "$(psql_q "SELECT string_agg(login || ' ' || active, ',' ORDER BY login) FROM staff")" \
	"alice true,bob true,carol true,dave true" "dave back in the config: active again"

# Assignees set directly (the assign commands come with the ticket module).
psql_q "UPDATE tickets SET assignee_id = (SELECT id FROM staff WHERE login = 'bob'),
	status = 'assigned' WHERE id IN (2, 6);
	UPDATE tickets SET assignee_id = (SELECT id FROM staff WHERE login = 'carol'),
	status = 'assigned' WHERE id = 3;
	UPDATE tickets SET assignee_id = (SELECT id FROM staff WHERE login = 'alice'),
	status = 'assigned' WHERE id = 5;" >/dev/null

ctl() { "$TICKETCTL" -c "$T/ticketd.conf" "$@"; }
# table_ids/json_ids [--as LOGIN]: the ticket ids `list` prints, from its
# table and from its JSON.
table_ids() {
	ctl "$@" list | awk 'NR > 1 { print $1 }' | paste -sd, -
}
json_ids() {
	ctl "$@" list --format=json |
		python3 -c 'import json, sys; print(",".join(str(t["id"]) for t in json.load(sys.stdin)))'
}
for who in "" alice bob carol dave; do
	case $who in
	"") want=1,2,3,4,5,6; as= ;;
	alice) want=1,2,3,5,6; as="--as alice" ;; # support, billing, and her own in sales
	bob) want=2,6; as="--as bob" ;;           # his own, one of them in billing
	carol) want=3; as="--as carol" ;;
	dave) want=; as="--as dave" ;;
	esac
	# ORDER: priority then id; all have the default 50
	# shellcheck disable=SC2086
	is "$(table_ids $as)" "$want" "list ${as:-(everything)}: table"
	# shellcheck disable=SC2086
	is "$(json_ids $as)" "$want" "list ${as:-(everything)}: json"
done
is "$(ctl list --as alice --queue sales | awk 'NR > 1 { print $1 }' | paste -sd, -)" 5 \
	"--as after the command, with --queue: alice sees only her own in sales"
psql_q "UPDATE tickets SET status = 'resolved' WHERE id = 6" >/dev/null
is "$(table_ids --as bob)" 2 "bob: his resolved ticket leaves the list"
is "$(ctl --as bob list --all | awk 'NR > 1 { print $1 }' | paste -sd, -)" 2,6 \
	"bob: --all brings it back"

ctl --as bob show 2 --format=json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' \
	>"$T/show.out"
is "$(cat "$T/show.out")" 2 "bob: show of his own ticket"
ctl --as bob show 1 >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/out")" "65:" "bob: show of a ticket not his: 65, nothing printed"
is "$(cat "$T/err")" "ticketctl: no ticket 1" "bob: said as for a ticket that does not exist"
ctl --as bob show 99 2>"$T/err99"
is "$?:$(cat "$T/err99")" "65:ticketctl: no ticket 99" "bob: a ticket that does not exist"
ctl --as alice show 4 >/dev/null 2>&1
is $? 65 "alice: a sales ticket not hers is hidden"
ctl --as alice show 5 >/dev/null
is $? 0 "alice: her own sales ticket"
ctl --as carol show 3 --format=csv | head -n 1 >/dev/null
is $? 0 "carol: her own"
ctl show 4 >/dev/null
is $? 0 "without --as: every ticket"

ctl --as bob failed list >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/out")" "77:" "failed list refused to support staff (EX_NOPERM)"
is "$(cat "$T/err")" "ticketctl: failed list: bob is support staff; only admins see failed messages" \
	"and says why"
ctl --as alice failed list >/dev/null
is $? 0 "failed list for an admin"
ctl --as mallory list >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/out")" "67:" "an unknown login: EX_NOUSER"
is "$(cat "$T/err")" "ticketctl: --as: no staff member has the login mallory in $T/ticketd.conf" \
	"and names it"

# The least-loaded choice and its lock, on data of its own.
psql_q "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1
# (its TAP renumbered into ours)
"$TOP/tests/probe-staff" "$CONNINFO" >"$T/probe.tap"
while IFS= read -r line; do
	case $line in
	ok*) ok 0 "least-loaded: ${line#ok * - }" ;;
	"not ok"*) ok 1 "least-loaded: ${line#not ok * - }" ;;
	"1.."*) ;;
	*) echo "$line" ;;
	esac
done <"$T/probe.tap"
is "$(grep -c '^ok' "$T/probe.tap")" 13 "the probe ran all its 13 checks"

done_testing
