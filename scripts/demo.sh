#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: live-migrate a 256 MiB guest that is dirtying memory between
# two kvmig-vm processes on this machine, through the kvmig helper, over a
# link slower than one of its vCPUs dirties, and show it converge (the
# per-vCPU limits, the downtime against the limit), the statistics and the
# proofs (switchover hashes, page self-check).
set -eu
B=${1:-build}
BIN="$B/bin"

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not usable here; kvmig needs KVM" >&2
	exit 1
fi
dir=$(mktemp -d /tmp/kvmig-demo.XXXXXX)
cleanup() {
	for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# start NAME LOG COMMAND...: run COMMAND in the background with
# --ready-fd 3 on a FIFO and wait for its readiness line (in $ready, its
# pid in $pid): the control socket's path, or the address kvmig incoming
# listens on.  If it exits before it is ready, the FIFO gives EOF: say so.
start() {
	name=$1 log=$2
	shift 2
	mkfifo "$dir/$name.ready"
	"$@" --ready-fd 3 3>"$dir/$name.ready" >"$log" 2>&1 &
	pid=$!
	pids="${pids:-} $pid"
	if ! read -r ready <"$dir/$name.ready"; then
		echo "demo: $name did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	rm -f "$dir/$name.ready"
}

VM="--vcpus 3 --mem 192M --slot 64M,gap=64M --dirty-ring 256
    --workload 0:dirty,rate=32M,ws=96M,pattern=zipf:0.9,data=text
    --workload 1:io,period=500
    --workload 2:dirty,rate=0,ws=32M,pattern=random,data=random"

# shellcheck disable=SC2086
start src "$dir/src.log" "$BIN/kvmig-vm" $VM --control "$dir/src.sock"
src=$ready
# shellcheck disable=SC2086
start dst "$dir/dst.log" "$BIN/kvmig-vm" $VM --incoming --control "$dir/dst.sock"
dst=$ready dst_pid=$pid
# port 0: kvmig incoming says which port it got
start incoming "$dir/incoming.log" "$BIN/kvmig" incoming --vm "$dst" \
	--listen tcp:127.0.0.1:0 --quiet
to=$ready

echo "demo: source and destination kvmig-vm, 256 MiB of guest RAM in two memslots."
echo "demo: vCPU 0 dirties 96 MiB of text-like pages at 32 MiB/s (Zipf), vCPU 1"
echo "demo: does a port-IO round trip every 500 us, vCPU 2 rewrites random pages"
echo "demo: of 32 MiB as fast as it can: faster than the 200 Mbit/s link"
echo "demo: (--max-bandwidth), so without help the migration would never"
echo "demo: converge.  Migrating to $to with 2 channels, zstd pages, a"
echo "demo: 300 ms downtime limit, --verify and the default --converge auto,"
echo "demo: which limits only the vCPUs that dirty too fast (here in kvmig-vm,"
echo "demo: through the dirty rings; in the kernel where it has the kvmig patch)."
echo
sleep 1	# the scenario: the guest dirties its working set for a second
"$BIN/kvmig" migrate --vm "$src" --to "$to" --verify --max-bandwidth 200Mbit ${KVMIG_DEMO_REPORT:+--report "$KVMIG_DEMO_REPORT"} \
	--codec "${KVMIG_DEMO_CODEC:-zstd}"
echo
sleep 1	# the scenario: the destination guest runs on for a second
echo "demo: the destination guest runs on; its own page self-check and the host"
echo "demo: verifier over every data page:"
"$BIN/kvmig" vm --vm "$dst" guest-check
"$BIN/kvmig" vm --vm "$dst" verify
"$BIN/kvmig" vm --vm "$dst" quit >/dev/null
wait "$dst_pid" || true		# its report is complete once it exited
echo
echo "demo: what the destination VMM saw of its guest after the move:"
cat "$dir/dst.log"
