# tests/lib.sh - shared by the integration tests (TAP shell scripts):
# a private PostgreSQL cluster, a config, Maildir helpers and TAP output.
#
# Every process a test starts is stopped by pid in the EXIT trap; the
# cluster runs as the postgres user when we are root (initdb refuses root).

TOP=${TICKETD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
TICKETD="$TOP/daemon/ticketd"
TICKETCTL="$TOP/daemon/ticketctl"
: "${PG_BINDIR:=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/ticketd-test.XXXXXX")
chmod 755 "$T"
PGDIR="$T/pg"
PG_STARTED=

tap_n=0
tap_failed=0
ok() { # ok CONDITION-EXIT-STATUS NAME
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}
is() { # is GOT WANT NAME
	tap_n=$((tap_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $tap_n - $3"
	else
		echo "not ok $tap_n - $3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
		tap_failed=$((tap_failed + 1))
	fi
}
done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cleanup() {
	if [ -n "$PG_STARTED" ] && [ -f "$PGDIR/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$PGDIR/data/postmaster.pid")
		kill -INT "$pid" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# start_pg: a private cluster listening only on a Unix socket in $PGDIR.
start_pg() {
	[ -x "$PG_BINDIR/initdb" ] || { echo "initdb not found (PG_BINDIR=$PG_BINDIR)" >&2; return 1; }
	mkdir -p "$PGDIR"
	[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR"
	as_postgres "$PG_BINDIR/initdb" -D "$PGDIR/data" -U ticketd --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log" >&2; return 1; }
	as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -s \
		-o "-c listen_addresses='' -c unix_socket_directories='$PGDIR' ${PG_TEST_OPTS--c fsync=off}" start \
		|| { cat "$PGDIR/log" >&2; return 1; }
	PG_STARTED=1
	as_postgres "$PG_BINDIR/createdb" -h "$PGDIR" -U ticketd tickets
	CONNINFO="host=$PGDIR dbname=tickets user=ticketd"
}

psql_q() { # psql_q SQL: one value per line, unaligned
	"$PG_BINDIR/psql" -X -q -A -t -h "$PGDIR" -U ticketd -d tickets -c "$1"
}

# write_config [EXTRA-QUEUE-SETTINGS]: two queues with Maildirs, an admin,
# outgoing mail into $T/outgoing.  Staff are told of nothing unless NOTIFY
# says whom (the queues' notify setting): these tests count customers' mail.
# Answered tickets stay answered unless AUTOCLOSE says otherwise (the
# queues' autoclose; the default 0 would close them in the same cycle):
# these tests watch the answer, 65-timers.sh the timers.
write_config() {
	mkdir -p "$T/mail/support/new" "$T/mail/support/cur" "$T/mail/support/tmp" \
		"$T/mail/billing/new" "$T/mail/billing/cur" "$T/mail/billing/tmp"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
	chmod 600 "$T/secret"
	cat >"$T/ticketd.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret";
  autoresponse_limit = { count = 3; per = "1h"; }; batch_size = ${BATCH_SIZE:-50}; };
transport = { url = "maildir:$T/outgoing"; };
staff = ( { login = "alice"; name = "Alice Woods"; email = "alice@example.com";
            role = "admin"; queues = [ "support", "billing" ]; } );
queues = (
  { name = "support"; address = "support@example.com"; default = true;
    mailbox = { url = "maildir:$T/mail/support"; }; priority = 50; notify = "${NOTIFY:-none}";
    autoclose = ${AUTOCLOSE:--1};
    ${SUPPORT_EXTRA:-} },
  { name = "billing"; address = "billing@example.com"; notify = "${NOTIFY:-none}";
    autoclose = ${AUTOCLOSE:--1};
    mailbox = { url = "maildir:$T/mail/billing"; after = "delete"; }; priority = 60; }
);
CONF
}

# deliver QUEUE NAME < message: drop a message into a queue's Maildir.
deliver() {
	cat >"$T/mail/$1/tmp/$2"
	mv "$T/mail/$1/tmp/$2" "$T/mail/$1/new/$2"
}

run_once() {
	"$TICKETD" -c "$T/ticketd.conf" --once "$@" 2>>"$T/ticketd.log"
}
