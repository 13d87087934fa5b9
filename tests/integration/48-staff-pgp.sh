#!/bin/sh
# Staff mail proven by an OpenPGP signature (daemon.staff_auth "pgp",
# the member's pgp_key): a clear-signed answer with a command is applied
# and reaches the customer without the armor; the same mail signed by
# another key is a customer's and changes nothing.  Keys made here.
. "$(dirname "$0")/../lib.sh"

command -v gpg >/dev/null || skip_all "gpg not installed"
start_pg || skip_all "cannot start PostgreSQL"
. "$TOP/tests/gpg.sh"
gpg_homes alice mallory ticketd
for who in alice mallory; do
	gpg_key $who || skip_all "gpg cannot make a key"
	g "$T/$who" --export --armor "$who@example.com" | g "$T/ticketd" --import 2>/dev/null
done
ALICE=$(gpg_fpr alice)

write_config
sed -i -e "s|^daemon = {|daemon = { staff_auth = [ \"pgp\" ];|" \
	-e "s|role = \"admin\";|role = \"admin\"; pgp_key = \"$ALICE\";|" "$T/ticketd.conf"
cat >>"$T/ticketd.conf" <<CONF
pgp = { gnupg_home = "$T/ticketd"; };
CONF
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }

printf 'From: carol@customer.example\nTo: support@example.com\nSubject: VPN\nMessage-ID: <p1@customer.example>\n\nThe VPN drops.\n' | deliver support p1
run_once --now=2026-11-23T10:00:00Z
signed() { # signed SIGNER MSGID: a clear-signed staff answer on ticket 1
	printf 'From: alice@example.com\nTo: support@example.com\nSubject: Re: [Ticket#1] VPN\nMessage-ID: <%s>\n\n' "$2"
	printf '#priority 70\n\nPlease update the client.\n- dashes stay\n' | g "$T/$1" --clearsign -u "$1@example.com"
}
signed mallory m1@example.com | deliver support s1
run_once --now=2026-11-23T10:10:00Z
is "$(psql_q "SELECT status || '|' || priority FROM tickets WHERE id = 1")" "new|50" \
	"signed by another key: nothing applied"
is "$(psql_q "SELECT kind FROM messages WHERE message_id = 'm1@example.com'")" customer \
	"... it is a customer's message"
signed alice a1@example.com | deliver support s2
run_once --now=2026-11-23T10:20:00Z
is "$(psql_q "SELECT status || '|' || priority FROM tickets WHERE id = 1")" "answered|70" \
	"signed by alice's key: the command and the answer applied"
ans=$(grep -l "^To: .*carol@customer.example" "$T/outgoing/new/"* | xargs ls -t | head -n 1)
python3 - "$ans" >"$T/answer.txt" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
sys.stdout.write(m.get_body(("plain",)).get_content())
PY
grep -q "^Please update the client.$" "$T/answer.txt" && grep -q "^- dashes stay$" "$T/answer.txt"
ok $? "the customer gets the signed text, dash-escaping undone"
! grep -q "PGP\|#priority\|^Hash:" "$T/answer.txt"
ok $? "... without the armor or the command"
done_testing
