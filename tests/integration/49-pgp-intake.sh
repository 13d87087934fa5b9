#!/bin/sh
# Encrypted and signed mail through intake (issue 18): inline blocks,
# PGP/MIME (with an attachment inside), encrypted+signed, clear-signed and
# PGP/MIME signed, a wrong key, a corrupt, a truncated and a huge block, a
# wrong passphrase file, a queue's own key; ticketd -t on keys, passphrase
# files, the home's mode and staff keys.  For each: the stored text with
# its placeholders, the secure parts, the events; and the plaintext is
# nowhere else: not in a message row, an outbox row (auto-responses and
# notifications), the raw copy, ticketctl show/list without --decrypt, or
# the daemon's log at -v.  A staff member with a key (dave) gets his
# notifications encrypted to it, and may reply and write notes encrypted.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
command -v gpgconf >/dev/null || skip_all "gpgconf not installed"
start_pg || skip_all "cannot start PostgreSQL"
. "$TOP/tests/gpg.sh"
gpg_homes ticketd carol eve dave

PASS='support pass ü 42'
BPASS='billing-2nd-pass'
gpg_key_pass support "$PASS" ticketd || skip_all "gpg cannot make a key"
gpg_key_pass billing "$BPASS" ticketd || skip_all "gpg cannot make a key"
gpg_key carol || skip_all "gpg cannot make a key"
gpg_key eve || skip_all "gpg cannot make a key"
gpg_key dave || skip_all "gpg cannot make a key"
DAVE=$(gpg_fpr dave)
g "$T/dave" --export --armor dave@example.com | g "$T/ticketd" --import 2>/dev/null
g "$T/ticketd" --export --armor support@example.com | g "$T/dave" --import 2>/dev/null
SUP=$(gpg_fpr_in ticketd support)
BILL=$(gpg_fpr_in ticketd billing)
CAROL=$(gpg_fpr carol)
g "$T/ticketd" --export --armor support@example.com billing@example.com | g "$T/carol" --import 2>/dev/null
g "$T/carol" --export --armor carol@example.com | g "$T/ticketd" --import 2>/dev/null
g "$T/eve" --export --armor eve@example.com | g "$T/carol" --import 2>/dev/null
gpg_forget ticketd

printf '%s\n' "$PASS" >"$T/pgp.pass"
chmod 600 "$T/pgp.pass"
printf 'not the passphrase\n' >"$T/wrong.pass"
printf '%s\n' "$BPASS" >"$T/billing.pass"
chmod 600 "$T/wrong.pass" "$T/billing.pass"
NOTIFY=admins write_config
# billing has a key pair of its own
sed -i "s|after = \"delete\"; }; priority = 60; }|after = \"delete\"; }; priority = 60;\n    pgp = { key = \"$BILL\"; passphrase_file = \"$T/billing.pass\"; }; }|" "$T/ticketd.conf"
grep -q "billing.pass" "$T/ticketd.conf" || { echo "Bail out! config not rewritten"; exit 1; }
cat >>"$T/ticketd.conf" <<CONF
pgp = { gnupg_home = "$T/ticketd"; key = "$SUP"; passphrase_file = "$T/pgp.pass"; };
CONF
sed "s|$T/pgp.pass|$T/wrong.pass|" "$T/ticketd.conf" >"$T/wrong.conf"
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

# ticketd -t checks the key pair and its passphrase
"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null 2>"$T/t.err"
ok $? "ticketd -t: the key and its passphrase are good"
"$TICKETD" -t -c "$T/wrong.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t: a wrong passphrase file is a config error"
grep -q "passphrase" "$T/t.err"
ok $? "... and says it is the passphrase"
sed "s|key = \"$SUP\"|key = \"$CAROL\"|" "$T/ticketd.conf" >"$T/nokey.conf"
"$TICKETD" -t -c "$T/nokey.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t: a key without its secret part in the home is a config error"
sed "s|$T/pgp.pass|$T/missing.pass|" "$T/ticketd.conf" >"$T/nofile.conf"
"$TICKETD" -t -c "$T/nofile.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t: an unreadable passphrase file is a config error"
grep -q "missing.pass" "$T/t.err"
ok $? "... naming the file"
chmod 750 "$T/ticketd"
"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t: a GnuPG home others can reach is a config error"
grep -q "chmod 700" "$T/t.err"
ok $? "... saying how to mend it"
chmod 700 "$T/ticketd"

