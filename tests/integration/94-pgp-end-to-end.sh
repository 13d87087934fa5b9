#!/bin/sh
# Encrypted customer mail end to end on real servers (issue 18): a customer
# writes by SMTP to support@ (Postfix → Dovecot) with an inline block
# encrypted to ticketd's key (a key with a passphrase) between plain text;
# ticketd takes it over IMAP, stores the plaintext as a secure part and
# "[encrypted section 1]" in the text, and notifies the admin, whose mail
# arrives in her Dovecot mailbox with the placeholder only; she replies to
# the notification (submitted to Postfix); the answer arrives in the
# customer's mailbox quoting the placeholder and the text around it.  The
# plaintext never leaves ticketd by mail: it is in no received mail (raw or
# decoded), no outbox row, no other table but secure_parts, and not in the
# daemon's log at -v.
#
# Staff mail is proven by our MTA's Authentication-Results (authserv-id
# mx.example.com), as in 92-staff-end-to-end.sh.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot postfix
command -v gpg >/dev/null || skip_all "gpg not installed"
command -v gpgconf >/dev/null || skip_all "gpgconf not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
. "$TOP/tests/gpg.sh"
# gpg.sh's EXIT trap replaced servers.sh's: stop the servers, then the
# agents (gpg_stop_agents runs lib.sh's cleanup: PostgreSQL, $T).
trap 'servers_cleanup; gpg_stop_agents' EXIT
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }

SECRET="SECRET-E2E-5150 root password is hunter2"
TOKENS="SECRET-E2E-5150 hunter2"

# 1. the keys: ticketd's with a passphrase; the customer has its public key
gpg_homes ticketd customer
PASS='ticketd e2e pass ä 94'
gpg_key_pass support "$PASS" ticketd || { echo "Bail out! gpg cannot make a key"; exit 1; }
gpg_key customer || { echo "Bail out! gpg cannot make a key"; exit 1; }
SUP=$(gpg_fpr_in ticketd support 2>/dev/null)
g "$T/ticketd" --export --armor support@example.com | g "$T/customer" --import 2>/dev/null
# the agent would still hold the passphrase given at --quick-gen-key
gpg_forget ticketd
printf '%s\n' "$PASS" >"$T/pgp.pass"
chmod 600 "$T/pgp.pass"

NOTIFY=admins TRANSPORT="url = \"smtp://localhost:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\";" \
	write_imap_config
sed -i -e 's|^daemon = {|daemon = { staff_auth = [ "authres" ]; authserv_id = "mx.example.com";|' \
	"$T/ticketd.conf"
cat >>"$T/ticketd.conf" <<CONF
pgp = { gnupg_home = "$T/ticketd"; key = "$SUP"; passphrase_file = "$T/pgp.pass"; };
CONF
grep -q 'authserv_id' "$T/ticketd.conf" && grep -q '^pgp = ' "$T/ticketd.conf" ||
	{ echo "Bail out! config not rewritten"; exit 1; }
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || { echo "Bail out! db migrate"; exit 1; }
"$TICKETD" -t -c "$T/ticketd.conf" >/dev/null 2>"$T/t.err"
ok $? "ticketd -t: the config with the pgp key and its passphrase is good"
[ -s "$T/t.err" ] && sed 's/^/# /' "$T/t.err"

# One Python per mail (its start is slow on a busy machine):
#   mailtool FILE PREFIX   writes PREFIX.subject, .msgid, .irt (headers,
#                          decoded), .body (the decoded text/plain body)
#                          and .all (every header and part, decoded)
#   mailtool --all FILE... every header and part of each FILE, decoded
cat >"$T/mailtool.py" <<'PY'
import email, email.policy, sys
def dump(m, out):
    for part in m.walk():
        for k, v in part.items():
            out.write("%s: %s\n" % (k, v))
        if not part.is_multipart():
            out.write((part.get_payload(decode=True) or b"").decode("utf-8", "replace") + "\n")
def load(f):
    return email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
if sys.argv[1] == "--all":
    for f in sys.argv[2:]:
        dump(load(f), sys.stdout)
    sys.exit(0)
m, p = load(sys.argv[1]), sys.argv[2]
for h, ext in (("Subject", "subject"), ("Message-ID", "msgid"), ("In-Reply-To", "irt")):
    open(p + "." + ext, "w").write(str(m[h] or ""))
