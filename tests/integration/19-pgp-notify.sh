#!/bin/sh
# A notification to a staff member with a pgp_key carries the decrypted
# sections re-encrypted to that key (issue 18, RFC 3156 PGP/MIME), made by
# mailout_make() in tests/probe-notify-pgp.c (no database): the outer mail
# has the plain notification's headers, decrypts with the member's key to
# the text with the plaintext in place of the placeholder and the section's
# attachment; the message row's body, the plain version and a notification
# whose key cannot be used show the placeholder only.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
command -v gpgconf >/dev/null || skip_all "gpgconf not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

. "$TOP/tests/gpg.sh"
gpg_homes ticketd alice old stranger

for who in ticketd alice stranger; do
	gpg_key $who || skip_all "gpg cannot make a key"
done
g "$T/old" --faked-system-time 20200101T000000 --quick-gen-key "old <old@example.com>" \
	default default 1d >"$T/gen.log" 2>&1 || { cat "$T/gen.log" >&2; exit 1; }
ALICE=$(gpg_fpr alice 2>/dev/null)
OLD=$(gpg_fpr old 2>/dev/null)
STRANGER=$(gpg_fpr stranger 2>/dev/null)
# ticketd's home knows alice's and old's public keys, not the stranger's
for k in alice old; do
	g "$T/$k" --export --armor "$k@example.com" | g "$T/ticketd" --import 2>/dev/null
done

P="$TOP/tests/probe-notify-pgp"
PLAIN='Geheime Bestellung 4711'
cd "$T" || exit 1

out=$("$P" -h "$T/ticketd" -k "$ALICE" -o n 2>probe.err)
is "$(echo "$out" | sed -n 1p)" "enc encrypted=1 login=alice error=-" \
	"alice has a key: her notification is encrypted"
is "$(echo "$out" | sed -n 2p)" "plain encrypted=0 login=- error=-" \
	"without encrypt_to: the plain notification"

# the outer mail, by Python's email package
python3 - n.enc n.plain >py.out 2>&1 <<'EOF'
import sys, email, email.policy
enc = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.compat32)
plain = email.message_from_bytes(open(sys.argv[2], 'rb').read(), policy=email.policy.compat32)
def say(cond, what):
    print(("ok " if cond else "FAIL ") + what)
say(enc.get_content_type() == 'multipart/encrypted', 'type')
say(enc.get_param('protocol') == 'application/pgp-encrypted', 'protocol')
parts = enc.get_payload()
say(isinstance(parts, list) and len(parts) == 2, 'two parts')
say(parts[0].get_content_type() == 'application/pgp-encrypted', 'part1 type')
say(parts[0].get_payload().strip() == 'Version: 1', 'part1 Version: 1')
say(parts[1].get_content_type() == 'application/octet-stream', 'part2 type')
say(parts[1].get_param('name') == 'encrypted.asc', 'part2 name')
say(parts[1].get_payload().startswith('-----BEGIN PGP MESSAGE-----'), 'part2 armor')
open('payload.asc', 'w').write(parts[1].get_payload())
say(enc['From'] == 'Support <support@example.com>', 'From')
say(enc['To'] == 'Alice Woods <alice@example.com>', 'To')
say('[Ticket#42]' in enc['Subject'], 'Subject tag')
say(enc['Message-Id'].startswith('<t42.'), 'Message-ID ours')
say(enc['In-Reply-To'] == '<c1@example.net>', 'In-Reply-To')
say(enc['References'] == '<r0@example.net> <c1@example.net>', 'References')
say(enc['Reply-To'] == 'support@example.com', 'Reply-To')
say(enc['Auto-Submitted'] == 'auto-generated', 'Auto-Submitted')
skip = {'message-id', 'content-type', 'content-transfer-encoding'}
he = [(k.lower(), v) for k, v in enc.items() if k.lower() not in skip]
hp = [(k.lower(), v) for k, v in plain.items() if k.lower() not in skip]
say(he == hp, 'same headers as the plain notification')
say(plain.get_content_type() == 'text/plain', 'plain: text/plain')
text = plain.get_payload(decode=True).decode('utf-8')
say('[encrypted section 1]' in text, 'plain: the placeholder')
EOF
grep -v '^ok ' py.out >&2
is "$(grep -c '^ok ' py.out)" 19 "the outer mail: RFC 3156 multipart/encrypted, the notification's headers"
! grep -q "Geheime\|4711\|Rechnung\|0815" n.enc
ok $? "no plaintext outside the encryption"

