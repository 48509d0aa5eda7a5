# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared settings and helpers of the kernel test lab; sourced, not run.
#
# Everything the lab builds lives in the cache folder, outside the repo, so a
# clean clone at any path reuses the kernel tree, the build dirs and ccache:
#
#   $LAB_CACHE/linux/          git tree: tag "pristine" + kernel/series as commits
#   $LAB_CACHE/linux-unpatched/ a worktree of it at "pristine" (lab.sh --unpatched)
#   $LAB_CACHE/state/          stamps (source version, applied series)
#   $LAB_CACHE/ccache/         CCACHE_DIR
#   $LAB_CACHE/build/kernel[-debug|-unpatched]/  O= dirs of the kernel variants
#   $LAB_CACHE/build/headers[-unpatched]/  O= dir of "make headers" (uapi for
#                              the selftests), one per tree
#   $LAB_CACHE/build/selftests[-unpatched]/ OUTPUT= of the KVM selftests
#   $LAB_CACHE/out/<variant>/  initramfs, console.log
#   $LAB_CACHE/logs/           build logs

# shellcheck disable=SC2034 # the variables are for the scripts that source this
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
LAB_CACHE=${KVMIG_LAB_CACHE:-/var/cache/kvmig-lab}
LAB_SRC=$LAB_CACHE/linux
LAB_UNPATCHED_SRC=$LAB_CACHE/linux-unpatched
# lab.sh --unpatched, once its trees are ready: the build steps work on the
# worktree at "pristine", with build dirs of their own.
LAB_BUILD_SUFFIX=""
if [ "${KVMIG_LAB_UNPATCHED:-0}" = 1 ]; then
	LAB_SRC=$LAB_UNPATCHED_SRC LAB_BUILD_SUFFIX=-unpatched
fi
LAB_STATE=$LAB_CACHE/state
LAB_LOGS=$LAB_CACHE/logs
LAB_JOBS=${KVMIG_LAB_JOBS:-2}
LAB_TARBALL=/usr/src/linux-source-6.12.tar.xz
LAB_SRC_PKG=linux-source-6.12
KERNEL_DIR=$REPO_DIR/kernel

# ccache for the kernel and the selftests.  The base dir makes the cache key
# independent of where the cache folder sits (paths below it become relative).
export CCACHE_DIR=$LAB_CACHE/ccache
export CCACHE_BASEDIR=$LAB_CACHE
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Fixed build stamps so identical sources give identical objects (and hits).
export KBUILD_BUILD_USER=kvmig KBUILD_BUILD_HOST=lab
export KBUILD_BUILD_TIMESTAMP="2025-01-01 00:00:00 UTC"

lab_log() { echo "lab: $*" >&2; }
lab_die() { echo "lab: error: $*" >&2; exit 1; }

# Low CPU and IO priority for everything below: another developer's
# timing-sensitive tests share this machine.  Re-exec once under nice.
lab_nice() {
	if [ "$(nice)" -lt 19 ]; then
		if command -v ionice >/dev/null 2>&1; then
			exec nice -n 19 ionice -c 2 -n 7 "$@"
		fi
		exec nice -n 19 "$@"
	fi
}

# Print the last lines of a log on stderr, framed, after a failure.
lab_tail() {
	local file=$1 n=${2:-40}
	echo "lab: ---- last $n lines of $file ----" >&2
	tail -n "$n" "$file" >&2 || true
	echo "lab: ---- end of $file ----" >&2
}

# Run a command with its output in a log file; on failure show the tail and
# die naming the step, so a build error is never lost in a quiet run.
lab_run_logged() {
	local what=$1 log=$2
	shift 2
	if ! "$@" >"$log" 2>&1; then
		lab_tail "$log" 60
		lab_die "$what failed (full log: $log)"
	fi
}

# Strip '#' comments and blank lines from a list file.
lab_list() {
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$1"
}

# The patch files named by kernel/series, one absolute path a line.
lab_series_files() {
	local p
	[ -f "$KERNEL_DIR/series" ] || lab_die "missing $KERNEL_DIR/series"
	lab_list "$KERNEL_DIR/series" | while read -r p; do
		case $p in
		*/* | .* | *[[:space:]]*)
			lab_die "kernel/series: '$p': give a plain file name in kernel/patches/" ;;
		esac
		[ -f "$KERNEL_DIR/patches/$p" ] ||
			lab_die "kernel/series names '$p', not found in kernel/patches/"
		echo "$KERNEL_DIR/patches/$p"
	done
}

# Hash of the series: its list and every listed patch, in order.  "v1" is the
# format of the applied tree; bump it if tree.sh changes how it applies.
lab_series_hash() {
	local files
	files=$(lab_series_files) || exit 1
	{
		echo "kvmig-lab-series v1"
		lab_list "$KERNEL_DIR/series"
		# shellcheck disable=SC2086
		[ -z "$files" ] || cat $files
	} | sha256sum | cut -d' ' -f1
}

# The tests to run: tools/lab/tests, then the repo's selftests/kvm/*_test.c
# that it does not list (defaults: 120 s, a skip is reported, not a
# failure, the single-threaded emulator).  KVMIG_LAB_TESTS names another
# list (make bench: tools/lab/bench, the *_perf programs), which runs alone.
# One "name timeout on-skip tcg program [arguments...]" a line, checked.
lab_tests() {
	local f p list=${KVMIG_LAB_TESTS:-$LAB_DIR/tests}
	{
		lab_list "$list"
		for f in "$REPO_DIR"/selftests/kvm/*_test.c; do
			[ -z "${KVMIG_LAB_TESTS:-}" ] && [ -f "$f" ] || continue
			p=$(basename "$f" .c)
			lab_list "$list" | awk -v p="$p" '$5 == p { f = 1 } END { exit !f }' ||
				echo "$p 120 ok single $p"
		done
	} | while read -r name timeout onskip tcg prog args; do
		[ -n "$prog" ] || lab_die "$list: '$name': want name, timeout, on-skip, tcg, program"
		case $timeout in '' | *[!0-9]*) lab_die "$list: '$name': bad timeout '$timeout'" ;; esac
		case $onskip in ok | fail) ;; *) lab_die "$list: '$name': on-skip is ok or fail" ;; esac
		case $tcg in single | multi) ;; *) lab_die "$list: '$name': tcg is single or multi, not '$tcg'" ;; esac
		case $name in *[!A-Za-z0-9_.-]*) lab_die "$list: bad test name '$name'" ;; esac
		echo "$name $timeout $onskip $tcg $prog${args:+ $args}"
	done
}
