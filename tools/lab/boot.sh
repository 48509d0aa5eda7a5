#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot a lab kernel with an initramfs under QEMU TCG and capture the serial
# console.  Exits with QEMU's status, or timeout's 124 if the guest did not
# finish in time.
#
# usage: boot.sh BZIMAGE INITRAMFS LOG TIMEOUT-SECONDS [EXTRA-CMDLINE]
# KVMIG_LAB_CPUS: the guest's CPUs (default 2).
# KVMIG_LAB_QEMU: another QEMU binary than Debian's qemu-system-x86_64, and
# KVMIG_LAB_QEMU_ARGS options for it (split on spaces), e.g. "-L DIR" for
# its firmware: to see whether an emulator fault follows the emulator
# (tools/lab/README.md, "Emulator faults").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=${1:?usage: boot.sh BZIMAGE INITRAMFS LOG TIMEOUT [CMDLINE]}
initrd=${2:?} log=${3:?} limit=${4:?} extra=${5:-}

# Under load the guest's TSC calibration fails, KVM_GET_TSC_KHZ returns 0
# and every selftest VM creation asserts: hand it the host's frequency.
khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
if [ -z "$khz" ] || [ "$khz" -le 0 ]; then
	lab_die "no 'cpu MHz' in /proc/cpuinfo for tsc_early_khz"
fi

# panic=-1 oops=panic panic_on_warn=1: any oops or WARN ends the run at once
# (and shows in the log); reboot=t is the only working reboot on microvm.
cmdline="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 reboot=t"
cmdline="$cmdline tsc_early_khz=$khz tsc=reliable $extra"

# -M microvm: no ACPI needed and both vCPUs seen; -cpu max gives SVM with
# nested paging, so kvm_amd runs inside.  -no-reboot turns the guest's final
# reboot into QEMU's exit.
#
# KVMIG_LAB_TCG_THREAD: "multi" (QEMU's default, MTTCG: a host thread per
# emulated CPU) or "single" (the CPUs take turns on one host thread).
# lab.sh picks it per boot from the tests' tcg column: with MTTCG, a nested
# guest writing memory on two CPUs now and then corrupts itself or the
# lab's kernel (tools/lab/README.md, "Emulator faults": on the unpatched
# kernel as on ours, with QEMU 7.2 and 10.0), and with a single thread an
# emulated CPU's timers wait for its turn, which a test that measures time
# cannot have.
tcg_thread=${KVMIG_LAB_TCG_THREAD:-multi}
case $tcg_thread in single | multi) ;; *) lab_die "KVMIG_LAB_TCG_THREAD: single or multi, not '$tcg_thread'" ;; esac
qemu=${KVMIG_LAB_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || lab_die "KVMIG_LAB_QEMU: no program '$qemu'"
read -r -a qemu_args <<<"${KVMIG_LAB_QEMU_ARGS:-}"
rc=0
timeout -k 10 "$limit" nice -n 19 "$qemu" ${qemu_args[@]+"${qemu_args[@]}"} \
	-M microvm -accel tcg,thread="$tcg_thread" -cpu max -m 2G -smp "${KVMIG_LAB_CPUS:-2}" \
	-nographic -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	</dev/null >"$log" 2>&1 &
qemu_pid=$!
trap 'kill -TERM "$qemu_pid" 2>/dev/null; exit 143' TERM INT HUP
# panic=-1 reboots a panicked kernel at once, which ends QEMU; with its
# memory corrupted (the emulator's fault under MTTCG, README.md) it once
# hung instead, and the boot would have waited for its whole limit (the sum
# of its tests' timeouts).  So: a panic, then 20 s without QEMU's exit,
# and QEMU is stopped (timeout passes the TERM on; exit status 143).
while kill -0 "$qemu_pid" 2>/dev/null; do
	if grep -aq 'Kernel panic - not syncing' "$log"; then
		for _ in $(seq 20); do
			kill -0 "$qemu_pid" 2>/dev/null || break
			sleep 1
		done
		if kill -TERM "$qemu_pid" 2>/dev/null; then
			lab_log "the guest kernel panicked and did not reboot within 20 s: QEMU stopped"
		fi
		break
	fi
	sleep 2
done
wait "$qemu_pid" || rc=$?
exit "$rc"
