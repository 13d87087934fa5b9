#!/bin/sh
# lib/pgp-crypt.c against real GnuPG (tests/probe-pgp-crypt.c): ticketd's
# home holds two keys with passphrases (support, billing); customers' and
# staff keys are made here too; messages are encrypted by gpg.  The probe
# writes plaintext only into files; its stderr must not show any.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
command -v gpgconf >/dev/null || skip_all "gpgconf not installed"

. "$TOP/tests/gpg.sh"
gpg_homes ticketd cust eve nobody alice old gone importer importer2

SUP_PASS='support pass ü'
BILL_PASS='billing-Pass-2'
ALICE_PASS='alice pass'
gpg_key_pass support "$SUP_PASS" ticketd || skip_all "gpg cannot make a key"
gpg_key_pass billing "$BILL_PASS" ticketd || skip_all "gpg cannot make a key"
gpg_key_pass alice "$ALICE_PASS" || skip_all "gpg cannot make a key"
for who in cust eve nobody gone; do
	gpg_key $who || skip_all "gpg cannot make a key"
done
# a staff key that expired long ago
g "$T/old" --faked-system-time 20200101T000000 --quick-gen-key "old <old@example.com>" \
	default default 1d >"$T/gen.log" 2>&1 || { cat "$T/gen.log" >&2; exit 1; }
SUP=$(gpg_fpr_in ticketd support 2>/dev/null)
BILL=$(gpg_fpr_in ticketd billing 2>/dev/null)
CUST=$(gpg_fpr cust 2>/dev/null)
EVE=$(gpg_fpr eve 2>/dev/null)
NOBODY=$(gpg_fpr nobody 2>/dev/null)
ALICE=$(gpg_fpr alice 2>/dev/null)
OLD=$(gpg_fpr old 2>/dev/null)
GONE=$(gpg_fpr gone 2>/dev/null)
SUP_ID=$(echo "$SUP" | cut -c 25-40)
BILL_ID=$(echo "$BILL" | cut -c 25-40)
NOBODY_ENC=$(gpg_enc_keyid nobody nobody 2>/dev/null)
# a revoked staff key: its own revocation certificate, the ":" guard removed
sed 's/^:-----/-----/' "$T/gone/openpgp-revocs.d/$GONE.rev" | g "$T/gone" --import 2>/dev/null

# who knows whom: the customer has ticketd's two keys and nobody's; ticketd
# has the customer's and the staff keys, not eve's
ex() { g "$T/$1" --export --armor "$2@example.com"; }
for k in support billing; do ex ticketd $k | g "$T/cust" --import 2>/dev/null; done
ex nobody nobody | g "$T/cust" --import 2>/dev/null
for k in support billing; do ex ticketd $k | g "$T/eve" --import 2>/dev/null; done
ex cust cust | g "$T/ticketd" --import 2>/dev/null
for k in alice old gone; do ex $k $k | g "$T/ticketd" --import 2>/dev/null; done
# the agents forget the passphrases given at key generation
gpg_forget ticketd
gpg_forget alice

# enc FROM-HOME OUT ARGS... < plaintext: gpg encrypts (and signs when asked)
enc() {
	_h=$1 _o=$2
	shift 2
	g "$T/$_h" --trust-model always --yes -o "$_o" "$@" 2>>"$T/enc.log"
}
printf 'Grüße aus Köln — Bestellung 4711 ist nicht angekommen.\nZeile zwei €\n' >"$T/p1.txt"
printf 'Rechnung Nr. 0815: bitte prüfen\n\n' >"$T/p2.txt"
printf 'binary secret 42\n' >"$T/p3.txt"
enc cust "$T/p1.asc" --armor -e -r support@example.com "$T/p1.txt"
enc cust "$T/p2.asc" --armor -e -r billing@example.com "$T/p2.txt"
enc cust "$T/p3.gpg" -e -r support@example.com "$T/p3.txt"
enc cust "$T/signed.asc" --armor -s -u cust@example.com -e -r support@example.com "$T/p1.txt"
enc eve "$T/eve.asc" --armor -s -u eve@example.com -e -r support@example.com "$T/p1.txt"
enc cust "$T/nobody.asc" --armor -e -r nobody@example.com "$T/p1.txt"
enc cust "$T/both.asc" --armor -e -r support@example.com -r billing@example.com "$T/p2.txt"
gpg --homedir "$T/cust" --batch --yes --pinentry-mode loopback --passphrase 'only this' \
	--symmetric -o "$T/sym.gpg" "$T/p3.txt"
gpg --homedir "$T/cust" --batch --yes --pinentry-mode loopback --passphrase 'only this' \
	--trust-model always --symmetric -e -r support@example.com -o "$T/symenc.gpg" "$T/p3.txt"

