# tests/servers.sh - real mail servers for the integration tests.
#
# Sourced AFTER tests/lib.sh (it needs $T and cleanup()).  It runs a private
# Dovecot (IMAP, POP3, LMTP, SASL auth) and a private Postfix (SMTP,
# submission with AUTH, SMTPS) on 127.0.0.1, with every file under $T and a
# test CA made with openssl.  Nothing under /etc/dovecot or /run is used,
# and of /etc/postfix only the package's own postfix-files and dynamicmaps.cf
# are read; nothing outside $T is written, and the system services stay
# untouched.  Every process started here is stopped by pid (stop_servers,
# also run from the EXIT trap); only processes that are provably this
# test's are ever killed.  Needs root (Postfix's master, Dovecot's privilege
# separation); contrib/install-test-servers.sh installs the packages.
#
# Functions (each returns non-zero on failure):
#   servers_require [dovecot] [postfix]   skip_all unless root and the
#                            binaries are installed (never for config errors)
#   start_dovecot            IMAP (STARTTLS), IMAPS, POP3 (STLS), POP3S, LMTP
#                            (start_*: 1 on any failure, with the server's
#                            messages on stderr; 77 if not installed/not root)
#   start_postfix            SMTP (STARTTLS offered), submission (STARTTLS
#                            required, then AUTH PLAIN/LOGIN via Dovecot),
#                            SMTPS (implicit TLS + AUTH); delivers every
#                            accepted message to the private Dovecot by LMTP
#   stop_servers             stop both by pid, wait, KILL what is left
#   servers_pids             pids of every server process now running
#   servers_alive PID        the process lives (and is no zombie)
#   servers_ours PID         it is a live process of this test's servers
#   servers_listening PORT...   every PORT has a TCP listener
#   mailbox_dir USER         the user's Maildir (root of new/ cur/ tmp/)
#   mail_count USER          messages in the user's Maildir (new + cur)
#   wait_for_mail USER COUNT [TIMEOUT-SECONDS]
#   user_password USER       the user's password
#   password_file USER       write it into a mode-600 file, echo its path
#   smtp_send FROM TO FILE   submit FILE on the plain SMTP port (no auth)
#   smtp_submit USER FROM TO FILE [MECH]
#                            submit on the submission port: STARTTLS with
#                            CA check, AUTH MECH (PLAIN) as USER
#   servers_diag [dovecot|postfix]   print the servers' logs as TAP comments
#
# Variables (exported by the start functions):
#   DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT DOVECOT_POP3_PORT DOVECOT_POP3S_PORT
#   DOVECOT_LMTP_PORT DOVECOT_AUTH_SOCKET POSTFIX_SMTP_PORT
#   POSTFIX_SUBMISSION_PORT POSTFIX_SMTPS_PORT SERVERS_PORT_BASE
#   SERVERS_HOST (127.0.0.1)
#   TLS_CA          the test CA (PEM) that signed the servers' certificate
#   TLS_OTHER_CA    an unrelated CA: verifying against it must fail
#   TLS_CERT TLS_KEY   the servers' certificate (localhost, 127.0.0.1)
#   TLS_WRONG_HOST  127.0.0.2: the same ports answer there with a
#                   certificate for wrong.example (signed by TLS_CA), so a
#                   client that checks the host name must refuse it
#   MAIL_USERS      the users: support@example.com billing@example.com
#                   customer@example.net staff@example.com
#   MAIL_OWNER      the system user owning all mail (default: mail)
#
# Ports: one block of 10 consecutive ports per test script, starting at
# 10000 + ($$ % 2200) * 10 (below the kernel's ephemeral range), moved on
# by one block while any port of it is in use in /proc/net/tcp:
#   +0 IMAP  +1 IMAPS  +2 POP3  +3 POP3S  +4 LMTP
#   +5 SMTP  +6 submission  +7 SMTPS

SERVERS_HOST=127.0.0.1
TLS_WRONG_HOST=127.0.0.2
MAIL_USERS="support@example.com billing@example.com customer@example.net staff@example.com"
: "${MAIL_OWNER:=mail}"
: "${SERVERS_PASSWORD_PREFIX:=secret-}"
: "${DOVECOT:=$(command -v dovecot || echo /usr/sbin/dovecot)}"
: "${POSTFIX:=$(command -v postfix || echo /usr/sbin/postfix)}"
export SERVERS_HOST TLS_WRONG_HOST MAIL_USERS MAIL_OWNER

