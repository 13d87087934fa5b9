#!/bin/sh
# The programs as an admin runs them: ticketd -t, the forever loop with
# SIGHUP and SIGTERM, make install with DESTDIR.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null
is $? 0 "ticketd -t accepts a valid config"
sed 's/priority = 50;/priority = 500; colour = "red";/' "$T/ticketd.conf" >"$T/bad.conf"
line=$(grep -n 'colour' "$T/bad.conf" | cut -d: -f1)
"$TICKETD" -t -c "$T/bad.conf" >/dev/null 2>"$T/bad.err"
is $? 78 "ticketd -t rejects a bad config with 78 (EX_CONFIG)"
grep -q "bad.conf:$line:" "$T/bad.err"
ok $? "the error names the file and line"
grep -q "priority" "$T/bad.err" && grep -q "colour" "$T/bad.err"
ok $? "every error of the file is reported in one run"
"$TICKETD" -c "$T/ticketd.conf" -t >/dev/null
is $? 0 "ticketd -c FILE -t (either order)"
"$TICKETD" -t -c "$T/ticketd.conf" extra >/dev/null 2>&1
is $? 64 "an unexpected argument is a usage error"
"$TICKETD" -t -c "$T/missing.conf" >/dev/null 2>&1
is $? 78 "a missing config is EX_CONFIG"

# The forever loop: picks up mail while running, reloads on SIGHUP (and
# keeps the old config when the new one is bad), stops on SIGTERM.
"$TICKETD" -f -c "$T/ticketd.conf" 2>"$T/daemon.log" &
pid=$!
deliver support loop1 <<'MAIL'
From: frank@customer.example
To: support@example.com
Subject: while running
Message-ID: <loop1@customer.example>

Hello.
MAIL
for _ in $(seq 1 100); do
	[ "$(psql_q "SELECT count(*) FROM tickets")" = 1 ] && break
	sleep 0.1
done
is "$(psql_q "SELECT count(*) FROM tickets")" 1 "the running daemon picks up new mail"
cp "$T/ticketd.conf" "$T/good.conf"
cp "$T/bad.conf" "$T/ticketd.conf"
kill -HUP $pid
sleep 0.5
kill -0 $pid 2>/dev/null
ok $? "a bad config on SIGHUP does not stop the daemon"
grep -q "keeping the running config" "$T/daemon.log"
ok $? "and says it keeps the running config"
cp "$T/good.conf" "$T/ticketd.conf"
kill -HUP $pid
sleep 0.5
grep -q "reloaded" "$T/daemon.log"
ok $? "a good config is reloaded on SIGHUP"
kill -TERM $pid
wait $pid
is $? 0 "SIGTERM stops it cleanly (exit 0)"

# ticketctl: global options before or after the command, every format,
# and options in the wrong place refused with 64.
"$TICKETCTL" -c "$T/ticketd.conf" list >"$T/l1.out"
is $? 0 "ticketctl -c FILE list"
"$TICKETCTL" list -c "$T/ticketd.conf" >"$T/l2.out"
is $? 0 "ticketctl list -c FILE"
grep -q "while running" "$T/l1.out" && cmp -s "$T/l1.out" "$T/l2.out"
ok $? "both orders print the same listing"
"$TICKETCTL" --format=json -c "$T/ticketd.conf" list --queue support >"$T/l3.json"
grep -q '"subject": "while running"' "$T/l3.json"
ok $? "--format before the command, --queue after it"
"$TICKETCTL" -c "$T/ticketd.conf" list --format=csv >"$T/l.csv"
is $? 0 "ticketctl list --format=csv"
is "$(head -n 1 "$T/l.csv" | tail -c 2 | od -An -tx1 | tr -d ' ')" 0d0a "CSV lines end in CRLF"
grep -q '^id,queue,status,priority,subject,requestor,assignee,sticky,created,updated' "$T/l.csv" &&
	grep -q '^1,support,new,50,while running,frank@customer.example,,false,' "$T/l.csv"
