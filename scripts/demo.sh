#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: run the reference VMM with a dirtying guest and an IO guest for
# a few seconds, then show its statistics and the guest self-check.
set -eu
B=${1:-build}

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not usable here; kvmig needs KVM" >&2
	exit 1
fi

echo "demo: a 2-vCPU guest: vCPU 0 dirties 64 MiB of text-like pages at 32 MiB/s"
echo "demo: (zipf-distributed), vCPU 1 does a port-IO round trip every 500 us."
echo
"$B/bin/kvmig-vm" --vcpus 2 --mem 128M \
	--workload 0:dirty,rate=32M,ws=64M,pattern=zipf:0.9,data=text \
	--workload 1:io,period=500 \
	--duration 4 --verify-after
