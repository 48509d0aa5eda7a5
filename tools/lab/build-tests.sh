#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test programs the guest runs, statically: the programs of the
# test list (lab_tests: tools/lab/tests and the repo's selftests/kvm/*_test.c,
# or $KVMIG_LAB_TESTS).  KVM selftests, upstream ones and the repo's, are
# built from the lab tree: the repo's are copied into it and compiled by the
# upstream selftests Makefile against the kselftest KVM library of the same
# tree.  "user:NAME" programs are kvmig's own tests (selftests/user/NAME.c),
# built by the repo's Makefile with LDFLAGS=-static into
# $LAB_CACHE/build/user/ together with kvmig-vm and kvmig, which they run;
# "bench:NAME" the same for a benchmark of tools/bench/ (make bench).
# "lab:NAME" is a script of tools/lab/ that the guest's busybox runs.
# Writes the resolved test list to $LAB_CACHE/build/tests.list:
#
#   name timeout on-skip tcg host-binary [arguments...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HDR=$LAB_CACHE/build/headers$LAB_BUILD_SUFFIX
ST=$LAB_CACHE/build/selftests$LAB_BUILD_SUFFIX
KVMST=$LAB_SRC/tools/testing/selftests/kvm
UB=$LAB_CACHE/build/user
LIST=$LAB_CACHE/build/tests.list
log=$LAB_LOGS/selftests.log
mkdir -p "$HDR" "$ST" "$LAB_LOGS" "$CCACHE_DIR"
unset ARCH # the selftests Makefile derives its ARCH_DIR from the host

# Upstream renamed x86_64/ to x86/ in 6.14; follow the tree.
if [ -d "$KVMST/x86" ]; then arch_dir=x86; else arch_dir=x86_64; fi
[ -d "$KVMST/$arch_dir" ] || lab_die "no $KVMST/$arch_dir: not a Linux tree?"

# The repo's programs are copied into a directory of the tree that only the
# lab owns, ignored by git (so that the tree stays clean and export-patches
# never sees them).  Copy only what changed: mtimes drive make.
repo_st=$REPO_DIR/selftests/kvm
kvmig_rel=$arch_dir/kvmig
kvmig_dir=$KVMST/$kvmig_rel
if [ -n "$(git -C "$LAB_SRC" ls-files "$kvmig_dir")" ]; then
	lab_die "$kvmig_dir is tracked in the lab tree (by a patch?): the lab owns that directory"