ok $? "the CSV has the header and the ticket"
"$TICKETCTL" -c "$T/ticketd.conf" failed list --format=csv >"$T/f.csv"
is "$(cat "$T/f.csv")" "$(printf 'id,source,uid,received,size,reason\r')" "failed list --format=csv (empty)"
"$TICKETCTL" show 1 -c "$T/ticketd.conf" --format=json >"$T/s.json"
is $? 0 "ticketctl show 1 -c FILE --format=json"
if command -v python3 >/dev/null; then
	python3 - "$T/s.json" "$T/l.csv" <<'PY'
import csv, json, sys
t = json.load(open(sys.argv[1]))
need = ["id", "queue", "status", "priority", "subject", "requestor", "assignee", "sticky",
        "created", "updated", "cc", "tags", "messages", "events"]
assert all(k in t for k in need), [k for k in need if k not in t]
assert t["id"] == 1 and t["assignee"] is None and t["sticky"] is False
m = t["messages"][0]
assert all(k in m for k in ["id", "direction", "kind", "from", "to", "subject", "text",
                            "message_id", "created"]), m
assert m["text"].startswith("Hello.") and m["direction"] == "in"
e = t["events"][0]
assert all(k in e for k in ["at", "actor", "type", "old", "new"]), e
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(rows) == 1 and rows[0]["subject"] == "while running", rows
PY
	ok $? "show JSON has the fields of DESIGN 5; the CSV reads back with a CSV parser"
fi
"$TICKETCTL" -c "$T/ticketd.conf" show 1 >"$T/s.txt"
grep -q '^subject    while running' "$T/s.txt" && grep -q '^--- message 1' "$T/s.txt" &&
	grep -q '^--- events' "$T/s.txt"
ok $? "show 1 as a table has the fields, the message and the events"
"$TICKETCTL" -c "$T/ticketd.conf" --queue support list >/dev/null 2>"$T/e1"
is $? 64 "a command's option before the command is a usage error"
grep -q "after the command" "$T/e1"
ok $? "and says where it goes"
"$TICKETCTL" -c "$T/ticketd.conf" show 1 --all >/dev/null 2>"$T/e2"
is $? 64 "an option the command does not take is a usage error"
grep -q "show has no --all option" "$T/e2"
ok $? "and names it"
"$TICKETCTL" -c "$T/ticketd.conf" --format=json db migrate >/dev/null 2>&1
is $? 64 "--format for db migrate is a usage error"
"$TICKETCTL" -c "$T/ticketd.conf" list --format=xml >/dev/null 2>&1
is $? 64 "an unknown format is a usage error"
"$TICKETCTL" -c "$T/ticketd.conf" list --bogus >/dev/null 2>&1
is $? 64 "an unknown option is a usage error"
"$TICKETCTL" -c "$T/ticketd.conf" frobnicate >/dev/null 2>&1
is $? 64 "an unknown command is a usage error"

# A queue that still has tickets cannot silently leave the config.
cat >"$T/noqueue.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { secret_file = "$T/secret"; };
transport = { url = "maildir:$T/outgoing"; };
staff = ( { login = "alice"; name = "Alice"; email = "alice@example.com"; role = "admin";
            queues = [ "billing" ]; } );
queues = ( { name = "billing"; address = "billing@example.com";
             mailbox = { url = "maildir:$T/mail/billing"; }; } );
CONF
"$TICKETD" -c "$T/noqueue.conf" --once 2>"$T/noqueue.log"
is $? 78 "ticketd --once exits with EX_CONFIG"
grep -q "queue 'support' is no longer in the config but still has 1 tickets" "$T/noqueue.log"
ok $? "a queue removed from the config while it has tickets is an error naming it"

# make install honours DESTDIR.
make -s -C "$TOP" install DESTDIR="$T/destdir" prefix=/usr sysconfdir=/etc >/dev/null 2>&1
ok $? "make install DESTDIR=..."
for f in usr/sbin/ticketd usr/bin/ticketctl etc/ticketd/ticketd.conf.example \
	usr/share/man/man8/ticketd.8 usr/share/man/man1/ticketctl.1 usr/share/man/man5/ticketd.conf.5; do
	[ -f "$T/destdir/$f" ]
	ok $? "installed $f"
done
done_testing
