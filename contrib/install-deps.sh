#!/bin/sh
# install-deps.sh - install the Debian 12 packages ticketd needs to build and
# to run its tests (the mail servers of the tests come from
# contrib/install-test-servers.sh, which this runs too).  Idempotent:
# installs only what is missing.
#   --check   only report missing packages and fail if there are any
set -eu
here=$(dirname "$0")
PACKAGES="build-essential autoconf pkg-config perl
libetpan-dev libgmime-3.0-dev libgpgme-dev libpq-dev libconfig-dev
postgresql-15 postgresql-client-15 gnupg libsasl2-modules ca-certificates"

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	exec sh "$here/install-test-servers.sh" "$@"
fi
if [ "${1:-}" = --check ]; then
	echo "missing packages:$missing (run contrib/install-deps.sh)" >&2
	exit 1
fi
echo "installing:$missing"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# Keep Debian from creating and starting its own cluster: ticketd's demo and
# tests run private clusters of their own.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	$SUDO mkdir -p /etc/postgresql-common
	echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
sh "$here/install-test-servers.sh"
