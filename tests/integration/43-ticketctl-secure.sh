#!/bin/sh
# ticketctl and the secure parts (issue 18, DESIGN §1 and §5): show prints
# a message's signature and its secure parts' metadata, never their
# plaintext (not even selecting it: the server's statement log says so);
# show --decrypt prints it and records who read it; --as hides a ticket
# the member may not see; decrypt-retry decrypts from the raw copy what
# could not be decrypted at intake; pgp-key prints the key customers
# encrypt to.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
command -v gpgconf >/dev/null || skip_all "gpgconf not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
PG_TEST_OPTS="-c fsync=off -c log_statement=all"
start_pg || skip_all "cannot start PostgreSQL"
. "$TOP/tests/gpg.sh"
gpg_homes ticketd keys cust fresh1 fresh2 fresh3 fresh4

# ticketd's own keys are made in $T/keys (no passphrase); its home starts
# without them; the customer has their public halves.
gpg_key_pass support '' keys || skip_all "gpg cannot make a key"
gpg_key_pass billing '' keys || skip_all "gpg cannot make a key"
gpg_key_pass nobody '' keys || skip_all "gpg cannot make a key"
gpg_key cust || skip_all "gpg cannot make a key"
SUP=$(gpg_fpr_in keys support 2>/dev/null)
BILL=$(gpg_fpr_in keys billing 2>/dev/null)
for k in support nobody; do
	g "$T/keys" --export --armor $k@example.com | g "$T/cust" --import 2>/dev/null
done

write_config
# bob is support staff: he sees only the tickets assigned to him
sed -i 's|^staff = ( |staff = ( { login = "bob"; name = "Bob Stone"; email = "bob@example.com"; role = "support"; queues = [ "support" ]; },\n  |' \
	"$T/ticketd.conf"
cp "$T/ticketd.conf" "$T/nopgp.conf"
cat >>"$T/ticketd.conf" <<CONF
pgp = { gnupg_home = "$T/ticketd"; };
CONF
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }
C="$T/ticketd.conf"
ME=$(id -un)

# --- show: rows written here, as intake would have
deliver support plain1 <<'MAIL'
From: Frank <frank@customer.example>
To: support@example.com
Subject: order 4711
Message-ID: <plain1@customer.example>

Hello, see the encrypted part.
MAIL
run_once
is "$(psql_q "SELECT count(*) FROM tickets")" 1 "a ticket to put secure parts on"
FPR=0123456789ABCDEF0123456789ABCDEF01234567
MID=$(psql_q "INSERT INTO messages (ticket_id, direction, kind, from_addr, subject, body, created,
		sig_status, sig_fingerprint)
	VALUES (1, 'in', 'customer', 'frank@customer.example', 'order 4711',
		E'Here it is:\n[encrypted section 1]\n', '2026-11-23T10:00:00Z', 'good', '$FPR')
	RETURNING id")
psql_q "INSERT INTO secure_parts (message_id, section, part, kind, filename, content_type, size,
		content, sig_status, sig_fingerprint, created) VALUES
	($MID, 1, 0, 'text', NULL, 'text/plain; charset=utf-8', 25,
	 convert_to(E'SECRET-TEXT-4711 Grüße\n', 'UTF8'), 'good', '$FPR', now()),
	($MID, 1, 1, 'attachment', 'notes.txt', 'text/plain', 20,
	 convert_to(E'SECRET-ATTACHED-TEXT', 'UTF8'), NULL, NULL, now()),
	($MID, 1, 2, 'attachment', 'blob.bin', 'application/octet-stream', 13,
	 '\\x00010253454352455442494e0a'::bytea, NULL, NULL, now())" >/dev/null
psql_q "SELECT count(*) FROM secure_parts" | grep -qx 3 || { echo "Bail out! secure_parts"; exit 1; }

statements() { grep -cE 'p\.content( |,|$)' "$PGDIR/log"; }
before=$(statements)
for f in table json csv; do
	"$TICKETCTL" -c "$C" show 1 --format=$f >"$T/show.$f" 2>"$T/show.err"
	is $? 0 "show 1 --format=$f"
	grep -q 'SECRET' "$T/show.$f"
	is $? 1 "show --format=$f prints no plaintext"
