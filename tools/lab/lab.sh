#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kvmig kernel test lab, end to end: install what it needs, apply
# kernel/series to Debian's linux-source-6.12 (in the cache folder), build a
# minimal kernel with KVM and the KVM selftests, boot it under QEMU TCG
# (nested SVM) and run tools/lab/tests plus the repo's selftests/kvm/.
# Prints TAP on stdout; exits non-zero if anything failed or did not run.
#
# usage: lab.sh [--debug | --debian | --unpatched] [--keep | --reset] [-v]
#   --debug  the lockdep/atomic-sleep kernel (kernel/config.debug)
#   --debian Debian's own kernel image (linux-image-6.12-amd64, installed
#            with its headers) with kvmig's KVM as out-of-tree modules:
#            make modules, DKMS install and removal on this machine
#            (debian.sh), then a boot that loads DKMS's modules and runs
#            tools/lab/debian; see README.md, "Debian's kernel"
#   --unpatched  the control for emulator faults: the normal kernel built
#            from Debian's source without kernel/series (a worktree at
#            "pristine"), running tools/lab/unpatched; expected to fail
#            under MTTCG (README.md, "Emulator faults"), so not in make check
#   --keep   build the cache tree as it is, even with commits or edits that
#            are not in kernel/patches (see tree.sh)
#   --reset  discard such changes and re-apply kernel/series
#   -v       copy the guest console to stderr while it runs
#
# Environment: KVMIG_LAB_CACHE (default /var/cache/kvmig-lab),
# KVMIG_LAB_JOBS (default 2), KVMIG_LAB_TIMEOUT_SCALE (multiplies the test
# timeouts of tools/lab/tests; default 1, 3 with --debug), KVMIG_LAB_TESTS
# (run this list alone instead, e.g. tools/lab/bench for make bench),
# KVMIG_LAB_CPUS (the guest's CPUs, 1..8, default 2; make lab-user: 1).
set -euo pipefail
unset KVMIG_LAB_UNPATCHED # set below, for --unpatched's build steps only
. "$(dirname "$0")/lib.sh"

variant=normal tree_opt="" verbose=0
for arg in "$@"; do
	case $arg in
	--debug) variant=debug ;;
	--debian) variant=debian ;;
	--unpatched) variant=unpatched ;;
	--keep | --reset) tree_opt=$arg ;;
	-v) verbose=1 ;;
	-h | --help)
		sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) lab_die "unknown option '$arg' (see --help)" ;;
	esac
done

lab_nice bash "$0" "$@"

mkdir -p "$LAB_CACHE" "$LAB_LOGS"
# One lab run at a time per cache folder: they share the tree and builds.
exec 9>"$LAB_CACHE/lab.lock"
if ! flock -n 9; then
	lab_log "another lab run holds $LAB_CACHE/lab.lock, waiting"
	flock 9
fi

if [ "$variant" = debian ]; then
	# One CPU: one boot, whatever the tcg column says (the modules are
	# loaded once a boot); the concurrency of the patches is the other
	# variants' job.
	export KVMIG_LAB_CPUS=${KVMIG_LAB_CPUS:-1}
	export KVMIG_LAB_TESTS=${KVMIG_LAB_TESTS:-$LAB_DIR/debian}
	scale=${KVMIG_LAB_TIMEOUT_SCALE:-1}
elif [ "$variant" = debug ]; then
	# The debug kernel (lockdep + KASAN) runs the tests 2-3 times slower.
	kbuild=$LAB_CACHE/build/kernel-debug
	scale=${KVMIG_LAB_TIMEOUT_SCALE:-3}
elif [ "$variant" = unpatched ]; then
	kbuild=$LAB_CACHE/build/kernel-unpatched
	scale=${KVMIG_LAB_TIMEOUT_SCALE:-1}
	export KVMIG_LAB_TESTS=${KVMIG_LAB_TESTS:-$LAB_DIR/unpatched}
else
	kbuild=$LAB_CACHE/build/kernel
	scale=${KVMIG_LAB_TIMEOUT_SCALE:-1}
