#!/bin/sh
# demo.sh - ticketd on its embedded default: a private PostgreSQL cluster
# under a state directory, Maildir queues "support" and "billing", a few
# customer messages, one `ticketd --once`, then the tickets and the
# auto-responses it wrote.  Each run starts from a fresh database.
#   contrib/demo.sh         run the demo (leaves the cluster running)
#   contrib/demo.sh stop    stop the demo's cluster
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
: "${PG_BINDIR:=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The state directory: _demo/ in the checkout, unless the postgres user
# cannot reach it there (a checkout under /root): then /var/tmp.
STATE=${TICKETD_DEMO_DIR:-$TOP/_demo}
mkdir -p "$STATE"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
	STATE=/var/tmp/ticketd-demo
	mkdir -p "$STATE"
fi
chmod 755 "$STATE"
PGDIR="$STATE/pg"
CONF="$STATE/ticketd.conf"

pg_running() { [ -f "$PGDIR/data/postmaster.pid" ] && as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; }

if [ "${1:-}" = stop ]; then
	pg_running && as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -w -s stop
	exit 0
fi

if [ ! -d "$PGDIR/data" ]; then
	echo "== creating a private PostgreSQL cluster in $PGDIR"
	mkdir -p "$PGDIR"
	[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR"
	as_postgres "$PG_BINDIR/initdb" -D "$PGDIR/data" -U ticketd --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$STATE/initdb.log"
fi
if ! pg_running; then
	as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -s \
		-o "-c listen_addresses='' -c unix_socket_directories='$PGDIR'" start
fi
as_postgres "$PG_BINDIR/dropdb" -h "$PGDIR" -U ticketd --if-exists tickets
as_postgres "$PG_BINDIR/createdb" -h "$PGDIR" -U ticketd tickets

rm -rf "$STATE/mail" "$STATE/outgoing"
for q in support billing; do mkdir -p "$STATE/mail/$q/new" "$STATE/mail/$q/cur" "$STATE/mail/$q/tmp"; done
[ -s "$STATE/secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/secret"
chmod 600 "$STATE/secret"
cat >"$CONF" <<CONF
# Written by contrib/demo.sh: the embedded default.
database = { conninfo = "host=$PGDIR dbname=tickets user=ticketd"; };
daemon = { poll_interval = "60s"; tag = "Ticket"; secret_file = "secret"; };
transport = { url = "maildir:outgoing"; };
staff = ( { login = "admin"; name = "Demo Admin"; email = "admin@example.com";
            role = "admin"; queues = [ "support", "billing" ]; } );
queues = (
  { name = "support"; address = "support@example.com"; default = true;
    mailbox = { url = "maildir:mail/support"; }; },
  { name = "billing"; address = "billing@example.com"; priority = 60;
    mailbox = { url = "maildir:mail/billing"; }; }
);
CONF

drop() { # drop QUEUE NAME < message
	cat >"$STATE/mail/$1/tmp/$2"
	mv "$STATE/mail/$1/tmp/$2" "$STATE/mail/$1/new/$2"
}
drop support 1000000001.demo1 <<'MAIL'
From: Carol Customer <carol@customer.example>
To: support@example.com
Subject: My website is down
Message-ID: <demo1@customer.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000

Hello, since this morning www.customer.example shows an error 502.
Can you have a look?  Carol
MAIL
printf 'From: =?ISO-8859-1?Q?Andr=E9_M=FCller?= <andre@kunde.example>\nTo: support@example.com\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\nMessage-ID: <demo2@kunde.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: 8bit\n\nDas Men\374 ist leer, bitte pr\374fen.\n' | drop support 1000000002.demo2
drop support 1000000003.demo3 <<'MAIL'
From: Carol Customer <carol@customer.example>
To: support@example.com
Subject: Re: [Ticket#1] My website is down
Message-ID: <demo3@customer.example>
Date: Mon, 23 Nov 2026 09:30:00 +0000

It is back up, thanks!  You can close this.
MAIL
drop billing 1000000004.demo4 <<'MAIL'
From: Dave Payer <dave@customer.example>
To: billing@example.com
Subject: Invoice 2026-11 looks wrong
Message-ID: <demo4@customer.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Hi,</p><p>invoice <b>2026-11</b> charges us twice &ndash; see
<a href="https://customer.example/inv">our copy</a>.</p></body></html>
MAIL
drop billing 1000000005.demo5 <<'MAIL'
From: dave@customer.example
To: billing@example.com
Subject: Automatic reply: [Ticket#3] Invoice 2026-11 looks wrong
Message-ID: <demo5@customer.example>
Auto-Submitted: auto-replied

I am out of the office until Monday.
MAIL

cd "$STATE"
echo "== ticketctl db migrate"
"$TOP/daemon/ticketctl" -c "$CONF" db migrate
echo "== ticketd --once"
"$TOP/daemon/ticketd" -c "$CONF" --once
echo "== ticketctl list"
"$TOP/daemon/ticketctl" -c "$CONF" list
for f in "$STATE"/outgoing/new/*; do
	[ -f "$f" ] || continue
	echo "== auto-response in $f"
	cat "$f"
done
echo "== the demo's state is in $STATE; try: daemon/ticketctl -c $CONF show 1"
echo "== stop its PostgreSQL with: contrib/demo.sh stop"