P="$TOP/tests/probe-pgp-crypt"
probe() { "$P" "$@" 2>>"$T/probe.err"; }
# with both passphrases
dec() { probe -h "$T/ticketd" -p "$SUP=$SUP_PASS" -p "$BILL=$BILL_PASS" "$@"; }
cd "$T" || exit 1
OK_NONE="decrypted sig=no_signature signer=- mime=0"

# Cold agent first: nothing is cached yet.
t0=$(date +%s)
got=$(timeout 60 "$P" -h "$T/ticketd" -p "$SUP=wrong $SUP_PASS" -p "$BILL=$BILL_PASS" \
	-o wrong.out decrypt p1.asc 2>>"$T/probe.err")
t1=$(date +%s)
is "$got" "bad_passphrase sig=no_signature signer=- mime=0 reason=wrong passphrase for key 0x$SUP_ID" \
	"wrong passphrase: BAD_PASSPHRASE, naming the key"
ok $((t1 - t0 > 10)) "wrong passphrase: no prompt, no loop ($((t1 - t0)) s)"
[ ! -e wrong.out ]
ok $? "wrong passphrase: no plaintext"
got=$(probe -h "$T/ticketd" -p "$BILL=$BILL_PASS" decrypt p1.asc)
is "$got" "bad_passphrase sig=no_signature signer=- mime=0 reason=no passphrase configured for key 0x$SUP_ID" \
	"no passphrase for the key asked: BAD_PASSPHRASE"
got=$(probe -h "$T/ticketd" -p "$SUP=wrong" check "$SUP")
is "$got" "error: wrong passphrase for key 0x$SUP" "pgp_check_key: wrong passphrase"

got=$(probe -h "$T/ticketd" -p "$SUP=wrong" decrypt both.asc)
is "$got" "bad_passphrase sig=no_signature signer=- mime=0 reason=wrong passphrase for key 0x$SUP_ID; no passphrase configured for key 0x$BILL_ID" \
	"two recipients, neither opens: both keys named"
# encrypted to support and billing, only billing's passphrase known: the
# other key is tried
got=$(probe -h "$T/ticketd" -p "$BILL=$BILL_PASS" -o both.out decrypt both.asc)
is "$got" "$OK_NONE" "two recipients, one passphrase: the second key opens it"
cmp -s both.out p2.txt
ok $? "two recipients: exact plaintext"

# One inline block in a text part.
printf 'Hello,\n\nsee below.\n\n' >inline.txt
pre=$(wc -c <inline.txt)
cat p1.asc >>inline.txt
printf '\n-- \nCarol\n' >>inline.txt
a1=$(wc -c <p1.asc)
got=$(dec -t -o inline.out blocks inline.txt)
is "$got" "block 1 $pre $((pre + a1 - 1)) complete
block 1: $OK_NONE" "one inline block: offsets, decrypted"
cmp -s inline.out.1 p1.txt
ok $? "one inline block: the exact plaintext (UTF-8, trailing newline)"

# Two blocks with text between, the second indented and to billing; a
# quoted copy after them does not count.
{
	printf 'First:\n'
	cat p1.asc
	printf '\nand the invoice:\n\n'
} >two.txt
mid=$(wc -c <two.txt)
sed 's/^/  /' p2.asc >p2-indented.asc
cat p2-indented.asc >>two.txt
a2=$(wc -c <p2-indented.asc)
{
	printf '\nOn Monday you wrote:\n'
	sed 's/^/> /' p1.asc
} >>two.txt
got=$(dec -o two.out blocks two.txt)
is "$got" "block 1 7 $((7 + a1 - 1)) complete
block 2 $((mid + 2)) $((mid + a2 - 1)) complete
block 1: $OK_NONE
block 2: $OK_NONE" "two blocks (one indented, one quoted and not counted): offsets, decrypted"
cmp -s two.out.1 p1.txt && cmp -s two.out.2 p2.txt
ok $? "two blocks: both plaintexts exact, each key's own passphrase"
# the entry for any key serves billing when support has its own
got=$(probe -h "$T/ticketd" -p "*=$BILL_PASS" -p "$SUP=$SUP_PASS" -o any.out decrypt p2.asc)
is "$got" "$OK_NONE" "the entry without fingerprint serves the key without its own"

