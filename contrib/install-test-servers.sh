#!/bin/sh
# install-test-servers.sh - install the Debian 12 packages that the
# integration tests need to run private mail servers (tests/servers.sh):
# Dovecot (IMAP, POP3, LMTP, SASL auth for Postfix), Postfix, openssl, curl.
# Idempotent: installs only what is missing.
#   --check   only report missing packages and fail if there are any
#
# The tests start their own Dovecot and Postfix instances on high ports with
# configurations under their temporary directories.  The system-wide services
# that the packages come with are neither wanted nor started: during the
# installation a policy-rc.d that refuses every start (exit 101) is put in
# place (and removed afterwards if we created it), Postfix is preseeded with
# "No configuration", and any daemon that still got started is stopped.
set -eu
PACKAGES="dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix
openssl curl ca-certificates iproute2 procps"

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "${1:-}" = --check ]; then
	echo "missing packages:$missing (run contrib/install-test-servers.sh)" >&2
	exit 1
fi
echo "installing:$missing"

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo

# Remember which system daemons were already running, so that only those
# started by this installation are stopped afterwards.
running_pids() { # running_pids NAME...: pids of processes whose command is NAME
	for n in "$@"; do
		pgrep -x "$n" 2>/dev/null || true
	done | sort -n
}
before=$(running_pids dovecot master)

POLICY=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# temporary: written by ticketd contrib/install-test-servers.sh\nexit 101\n' \
		| $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	created_policy=1
fi
remove_policy() {
	if [ -n "$created_policy" ]; then
		$SUDO rm -f "$POLICY"
		created_policy=
	fi
}
trap remove_policy EXIT
trap 'remove_policy; exit 1' HUP INT TERM

# Postfix asks how it should be configured: not at all (no main.cf is
# written; the tests bring their own).
printf '%s\n' \
	"postfix postfix/main_mailer_type select No configuration" \
	"postfix postfix/mailname string localhost" \
	| $SUDO debconf-set-selections

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing

remove_policy

# Should a service have been started anyway (no policy-rc.d honoured, an
# init system that ignores it), stop what this installation started, by pid.
after=$(running_pids dovecot master)
new=
for pid in $after; do
	case " $(echo $before) " in
	*" $pid "*) ;;
	*) new="$new $pid" ;;
	esac
done
if [ -n "$new" ]; then
	echo "stopping daemons started by the installation:$new"
	$SUDO kill -TERM $new 2>/dev/null || true
	sleep 1
	$SUDO kill -KILL $new 2>/dev/null || true
fi
exit 0
