#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check-stress: run a command RUNS times in a row on a deliberately
# oversubscribed machine; every run must pass.
#
#   stress.sh RUNS LOGDIR -- COMMAND...
#
# While it runs: one CPU hog per online CPU (a shell busy loop) and one
# memory-bandwidth hog (dd reading /dev/zero into a 64 MiB buffer: the
# kernel clears it with stores, far beyond the caches, over and over).
# They run at the tests' own priority, on purpose: a test that only passes
# when it gets a core whenever it wants has a timing dependency, and this
# is how to find it.  Each run's output goes to LOGDIR/run-N.log; its
# summary line (the last line of scripts/run-tests.sh) and time are shown.
set -u

if [ $# -lt 4 ] || [ "$3" != "--" ]; then
	echo "usage: stress.sh RUNS LOGDIR -- COMMAND..." >&2
	exit 2
fi
runs=$1 logdir=$2
shift 3
case $runs in '' | *[!0-9]*) echo "stress.sh: RUNS '$runs' is not a number" >&2; exit 2 ;; esac
mkdir -p "$logdir"

hogs=""
stop_hogs() {
	# only the hogs this script started, by pid
	for p in $hogs; do kill "$p" 2>/dev/null; done
	for p in $hogs; do wait "$p" 2>/dev/null; done
	hogs=""
}
trap 'stop_hogs' EXIT
trap 'exit 130' INT TERM

cpus=$(getconf _NPROCESSORS_ONLN)
i=0
while [ "$i" -lt "$cpus" ]; do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
	i=$((i + 1))
done
dd if=/dev/zero of=/dev/null bs=64M 2>/dev/null &
hogs="$hogs $!"
echo "stress: $cpus CPU hogs and a memory-bandwidth hog running (pids$hogs)"

n=1
while [ "$n" -le "$runs" ]; do
	log="$logdir/run-$n.log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	echo "stress: run $n of $runs: $(tail -n 1 "$log") (${secs}s, load $(cut -d' ' -f1-3 /proc/loadavg))"
	if [ "$rc" -ne 0 ]; then
		grep -E '^not ok|^# FAILED|gave up after|Assertion' "$log" | head -n 40
		echo "stress: run $n failed (exit $rc); its output: $log" >&2
		exit 1
	fi
	n=$((n + 1))
done
echo "stress: $runs of $runs runs passed under load"