DOVECOT_DIR="$T/dovecot"
POSTFIX_DIR="$T/postfix"
TLS_DIR="$T/tls"
VMAIL="$T/vmail"
TLS_CA="$TLS_DIR/ca.pem"
TLS_OTHER_CA="$TLS_DIR/other-ca.pem"
TLS_CERT="$TLS_DIR/server.pem"
TLS_KEY="$TLS_DIR/server.key"
DOVECOT_STARTED=
POSTFIX_STARTED=
SERVERS_KNOWN_PIDS=

# --- cleanup ---------------------------------------------------------------

servers_cleanup() {
	stop_servers >/dev/null 2>&1
	return 0
}
trap 'servers_cleanup; cleanup' EXIT
# Make an interrupted test run the EXIT trap too (dash does not on signals).
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

# --- small helpers -----------------------------------------------------------

servers_err() { echo "servers.sh: $*" >&2; }

# servers_alive PID: the process exists and is not a zombie (a daemon's
# master is reparented to pid 1, which may be slow to reap it)
servers_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	case $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) in Z*|X*|"") return 1 ;; esac
	return 0
}

# servers_ours PID: the process belongs to this test's servers: a Dovecot
# process titled with our instance name (or started with our config), or a
# Postfix process with our MAIL_CONFIG.  Guards every KILL against pids
# that were reused by others.
servers_ours() {
	servers_alive "$1" || return 1
	case $(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") in
	"dovecot-ticketd-$$/"*|*" -c $DOVECOT_DIR/dovecot.conf"*) return 0 ;;
	esac
	tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "MAIL_CONFIG=$POSTFIX_DIR/etc"
}

# servers_kill_ours SIGNAL PID...: signal those of the pids that are ours
servers_kill_ours() {
	_ko_sig=$1; shift
	for _ko_p in "$@"; do
		servers_ours "$_ko_p" && kill "-$_ko_sig" "$_ko_p" 2>/dev/null
	done
	return 0
}

# servers_descendants PID...: the pids and all their descendants
servers_descendants() {
	_sd_todo="$*"
	_sd_all=
	while [ -n "$_sd_todo" ]; do
		_sd_next=
		for _sd_p in $_sd_todo; do
			case " $_sd_all " in *" $_sd_p "*) continue ;; esac
			servers_alive "$_sd_p" || continue
			_sd_all="$_sd_all $_sd_p"
			_sd_next="$_sd_next $(ps -o pid= --ppid "$_sd_p" 2>/dev/null | tr '\n' ' ')"
		done
		_sd_todo=$_sd_next
	done
	echo $_sd_all
}

servers_pidfile_pid() { # servers_pidfile_pid FILE: its pid, if that process lives
	[ -f "$1" ] || return 1
	_pp=$(tr -dc '0-9' <"$1")
	[ -n "$_pp" ] && servers_alive "$_pp" && echo "$_pp"
}

dovecot_master_pid() { servers_pidfile_pid "$DOVECOT_DIR/run/master.pid"; }
postfix_master_pid() { servers_pidfile_pid "$POSTFIX_DIR/queue/pid/master.pid"; }

# servers_pids: every process of the private servers now running
servers_pids() {
	_spm=
	[ -n "$DOVECOT_STARTED" ] && _spm="$_spm $(dovecot_master_pid)"
	[ -n "$POSTFIX_STARTED" ] && _spm="$_spm $(postfix_master_pid)"
	servers_descendants $_spm
}

# servers_remember: add the servers' current processes to the pids that
# stop_servers makes sure are gone (children a master forgets to stop).
servers_remember() {
	for _sr in $(servers_pids); do
		case " $SERVERS_KNOWN_PIDS " in *" $_sr "*) ;; *) SERVERS_KNOWN_PIDS="$SERVERS_KNOWN_PIDS $_sr" ;; esac
	done
}

# servers_wait_gone TENTHS PID...: wait until all are gone; 1 if some live on
servers_wait_gone() {
	_wg_n=$1; shift
	while [ "$_wg_n" -gt 0 ]; do
		_wg_alive=
		for _wg_p in "$@"; do servers_alive "$_wg_p" && _wg_alive=1; done
		[ -z "$_wg_alive" ] && return 0
		sleep 0.1
		_wg_n=$((_wg_n - 1))
	done
	return 1
}