done
is "$(statements)" "$before" "without --decrypt no statement selects the content"
grep -qxF "  [encrypted section 1] text 25 bytes, signed: good by $FPR" "$T/show.table"
ok $? "table: a line per secure part, with its signature"
grep -qxF '  [encrypted section 1] attachment 2 "blob.bin" application/octet-stream 13 bytes, unsigned' \
	"$T/show.table"
ok $? "table: an attachment's line names it, its type and size"
grep -qx "signature  *good by $FPR" "$T/show.table"
ok $? "table: the message's signature"
python3 - "$T/show.json" "$MID" "$FPR" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
mid, fpr = int(sys.argv[2]), sys.argv[3]
first = t["messages"][0]
m = [x for x in t["messages"] if x["id"] == mid][0]
assert first["signature"] is None and first["secure_parts"] == [], first
assert m["id"] == mid and m["signature"] == {"status": "good", "fingerprint": fpr}, m
p = m["secure_parts"]
assert [(x["section"], x["part"], x["kind"]) for x in p] == \
	[(1, 0, "text"), (1, 1, "attachment"), (1, 2, "attachment")], p
assert p[0] == {"section": 1, "part": 0, "kind": "text", "filename": None,
	"content_type": "text/plain; charset=utf-8", "size": 25, "sig_status": "good",
	"sig_fingerprint": fpr}, p[0]
assert all("content" not in x for x in p), p
PY
ok $? "json: signature object or null, secure_parts with their metadata only"
is "$(psql_q "SELECT count(*) FROM events WHERE type = 'decrypt-viewed'")" 0 \
	"show without --decrypt records no reading"

# --- show --decrypt
"$TICKETCTL" -c "$C" --as alice --now=2026-11-24T08:00:00Z show 1 --decrypt >"$T/dec.table" 2>"$T/dec.err"
is $? 0 "show 1 --decrypt --as alice"
grep -q 'SECRET-TEXT-4711 Grüße' "$T/dec.table" && grep -q 'SECRET-ATTACHED-TEXT' "$T/dec.table"
ok $? "--decrypt prints the text part and a text attachment"
grep -qxF '    (binary, 13 bytes)' "$T/dec.table" && ! grep -q 'SECRETBIN' "$T/dec.table"
ok $? "--decrypt: a binary attachment only as (binary, N bytes) in a table"
is "$(psql_q "SELECT actor || '|' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '|' || new
	FROM events WHERE type = 'decrypt-viewed'")" "alice|2026-11-24T08:00:00|message $MID: section 1" \
	"a decrypt-viewed event by the --as login, at --now, naming the sections"
"$TICKETCTL" -c "$C" show 1 --decrypt --format=json >"$T/dec.json" 2>"$T/dec.err"
is $? 0 "show 1 --decrypt --format=json"
python3 - "$T/dec.json" "$MID" <<'PY'
import base64, json, sys
p = [m for m in json.load(open(sys.argv[1]))["messages"] if m["id"] == int(sys.argv[2])][0]
p = p["secure_parts"]
assert p[0]["content"] == "SECRET-TEXT-4711 Grüße\n" and p[0]["content_encoding"] == "utf-8", p[0]
assert p[1]["content"] == "SECRET-ATTACHED-TEXT", p[1]
assert p[2]["content_encoding"] == "base64", p[2]
assert base64.b64decode(p[2]["content"]) == b"\x00\x01\x02SECRETBIN\n", p[2]
PY
ok $? "json: content as text, base64 for a binary attachment"
is "$(psql_q "SELECT actor FROM events WHERE type = 'decrypt-viewed' ORDER BY id DESC LIMIT 1")" "$ME" \
	"without --as the event's actor is the Unix user"
n=$(psql_q "SELECT count(*) FROM events WHERE type = 'decrypt-viewed'")
"$TICKETCTL" -c "$C" show 1 --decrypt --format=csv >"$T/dec.csv" 2>"$T/dec.err"
is $? 64 "show --decrypt --format=csv is a usage error (CSV has no messages)"
before=$(statements)
"$TICKETCTL" -c "$C" --as bob show 1 --decrypt >"$T/bob.out" 2>"$T/bob.err"
is $? 65 "--as bob (support, not his ticket): show --decrypt is exit 65"
is "$(statements)" "$before" "... and the content was not read"
grep -q 'SECRET' "$T/bob.out" "$T/bob.err"
is $? 1 "... nothing of it printed"
is "$(psql_q "SELECT count(*) FROM events WHERE type = 'decrypt-viewed'")" "$n" \
	"no event for a refused or CSV --decrypt"
