#!/bin/sh
# The hostile corpus of tests/data: every message becomes a ticket or is
# kept as failed with a reason, as tests/data/README says, and the daemon
# never crashes.
. "$(dirname "$0")/../lib.sh"

start_pg || skip_all "cannot start PostgreSQL"
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

DATA="$TOP/tests/data"
n=0
while IFS="$(printf '\t')" read -r file expect desc; do
	case "$file" in ''|'#'*) continue;; esac
	[ -f "$DATA/$file" ] || continue
	n=$((n + 1))
	cp "$DATA/$file" "$T/mail/support/new/$file"
done <"$DATA/README"
ok $([ $n -ge 15 ] && echo 0 || echo 1) "the corpus has $n messages"
run_once
ok $? "ticketd --once survives the corpus"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "every message left the mailbox"
while IFS="$(printf '\t')" read -r file expect desc; do
	case "$file" in ''|'#'*) continue;; esac
	[ -f "$DATA/$file" ] || continue
	got=$(psql_q "SELECT status || '|' || coalesce(reason, '') FROM raw_messages WHERE source_uid = '$file'")
	case "$expect:$got" in
	ok:stored\|*|ok:duplicate\|*) ok 0 "$file: stored ($desc)";;
	fail:failed\|?*) ok 0 "$file: kept as failed: ${got#failed|}";;
	*) ok 1 "$file: expected $expect, got '$got'";;
	esac
done <"$DATA/README"
is "$(psql_q "SELECT count(*) FROM messages m LEFT JOIN raw_messages r ON r.id = m.raw_id WHERE m.direction = 'in' AND r.id IS NULL")" 0 \
	"every stored message keeps its raw bytes"
done_testing
