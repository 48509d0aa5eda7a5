#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: live-migrate a 256 MiB guest that is dirtying memory between
# two kvmig-vm processes on this machine, through the kvmig helper, and
# show the statistics and the proofs (switchover hashes, page self-check).
set -eu
B=${1:-build}
BIN="$B/bin"

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not usable here; kvmig needs KVM" >&2
	exit 1
fi
dir=$(mktemp -d /tmp/kvmig-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
	for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

VM="--vcpus 2 --mem 192M --slot 64M,gap=64M
    --workload 0:dirty,rate=32M,ws=96M,pattern=zipf:0.9,data=text
    --workload 1:io,period=500"

echo "demo: source and destination kvmig-vm, 256 MiB of guest RAM in two memslots."
echo "demo: vCPU 0 dirties 96 MiB of text-like pages at 32 MiB/s (Zipf), vCPU 1"
echo "demo: does a port-IO round trip every 500 us.  Migrating over 127.0.0.1:$port"
echo "demo: with 2 channels, zstd pages, a 300 ms downtime limit and --verify."
echo
# shellcheck disable=SC2086
"$BIN/kvmig-vm" $VM --control "$dir/src.sock" >"$dir/src.log" 2>&1 &
pids="$!"
# shellcheck disable=SC2086
"$BIN/kvmig-vm" $VM --incoming --control "$dir/dst.sock" >"$dir/dst.log" 2>&1 &
pids="$pids $!"
for s in src dst; do
	n=0
	while [ ! -S "$dir/$s.sock" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
done
sleep 1	# let the guest dirty its working set
"$BIN/kvmig" incoming --vm "$dir/dst.sock" --listen "tcp:127.0.0.1:$port" \
	--quiet >"$dir/incoming.log" 2>&1 &
pids="$pids $!"
sleep 0.3
"$BIN/kvmig" migrate --vm "$dir/src.sock" --to "tcp:127.0.0.1:$port" --verify \
	--codec "${KVMIG_DEMO_CODEC:-zstd}"
echo
sleep 1
echo "demo: the destination guest runs on; its own page self-check and the host"
echo "demo: verifier over every data page:"
"$BIN/kvmig" vm --vm "$dir/dst.sock" guest-check
"$BIN/kvmig" vm --vm "$dir/dst.sock" verify
"$BIN/kvmig" vm --vm "$dir/dst.sock" quit >/dev/null
sleep 0.5
echo
echo "demo: what the destination VMM saw of its guest after the move:"
cat "$dir/dst.log"