"$TICKETCTL" -c "$C" --as bob show 1 >/dev/null 2>&1
is $? 65 "--as bob: show is exit 65 too"
"$TICKETCTL" -c "$C" show 1 --decrypt --format=json >/dev/null 2>&1
"$TICKETCTL" -c "$C" show 1 --format=json >"$T/after.json"
grep -q 'SECRET' "$T/after.json"
is $? 1 "show without --decrypt after a --decrypt still prints no plaintext"

# --- decrypt-retry: an encrypted mail whose key ticketd's home lacks
enc() { g "$T/cust" --trust-model always --armor -e "$@" 2>>"$T/enc.log"; }
printf 'SECRET-RETRY-0815 bitte prüfen\n' | enc -r support@example.com >"$T/s1.asc"
printf 'SECRET-NOBODY-9\n' | enc -r nobody@example.com >"$T/s2.asc"
{
	printf 'From: Carol <carol@customer.example>\nTo: support@example.com\n'
	printf 'Subject: encrypted order\nMessage-ID: <enc1@customer.example>\n'
	printf 'Date: Mon, 23 Nov 2026 10:00:00 +0000\n\nFirst block:\n'
	cat "$T/s1.asc"
	printf '\nSecond block:\n'
	cat "$T/s2.asc"
} | deliver support enc1
run_once
TID=$(psql_q "SELECT ticket_id FROM messages WHERE message_id = 'enc1@customer.example'")
EMID=$(psql_q "SELECT id FROM messages WHERE message_id = 'enc1@customer.example'")
is "$(psql_q "SELECT count(*) FROM secure_parts WHERE message_id = '${EMID:-0}'")" 0 \
	"without the key nothing is decrypted at intake"
psql_q "SELECT body FROM messages WHERE id = '${EMID:-0}'" | grep -c 'BEGIN PGP MESSAGE' | grep -qx 2
ok $? "both blocks stay in the stored text as they came"
body_before=$(psql_q "SELECT md5(body) FROM messages WHERE id = '${EMID:-0}'")
"$TICKETCTL" -c "$C" --as bob decrypt-retry "${TID:-0}" >"$T/r0.out" 2>&1
is $? 65 "--as bob: decrypt-retry of a ticket he may not see is exit 65"
"$TICKETCTL" -c "$T/nopgp.conf" decrypt-retry "${TID:-0}" >"$T/r0.out" 2>"$T/r0.err"
is $? 78 "decrypt-retry without pgp.gnupg_home is EX_CONFIG"
grep -q 'gnupg_home' "$T/r0.err"
ok $? "... and says so"

for k in support billing; do
	g "$T/keys" --export-secret-keys $k@example.com 2>/dev/null | g "$T/ticketd" --import 2>/dev/null
done
"$TICKETCTL" -c "$C" --now=2026-11-24T09:00:00Z decrypt-retry "${TID:-0}" >"$T/r1.out" 2>"$T/r1.err"
is $? 0 "decrypt-retry after the key was imported"
grep -q "^message $EMID: section 1 decrypted; section 2: " "$T/r1.out"
ok $? "the summary names the decrypted section and the one that failed again"
grep -q SECRET "$T/r1.out" "$T/r1.err"
is $? 1 "... and holds no plaintext"
is "$(psql_q "SELECT section || ':' || part || ':' || kind || ':' || convert_from(content, 'UTF8')
	FROM secure_parts WHERE message_id = '${EMID:-0}'")" "1:0:text:SECRET-RETRY-0815 bitte prüfen" \
	"section 1 is stored as a secure part"
is "$(psql_q "SELECT actor || '|' || new FROM events WHERE ticket_id = '${TID:-0}' AND type = 'decrypted'")" \
	"$ME|section 1 of <enc1@customer.example>" "a decrypted event for it"
psql_q "SELECT new FROM events WHERE ticket_id = '${TID:-0}' AND type = 'decrypt-failed'
	AND at = '2026-11-24T09:00:00Z'" | grep -q '^section 2 of <enc1@customer.example>: '