fi
exclude=$(git -C "$LAB_SRC" rev-parse --git-path info/exclude)
case $exclude in /*) ;; *) exclude=$LAB_SRC/$exclude ;; esac
mkdir -p "$(dirname "$exclude")"
pattern=/tools/testing/selftests/kvm/$kvmig_rel/
grep -qxF "$pattern" "$exclude" 2>/dev/null || echo "$pattern" >>"$exclude"
mkdir -p "$kvmig_dir" "$ST/$kvmig_rel"
repo_progs=()
for f in "$kvmig_dir"/*; do
	[ -e "$f" ] || continue
	[ -f "$repo_st/$(basename "$f")" ] || rm -f "$f"
done
for f in "$repo_st"/*.c "$repo_st"/*.h; do
	[ -f "$f" ] || continue
	# tools/lab/tests names programs by their bare name: an upstream one
	# of the same name would be silently replaced.
	case $f in *.c)
		p=$(basename "$f" .c)
		if [ -e "$KVMST/$p.c" ] || [ -e "$KVMST/$arch_dir/$p.c" ]; then
			lab_die "selftests/kvm/$p.c: an upstream KVM selftest has that name, rename it"
		fi
		;;
	esac
	cmp -s "$f" "$kvmig_dir/$(basename "$f")" || cp "$f" "$kvmig_dir/"
	case $f in *.c) repo_progs+=("$(basename "$f" .c)") ;; esac
done

# Repo programs live in the lab's directory of the selftests tree.
resolved=$(lab_tests | while read -r name timeout onskip tcg prog args; do
	case $prog in
	user:*) [ -f "$REPO_DIR/selftests/user/${prog#user:}.c" ] ||
		lab_die "test '$name': no selftests/user/${prog#user:}.c" ;;
	bench:*) [ -f "$REPO_DIR/tools/bench/${prog#bench:}.c" ] ||
		lab_die "test '$name': no tools/bench/${prog#bench:}.c" ;;
	lab:*) [ -f "$LAB_DIR/${prog#lab:}" ] ||
		lab_die "test '$name': no tools/lab/${prog#lab:}" ;;
	*) [ ! -f "$repo_st/$prog.c" ] || prog=$kvmig_rel/$prog ;;
	esac
	echo "$name $timeout $onskip $tcg $prog${args:+ $args}"
done)
[ -n "$resolved" ] || lab_die "no tests to run"
dups=$(echo "$resolved" | awk '{ print $1 }' | sort | uniq -d)
[ -z "$dups" ] || lab_die "tools/lab/tests: duplicate test names: $dups"

# uapi headers of this tree, in their own O= dir: they need no .config, and
# the normal and debug kernels share them (the unpatched tree has its own).
lab_log "building the KVM selftests (log: $log)"
lab_run_logged "make headers" "$LAB_LOGS/headers.log" \
	make -C "$LAB_SRC" O="$HDR" ARCH=x86_64 -j"$LAB_JOBS" HOSTCC="ccache gcc" headers

targets=$(echo "$resolved" | awk -v st="$ST" '$5 !~ /^(user|bench|lab):/ { print st "/" $5 }' | sort -u)
user_targets=$(echo "$resolved" | awk -v ub="$UB" '
	$5 ~ /^user:/ { sub(/^user:/, "", $5); print ub "/tests/" $5 }
	$5 ~ /^bench:/ { sub(/^bench:/, "", $5); print ub "/bin/" $5 }' | sort -u)
repo_bins=""
for p in "${repo_progs[@]}"; do
	repo_bins="$repo_bins $kvmig_rel/$p"
done
# Static, so the initramfs needs no libc.  LDFLAGS stays the Makefile's: it
# carries -pthread.  The repo's programs join TEST_GEN_PROGS_EXTENDED, which
# gives them the same compile and link rules as the upstream tests.
# shellcheck disable=SC2086
lab_run_logged "building the KVM selftests" "$log" \
	make -C "$KVMST" -j"$LAB_JOBS" OUTPUT="$ST" \
	KHDR_INCLUDES="-isystem $HDR/usr/include" EXTRA_CFLAGS=-static \
	CC="ccache gcc" TEST_GEN_PROGS_EXTENDED_$arch_dir="${repo_bins# }" $targets

# kvmig's programs: the repo's own build (its warnings, -Werror), static,
# with the programs they start (test_bin(): ../bin/ of the test).  The
# library's dependencies ship static archives in their Debian -dev packages.
# make goes by mtimes: objects built from another checkout (a CI clone) are
# not reused.
if [ -n "$user_targets" ]; then
	[ "$(cat "$UB/.repo" 2>/dev/null)" = "$REPO_DIR" ] || rm -rf "$UB"
	mkdir -p "$UB" && echo "$REPO_DIR" >"$UB/.repo"
	# shellcheck disable=SC2086
	lab_run_logged "building kvmig's programs" "$LAB_LOGS/user.log" \
		make -C "$REPO_DIR" -j"$LAB_JOBS" B="$UB" LDFLAGS=-static CC="ccache gcc" \
		"$UB/bin/kvmig-vm" "$UB/bin/kvmig" $user_targets
fi

echo "$resolved" | while read -r name timeout onskip tcg prog args; do
	case $prog in
	user:*) bin=$UB/tests/${prog#user:} ;;
	bench:*) bin=$UB/bin/${prog#bench:} ;;
	lab:*) bin=$LAB_DIR/${prog#lab:} ;;
	*) bin=$ST/$prog ;;
	esac
	[ -x "$bin" ] || lab_die "test '$name': $bin was not built"
	echo "$name $timeout $onskip $tcg $bin${args:+ $args}"
done >"$LIST.tmp"
mv "$LIST.tmp" "$LIST"
lab_log "$(wc -l <"$LIST") tests: $(awk '{ printf "%s ", $1 }' "$LIST")"