fi
case $scale in '' | *[!0-9]* | 0) lab_die "KVMIG_LAB_TIMEOUT_SCALE: want a positive integer, not '$scale'" ;; esac
export KVMIG_LAB_CPUS=${KVMIG_LAB_CPUS:-2}
case $KVMIG_LAB_CPUS in [1-8]) ;; *) lab_die "KVMIG_LAB_CPUS: want 1..8, not '$KVMIG_LAB_CPUS'" ;; esac
out=$LAB_CACHE/out/$variant
mkdir -p "$out"
console=$out/console.log
rm -f "$console"

# ---- TAP ---------------------------------------------------------------
n=0 failed=0 broken=""
tap_ok() { n=$((n + 1)); echo "ok $n - $*"; }
tap_not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
tap_diag() { sed 's/^/# /'; }

echo "TAP version 13"
t_start=$SECONDS
times=""

# A build step: a TAP point, its time, and after a failure every later step
# is reported as "not ok ... not run", never skipped in silence.
step() {
	local what=$1 t0=$SECONDS
	shift
	if [ -n "$broken" ]; then
		tap_not_ok "$what # not run: $broken failed"
		return 1
	fi
	if "$@"; then
		tap_ok "$what ($((SECONDS - t0)) s)"
		times="$times, $what $((SECONDS - t0)) s"
	else
		tap_not_ok "$what"
		broken=$what
		return 1
	fi
}

deps_opt=""
[ "$variant" != debian ] || deps_opt=--debian
step "packages" bash "$LAB_DIR/deps.sh" $deps_opt || true
step "kernel tree" bash "$LAB_DIR/tree.sh" ${tree_opt:+"$tree_opt"} || true
boot_args=""
if [ "$variant" = debian ]; then
	# Debian's kernel of the newest 6.12 headers (or the running one),
	# its image from the linux-image package the headers depend on.
	kver=$(bash "$LAB_DIR/debian.sh" kver 2>/dev/null) || kver=""
	kimage=/boot/vmlinuz-$kver
	step "Debian's kernel image (${kver:-no 6.12 headers})" test -n "$kver" -a -f "$kimage" || true
	step "kmod.sh refuses a wrong kernel, missing headers, another source" \
		bash "$LAB_DIR/debian.sh" errors "$kver" || true
	step "make modules ($kver)" bash "$LAB_DIR/debian.sh" modules "$kver" || true
	step "DKMS install, check and removal ($kver)" \
		bash "$LAB_DIR/debian.sh" dkms "$kver" "$out/modules" || true
	export KVMIG_LAB_MODULES=$out/modules
	# As an operator would: the stock modules never load.
	boot_args="modprobe.blacklist=kvm,kvm_amd,kvm_intel"
else
	kimage=$kbuild/arch/x86/boot/bzImage
	if [ "$variant" = unpatched ]; then
		# No series, so nothing for checkpatch; from here on the build
		# steps work on the worktree (lib.sh).
		step "unpatched tree (pristine)" bash "$LAB_DIR/tree.sh" --unpatched || true
		export KVMIG_LAB_UNPATCHED=1
	else
		step "checkpatch --strict" bash "$LAB_DIR/checkpatch.sh" || true
	fi
	step "kernel build ($variant)" bash "$LAB_DIR/build-kernel.sh" "$variant" || true
fi
step "KVM selftests build" bash "$LAB_DIR/build-tests.sh" || true
step "initramfs" bash "$LAB_DIR/initramfs.sh" "$out/initramfs.cpio.gz" "$scale" || true

# The tests this run must report: the built list, or (if the build did not
# get that far) the configured one, so that each still gets its TAP line.
if [ -z "$broken" ]; then
	tests=$(cat "$LAB_CACHE/build/tests.list")
else
	tests=$(lab_tests 2>/dev/null || true)
fi

# ---- boot ----------------------------------------------------------------
# One boot per emulator mode the tests ask for (the tcg column of
# tools/lab/tests, README.md "Emulator faults"): "single" (the CPUs take
# turns on one host thread) first, then "multi" (a host thread each, for the
# tests that measure time).  On one CPU there is nothing to take turns
# about: one boot, QEMU's default.  KVMIG_LAB_TCG_THREAD=single or multi
# runs every test in one boot of that mode.
boots=""
if [ -n "${KVMIG_LAB_TCG_THREAD:-}" ]; then
	case $KVMIG_LAB_TCG_THREAD in single | multi) ;; *)
		lab_die "KVMIG_LAB_TCG_THREAD: single or multi, not '$KVMIG_LAB_TCG_THREAD'" ;;
	esac
	boots="$KVMIG_LAB_TCG_THREAD:all"