# servers_used_ports: every local TCP port in use (any state), decimal
servers_used_ports() {
	for _f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$_f" ] && awk 'NR > 1 { n = split($2, a, ":"); print a[n] }' "$_f"
	done | sort -u | while read -r _hex; do printf '%d\n' "0x$_hex"; done
}

# servers_pick_ports: choose SERVERS_PORT_BASE (once per test script)
servers_pick_ports() {
	[ -n "${SERVERS_PORT_BASE:-}" ] && return 0
	_used=" $(servers_used_ports | tr '\n' ' ') "
	_block=$(($$ % 2200))
	_tries=0
	while [ $_tries -lt 200 ]; do
		_base=$((10000 + _block * 10))
		_free=1
		for _i in 0 1 2 3 4 5 6 7 8 9; do
			case "$_used" in *" $((_base + _i)) "*) _free= ; break ;; esac
		done
		if [ -n "$_free" ]; then
			SERVERS_PORT_BASE=$_base
			DOVECOT_IMAP_PORT=$_base
			DOVECOT_IMAPS_PORT=$((_base + 1))
			DOVECOT_POP3_PORT=$((_base + 2))
			DOVECOT_POP3S_PORT=$((_base + 3))
			DOVECOT_LMTP_PORT=$((_base + 4))
			POSTFIX_SMTP_PORT=$((_base + 5))
			POSTFIX_SUBMISSION_PORT=$((_base + 6))
			POSTFIX_SMTPS_PORT=$((_base + 7))
			export SERVERS_PORT_BASE DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT \
				DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_LMTP_PORT \
				POSTFIX_SMTP_PORT POSTFIX_SUBMISSION_PORT POSTFIX_SMTPS_PORT
			return 0
		fi
		_block=$(((_block + 1) % 2200))
		_tries=$((_tries + 1))
	done
	servers_err "no free block of 10 ports found"
	return 1
}

# servers_listening PORT...: true when every PORT has a listener
servers_listening() {
	_ls=" $(for _f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$_f" ] && awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' "$_f"
	done | while read -r _hex; do printf '%d ' "0x$_hex"; done) "
	for _p in "$@"; do
		case "$_ls" in *" $_p "*) ;; *) return 1 ;; esac
	done
	return 0
}

# servers_wait_listening TENTHS PIDFUNC PORT...: wait for the listeners,
# failing early once the master (PIDFUNC prints its pid) is gone.
servers_wait_listening() {
	_wl_n=$1 _wl_f=$2 _wl_i=0
	shift 2
	while [ "$_wl_i" -lt "$_wl_n" ]; do
		servers_listening "$@" && return 0
		# half a second for the master to write its pid file, then insist
		if [ "$_wl_i" -ge 5 ] && ! $_wl_f >/dev/null; then
			servers_err "the master process is gone"
			return 1
		fi
		sleep 0.1
		_wl_i=$((_wl_i + 1))
	done
	return 1
}

servers_need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "private Dovecot/Postfix need root"
		return 1
	fi
}

# servers_require [dovecot] [postfix]: skip the whole test when the servers
# cannot run here at all (not root, packages missing).  Configuration
# mistakes are not hidden: those make start_* fail.
servers_require() {
	[ $# -gt 0 ] || set -- dovecot postfix
	_why=$(servers_need_root) || skip_all "$_why"
	for _tool in openssl curl "$@"; do
		case $_tool in
		dovecot) [ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/pop3 ] \
			&& [ -x /usr/lib/dovecot/lmtp ] \
			|| skip_all "Dovecot (dovecot-imapd, -pop3d, -lmtpd) is not installed (contrib/install-test-servers.sh)" ;;
		postfix) [ -x "$POSTFIX" ] || skip_all "Postfix is not installed (contrib/install-test-servers.sh)" ;;
		*) command -v "$_tool" >/dev/null || skip_all "$_tool is not installed (contrib/install-test-servers.sh)" ;;
		esac
	done
	id "$MAIL_OWNER" >/dev/null 2>&1 || skip_all "no system user '$MAIL_OWNER' to own the test mail"
}

