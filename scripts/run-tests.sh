#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run every test program under the given build directories and print TAP,
# then one summary line: "N passed, N failed, N skipped".
# A test's exit code: 0 pass, 4 skip (kselftest), anything else fail.
#
#   run-tests.sh DIR... [-- SECONDS:COMMAND ...]
#
# After "--", each argument is one more test: a shell command with its own
# time limit (the kernel lab takes minutes, not the 300 s of a test program).
set -u

pass=0 fail=0 skip=0 n=0
failed_names=""
skipped_names=""
logdir=$(mktemp -d /tmp/kvmig-tests.XXXXXX)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

dirs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	dirs="$dirs $1"
	shift
done
[ $# -gt 0 ] && shift	# the "--"

total=$#
for dir in $dirs; do
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] && total=$((total + 1))
	done
done
echo "TAP version 13"
echo "1..$total"

# one test: run_one NAME SECONDS COMMAND...
run_one() {
	name=$1 limit=$2
	shift 2
	n=$((n + 1))
	log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	start=$(date +%s)
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	sed 's/^/    /' "$log"
	case $rc in
	0)	pass=$((pass + 1)); echo "ok $n $name (${secs}s)" ;;
	4)	skip=$((skip + 1)); skipped_names="$skipped_names $name"
		echo "ok $n $name # SKIP" ;;
	*)	fail=$((fail + 1)); failed_names="$failed_names $name"
		[ $rc -eq 124 ] && echo "# $name: timed out after ${limit}s"
		echo "not ok $n $name (exit $rc, ${secs}s)" ;;
	esac
}

for dir in $dirs; do
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "${t#./}" "$TEST_TIMEOUT" "$t"
	done
done
for spec in "$@"; do
	run_one "${spec#*:}" "${spec%%:*}" sh -c "${spec#*:}"
done
rm -rf "$logdir"

if [ $skip -gt 0 ]; then
	echo "#"
	echo "# !!! SKIPPED $skip test(s):$skipped_names"
	echo "# !!! they did not run here (see the SKIP reasons above); this is not a pass."
	echo "#"
fi
[ $fail -gt 0 ] && echo "# FAILED:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
