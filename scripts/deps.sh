#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install Debian packages; quiet when all are present.  With no argument,
# the packages kvmig needs; tools/lab/deps.sh passes the kernel lab's.
set -eu

PKGS=${*:-"build-essential pkg-config libjansson-dev zlib1g-dev libzstd-dev
liblz4-dev libxxhash-dev libgnutls28-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
python3 python3-docutils"}

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: need root to install:$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq &&
	$SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	rm -f "$log"
	echo "deps: apt-get could not install:$missing" >&2
	exit 1
fi
rm -f "$log"