# --- users and mail ----------------------------------------------------------

user_password() { # user_password USER
	echo "$SERVERS_PASSWORD_PREFIX${1%@*}"
}

password_file() { # password_file USER: mode-600 file with the password
	mkdir -p "$T/passwords" || return 1
	chmod 700 "$T/passwords"
	_pf="$T/passwords/$1"
	(umask 077; user_password "$1" >"$_pf") || return 1
	chmod 600 "$_pf"
	echo "$_pf"
}

mailbox_dir() { # mailbox_dir USER
	case $1 in *@*) ;; *) servers_err "mailbox_dir: '$1' is not user@domain"; return 1 ;; esac
	echo "$VMAIL/${1#*@}/${1%@*}"
}

mail_count() { # mail_count USER: messages in new/ and cur/
	_md=$(mailbox_dir "$1") || return 1
	find "$_md/new" "$_md/cur" -type f 2>/dev/null | wc -l
}

wait_for_mail() { # wait_for_mail USER COUNT [TIMEOUT-SECONDS]
	_wm_n=$((${3:-20} * 10))
	while :; do
		[ "$(mail_count "$1")" -ge "$2" ] && return 0
		[ "$_wm_n" -le 0 ] && break
		sleep 0.1
		_wm_n=$((_wm_n - 1))
	done
	servers_err "wait_for_mail: $1 has $(mail_count "$1") message(s), wanted $2"
	return 1
}

# servers_crlf FILE: the file with CRLF line ends, as SMTP wants them (curl
# sends the bytes as they are; a bare-LF "\n.\n" would end the DATA early).
# The "/localhost" in the URLs below is curl's EHLO name.
servers_crlf() { sed 's/\r*$/\r/' "$1"; }

smtp_send() { # smtp_send FROM TO FILE: plain SMTP, no TLS, no AUTH
	[ -n "${POSTFIX_SMTP_PORT:-}" ] || { servers_err "smtp_send: Postfix not started"; return 1; }
	[ -r "$3" ] || { servers_err "smtp_send: cannot read $3"; return 1; }
	servers_crlf "$3" | curl -sS --max-time 20 "smtp://$SERVERS_HOST:$POSTFIX_SMTP_PORT/localhost" \
		--mail-from "$1" --mail-rcpt "$2" -T -
}

smtp_submit() { # smtp_submit USER FROM TO FILE [MECH]: STARTTLS + AUTH
	[ -n "${POSTFIX_SUBMISSION_PORT:-}" ] || { servers_err "smtp_submit: Postfix not started"; return 1; }
	[ -r "$4" ] || { servers_err "smtp_submit: cannot read $4"; return 1; }
	servers_crlf "$4" | curl -sS --max-time 20 "smtp://$SERVERS_HOST:$POSTFIX_SUBMISSION_PORT/localhost" \
		--ssl-reqd --cacert "$TLS_CA" -u "$1:$(user_password "$1")" \
		--login-options "AUTH=${5:-PLAIN}" --mail-from "$2" --mail-rcpt "$3" -T -
}

# --- TLS -----------------------------------------------------------------------

