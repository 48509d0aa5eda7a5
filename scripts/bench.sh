#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: run every benchmark program; each prints its own table with
# ratios against a baseline measured in the same run and writes JSON under
# $B/bench/.
set -eu
B=${1:-build}
mkdir -p "$B/bench"
found=0
for b in "$B"/bin/bench_*; do
	[ -x "$b" ] || continue
	found=1
	echo "== $(basename "$b")"
	"$b" --json "$B/bench/$(basename "$b").json"
	echo
done
[ $found -eq 1 ] || { echo "bench: no benchmarks built" >&2; exit 1; }

# The kernel lab's benchmarks (tools/lab/bench) in the patched kernel under
# QEMU: their tables are in the guest's console log.
echo "== the kernel lab: tools/lab/bench"
cache=${KVMIG_LAB_CACHE:-/var/cache/kvmig-lab}
if KVMIG_LAB_TESTS=tools/lab/bench bash tools/lab/lab.sh >"$B/bench/lab.log" 2>&1; then
	grep -a '^fastwp-perf:' "$cache/out/normal/console.log" | sed 's/^fastwp-perf: //'
	echo
	grep -a '^dirty-limit-perf:' "$cache/out/normal/console.log" |
		sed 's/^dirty-limit-perf: //'
	echo
	# bench_converge's table, the kernel's limits as dirty-limit's mechanism
	awk '/^KVMIG-LAB: run converge_bench/ { on = 1; next }
	     /^KVMIG-LAB: / { on = 0 }
	     on && /^(convergence:|policy|none|auto-converge|dirty-limit|IO p99|window:| )/' \
		"$cache/out/normal/console.log"
else
	tail -30 "$B/bench/lab.log"
	echo "bench: the kernel lab failed (log: $B/bench/lab.log)" >&2
	exit 1
fi
