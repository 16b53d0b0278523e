#!/bin/sh
# Installs the Debian packages of deps/debian.txt that are missing, and only
# those: `apt-get update` once, then `apt-get install -y`. Prints what it does.
set -eu
here=$(dirname "$0")
missing=""
for pkg in $(grep -v '^[[:space:]]*#' "$here/debian.txt" | tr -s ' \t' '\n' | grep .); do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $pkg"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all Debian packages of deps/debian.txt are installed"
	exit 0
fi
echo "deps: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "deps: not root and no sudo; install these yourself:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
# Packaged daemons must not keep running on the ports the tests use.
for svc in kamailio coturn rtpengine-daemon postgresql; do
	$SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "deps: done"