b = m.get_body(("plain",))
open(p + ".body", "w").write(b.get_content() if b is not None else "")
with open(p + ".all", "w") as out:
    dump(m, out)
PY
mailtool() { python3 "$T/mailtool.py" "$@"; }
mail_files() { # mail_files USER: the user's messages, sorted
	d=$(mailbox_dir "$1")
	find "$d/new" "$d/cur" -type f 2>/dev/null | sort
}
new_mail() { # new_mail USER BEFORE-LIST: the first message not in the list
	mail_files "$1" | grep -vxF -f "$2" | head -n 1
}
leaks() { # leaks FILE-OR-DIR...: the secret's tokens found in them (recursively)
	for _t in $TOKENS; do grep -rqF -D skip -- "$_t" "$@" 2>/dev/null && echo "$_t"; done | tr '\n' ' '
}
body_of() { psql_q "SELECT body FROM messages WHERE message_id = '$1'"; }

# 2. the customer's mail: text, the encrypted block, text
printf '%s\n' "$SECRET" | g "$T/customer" --trust-model always --armor -r support@example.com -e \
	>"$T/block.asc" 2>"$T/enc.log"
grep -q -- "-----BEGIN PGP MESSAGE-----" "$T/block.asc" || { echo "Bail out! gpg did not encrypt"; exit 1; }
{
	cat <<'MAIL'
From: Customer <customer@example.net>
To: support@example.com
Subject: New server credentials
Message-ID: <pe2e-1@example.net>
Date: Mon, 23 Nov 2026 10:00:00 +0000

Hello support,
here are the credentials you asked for:
MAIL
	cat "$T/block.asc"
	printf 'Please rotate them after the migration.\n'
} >"$T/c1.eml"
mail_files customer@example.net >"$T/cust.before"
smtp_send customer@example.net support@example.com "$T/c1.eml" && wait_for_mail support@example.com 1
ok $? "the customer's encrypted mail is in support@'s mailbox"

# 3. intake: the ticket, the placeholder, the secure part, the notification
run_once -v
id=$(psql_q "SELECT id FROM tickets WHERE subject = 'New server credentials'")
ok $([ -n "$id" ] && echo 0 || echo 1) "ticketd made ticket $id"
is "$(body_of pe2e-1@example.net)" \
	"$(printf 'Hello support,\nhere are the credentials you asked for:\n[encrypted section 1]\nPlease rotate them after the migration.')" \
	"the stored text has the placeholder between the text around the block"
is "$(psql_q "SELECT s.section || '|' || s.part || '|' || convert_from(s.content, 'UTF8') FROM secure_parts s
	JOIN messages m ON m.id = s.message_id WHERE m.message_id = 'pe2e-1@example.net'")" \
	"1|0|$SECRET" "secure_parts holds the plaintext as section 1, part 0"
wait_for_mail staff@example.com 1
ok $? "the notification arrived in the admin's mailbox"
n=$(mail_files staff@example.com | head -n 1)
mailtool "$n" "$T/notification"
is "$(cat "$T/notification.subject")" "[Ticket#$id] New server credentials" "... its subject carries the tag"
grep -qxF "[encrypted section 1]" "$T/notification.body" &&
	grep -qxF "here are the credentials you asked for:" "$T/notification.body" &&
	grep -qxF "Please rotate them after the migration." "$T/notification.body"
ok $? "... its decoded text has the placeholder and the text around it"
is "$(leaks "$T/notification.all" "$n")" "" "... and not the secret (decoded or raw)"
! grep -q "BEGIN PGP MESSAGE" "$T/notification.all" "$n"
ok $? "... nor the encrypted block"

# the customer's auto-response carries no secret either
wait_for_mail customer@example.net 1
ok $? "the customer got the auto-response"
ar=$(new_mail customer@example.net "$T/cust.before")
mailtool "$ar" "$T/autoresponse"
is "$(leaks "$T/autoresponse.all" "$ar")" "" "... without the secret (decoded or raw)"
mail_files customer@example.net >"$T/cust.before"

