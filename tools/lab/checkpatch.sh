#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl --strict on every commit of the lab tree above "pristine"
# (kernel/series as applied by tree.sh), as a KVM maintainer runs it on a
# submission: any ERROR, WARNING or CHECK fails.  Two types are ignored:
# FILE_PATH_CHANGES ("does MAINTAINERS need updating?"): every file the
# series adds (virt/kvm/dirty_limit.c, include/linux/kvm_dirty_limit.h) is
# already under the F: patterns of "KERNEL VIRTUAL MACHINE (KVM)"; and
# OPEN_ENDED_LINE ("Lines should not end with a '('"), which every
# TRACE_EVENT() of arch/x86/kvm/mmu/mmutrace.h trips, as the series' does.  The SPDX
# check runs too (python3-ply and python3-git, installed by deps.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$LAB_LOGS/checkpatch.log
mkdir -p "$LAB_LOGS"
cd "$LAB_SRC"
# Debian's python3, which has python3-ply, even if another is first in PATH
export PATH=/usr/bin:/bin:$PATH
n=$(git rev-list --count pristine..HEAD)
[ "$n" -gt 0 ] || lab_die "checkpatch: no commits above pristine in $LAB_SRC"
if ! ./scripts/checkpatch.pl --strict --quiet --ignore FILE_PATH_CHANGES,OPEN_ENDED_LINE \
	--git pristine..HEAD >"$log" 2>&1 || [ -s "$log" ]; then
	lab_tail "$log" 60
	lab_die "checkpatch: the series is not clean (full log: $log)"
fi
lab_log "checkpatch --strict: $n commits clean"
