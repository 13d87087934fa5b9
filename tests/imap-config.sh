# tests/imap-config.sh - sourced after tests/lib.sh and tests/servers.sh:
# write_imap_config writes $T/ticketd.conf with the support queue on the
# private Dovecot over IMAP (STARTTLS required, the test CA) and outgoing
# mail per $TRANSPORT (default: the Maildir $T/outgoing); answered tickets stay
# answered unless AUTOCLOSE says otherwise (as in write_config).

# drop_imap USER NAME < message: put a message straight into a Dovecot
# user's Maildir, owned by the mail user, as a delivery agent would.
drop_imap() {
	_dir=$(mailbox_dir "$1") || return 1
	if [ ! -d "$_dir/new" ]; then
		# Dovecot, as the mail user, must be able to write its index here.
		mkdir -p "$_dir/tmp" "$_dir/new" "$_dir/cur" && chown -R "$MAIL_OWNER:" "$(dirname "$_dir")"
	fi
	cat >"$_dir/tmp/$2" && chown "$MAIL_OWNER:" "$_dir/tmp/$2" && mv "$_dir/tmp/$2" "$_dir/new/$2"
}

write_imap_config() {
	mkdir -p "$T/mail/billing/new" "$T/mail/billing/cur" "$T/mail/billing/tmp"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
	chmod 600 "$T/secret"
	_pw=$(password_file support@example.com)
	_transport=${TRANSPORT:-"url = \"maildir:$T/outgoing\";"}
	cat >"$T/ticketd.conf" <<CONF
database = { conninfo = "$CONNINFO"; };
daemon = { poll_interval = "1s"; tag = "Ticket"; secret_file = "$T/secret";
  autoresponse_limit = { count = 5; per = "1h"; }; batch_size = ${BATCH_SIZE:-50}; };
transport = { $_transport };
staff = ( { login = "alice"; name = "Alice Woods"; email = "staff@example.com";
            role = "admin"; queues = [ "support", "billing" ]; } );
queues = (
  { name = "support"; address = "support@example.com"; default = true; notify = "${NOTIFY:-none}";
    autoclose = ${AUTOCLOSE:--1};
    mailbox = { url = "${IMAP_URL:-imap://localhost:$DOVECOT_IMAP_PORT/INBOX}"; user = "support@example.com";
                password_file = "$_pw"; ca_file = "$TLS_CA"; tls = "required"; timeout = "10s"; }; },
  { name = "billing"; address = "billing@example.com"; notify = "${NOTIFY:-none}";
    autoclose = ${AUTOCLOSE:--1}; mailbox = { url = "maildir:$T/mail/billing"; }; }
);
CONF
}