# binary, signed, unknown signer, no secret key
got=$(dec -t -o p3.out decrypt p3.gpg)
is "$got" "$OK_NONE" "binary (not armored) message"
cmp -s p3.out p3.txt
ok $? "binary message: exact plaintext"
got=$(dec -o signed.out decrypt signed.asc)
is "$got" "decrypted sig=good_signature signer=$CUST mime=0" "encrypted and signed: good, the customer's key"
cmp -s signed.out p1.txt
ok $? "encrypted and signed: exact plaintext"
got=$(dec decrypt eve.asc)
is "$got" "decrypted sig=signature_by_an_unknown_key signer=$EVE mime=0" "signed by a key ticketd does not know"
got=$(dec -o nobody.out decrypt nobody.asc)
is "$got" "no_secret_key sig=no_signature signer=- mime=0 reason=no secret key for any recipient (0x$NOBODY_ENC)" \
	"encrypted to a key ticketd has no secret for: NO_KEY"
[ ! -e nobody.out ]
ok $? "NO_KEY: no plaintext"

# corrupt and truncated
awk 'NR == 5 { print "!!notbase64!!"; next } { print }' p1.asc >corrupt.asc
got=$(dec decrypt corrupt.asc)
is "$got" "corrupt_message sig=no_signature signer=- mime=0 reason=no OpenPGP message found (not OpenPGP data, or damaged armor)" \
	"corrupt armor: CORRUPT"
n=$(wc -c <p3.gpg)
head -c $((n - 20)) p3.gpg >trunc.gpg
got=$(dec decrypt trunc.gpg)
is "$got" "corrupt_message sig=no_signature signer=- mime=0 reason=decryption failed: the message is damaged or fails its integrity check" \
	"truncated binary message: CORRUPT"
{
	printf 'Hello,\n'
	sed '/^-----END PGP MESSAGE-----/d' p1.asc
} >trunc.txt
n=$(wc -c <trunc.txt)
got=$(dec blocks trunc.txt)
is "$got" "block 1 7 $n incomplete
block 1: corrupt_message sig=no_signature signer=- mime=0 reason=armor without its END line (truncated)" \
	"truncated block: incomplete, CORRUPT"
printf 'no pgp here\n> -----BEGIN PGP MESSAGE-----\n' >none.txt
got=$(dec blocks none.txt)
is "$got" "" "no block (a quoted BEGIN line is not one)"
got=$(dec -o sym.out decrypt sym.gpg)
is "$got" "no_secret_key sig=no_signature signer=- mime=0 reason=encrypted with a passphrase only, not to a key: not supported" \
	"symmetric only: NO_KEY"
got=$(dec -o symenc.out decrypt symenc.gpg)
is "$got" "$OK_NONE" "symmetric and to support: the key opens it"
cmp -s symenc.out p3.txt
ok $? "symmetric and to support: exact plaintext"
g "$T/cust" --trust-model always --yes --rfc2440 --cipher-algo 3DES -e -r support@example.com \
	-o nomdc.gpg p3.txt 2>>"$T/enc.log"
got=$(dec -o nomdc.out decrypt nomdc.gpg)
is "$got" "unsupported_message sig=no_signature signer=- mime=0 reason=legacy cipher without integrity protection (no MDC): refused" \
	"legacy cipher without MDC: UNSUPPORTED"
[ ! -e nomdc.out ]
ok $? "without MDC: no plaintext"
head -c 3000 /dev/urandom >random.bin
got=$(dec decrypt random.bin)
ok $? "random bytes do not crash pgp_decrypt ($got)"

# Size: 20 MB decrypts; a compressed 64 MB of zeros is cut at the limit.
head -c 20000000 /dev/urandom >big.txt
enc cust big.asc --armor -e -r support@example.com big.txt
t0=$(date +%s)
got=$(dec -o big.out decrypt big.asc)
t1=$(date +%s)
is "$got" "$OK_NONE" "20 MB plaintext (27 MB armored) decrypts ($((t1 - t0)) s)"
cmp -s big.out big.txt
ok $? "20 MB: exact plaintext"
rm -f big.out big.txt
head -c 64000000 /dev/zero | enc cust bomb.gpg -e -r support@example.com
got=$(dec -m 10000000 -o bomb.out decrypt bomb.gpg)
is "$got" "decryption_error sig=no_signature signer=- mime=0 reason=decrypted text larger than 10000000 bytes" \
	"$(wc -c <bomb.gpg)-byte message expanding to 64 MB: refused at the limit"
[ ! -e bomb.out ]
ok $? "refused at the limit: no plaintext"
# GPGME does not wait for the gpg it stopped: that one ends at its next
# write into the closed pipe
left=1
for _ in $(seq 1 50); do
	ps -eo stat=,args= | grep -v '^Z' | grep -q -- "--homedir $T/ticketd .*--[d]ecrypt" ||
		{ left=0; break; }
	sleep 0.1
done
ok $left "the gpg stopped at the limit ends by itself"