# 4. the admin answers; the answer reaches the customer with the placeholder
cat >"$T/a1.eml" <<MAIL
Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=staff@example.com
From: Alice Woods <staff@example.com>
To: support@example.com
Subject: Re: [Ticket#$id] New server credentials
Message-ID: <pe2e-a1@example.com>
In-Reply-To: $(cat "$T/notification.msgid")

Thanks, we have rotated the credentials.

> $(head -n 1 "$T/notification.body")
MAIL
smtp_submit staff@example.com staff@example.com support@example.com "$T/a1.eml" &&
	wait_for_mail support@example.com 1
ok $? "the admin's reply went through Postfix into support@'s mailbox"
run_once -v
is "$(psql_q "SELECT status FROM tickets WHERE id = $id")" "answered" "the ticket is answered"
wait_for_mail customer@example.net $(($(wc -l <"$T/cust.before") + 1))
ok $? "the answer arrived in the customer's mailbox"
a=$(new_mail customer@example.net "$T/cust.before")
mailtool "$a" "$T/answer"
is "$(cat "$T/answer.irt")" "<pe2e-1@example.net>" "it replies to the customer's message"
grep -qxF "Thanks, we have rotated the credentials." "$T/answer.body"
ok $? "it has the admin's text"
quoted=$(grep '^>' "$T/answer.body" | tr '\n' '|')
case "$quoted" in
*"> here are the credentials you asked for:|> [encrypted section 1]|> Please rotate them after the migration.|"*) r=0 ;;
*) r=1; echo "# quoted: $quoted" ;;
esac
ok $r "its quote has '> [encrypted section 1]' between the quoted text around it"
is "$(leaks "$T/answer.all" "$a")" "" "... and not the secret (decoded or raw)"
! grep -q "BEGIN PGP MESSAGE" "$T/answer.all" "$a"
ok $? "... nor the encrypted block"

# the secret left ticketd nowhere: every mail of every mailbox, raw and
# decoded; the outbox; the tables; the log; the servers' spool and logs
sleep 1
is "$(leaks "$VMAIL")" "" "no file of any Dovecot mailbox has the secret (grep -r)"
find "$VMAIL" -path '*/new/*' -type f -o -path '*/cur/*' -type f >"$T/all-mail"
all=$(wc -l <"$T/all-mail")
ok $([ "$all" -ge 3 ] && echo 0 || echo 1) "$all mails in the test's mailboxes (notification, auto-response, answer)"
xargs -d '\n' python3 "$T/mailtool.py" --all <"$T/all-mail" >"$T/all-mail.decoded" ||
	echo "# cannot decode every mail"
is "$(leaks "$T/all-mail.decoded")" "" "... nor any of them decoded (every header and part)"
is "$(psql_q "SELECT count(*) FROM outbox WHERE strpos(encode(raw, 'escape'), 'SECRET-E2E-5150') > 0
	OR strpos(encode(raw, 'escape'), 'hunter2') > 0")" 0 "no outbox row has the secret"
for o in $(psql_q "SELECT id FROM outbox ORDER BY id"); do
	psql_q "SELECT encode(raw, 'base64') FROM outbox WHERE id = $o" | base64 -d >"$T/outbox-$o.eml"
done
mailtool --all "$T"/outbox-*.eml >"$T/outbox.all"
is "$(leaks "$T/outbox.all")" "" "... nor decoded ($(psql_q "SELECT count(*) FROM outbox") rows)"
is "$(psql_q "SELECT (SELECT count(*) FROM messages WHERE strpos(body, 'hunter2') > 0)
	+ (SELECT count(*) FROM raw_messages WHERE strpos(encode(raw, 'escape'), 'hunter2') > 0)
	+ (SELECT count(*) FROM events WHERE strpos(coalesce(new, '') || coalesce(old, ''), 'hunter2') > 0)")" 0 \
	"no message, raw copy or event has it"
[ -s "$T/ticketd.log" ] && grep -q . "$T/ticketd.log"
ok $? "ticketd logged at -v"
is "$(leaks "$T/ticketd.log")" "" "the ticketd log has no secret"
is "$(leaks "$T/postfix/queue" "$T/postfix/maillog" "$T/dovecot/dovecot.log")" "" \
	"nor Postfix's queue and log or Dovecot's log"
if [ "$tap_failed" -ne 0 ]; then
	echo "# --- ticketd.log"
	tail -n 40 "$T/ticketd.log" | sed 's/^/# /'
	servers_diag
fi
done_testing
