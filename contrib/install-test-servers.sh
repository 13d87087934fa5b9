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
openssl curl ca-certificates procps"

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

# The system-wide instances, found by their own pid files (never by process
# name: the tests' private instances, which may be running, are not ours).
system_pids() {
	for f in /run/dovecot/master.pid /var/spool/postfix/pid/master.pid; do
		[ -r "$f" ] || continue
		pid=$(tr -dc '0-9' <"$f")
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	done
	return 0
}
before=$(system_pids)

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
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing

remove_policy

# Should a system instance have been started anyway (an init system that
# ignores policy-rc.d), stop it again, by pid.
new=
for pid in $(system_pids); do
	case " $(echo $before) " in
	*" $pid "*) ;;
	*) new="$new $pid" ;;
	esac
done
if [ -n "$new" ]; then
	echo "stopping the system daemons the installation started:$new"
	$SUDO kill -TERM $new 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=
		for pid in $new; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 1
	done
	[ -z "$alive" ] || $SUDO kill -KILL $new 2>/dev/null || true
fi
exit 0
