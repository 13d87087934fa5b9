#!/bin/sh
# Issue 15: the stored subject, From name and text of every message of a
# generated corpus (tests/gen-decode-corpus.py: five charsets, B and Q
# words, split and folded words, long subjects, base64/QP/8bit bodies)
# equal, in full, what Python's email package decodes from the same bytes.
# Normalisation (the generator's header says why): header values unfolded,
# decoded, control characters as spaces, stripped; texts with trailing
# whitespace of each line and trailing blank lines stripped on both sides.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip_all "no python3"
start_pg || skip_all "cannot start PostgreSQL"
write_config
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

N=${DECODE_COUNT:-300}
python3 "$TOP/tests/gen-decode-corpus.py" --out "$T/mail/support/new" --expect "$T/expect.json" \
	--count "$N" --seed 15
ok $? "generated $N messages with their reference decoding"
run_once
ok $? "ticketd --once"
is "$(ls "$T/mail/support/new" | wc -l)" 0 "every message left the mailbox"

# JSON keeps every byte of the values intact through psql
PGCLIENTENCODING=UTF8 psql_q "SELECT coalesce(json_agg(json_build_object('id', m.message_id,
	'subject', m.subject, 'name', m.from_name, 'text', m.body,
	'ticket_subject', t.subject, 'requestor_name', t.requestor_name)), '[]')
	FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'in'" >"$T/got.json"
ok $? "stored values read back"

# compare FIELD REFERENCE-KEY: every message, in full; mismatches as diagnostics
compare() {
	python3 - "$T/expect.json" "$T/got.json" "$1" "$2" <<'PY'
import json, re, sys
expect = json.load(open(sys.argv[1], encoding="utf-8"))
got = {r["id"]: r for r in json.load(open(sys.argv[2], encoding="utf-8"))}
field, key = sys.argv[3], sys.argv[4]

def norm_text(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in s.split("\n")).rstrip("\n")

bad = 0
for msgid in sorted(expect):
    want = expect[msgid][key]
    have = got.get(msgid, {}).get(field)
    if key == "text" and have is not None:
        want, have = norm_text(want), norm_text(have)
    if have != want:
        bad += 1
        if bad <= 10:
            print("# %s %s:\n#   got:  %r\n#   want: %r" % (msgid, field, have, want))
print("# %s: %d of %d differ" % (field, bad, len(expect)))
sys.exit(1 if bad else 0)
PY
}
is "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/got.json")" "$N" \
	"$N messages stored"
compare subject subject
ok $? "messages.subject: every one whole"
compare ticket_subject subject
ok $? "tickets.subject: every one whole"
compare name name
ok $? "messages.from_name: every one whole"
compare requestor_name name
ok $? "tickets.requestor_name: every one whole"
compare text text
ok $? "messages.body: every one whole"
done_testing