# a second admin, dave, has a key: his notifications of encrypted mail
# are encrypted to it, and his mail is proven by his signature
sed -i "s|queues = \[ \"support\", \"billing\" \]; } );|queues = [ \"support\", \"billing\" ]; },\n  { login = \"dave\"; name = \"Dave Key\"; email = \"dave@example.com\"; role = \"admin\"; queues = [ \"support\", \"billing\" ]; pgp_key = \"$DAVE\"; auth = [ \"pgp\" ]; } );|" "$T/ticketd.conf"
grep -q "login = \"dave\"" "$T/ticketd.conf" || { echo "Bail out! dave not added"; exit 1; }
"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null 2>"$T/t.err"
ok $? "ticketd -t: dave's key is in the home"

# enc HOME ARGS... < plaintext > armored
enc() {
	_h=$1
	shift
	g "$T/$_h" --trust-model always --armor "$@" 2>>"$T/enc.log"
}
mail() { # mail MSGID SUBJECT < body
	printf 'From: Carol <carol@example.com>\nTo: support@example.com\nSubject: %s\n' "$2"
	printf 'Message-ID: <%s>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\n' "$1"
	cat
}
body_of() { psql_q "SELECT body FROM messages WHERE message_id = '$1'"; }
ticket_of() { psql_q "SELECT ticket_id FROM messages WHERE message_id = '$1'"; }
part() { # part MSGID SECTION PART: its content as text
	psql_q "SELECT convert_from(content, 'UTF8') FROM secure_parts s JOIN messages m ON m.id = s.message_id
		WHERE m.message_id = '$1' AND section = $2 AND part = $3"
}
events() { # events MSGID TYPE: its ticket's events of that type, new values
	psql_q "SELECT new FROM events WHERE ticket_id = (SELECT ticket_id FROM messages
		WHERE message_id = '$1') AND type = '$2' ORDER BY id"
}

# 0. a wrong passphrase file: the block stays, the event says why (the
# agent forgets the passphrase ticketd -t gave it: it would open the key)
gpg_forget ticketd
printf 'SECRET-WRONGPASS-5501\n' | enc carol -r support@example.com -e >"$T/b0.asc"
{ printf 'Before.\n'; cat "$T/b0.asc"; printf 'After.\n'; } | mail w0@example.com "wrong pass" |
	deliver support w0
"$TICKETD" -c "$T/wrong.conf" --once -v --now=2026-11-23T10:00:00Z 2>>"$T/ticketd.log"
body_of w0@example.com | grep -q -- "-----BEGIN PGP MESSAGE-----"
ok $? "wrong passphrase: the block is kept verbatim"
is "$(psql_q "SELECT count(*) FROM secure_parts")" 0 "... no secure part"
events w0@example.com decrypt-failed | grep -q "^section 1 of <w0@example.com>: .*passphrase"
ok $? "... a decrypt-failed event names the passphrase"

# 1. one inline block with text around it
printf 'SECRET-ONE-7301 password hunter2\n' | enc carol -r support@example.com -e >"$T/b1.asc"
{ printf 'Hello,\nmy password:\n'; cat "$T/b1.asc"; printf 'Thanks, Carol\n'; } |
	mail i1@example.com "one block" | deliver support i1
# 2. two blocks with text between them
printf 'SECRET-TWO-A-1187\n' | enc carol -r support@example.com -e >"$T/b2a.asc"
printf 'SECRET-TWO-B-2291\n' | enc carol -r support@example.com -e >"$T/b2b.asc"
{ printf 'First:\n'; cat "$T/b2a.asc"; printf 'and second:\n'; cat "$T/b2b.asc"; printf 'end\n'; } |
	mail i2@example.com "two blocks" | deliver support i2
