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