ok $? "a decrypt-failed event for section 2, at --now"
is "$(psql_q "SELECT md5(body) FROM messages WHERE id = '${EMID:-0}'")" "$body_before" \
	"the message itself is not edited"
"$TICKETCTL" -c "$C" decrypt-retry "${TID:-0}" >"$T/r2.out" 2>"$T/r2.err"
is $? 0 "a second decrypt-retry"
is "$(psql_q "SELECT count(*) FROM secure_parts WHERE message_id = '${EMID:-0}'")" 1 \
	"... adds no part"
is "$(psql_q "SELECT count(*) FROM events WHERE ticket_id = '${TID:-0}' AND type = 'decrypted'")" 1 \
	"... and no decrypted event"
grep -q "section 1 already decrypted" "$T/r2.out"
ok $? "... and says section 1 was decrypted already"
"$TICKETCTL" -c "$C" show "${TID:-0}" --decrypt >"$T/r.show"
grep -q 'SECRET-RETRY-0815 bitte prüfen' "$T/r.show"
ok $? "show --decrypt prints the retried section"
"$TICKETCTL" -c "$C" decrypt-retry 1 >"$T/r3.out"
is "$?:$(cat "$T/r3.out")" "0:ticket 1: no encrypted section in its incoming mail" \
	"decrypt-retry of a ticket without encrypted mail"
"$TICKETCTL" -c "$C" decrypt-retry 999 >/dev/null 2>&1
is $? 65 "decrypt-retry of no ticket is exit 65"

# --- pgp-key
pubfpr() { # pubfpr HOME < armored: the fingerprints it imports into HOME, sorted
	g "$T/$1" --import 2>/dev/null
	gpg --homedir "$T/$1" --with-colons --list-keys 2>/dev/null |
		awk -F: '/^pub/ { p = 1; next } /^fpr/ && p { print $10; p = 0 }' | sort | tr '\n' ' '
}
"$TICKETCTL" -c "$C" pgp-key >"$T/k1.asc" 2>"$T/k.err"
is $? 0 "pgp-key"
head -n 1 "$T/k1.asc" | grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----'
ok $? "... prints an armored public key"
grep -q 'PRIVATE' "$T/k1.asc"
is $? 1 "... and nothing secret"
is "$(pubfpr fresh1 <"$T/k1.asc")" "$(printf '%s\n%s\n' "$SUP" "$BILL" | sort | tr '\n' ' ')" \
	"without pgp.key: every key with a secret part in the home"
sed "s|^pgp = { gnupg_home = \"$T/ticketd\"; };|pgp = { gnupg_home = \"$T/ticketd\"; key = \"$SUP\"; };|" "$C" |
	sed "s|priority = 60;|priority = 60; pgp = { key = \"$BILL\"; };|" >"$T/keys.conf"
"$TICKETCTL" -c "$T/keys.conf" pgp-key >"$T/k2.asc"
is "$?:$(pubfpr fresh2 <"$T/k2.asc")" "0:$SUP " "pgp.key: that key only, with the expected fingerprint"
"$TICKETCTL" -c "$T/keys.conf" pgp-key --queue billing >"$T/k3.asc"
is "$?:$(pubfpr fresh3 <"$T/k3.asc")" "0:$BILL " "--queue billing: the queue's own key"
"$TICKETCTL" -c "$T/keys.conf" pgp-key --queue support >"$T/k4.asc"
is "$?:$(pubfpr fresh4 <"$T/k4.asc")" "0:$SUP " "--queue support (no key of its own): pgp.key"
"$TICKETCTL" -c "$T/keys.conf" pgp-key --queue nosuch >/dev/null 2>&1
is $? 64 "--queue naming no queue is a usage error"
"$TICKETCTL" -c "$T/nopgp.conf" pgp-key >"$T/k5.asc" 2>"$T/k5.err"
is $? 78 "pgp-key without pgp.gnupg_home is EX_CONFIG"
grep -q 'gnupg_home' "$T/k5.err" && [ ! -s "$T/k5.asc" ]
ok $? "... says so and prints no key"
"$TICKETCTL" -c "$C" pgp-key --format=json >/dev/null 2>&1
is $? 64 "pgp-key --format is a usage error"
done_testing