# 3. PGP/MIME, an attachment inside; 4. the same encrypted and signed
python3 - "$T" <<'PY'
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.application import MIMEApplication
t = sys.argv[1]
inner = MIMEMultipart("mixed")
inner.attach(MIMEText("SECRET-MIME-4410 the vault code is 1234\n", "plain", "utf-8"))
a = MIMEApplication(b"SECRET-ATTACH-9902 key material\n", "octet-stream")
a.add_header("Content-Disposition", "attachment", filename="vault.key")
inner.attach(a)
open(t + "/inner.eml", "wb").write(inner.as_bytes())
PY
enc carol -r support@example.com -e <"$T/inner.eml" >"$T/mime.asc"
enc carol -r support@example.com -u carol@example.com -s -e <"$T/inner.eml" >"$T/mimes.asc"
pgpmime() { # pgpmime MSGID SUBJECT ARMORED
	printf 'From: Carol <carol@example.com>\nTo: support@example.com\nSubject: %s\n' "$2"
	printf 'Message-ID: <%s>\nMIME-Version: 1.0\n' "$1"
	printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="XX"\n\n'
	printf -- '--XX\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n'
	printf -- '--XX\nContent-Type: application/octet-stream; name="encrypted.asc"\n\n'
	cat "$3"
	printf -- '\n--XX--\n'
}
pgpmime m3@example.com "pgp mime" "$T/mime.asc" | deliver support m3
pgpmime m4@example.com "pgp mime signed" "$T/mimes.asc" | deliver support m4
# 5. clear-signed only, good; and one changed after signing
printf 'Please call me back. SIGNED-ONLY-3030\n' | g "$T/carol" --clearsign -u carol@example.com >"$T/cs.asc"
mail c5@example.com "clear signed" <"$T/cs.asc" | deliver support c5
sed 's/call me back/call me never/' "$T/cs.asc" | mail c6@example.com "clear signed, changed" |
	deliver support c6
printf 'Unknown signer\n' | g "$T/eve" --clearsign -u eve@example.com >"$T/eve.asc"
mail c7@example.com "signed by eve" <"$T/eve.asc" | deliver support c7
# 5b. PGP/MIME signed (RFC 3156): the part signed in its CRLF form
python3 - "$T/carol" "$T/ps5.eml" <<'PY' 2>>"$T/enc.log"
import subprocess, sys
from email.mime.text import MIMEText
from email import policy
home, out = sys.argv[1:3]
part = MIMEText("Signed with PGP/MIME, SIGNED-MIME-5151.\n", "plain", "utf-8")
del part["MIME-Version"]
signed = part.as_bytes(policy=policy.SMTP).rstrip(b"\r\n")
sig = subprocess.run(["gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode",
                      "loopback", "--passphrase", "", "--detach-sign", "--armor", "-u",
                      "carol@example.com"], input=signed, check=True,
                     stdout=subprocess.PIPE).stdout
body = signed.replace(b"\r\n", b"\n")
open(out, "wb").write(
    b"From: carol@example.com\nTo: support@example.com\nSubject: mime signed\n"
    b"Message-ID: <ps5@example.com>\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/signed; micalg=pgp-sha512;\n"
    b" protocol=\"application/pgp-signature\"; boundary=\"sig-b\"\n\n"
    b"--sig-b\n" + body + b"\n--sig-b\n"
    b"Content-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
    + sig + b"\n--sig-b--\n")
PY
deliver support ps5 <"$T/ps5.eml"
# 6. a block for a key ticketd does not have
printf 'SECRET-WRONGKEY-6060\n' | enc carol -r eve@example.com -e >"$T/b6.asc"
{ printf 'For eve:\n'; cat "$T/b6.asc"; } | mail k6@example.com "wrong key" | deliver support k6
# 7. a corrupt block (its middle changed), 8. a truncated one
awk 'NR == 5 { gsub(/[A-Za-z]/, "Q") } { print }' "$T/b1.asc" >"$T/b7.asc"
{ printf 'Corrupt:\n'; cat "$T/b7.asc"; } | mail x7@example.com "corrupt" | deliver support x7
{ printf 'Truncated:\n'; head -n 6 "$T/b1.asc"; } | mail x8@example.com "truncated" | deliver support x8
# 10. to billing, encrypted to billing's own key
printf 'SECRET-BILLING-3434\n' | enc carol -r billing@example.com -e >"$T/b10.asc"
{ printf 'From: carol@example.com\nTo: billing@example.com\nSubject: invoice\n'
  printf 'Message-ID: <q10@example.com>\n\nInvoice:\n'; cat "$T/b10.asc"; } | deliver billing q10
