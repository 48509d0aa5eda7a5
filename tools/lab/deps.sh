#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the kernel test lab needs; silent when present.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS="linux-source-6.12 qemu-system-x86 busybox-static build-essential bc
flex bison libelf-dev libssl-dev cpio ccache git xz-utils gzip util-linux"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

lab_log "installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || lab_die "need root to install:$missing"
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq &&
	$SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
	lab_tail "$log" 30
	rm -f "$log"
	lab_die "apt-get could not install:$missing"
fi
rm -f "$log"
