#!/bin/sh
# End to end on real servers: a customer's message submitted by SMTP to
# support@ goes through Postfix into Dovecot, ticketd takes it over IMAP,
# and the auto-response, sent by SMTP, arrives in the customer's own mailbox
# with In-Reply-To, References and Auto-Submitted right.  Same for billing@
# over POP3.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/servers.sh"
. "$TOP/tests/imap-config.sh"
servers_require dovecot postfix
start_pg || skip_all "cannot start PostgreSQL"
start_dovecot || { echo "Bail out! Dovecot did not start"; exit 1; }
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }
TRANSPORT="url = \"smtp://localhost:$POSTFIX_SMTP_PORT\"; starttls = \"required\"; ca_file = \"$TLS_CA\";" \
	write_imap_config
# billing reads its mailbox over POP3 with TLS.
billing_pw=$(password_file billing@example.com)
sed -i "s|url = \"maildir:$T/mail/billing\"; };|url = \"pop3s://localhost:$DOVECOT_POP3S_PORT\"; user = \"billing@example.com\"; password_file = \"$billing_pw\"; ca_file = \"$TLS_CA\"; };|" \
	"$T/ticketd.conf"
grep -q pop3s "$T/ticketd.conf" || { echo "Bail out! config not rewritten"; exit 1; }
"$TICKETCTL" -c "$T/ticketd.conf" db migrate >/dev/null || exit 1

header() { # header NAME FILE: the first header NAME of FILE, unfolded
	awk -v n="$1" '/^\r?$/ { exit }
		tolower($0) ~ "^" tolower(n) ":" { v = $0; while ((getline l) > 0 && l ~ /^[ \t]/) v = v l; print v; exit }' "$2" |
		tr -d '\r' | sed "s/^[^:]*: *//"
}
newest_mail() { # newest_mail USER
	d=$(mailbox_dir "$1")
	ls -t "$d"/new/* "$d"/cur/* 2>/dev/null | head -n 1
}

for kind in imap pop3; do
	case $kind in
	imap) queue=support; to=support@example.com ;;
	pop3) queue=billing; to=billing@example.com ;;
	esac
	before=$(mail_count customer@example.net)
	cat >"$T/$kind.eml" <<MAIL
From: Customer <customer@example.net>
To: $to
Subject: Help over $kind
Message-ID: <e2e-$kind@example.net>
Date: Mon, 23 Nov 2026 09:00:00 +0000

Please help, I came by $kind.
MAIL
	smtp_send customer@example.net "$to" "$T/$kind.eml"
	ok $? "$kind: the customer's message is accepted by Postfix"
	wait_for_mail "$to" 1
	ok $? "$kind: and delivered into $to's mailbox in Dovecot"
	run_once
	ok $? "$kind: ticketd --once"
	is "$(psql_q "SELECT q.name FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.subject = 'Help over $kind'")" \
		"$queue" "$kind: a ticket in the $queue queue"
	is "$(mail_count "$to")" 0 "$kind: the message left the server's mailbox after the commit"
	is "$(psql_q "SELECT o.status FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE t.subject = 'Help over $kind'")" \
		sent "$kind: the auto-response was sent over SMTP"
	wait_for_mail customer@example.net $((before + 1))
	ok $? "$kind: the auto-response arrived in the customer's mailbox"
	ar=$(newest_mail customer@example.net)
	id=$(psql_q "SELECT id FROM tickets WHERE subject = 'Help over $kind'")
	is "$(header Subject "$ar")" "[Ticket#$id] Help over $kind" "$kind: Subject carries the tag"
	is "$(header In-Reply-To "$ar")" "<e2e-$kind@example.net>" "$kind: In-Reply-To"
	is "$(header References "$ar")" "<e2e-$kind@example.net>" "$kind: References"
	is "$(header Auto-Submitted "$ar")" "auto-replied" "$kind: Auto-Submitted"
	is "$(header Return-Path "$ar")" "<>" "$kind: sent with the null envelope sender (RFC 3834)"

	# The customer answers the auto-response: it threads by In-Reply-To.
	ar_id=$(header Message-ID "$ar")
	cat >"$T/$kind-reply.eml" <<MAIL
From: customer@example.net
To: $to
Subject: Re: [Ticket#$id] Help over $kind
Message-ID: <e2e-$kind-2@example.net>
In-Reply-To: $ar_id
References: <e2e-$kind@example.net> $ar_id

Thanks.
MAIL
	smtp_send customer@example.net "$to" "$T/$kind-reply.eml" && wait_for_mail "$to" 1
	run_once
	is "$(psql_q "SELECT count(*) FROM messages WHERE ticket_id = $id AND direction = 'in'")" 2 \
		"$kind: the reply is a follow-up on the same ticket"
done
done_testing