# 9. a huge block: 2 MB of text
python3 -c "
import base64, os
print('SECRET-HUGE-8080')
data = base64.b64encode(os.urandom(1500000)).decode()
for i in range(0, len(data), 76): print(data[i:i+76])
" >"$T/huge.txt"
enc carol -r support@example.com -z 0 -e <"$T/huge.txt" >"$T/b9.asc"
{ printf 'Huge:\n'; cat "$T/b9.asc"; } | mail h9@example.com "huge" | deliver support h9

run_once -v --now=2026-11-23T10:05:00Z

# 1
is "$(body_of i1@example.com)" "$(printf 'Hello,\nmy password:\n[encrypted section 1]\nThanks, Carol')" \
	"one block: the text keeps what was around it, a placeholder in its place"
is "$(part i1@example.com 1 0)" "SECRET-ONE-7301 password hunter2" "... the secure part is the plaintext"
is "$(events i1@example.com decrypted)" "section 1 of <i1@example.com>" "... a decrypted event naming the section and the message"
# 2
is "$(body_of i2@example.com)" \
	"$(printf 'First:\n[encrypted section 1]\nand second:\n[encrypted section 2]\nend')" \
	"two blocks: two placeholders, in order"
is "$(part i2@example.com 1 0)|$(part i2@example.com 2 0)" "SECRET-TWO-A-1187|SECRET-TWO-B-2291" \
	"... two secure parts, numbered as the placeholders"
is "$(events i2@example.com decrypted | tr '\n' ' ')" "section 1 of <i2@example.com> section 2 of <i2@example.com> " "... an event each"
# 3
is "$(body_of m3@example.com)" "[encrypted section 1]" "PGP/MIME: the text is the placeholder"
is "$(part m3@example.com 1 0)" "SECRET-MIME-4410 the vault code is 1234" "... part 0 is the inner text"
is "$(psql_q "SELECT s.kind || '|' || s.filename || '|' || s.content_type || '|' || s.size FROM secure_parts s
	JOIN messages m ON m.id = s.message_id WHERE m.message_id = 'm3@example.com' AND part = 1")" \
	"attachment|vault.key|application/octet-stream|32" "... the attachment inside is a secure part"
is "$(psql_q "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id
	WHERE m.message_id = 'm3@example.com'")" 0 "... and no attachment of the message"
is "$(psql_q "SELECT coalesce(s.sig_status, 'none') FROM secure_parts s JOIN messages m ON m.id = s.message_id
	WHERE m.message_id = 'm3@example.com' AND part = 0")" none "... unsigned"
# 4
is "$(psql_q "SELECT s.sig_status || '|' || s.sig_fingerprint FROM secure_parts s JOIN messages m
	ON m.id = s.message_id WHERE m.message_id = 'm4@example.com' AND part = 0")" "good|$CAROL" \
	"encrypted and signed: the part's signature is good, by carol's key"
is "$(events m4@example.com decrypted)" "section 1 of <m4@example.com>, signature good by $CAROL" "... the event says so"
# 5
is "$(psql_q "SELECT sig_status || '|' || sig_fingerprint FROM messages WHERE message_id = 'c5@example.com'")" \
	"good|$CAROL" "clear-signed: the message's signature is good, by carol"
is "$(psql_q "SELECT sig_status FROM messages WHERE message_id = 'c6@example.com'")" bad \
	"... changed after signing: bad"
is "$(psql_q "SELECT sig_status FROM messages WHERE message_id = 'c7@example.com'")" unknown-key \
	"... by a key ticketd does not know: unknown-key"