# alice decrypts it
g "$T/alice" -o inner.eml --decrypt payload.asc 2>dec.err
ok $? "alice's key decrypts it"
g "$T/ticketd" -o /dev/null --decrypt payload.asc 2>/dev/null
ok $((! $?)) "nobody else's key does (not even ticketd's own)"
python3 - inner.eml >py2.out 2>&1 <<'EOF'
import sys, email, email.policy
inner = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
def say(cond, what):
    print(("ok " if cond else "FAIL ") + what)
say(inner.get_content_type() == 'multipart/mixed', 'inner multipart/mixed')
body = inner.get_body(preferencelist=('plain',))
say(body is not None and body.get_content_charset() == 'utf-8', 'text utf-8')
text = body.get_content().replace('\r\n', '\n') if body is not None else ''
say('\nHello,\n\nGeheime Bestellung 4711 \u2014 Gr\u00fc\u00dfe aus K\u00f6ln\n' in text,
    'the plaintext where the placeholder was')
say('[encrypted section 1]' not in text, 'no placeholder left')
say('Write your reply above this line' in text, 'the reply separator')
say('[Ticket#42]' in text, 'the rendered template')
atts = list(inner.iter_attachments())
say(len(atts) == 1 and atts[0].get_filename() == 'rechnung.txt', 'the attachment')
say(len(atts) == 1 and atts[0].get_content() == 'Rechnung 0815 geheim\n', 'its content')
EOF
grep -v '^ok ' py2.out >&2
is "$(grep -c '^ok ' py2.out)" 8 "decrypted: the text with the section's plaintext, and its attachment"

grep -q '^\[encrypted section 1\]$' n.body && ! grep -q "Geheime\|4711" n.body
ok $? "the message row's body: the placeholder only"
grep -q '^\[encrypted section 1\]' n.plain && ! grep -q "Geheime\|4711\|Rechnung\|0815" n.plain
ok $? "the plain notification: the placeholder only"

# keys that cannot be used: the plain notification and a reason, never plaintext
fail() { # fail KEY NAME EXPECTED-REASON-PART
	out=$("$P" -h "$T/ticketd" -k "$ALICE" -b "$1" -o "f.$2" 2>>probe.err | sed -n 3p)
	case $out in
	"fail encrypted=0 login=alice error="*"$3"*) ok 0 "$2: not encrypted, the reason says why" ;;
	*) ok 1 "$2: not encrypted, the reason says why"; echo "# got: $out" ;;
	esac
	grep -q '^\[encrypted section 1\]' "f.$2.fail" &&
		! grep -q "Geheime\|4711\|Rechnung\|0815\|multipart/encrypted" "f.$2.fail"
	ok $? "$2: the placeholder only"
}
fail "$OLD" expired "expired"
fail "$STRANGER" unknown "$STRANGER"
fail "0x1234" not-a-fingerprint "not a key fingerprint"
"$P" -h "$T/nonexistent" -k "$ALICE" -o nohome >nohome.out 2>>probe.err
grep -q "^enc encrypted=0 login=alice error=..*" nohome.out &&
	grep -q '^\[encrypted section 1\]' nohome.enc && ! grep -q "Geheime" nohome.enc
ok $? "a GnuPG home that does not exist: plain, with a reason"

! grep -q "Geheime\|4711\|Rechnung\|0815" probe.err ./*.out 2>/dev/null
ok $? "no plaintext on stderr or in the reasons"
done_testing