elif [ "$KVMIG_LAB_CPUS" = 1 ]; then
	boots="multi:all"
else
	for m in single multi; do
		if echo "$tests" | awk -v m="$m" '$4 == m { f = 1 } END { exit !f }'; then
			boots="$boots $m:$m"
		fi
	done
fi

booted=""
: >"$console"
# boot_one MODE WHICH: boot with the emulator in MODE, running the tests of
# WHICH (a mode, or all); its console is appended to $console.
boot_one() {
	local mode=$1 which=$2 limit t0 rc=0 log=$out/console-$1.log tail_pid qemu_pid
	# Each test has its own timeout inside the guest, and 30 s more if
	# it runs out (init dumps its threads' stacks, TERM, KILL 10 s later);
	# the whole boot gets their sum plus room for boot, dmesg and a slow
	# machine.
	limit=$(echo "$tests" | awk -v k="$scale" -v w="$which" \
		'w == "all" || $4 == w { s += $2 * k + 30 } END { print s + 180 }')
	lab_log "booting the $variant kernel ($KVMIG_LAB_CPUS CPUs, tcg $mode, limit $limit s, console: $log)"
	t0=$SECONDS
	: >"$log"
	KVMIG_LAB_TCG_THREAD=$mode bash "$LAB_DIR/boot.sh" "$kimage" \
		"$out/initramfs.cpio.gz" "$log" "$limit" "kvmig_lab.tcg=$which${boot_args:+ $boot_args}" &
	qemu_pid=$!
	# Progress on stderr while the guest runs.
	if [ "$verbose" = 1 ]; then
		tail -n +1 --pid="$qemu_pid" -F "$log" 2>/dev/null >&2 &
	else
		tail -n +1 --pid="$qemu_pid" -F "$log" 2>/dev/null |
			grep --line-buffered -a 'KVMIG-LAB: \(ok\|not ok\|skip\|run\|error\)' |
			sed -u 's/^/lab: guest: /; s/\r$//' >&2 &
	fi
	tail_pid=$!
	wait "$qemu_pid" || rc=$?
	wait "$tail_pid" 2>/dev/null || true
	t0=$((SECONDS - t0))
	times="$times, boot+tests ($mode) $t0 s"
	sed -i 's/\r$//' "$log"
	cat "$log" >>"$console"

	if ! grep -aq '^KVMIG-LAB: start' "$log"; then
		tap_not_ok "boot ($mode): the guest never reached /init (rc=$rc, $t0 s)"
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		tap_not_ok "boot ($mode): timed out after $limit s"
	elif [ "$rc" != 0 ] || ! grep -aq '^KVMIG-LAB: done' "$log"; then
		tap_not_ok "boot ($mode): the guest stopped before /init finished (panic or crash? QEMU rc=$rc)"
	else
		tap_ok "boot ($mode): /init ran its tests and rebooted ($t0 s)"
	fi
	grep -a '^KVMIG-LAB: error' "$log" | tap_diag || true
}

if [ -z "$broken" ]; then
	booted=1
	for b in $boots; do
		boot_one "${b%%:*}" "${b#*:}"
	done
else
	tap_not_ok "boot # not run: $broken failed"
fi

# ---- results ---------------------------------------------------------------
# The output of one test: from its "run" line to its result line.
test_output() {
	awk -v name="$1" '
		$0 == "KVMIG-LAB: run " name { on = 1; next }
		on && /^KVMIG-LAB: / { exit }
		on' "$console" | tail -n "${2:-30}"
}

# What init found a test doing when its limit ran out (tools/lab/init,
# "timeout"): every thread's state, wchan and kernel stack.  The sysrq t/w
# output, long, is only pointed to.
test_dump() {
	awk -v name="$1" '
		index($0, "KVMIG-LAB: timeout " name " ") == 1 { on = 1 }
		!on { next }
		$0 == "KVMIG-LAB: not ok " name || index($0, "KVMIG-LAB: not ok " name " ") == 1 { exit }
		$0 == "KVMIG-LAB: sysrq-begin " name { skip = 1; from = NR; next }
		$0 == "KVMIG-LAB: sysrq-end " name {
			skip = 0
			print "sysrq t and w: lines " from "-" NR " of the console log"
			next
		}
		!skip' "$console" | sed -n '1,200p' # reads all: no SIGPIPE under pipefail
}