# servers_tls: a test CA, a server certificate for localhost/127.0.0.1, one
# for wrong.example, and an unrelated CA.  EC keys: fast to make.
servers_tls() {
	[ -f "$TLS_DIR/server.pem" ] && return 0
	mkdir -p "$TLS_DIR" || return 1
	(
		set -e
		cd "$TLS_DIR"
		umask 022
		cat >ca.cnf <<-'EOF'
		[req]
		distinguished_name = dn
		[dn]
		[v3_ca]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		EOF
		for ca in ca other-ca; do
			openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-config ca.cnf -extensions v3_ca -keyout $ca.key -out $ca.pem -days 30 \
				-subj "/O=ticketd tests/CN=ticketd test $ca"
		done
		for cert in server:"DNS:localhost,IP:127.0.0.1" wrong:"DNS:wrong.example"; do
			name=${cert%%:*} san=${cert#*:}
			cn=${san#DNS:}; cn=${cn%%,*}
			cat >ext-$name.cnf <<-EOF
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature
			extendedKeyUsage = serverAuth
			subjectAltName = $san
			authorityKeyIdentifier = keyid
			EOF
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-config ca.cnf -keyout $name.key -out $name.csr -subj "/O=ticketd tests/CN=$cn"
			openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key \
				-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
				-days 30 -extfile ext-$name.cnf -out $name.pem
			openssl verify -CAfile ca.pem $name.pem >/dev/null
		done
		chmod 600 ./*.key
	) >"$T/tls.log" 2>&1 || { servers_err "making the test certificates failed:"; cat "$T/tls.log" >&2; return 1; }
	export TLS_CA TLS_OTHER_CA TLS_CERT TLS_KEY
}

# --- Dovecot -------------------------------------------------------------------

start_dovecot() {
	if [ -n "$DOVECOT_STARTED" ] && dovecot_master_pid >/dev/null; then return 0; fi
	[ -x "$DOVECOT" ] || { servers_err "dovecot not installed"; return 77; }
	_why=$(servers_need_root) || { servers_err "$_why"; return 77; }
	servers_pick_ports || return 1
	servers_tls || return 1
	_uid=$(id -u "$MAIL_OWNER") && _gid=$(id -g "$MAIL_OWNER") \
		|| { servers_err "no user $MAIL_OWNER"; return 1; }

	mkdir -p "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" "$VMAIL" || return 1
	chown "$_uid:$_gid" "$VMAIL" && chmod 755 "$VMAIL" || return 1
	DOVECOT_AUTH_SOCKET="$DOVECOT_DIR/run/auth-postfix"
	export DOVECOT_AUTH_SOCKET

	# user:{PLAIN}password:uid:gid:gecos:home:shell:extra
	# read by the auth process, which runs as default_internal_user (dovecot)
	: >"$DOVECOT_DIR/users"
	chgrp dovecot "$DOVECOT_DIR/users" && chmod 640 "$DOVECOT_DIR/users" || return 1
	for _u in $MAIL_USERS; do
		echo "$_u:{PLAIN}$(user_password "$_u"):$_uid:$_gid::$(mailbox_dir "$_u")::" >>"$DOVECOT_DIR/users"
	done

	_dh=
	[ -r /usr/share/dovecot/dh.pem ] && _dh="ssl_dh = </usr/share/dovecot/dh.pem"
	cat >"$DOVECOT_DIR/dovecot.conf" <<EOF
# private Dovecot for the ticketd tests (tests/servers.sh); nothing global
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
instance_name = dovecot-ticketd-$$
log_path = $DOVECOT_DIR/dovecot.log
info_log_path = $DOVECOT_DIR/dovecot.log
protocols = imap pop3 lmtp
listen = $SERVERS_HOST, $TLS_WRONG_HOST
shutdown_clients = yes

ssl = yes
ssl_cert = <$TLS_CERT
ssl_key = <$TLS_KEY
$_dh
# 127.0.0.2 presents a certificate for another host name
local $TLS_WRONG_HOST {
  ssl_cert = <$TLS_DIR/wrong.pem
  ssl_key = <$TLS_DIR/wrong.key
}

# everything is on loopback; clients may log in without TLS too
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVECOT_DIR/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DOVECOT_DIR/users
}

mail_location = maildir:$VMAIL/%d/%n
mail_uid = $_uid
mail_gid = $_gid
first_valid_uid = $_uid
last_valid_uid = $_uid
first_valid_gid = $_gid
last_valid_gid = $_gid
mail_privileged_group =
namespace inbox {
  inbox = yes
}
pop3_uidl_format = %08Xu%08Xv

service imap-login {
  inet_listener imap {
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    port = $DOVECOT_IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $DOVECOT_POP3_PORT
  }
  inet_listener pop3s {
    port = $DOVECOT_POP3S_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = $SERVERS_HOST
    port = $DOVECOT_LMTP_PORT
  }
}
protocol lmtp {
  lmtp_save_to_detail_mailbox = no
}
service anvil {
  # Dovecot's auth process delays clients from an IP with failed logins
  # (2 s doubling to 15 s, successful logins too); tests fail logins on
  # purpose, so keep the auth process (user dovecot) from using the penalty
  # socket: it then runs without penalties.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  # SASL for Postfix's smtpd (runs as user postfix)
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
	"$DOVECOT" -c "$DOVECOT_DIR/dovecot.conf" >"$DOVECOT_DIR/start.log" 2>&1 || {
		servers_err "dovecot did not start:"
		cat "$DOVECOT_DIR/start.log" "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null
		return 1
	}
	DOVECOT_STARTED=1
	if ! servers_wait_listening 100 dovecot_master_pid $DOVECOT_IMAP_PORT $DOVECOT_IMAPS_PORT \
		$DOVECOT_POP3_PORT $DOVECOT_POP3S_PORT $DOVECOT_LMTP_PORT; then
		servers_err "dovecot is not listening on its ports:"
		cat "$DOVECOT_DIR/start.log" "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null
		return 1
	fi
	[ -S "$DOVECOT_AUTH_SOCKET" ] || { servers_err "no auth socket $DOVECOT_AUTH_SOCKET"; return 1; }
	servers_remember
	return 0
}

# servers_stop_master PID: TERM to a server's master (both pass it on to
# their children), then KILL whatever of it and its children is left.
servers_stop_master() {
	[ -n "$1" ] || return 0
	_pids=$(servers_descendants "$1")
	servers_kill_ours TERM "$1"
	servers_wait_gone 100 "$1" || servers_kill_ours KILL "$1"
	servers_wait_gone 30 $_pids || servers_kill_ours KILL $_pids
	servers_wait_gone 30 $_pids
}

stop_dovecot() {
	[ -n "$DOVECOT_STARTED" ] || return 0
	servers_stop_master "$(dovecot_master_pid)"
	DOVECOT_STARTED=
	return 0
}

# --- Postfix -------------------------------------------------------------------

start_postfix() {
	if [ -n "$POSTFIX_STARTED" ] && postfix_master_pid >/dev/null; then return 0; fi
	[ -x "$POSTFIX" ] || { servers_err "postfix not installed"; return 77; }
	_why=$(servers_need_root) || { servers_err "$_why"; return 77; }
	id postfix >/dev/null 2>&1 || { servers_err "no user postfix (is the package installed?)"; return 1; }
	servers_pick_ports || return 1
	servers_tls || return 1
	[ -n "$DOVECOT_STARTED" ] || { servers_err "start_dovecot first: Postfix delivers to it"; return 1; }

	_etc="$POSTFIX_DIR/etc"
	mkdir -p "$_etc" "$POSTFIX_DIR/queue" "$POSTFIX_DIR/data" || return 1
	chmod 755 "$POSTFIX_DIR" "$_etc" "$POSTFIX_DIR/queue"
	chown root "$POSTFIX_DIR" "$_etc" "$POSTFIX_DIR/queue"
	chown postfix "$POSTFIX_DIR/data" && chmod 700 "$POSTFIX_DIR/data"
	# Postfix's processes read the certificate as root; keep private copies.
	cp "$TLS_CERT" "$TLS_KEY" "$TLS_DIR/wrong.pem" "$TLS_DIR/wrong.key" "$_etc/" || return 1
	: >"$POSTFIX_DIR/maillog"

	for _u in $MAIL_USERS; do echo "$_u OK"; done >"$_etc/vmailbox"

	cat >"$_etc/main.cf" <<EOF
# private Postfix for the ticketd tests (tests/servers.sh)
compatibility_level = 3.6
config_directory = $_etc
queue_directory = $POSTFIX_DIR/queue
data_directory = $POSTFIX_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $POSTFIX_DIR/maillog
maillog_file_prefixes = $POSTFIX_DIR
syslog_name = postfix-ticketd-test

myhostname = mx.example.com
mydomain = example.com
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no

# no DNS at all, and nothing leaves this machine
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtp_host_lookup = native
default_transport = error:mail for other domains is not accepted in the tests
relay_transport = error:mail for other domains is not accepted in the tests
local_transport = error:no local delivery in the tests
relay_domains =

# every accepted message goes to the private Dovecot
virtual_mailbox_domains = example.com example.net
virtual_mailbox_maps = texthash:$_etc/vmailbox
virtual_transport = lmtp:inet:$SERVERS_HOST:$DOVECOT_LMTP_PORT

# recipients must be ours; no relaying to anywhere else, not even with AUTH
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = permit
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
disable_vrfy_command = yes
smtpd_banner = \$myhostname ESMTP ticketd test server

smtpd_tls_security_level = may
smtpd_tls_cert_file = $_etc/server.pem
smtpd_tls_key_file = $_etc/server.key
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = none
lmtp_tls_security_level = none

smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_AUTH_SOCKET
smtpd_sasl_auth_enable = no
smtpd_sasl_authenticated_header = yes
broken_sasl_auth_clients = no

# retry quickly: a test waits for the mail
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
delay_warning_time = 0
EOF

	_wrong="-o smtpd_tls_cert_file=$_etc/wrong.pem -o smtpd_tls_key_file=$_etc/wrong.key"
	_auth="-o smtpd_sasl_auth_enable=yes -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
	cat >"$_etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
$SERVERS_HOST:$POSTFIX_SMTP_PORT inet n - n - - smtpd
$TLS_WRONG_HOST:$POSTFIX_SMTP_PORT inet n - n - - smtpd $_wrong
$SERVERS_HOST:$POSTFIX_SUBMISSION_PORT inet n - n - - smtpd -o syslog_name=postfix-ticketd-test/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes $_auth
$TLS_WRONG_HOST:$POSTFIX_SUBMISSION_PORT inet n - n - - smtpd -o syslog_name=postfix-ticketd-test/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes $_auth $_wrong
$SERVERS_HOST:$POSTFIX_SMTPS_PORT inet n - n - - smtpd -o syslog_name=postfix-ticketd-test/smtps -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt $_auth
$TLS_WRONG_HOST:$POSTFIX_SMTPS_PORT inet n - n - - smtpd -o syslog_name=postfix-ticketd-test/smtps -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt $_auth $_wrong
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

	# Postfix re-reads a config file changed within the last second until
	# it is older (300 ms naps): backdate ours.
	touch -d "@$(($(date +%s) - 60))" "$_etc/main.cf" "$_etc/master.cf" "$_etc/vmailbox" || return 1
	# "start" runs the checks and creates the queue directories
	"$POSTFIX" -c "$_etc" start >"$POSTFIX_DIR/start.log" 2>&1 || {
		servers_err "postfix did not start:"
		cat "$POSTFIX_DIR/start.log" "$POSTFIX_DIR/maillog" >&2 2>/dev/null
		# a master that did come up is stopped by stop_servers
		postfix_master_pid >/dev/null && POSTFIX_STARTED=1
		return 1
	}
	POSTFIX_STARTED=1
	if ! servers_wait_listening 100 postfix_master_pid \
		$POSTFIX_SMTP_PORT $POSTFIX_SUBMISSION_PORT $POSTFIX_SMTPS_PORT; then
		servers_err "postfix is not listening on its ports:"
		cat "$POSTFIX_DIR/start.log" "$POSTFIX_DIR/maillog" >&2 2>/dev/null
		return 1
	fi
	servers_remember
	return 0
}

stop_postfix() {
	[ -n "$POSTFIX_STARTED" ] || return 0
	servers_stop_master "$(postfix_master_pid)"
	POSTFIX_STARTED=
	return 0
}

# stop_servers: stop Postfix and Dovecot by pid; 1 if any process survives
stop_servers() {
	servers_remember
	stop_postfix
	stop_dovecot
	# anything seen earlier that a master left behind (and is still ours:
	# a pid seen once may belong to someone else by now)
	_left=
	for _p in $SERVERS_KNOWN_PIDS; do servers_ours "$_p" && _left="$_left $_p"; done
	if [ -n "$_left" ]; then
		servers_kill_ours KILL $_left
		servers_wait_gone 30 $_left || { servers_err "processes survive:$_left"; return 1; }
	fi
	SERVERS_KNOWN_PIDS=
	return 0
}

# servers_diag [dovecot|postfix]: the logs, as TAP comments
servers_diag() {
	[ $# -gt 0 ] || set -- dovecot postfix
	for _s in "$@"; do
		case $_s in
		dovecot) _logs="$DOVECOT_DIR/start.log $DOVECOT_DIR/dovecot.log" ;;
		postfix) _logs="$POSTFIX_DIR/start.log $POSTFIX_DIR/maillog" ;;
		*) continue ;;
		esac
		for _l in $_logs; do
			[ -s "$_l" ] || continue
			echo "# --- $_l"
			tail -n 40 "$_l" | sed 's/^/# /'
		done
	done
}
