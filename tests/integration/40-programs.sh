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