# Encryption to staff: the bytes come back with the staff member's home.
printf 'Content-Type: text/plain; charset=utf-8\n\nTicket 4711: Kunde wartet — SECRET-MIME-BODY\n' >mime.eml
got=$(probe -h "$T/ticketd" -o mime.asc encrypt mime.eml "$ALICE")
is "$got" "encrypted" "pgp_encrypt_mime to a staff key"
is "$(head -n 1 mime.asc)" "-----BEGIN PGP MESSAGE-----" "armored"
got=$(probe -h "$T/alice" -p "$ALICE=$ALICE_PASS" -o mime.out decrypt mime.asc)
is "$got" "$OK_NONE" "the staff member's home decrypts it"
cmp -s mime.out mime.eml
ok $? "the MIME entity comes back byte for byte"
got=$(probe -h "$T/ticketd" -o x.asc encrypt mime.eml "$OLD")
is "$got" "error: key 0x$OLD has expired" "an expired staff key is refused"
got=$(probe -h "$T/ticketd" -o x.asc encrypt mime.eml "$GONE")
is "$got" "error: key 0x$GONE is revoked" "a revoked staff key is refused"
got=$(probe -h "$T/ticketd" -o x.asc encrypt mime.eml "$EVE")
is "$got" "error: no key 0x$EVE in $T/ticketd" "an unknown key is refused"
got=$(probe -h "$T/ticketd" -o x.asc encrypt mime.eml alice@example.com)
is "$got" "error: 'alice@example.com' is not a key fingerprint (40 or 64 hex digits)" \
	"only a fingerprint names the recipient"

# Export: gpg --import takes it.
got=$(probe -h "$T/ticketd" -o sup-pub.asc export "$SUP")
is "$got" "exported" "export of ticketd's support key"
g "$T/importer" --import sup-pub.asc 2>/dev/null
ok $? "gpg --import accepts it"
got=$(gpg --homedir "$T/importer" --with-colons --list-keys | awk -F: '/^fpr/ { print $10; exit }')
is "$got" "$SUP" "the imported key is the support key"
got=$(probe -h "$T/ticketd" -o all-pub.asc export -)
is "$got" "exported" "export of every key with a secret part"
g "$T/importer2" --import all-pub.asc 2>/dev/null
got=$(gpg --homedir "$T/importer2" --with-colons --list-keys |
	awk -F: '/^pub/ { p = 1; next } p && /^fpr/ { print $10; p = 0 }' | sort | tr '\n' ' ')
is "$got" "$(printf '%s\n%s\n' "$SUP" "$BILL" | sort | tr '\n' ' ')" "both ticketd keys, not the customer's"
gpg --homedir "$T/importer2" --list-secret-keys --with-colons 2>/dev/null | grep -q '^sec'
ok $((! $?)) "no secret key in the export"

# pgp_check_key
got=$(probe -h "$T/ticketd" -p "$SUP=$SUP_PASS" check "$SUP")
is "$got" "ok" "check: support key, right passphrase"
got=$(dec check -)
is "$got" "ok" "check: every key, both passphrases"
got=$(probe -h "$T/ticketd" -p "$SUP=$SUP_PASS" check -)
is "$got" "error: no passphrase configured for key 0x$BILL" "check: every key, billing's passphrase missing"
got=$(probe -h "$T/ticketd" -p "$SUP=$SUP_PASS" check "$NOBODY")
is "$got" "error: no secret key 0x$NOBODY in $T/ticketd" "check: missing key"
got=$(probe -h "$T/ticketd" -p "$SUP=wrong" check "$SUP")
is "$got" "error: wrong passphrase for key 0x$SUP" "check: wrong passphrase while the agent caches the right one"
# ... whereas decryption uses that cache (pgp.h says so)
got=$(probe -h "$T/ticketd" -p "$SUP=wrong" decrypt p1.asc)
is "$got" "$OK_NONE" "decryption with a cached passphrase does not read the configured one"
got=$(probe -h "$T/inline.txt" check -)
is "$got" "error: gnupg_home $T/inline.txt: not a directory" "check: home not a directory"
got=$(probe -h "$T/missing" check -)
is "$got" "error: gnupg_home $T/missing: No such file or directory" "check: home missing"

# the probe's stderr: no plaintext
for s in Bestellung 4711 'Rechnung Nr' 'binary secret' SECRET-MIME-BODY 'Grüße'; do
	if grep -q "$s" "$T/probe.err"; then
		ok 1 "plaintext '$s' on the probe's stderr"
	else
		ok 0 "no '$s' on the probe's stderr"
	fi
done
echo "# decryption times: support's key asked for its passphrase, then cached by the agent:" \
	$(grep '^ms=' "$T/probe.err")
done_testing