is "$(psql_q "SELECT sig_status || '|' || sig_fingerprint || '|' || body FROM messages WHERE message_id = 'ps5@example.com'")" \
	"good|$CAROL|Signed with PGP/MIME, SIGNED-MIME-5151." "PGP/MIME signed: good, by carol, its text stored"
is "$(psql_q "SELECT coalesce(sig_status, 'none') FROM messages WHERE message_id = 'i1@example.com'")" none \
	"an unsigned message has no signature status"
"$TICKETCTL" -c "$T/ticketd.conf" show "$(ticket_of c5@example.com)" >"$T/show5.txt" 2>&1
grep -q "good" "$T/show5.txt" && grep -q "$CAROL" "$T/show5.txt"
ok $? "ticketctl show prints the signature's status and signer"
# 6
body_of k6@example.com | grep -q -- "-----END PGP MESSAGE-----"
ok $? "wrong key: the block is kept verbatim"
events k6@example.com decrypt-failed | grep -q "^section 1 of <k6@example.com>: no secret key"
ok $? "... the event: no secret key"
# 7, 8
events x7@example.com decrypt-failed | grep -q "^section 1 of <x7@example.com>: "
ok $? "corrupt block: a decrypt-failed event"
body_of x7@example.com | grep -q -- "-----BEGIN PGP MESSAGE-----"
ok $? "... the block kept"
events x8@example.com decrypt-failed | grep -q "^section 1 of <x8@example.com>: "
ok $? "truncated block: a decrypt-failed event"
# 9
is "$(psql_q "SELECT size FROM secure_parts s JOIN messages m ON m.id = s.message_id
	WHERE m.message_id = 'h9@example.com'")" "$(wc -c <"$T/huge.txt" | tr -d ' ')" \
	"a huge block: decrypted whole"
is "$(body_of h9@example.com)" "$(printf 'Huge:\n[encrypted section 1]')" "... a placeholder in the text"
is "$(psql_q "SELECT count(*) FROM raw_messages WHERE status <> 'stored'")" 0 \
	"every message stored, none failed"

# 10
is "$(part q10@example.com 1 0)" "SECRET-BILLING-3434" "a queue's own key pair decrypts its mail"
is "$(psql_q "SELECT q.name FROM tickets t JOIN queues q ON q.id = t.queue_id
	WHERE t.id = $(ticket_of q10@example.com)")" billing "... on its queue"
sed "s|$T/billing.pass|$T/wrong.pass|" "$T/ticketd.conf" >"$T/wrongq.conf"
"$TICKETD" -t -c "$T/wrongq.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t checks the queue's key pair too"
grep -q "queue billing" "$T/t.err"
ok $? "... naming the queue"
EVE=$(gpg_fpr eve)
sed "s|email = \"alice@example.com\";|email = \"alice@example.com\"; pgp_key = \"$EVE\";|" "$T/ticketd.conf" >"$T/staffkey.conf"
"$TICKETD" -t -c "$T/staffkey.conf" >/dev/null 2>"$T/t.err"
is $? 78 "ticketd -t: a staff pgp_key that is not in the home is a config error"
grep -q "staff alice: pgp_key" "$T/t.err"
ok $? "... naming the member"
sed "s|email = \"alice@example.com\";|email = \"alice@example.com\"; pgp_key = \"0x$(echo "$CAROL" | cut -c 25-40)\";|" \
	"$T/ticketd.conf" >"$T/staffid.conf"
"$TICKETD" -t -c "$T/staffid.conf" >/dev/null 2>"$T/t.err"
is $? 0 "ticketd -t: a staff pgp_key given as a key id is valid"
grep -q "note: staff alice: pgp_key .* key id" "$T/t.err"
ok $? "... with a note that notifications to that member go unencrypted"

