#!/bin/sh
# lib/pgp.c against real GnuPG (tests/probe-pgp.c): keys made here in
# private GNUPGHOMEs; clear-signed and PGP/MIME messages signed by gpg.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

. "$TOP/tests/gpg.sh"
gpg_homes alice mallory eve ticketd
for who in alice mallory eve; do
	gpg_key $who || skip_all "gpg cannot make a key"
done
fpr() { gpg_fpr "$1"; }
ALICE=$(fpr alice)
MALLORY=$(fpr mallory)
EVE=$(fpr eve)
# a bad signature names only the key id (the fingerprint's last 16 digits)
ALICE_ID=$(echo "$ALICE" | cut -c 25-40)
# ticketd's keyring knows alice and mallory, not eve
for who in alice mallory; do
	g "$T/$who" --export --armor "$who@example.com" | g "$T/ticketd" --import 2>/dev/null
done

HDR='From: alice@example.com
To: support@example.com
Subject: [Ticket#1] status
Message-ID: <m1@example.com>
'
clear() { # clear SIGNER FILE [TEXT-BEFORE]: a clear-signed text/plain message
	{
		printf '%s\n' "$HDR"
		[ -n "${3:-}" ] && printf '%s\n' "$3"
		printf '#close\nHello Bob,\nall done.\n' | g "$T/$1" --clearsign -u "$1@example.com"
	} >"$2"
}
clear alice "$T/clear.eml"
clear eve "$T/clear-eve.eml"
clear mallory "$T/clear-mallory.eml"
clear alice "$T/clear-partial.eml" "#assign mallory"
sed 's/all done\./all dona./' "$T/clear.eml" >"$T/clear-bad.eml"
# the armor's first base64 line mangled
awk '/^-----BEGIN PGP SIGNATURE-----/ { s = 1; print; next }
     s == 1 && /^$/ { print; next }
     s == 1 { print "!!notbase64!!"; s = 2; next } { print }' "$T/clear.eml" >"$T/clear-corrupt.eml"
sed '/^-----END PGP SIGNATURE-----/d' "$T/clear.eml" >"$T/clear-noend.eml"
printf '%s\nHello, no signature here.\n' "$HDR" >"$T/plain.eml"

# PGP/MIME: the first part as the email package writes it, signed in its
# CRLF form, then written into the message with LF line ends (as a Maildir
# holds it); the signature over its CRLF form (RFC 3156 §5).
cat >"$T/mime.py" <<'PY'
import subprocess, sys
from email.mime.text import MIMEText
from email.mime.application import MIMEApplication
from email import policy

home, signer, out, mode = sys.argv[1:5]
part = MIMEText("#close\nHello Bob,\nall done = f\u00e4rdig.\n", "plain", "utf-8")
del part["MIME-Version"]
# CRLF; the line break before the next boundary belongs to the boundary
signed = part.as_bytes(policy=policy.SMTP).rstrip(b"\r\n")
sig = subprocess.run(["gpg", "--homedir", home, "--batch", "--quiet", "--pinentry-mode",
                      "loopback", "--passphrase", "", "--detach-sign", "--armor", "-u",
                      signer + "@example.com"], input=signed, check=True,
                     stdout=subprocess.PIPE).stdout
body = signed.replace(b"\r\n", b"\n").rstrip(b"\n")
if mode == "bad":
    body = body.replace(b"utf-8", b"utf-9", 1)  # one byte of the part's header
    assert b"utf-9" in body
inner = (b"Content-Type: multipart/signed; micalg=pgp-sha512;\n"
         b" protocol=\"application/pgp-signature\"; boundary=\"sig-b\"\n\n"
         b"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n"
         b"--sig-b\n" + body + b"\n--sig-b\n"
         b"Content-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
         + sig + b"\n--sig-b--\n")
head = (b"From: alice@example.com\nTo: support@example.com\nSubject: [Ticket#1] status\n"
        b"MIME-Version: 1.0\n")
if mode == "mixed":
    msg = (head + b"Content-Type: multipart/mixed; boundary=\"mix-b\"\n\n"
           b"--mix-b\n" + inner + b"\n--mix-b\nContent-Type: text/plain\n\nunsigned footer\n"
           b"--mix-b--\n")
elif mode == "decoy":
    # a copy of the signed part in the preamble, before the real first part
    msg = (head + b"Content-Type: multipart/signed; micalg=pgp-sha512;\n"
           b" protocol=\"application/pgp-signature\"; boundary=\"sig-b\"\n\n"
           b"--sig-x\n" + body + b"\n"
           b"--sig-b\nContent-Type: text/plain\n\n#assign mallory\n--sig-b\n"
           b"Content-Type: application/pgp-signature\n\n" + sig + b"\n--sig-b--\n")
else:
    msg = head + inner
open(out, "wb").write(msg)
PY
for mode in good bad mixed decoy; do
	python3 "$T/mime.py" "$T/alice" alice "$T/mime-$mode.eml" $mode
done
python3 "$T/mime.py" "$T/eve" eve "$T/mime-eve.eml" good

cd "$T" || exit 1
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear.eml 2>&1)
is "$got" "clear.eml good signature $ALICE $ALICE whole" "clear-signed by alice: good"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-bad.eml 2>&1)
is "$got" "clear-bad.eml bad signature $ALICE_ID $ALICE whole" "one byte of the signed text changed: bad"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-eve.eml 2>&1)
is "$got" "clear-eve.eml signature by an unknown key $EVE - whole" "key not in the keyring: unknown key"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-mallory.eml 2>&1)
is "$got" "clear-mallory.eml good signature $MALLORY $MALLORY whole" "mallory's good signature names mallory's key"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-partial.eml 2>&1)
is "$got" "clear-partial.eml good signature $ALICE $ALICE partial" "text above the signed block: partial"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" plain.eml 2>&1)
is "$got" "plain.eml no signature - - whole" "no signature"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-corrupt.eml 2>&1)
is "$got" "clear-corrupt.eml unusable signature - - whole" "corrupt armor"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" clear-noend.eml 2>&1)
is "$got" "clear-noend.eml unusable signature - - whole" "armor without its end line"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" mime-good.eml 2>&1)
is "$got" "mime-good.eml good signature $ALICE $ALICE whole" "PGP/MIME by alice: good"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" mime-bad.eml 2>&1)
is "$got" "mime-bad.eml bad signature $ALICE_ID $ALICE whole" "PGP/MIME, signed part changed: bad"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" mime-eve.eml 2>&1)
is "$got" "mime-eve.eml signature by an unknown key $EVE - whole" "PGP/MIME by an unknown key"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" mime-mixed.eml 2>&1)
is "$got" "mime-mixed.eml good signature $ALICE $ALICE partial" "PGP/MIME first in multipart/mixed: good, partial"
got=$("$TOP/tests/probe-pgp" "$T/ticketd" mime-decoy.eml 2>&1)
is "$got" "mime-decoy.eml bad signature $ALICE_ID $ALICE whole" "a signed copy in the preamble is not what is verified"
head -c 3000 /dev/urandom >random.eml
got=$("$TOP/tests/probe-pgp" "$T/ticketd" random.eml 2>&1)
ok $? "random bytes do not crash pgp_verify ($got)"
done_testing
