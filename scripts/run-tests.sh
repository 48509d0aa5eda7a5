#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run every test program under the given build directories and print TAP,
# then one summary line: "N passed, N failed, N skipped".
# A test's exit code: 0 pass, 4 skip (kselftest), anything else fail.
set -u

pass=0 fail=0 skip=0 n=0
failed_names=""
skipped_names=""
logdir=$(mktemp -d /tmp/kvmig-tests.XXXXXX)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

total=0
for dir in "$@"; do
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] && total=$((total + 1))
	done
done
echo "TAP version 13"
echo "1..$total"

for dir in "$@"; do
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		n=$((n + 1))
		name="${t#./}"
		log="$logdir/$(echo "$name" | tr / _).log"
		start=$(date +%s)
		timeout --kill-after=10 "$TEST_TIMEOUT" "$t" >"$log" 2>&1
		rc=$?
		secs=$(( $(date +%s) - start ))
		sed 's/^/    /' "$log"
		case $rc in
		0)	pass=$((pass + 1)); echo "ok $n $name (${secs}s)" ;;
		4)	skip=$((skip + 1)); skipped_names="$skipped_names $name"
			echo "ok $n $name # SKIP" ;;
		*)	fail=$((fail + 1)); failed_names="$failed_names $name"
			[ $rc -eq 124 ] && echo "# $name: timed out after ${TEST_TIMEOUT}s"
			echo "not ok $n $name (exit $rc, ${secs}s)" ;;
		esac
	done
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