# The console without init's sysrq dumps (full of "Call Trace:" by design),
# each line prefixed by its number.
console_checked() {
	awk '/^KVMIG-LAB: sysrq-begin / { skip = 1 }
		!skip { print NR ":" $0 }
		/^KVMIG-LAB: sysrq-end / { skip = 0 }' "$console"
}

skipped=""
while read -r name timeout onskip _rest; do
	[ -n "$name" ] || continue
	if [ -z "$booted" ]; then
		tap_not_ok "$name # not run: $broken failed"
		continue
	fi
	res=$(grep -a -m1 -E "^KVMIG-LAB: (ok|not ok|skip) $name( |$)" "$console" || true)
	case $res in
	"KVMIG-LAB: ok $name"*)
		tap_ok "$name (${res##*time=})"
		took=${res##*time=}
		took=${took%s}
		# a limit the work is outgrowing: say so before it fails
		if [ $((took * 2)) -gt $((timeout * scale)) ]; then
			echo "# lab: $name took $took s of its $((timeout * scale)) s limit:" \
				"raise it in tools/lab/tests, or find out why it got slower"
		fi
		;;
	"KVMIG-LAB: skip $name"*)
		skipped="$skipped $name"
		if [ "$onskip" = ok ]; then
			tap_ok "$name # SKIP exit 4 (KSFT_SKIP)"
		else
			tap_not_ok "$name: skipped (exit 4), but tools/lab/tests requires it to run"
		fi
		test_output "$name" 10 | tap_diag
		;;
	"KVMIG-LAB: not ok $name"*)
		rc=${res#*rc=}
		rc=${rc%% *}
		why="rc=$rc"
		[ "$rc" != 143 ] || why="timed out after $((timeout * scale)) s"
		tap_not_ok "$name: $why"
		# how far it got, then what it was doing (hang or slowness?)
		test_output "$name" 30 | tap_diag
		if [ "$rc" = 143 ]; then
			test_dump "$name" | tap_diag
		fi
		;;
	*)
		tap_not_ok "$name: no result line (guest died or timed out before it finished)"
		test_output "$name" 30 | tap_diag
		;;
	esac
done <<<"$tests"

# Kernel splats fail the run even when every test passed: WARN, BUG, oops,
# panic, lockdep and RCU reports, KASAN/UBSAN, stalls and lockups.
splat='WARNING: CPU|WARNING: .*(lock|LOCK|RCU)|BUG:|Oops|Kernel panic|kernel BUG at|'
splat+='general protection fault|Call Trace:|UBSAN:|KASAN:|'
splat+='possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|'
splat+='detected stalls|soft lockup|hard LOCKUP|blocked for more than'
# Not "| grep -q": it stops reading at the first match, the writer dies
# of SIGPIPE, and under pipefail the pipeline fails as if nothing matched
# (a console with 99 BUG lines passed so once).  grep reads all here.
splats=$(console_checked | grep -aE "$splat" || true)
if [ -z "$booted" ]; then
	tap_not_ok "console clean # not run: $broken failed"
elif [ -n "$splats" ]; then
	tap_not_ok "console clean: the kernel reported a problem"
	printf '%s\n' "$splats" | sed -n '1,20p' | tap_diag
else
	tap_ok "console clean (no WARNING/BUG/Oops/panic/lockdep splat)"
fi

echo "1..$n"
echo "# lab: $variant kernel, total $((SECONDS - t_start)) s (${times#, })"
[ -z "$skipped" ] || echo "# lab: SKIPPED:$skipped"
if [ "$failed" -gt 0 ]; then
	for b in $boots; do
		log=$out/console-${b%%:*}.log
		[ -s "$log" ] || continue
		# The end of the live console, before the dmesg copy repeats it.
		echo "# lab: last 40 lines of $log (before the final dmesg):"
		awk '/^KVMIG-LAB: dmesg-begin/ { exit } { print }' "$log" | tail -n 40 | tap_diag
	done
	echo "# lab: $failed of $n failed"
	exit 1
fi
echo "# lab: all $n passed"
