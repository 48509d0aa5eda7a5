#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the kernel test lab needs; silent when present
# (the project's installer, scripts/deps.sh: the project's own packages,
# for kvmig's programs that the lab runs, then the lab's list).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS="linux-source-6.12 qemu-system-x86 busybox-static build-essential bc
flex bison libelf-dev libssl-dev cpio ccache git xz-utils gzip util-linux
python3-ply python3-git"

# --debian (lab.sh --debian): Debian's own 6.12 kernel, its headers (which
# bring the image) and DKMS.
[ "${1:-}" != --debian ] || PKGS="$PKGS linux-headers-6.12-amd64 dkms kmod"

sh "$REPO_DIR/scripts/deps.sh"
# shellcheck disable=SC2086
exec sh "$REPO_DIR/scripts/deps.sh" $PKGS