# the plaintext is nowhere but in secure_parts
secrets="SECRET-BILLING-3434 SECRET-ONE-7301 hunter2 SECRET-TWO-A-1187 SECRET-TWO-B-2291 SECRET-MIME-4410 SECRET-ATTACH-9902 SECRET-HUGE-8080"
leaks=
for s in $secrets; do
	n=$(psql_q "SELECT (SELECT count(*) FROM messages WHERE strpos(body, '$s') > 0)
		+ (SELECT count(*) FROM outbox WHERE strpos(encode(raw, 'escape'), '$s') > 0)
		+ (SELECT count(*) FROM raw_messages WHERE strpos(encode(raw, 'escape'), '$s') > 0)
		+ (SELECT count(*) FROM attachments WHERE strpos(encode(content, 'escape'), '$s') > 0)
		+ (SELECT count(*) FROM events WHERE strpos(coalesce(new, '') || coalesce(old, ''), '$s') > 0)")
	[ "$n" = 0 ] || leaks="$leaks $s(db:$n)"
	grep -q -- "$s" "$T/ticketd.log" && leaks="$leaks $s(log)"
	grep -rq -- "$s" "$T/outgoing" && leaks="$leaks $s(outgoing)"
	for id in $(psql_q "SELECT id FROM tickets"); do
		for f in table json csv; do
			"$TICKETCTL" -c "$T/ticketd.conf" show "$id" --format=$f 2>&1 | grep -q -- "$s" &&
				leaks="$leaks $s(show $id $f)"
		done
	done
	"$TICKETCTL" -c "$T/ticketd.conf" list --all --format=json 2>&1 | grep -q -- "$s" &&
		leaks="$leaks $s(list)"
done
is "$leaks" "" "no plaintext in messages, outbox, raw copies, events, outgoing mail, the log, ticketctl show/list"
is "$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'notification' AND recipient = 'alice@example.com'
	AND strpos(encode(raw, 'escape'), '[encrypted section 1]') > 0")" \
	"$(psql_q "SELECT count(DISTINCT ticket_id) FROM messages WHERE direction = 'in'
		AND (strpos(body, '[encrypted section 1]') > 0 OR strpos(body, '-----BEGIN PGP MESSAGE') > 0)")" \
	"alice's notifications of encrypted mail carry the placeholder"
grep -q "section 1 of <k6@example.com>: no secret key.*, kept as it came" "$T/ticketd.log"
ok $? "the log names the sections kept as they came (without their text)"

# dave's notification of ticket i1: RFC 3156, and his key opens it
T1=$(ticket_of i1@example.com)
psql_q "SELECT encode(raw, 'base64') FROM outbox WHERE kind = 'notification' AND ticket_id = $T1
	AND recipient = 'dave@example.com'" | base64 -d >"$T/dave-n1.eml"
python3 - "$T/dave-n1.eml" >"$T/dave-n1.asc" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
assert m.get_content_type() == "multipart/encrypted", m.get_content_type()
assert m.get_param("protocol") == "application/pgp-encrypted"
parts = list(m.iter_parts())
sys.stdout.write(parts[1].get_content() if isinstance(parts[1].get_content(), str)
                 else parts[1].get_content().decode())
PY
ok $? "dave's notification is PGP/MIME (multipart/encrypted)"
g "$T/dave" --decrypt "$T/dave-n1.asc" 2>/dev/null | grep -q "SECRET-ONE-7301"
ok $? "... his key opens it, the section's plaintext in it"
MSGID_N1=$(psql_q "SELECT m.message_id FROM outbox o JOIN messages m ON m.id = o.message_id
	WHERE o.kind = 'notification' AND o.ticket_id = $T1 AND o.recipient = 'dave@example.com'")
is "$(psql_q "SELECT count(*) FROM messages m JOIN outbox o ON o.message_id = m.id
	WHERE o.recipient = 'dave@example.com' AND strpos(m.body, '[encrypted section 1]') > 0
	AND m.ticket_id = $T1")" 1 "... while its stored row keeps the placeholder"

# dave replies as his mail client does: encrypted to support, signed, the
# decrypted notification quoted below the separator
python3 - "$T" <<'PY'
import sys
from email.mime.text import MIMEText
t = sys.argv[1]
body = ("#priority 70\nWe reset the password for you.\n\n"
        "On Mon, 23 Nov 2026, Support wrote:\n"
        "> -- Write your reply above this line (commands at the top) --\n"
        "> my password:\n> SECRET-ONE-7301 password hunter2\n")
open(t + "/dave-reply.eml", "wb").write(MIMEText(body, "plain", "utf-8").as_bytes())
PY
enc dave -r support@example.com -u dave@example.com -s -e <"$T/dave-reply.eml" >"$T/dave-reply.asc"
{
	printf 'From: Dave Key <dave@example.com>\nTo: support@example.com\n'
	printf 'Subject: Re: [Ticket#%s] one block\nMessage-ID: <d1@example.com>\n' "$T1"
	printf 'In-Reply-To: <%s>\nMIME-Version: 1.0\n' "$MSGID_N1"
	printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="YY"\n\n'
	printf -- '--YY\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n'
	printf -- '--YY\nContent-Type: application/octet-stream\n\n'
	cat "$T/dave-reply.asc"
	printf -- '\n--YY--\n'
} | deliver support d1
run_once -v --now=2026-11-23T10:30:00Z
is "$(psql_q "SELECT kind || '|' || sig_status || '|' || body FROM messages WHERE message_id = 'd1@example.com'")" \
	"staff-answer|good|[encrypted section 1]" \
	"dave's encrypted, signed reply is proven by the signature inside and stored as his answer"
is "$(psql_q "SELECT status || '|' || priority FROM tickets WHERE id = $T1")" "answered|70" \
	"... its command applied"
psql_q "SELECT encode(raw, 'base64') FROM outbox WHERE kind = 'staff-answer' AND ticket_id = $T1" |
	base64 -d >"$T/answer1.eml"
python3 - "$T/answer1.eml" >"$T/answer1.txt" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
sys.stdout.write(m["To"] + "\n" + m.get_body(("plain",)).get_content())
PY
grep -q "^We reset the password for you.$" "$T/answer1.txt" && grep -q "carol@example.com" "$T/answer1.txt"
ok $? "... the customer gets his answer text"
grep -q "> \[encrypted section 1\]" "$T/answer1.txt"
ok $? "... quoting her mail with the placeholder"
! grep -q "SECRET-ONE-7301\|hunter2\|#priority\|Write your reply" "$T/answer1.txt"
ok $? "... and neither the secret his client quoted nor his command"

# an encrypted note on a ticket nobody holds: the other admins are told
# with the placeholder only
T2=$(ticket_of i2@example.com)
printf '#note\nSECRET-NOTE-1212 the admin password is on the wiki\n' |
	python3 -c 'import sys; from email.mime.text import MIMEText; sys.stdout.buffer.write(MIMEText(sys.stdin.read(), "plain", "utf-8").as_bytes())' |
	enc dave -r support@example.com -u dave@example.com -s -e >"$T/dave-note.asc"
{
	printf 'From: Dave Key <dave@example.com>\nTo: support@example.com\n'
	printf 'Subject: Re: [Ticket#%s] two blocks\nMessage-ID: <d2@example.com>\nMIME-Version: 1.0\n' "$T2"
	printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="YY"\n\n'
	printf -- '--YY\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n'
	printf -- '--YY\nContent-Type: application/octet-stream\n\n'
	cat "$T/dave-note.asc"
	printf -- '\n--YY--\n'
} | deliver support d2
run_once -v --now=2026-11-23T10:40:00Z
is "$(psql_q "SELECT kind || '|' || body FROM messages WHERE message_id = 'd2@example.com'")" \
	"internal-note|[encrypted section 1]" "dave's encrypted #note is stored as a note"
is "$(psql_q "SELECT count(*) FROM outbox WHERE kind = 'notification' AND ticket_id = $T2
	AND recipient = 'alice@example.com' AND created = '2026-11-23T10:40:00Z'
	AND strpos(encode(raw, 'escape'), '[encrypted section 1]') > 0")" 1 \
	"... alice is told of it with the placeholder"
is "$(psql_q "SELECT count(*) FROM outbox WHERE strpos(encode(raw, 'escape'), 'SECRET-NOTE-1212') > 0")/$(grep -c SECRET-NOTE-1212 "$T/ticketd.log")" \
	"0/0" "... and the note's text is in no outbox row and not in the log"
done_testing
