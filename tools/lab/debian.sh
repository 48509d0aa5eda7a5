#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The host's half of the lab's boot of Debian's own kernel (lab.sh
# --debian): kvmig's KVM built as out-of-tree modules the two ways an
# operator would (make modules; DKMS), for the 6.12 kernel whose headers are
# installed, and staged for the guest.
#
# usage: debian.sh kver            the kernel (6.12.118+deb12-amd64)
#        debian.sh errors KVER     kmod.sh's version checks refuse a wrong
#                                  kernel, missing headers, another source
#        debian.sh modules KVER    make modules, checked with modinfo
#        debian.sh dkms KVER OUT   install with DKMS into this machine's
#                                  package database, check, copy the
#                                  installed modules and the stock ones they
#                                  need to OUT (with OUT/order, the load
#                                  order), remove with DKMS and check that
#                                  the stock modules are back
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KMOD=$REPO_DIR/kernel/kmod/kmod.sh
OURS="kvm kvm-amd kvm-intel"

# check_module FILE KVER: FILE is one of kvmig's modules for KVER.
check_module() {
	local f=$1 kver=$2 vm tag
	[ -f "$f" ] || lab_die "no $f"
	vm=$(modinfo -F vermagic "$f")
	case "$vm " in
	"$kver "*) ;;
	*) lab_die "$f: vermagic '$vm', not of $kver" ;;
	esac
	tag=$(modinfo -F kvmig "$f")
	[ -n "$tag" ] || lab_die "$f: no 'kvmig' in its modinfo: not built by kernel/kmod/kmod.sh"
	[ -n "$(modinfo -F version "$f")" ] || lab_die "$f: no version in its modinfo"
}

# expect_error WHAT TEXT COMMAND...: COMMAND fails, saying TEXT.
expect_error() {
	local what=$1 text=$2 err
	shift 2
	if err=$("$@" 2>&1); then
		lab_die "$what: succeeded, want an error saying '$text'"
	fi
	case $err in
	*"$text"*) lab_log "$what: refused: $(echo "$err" | grep 'kmod: error' | head -n1)" ;;
	*) lab_die "$what: want an error saying '$text', got: $err" ;;
	esac
}

cmd=${1:-}
case $cmd in
kver)
	"$KMOD" kver
	;;
errors)
	# The version checks of kmod.sh, each with the clear error the
	# operator gets.
	kver=${2:?usage: debian.sh errors KVER}
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	export KVMIG_KMOD_NO_DEPS=1
	expect_error "a kernel that is not 6.12" "written for Linux 6.12; KVER is 6.1.0-99-amd64" \
		"$KMOD" build "$tmp/m" 6.1.0-99-amd64
	expect_error "a 6.12 kernel without headers" \
		"no headers for 6.12.0-kvmig-none in /lib/modules/6.12.0-kvmig-none/build: apt-get install linux-headers-6.12.0-kvmig-none" \
		"$KMOD" build "$tmp/m" 6.12.0-kvmig-none
	# a source of another 6.12 than the headers'
	mkdir -p "$tmp/src/linux-source-6.12"
	printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 99\nEXTRAVERSION =\n' \
		>"$tmp/src/linux-source-6.12/Makefile"
	tar -cJf "$tmp/src.tar.xz" -C "$tmp/src" linux-source-6.12
	expect_error "a source of another kernel" \
		"is Linux 6.12.99 but $kver is Linux ${kver%%[+-]*}" \
		env KVMIG_KMOD_TARBALL="$tmp/src.tar.xz" "$KMOD" build "$tmp/m" "$kver"
	;;
modules)
	kver=${2:?usage: debian.sh modules KVER}
	# ccache through the headers' own switch (their CC is gcc-12 with
	# $(CCACHE) when DEBIAN_KERNEL_USE_CCACHE is set).
	DEBIAN_KERNEL_USE_CCACHE=1 lab_run_logged "make modules for $kver" "$LAB_LOGS/kmod.log" \
		"$KMOD" build "$LAB_CACHE/build/kmod" "$kver"
	for m in $OURS; do
		check_module "$LAB_CACHE/build/kmod/arch/x86/kvm/$m.ko" "$kver"
	done
	lab_log "make modules: $(modinfo -F version "$LAB_CACHE/build/kmod/arch/x86/kvm/kvm.ko") for $kver"
	;;
dkms)
	kver=${2:?usage: debian.sh dkms KVER OUT} out=${3:?usage: debian.sh dkms KVER OUT}
	log=$LAB_LOGS/dkms.log
	# The check ends by removing every kvmig-kvm from DKMS: never an
	# operator's own installation.
	have=$(dkms status -m kvmig-kvm 2>/dev/null || true)
	[ -z "$have" ] || lab_die "kvmig-kvm is already installed with DKMS on this machine ($have):" \
		"this check installs and removes it; run make dkms-remove first, and make dkms-install after"
	lab_run_logged "make dkms-install for $kver" "$log" "$KMOD" dkms-install "$LAB_CACHE/build/kmod-dkms" "$kver"
	ver=$(cat "$LAB_CACHE/build/kmod-dkms/.kvmig-kmod.version")
	status=$(dkms status -m kvmig-kvm -v "$ver" -k "$kver")
	case $status in
	*": installed"*) ;;
	*) lab_die "dkms status after the install: '$status'" ;;
	esac
	case $status in *WARNING*) lab_die "dkms status: '$status'" ;; esac
	# What modprobe would load now: DKMS's, in updates/dkms.
	rm -rf "$out"
	mkdir -p "$out"
	order=""
	for m in $OURS; do
		f=$(modinfo -k "$kver" -n "$m")
		case $f in
		/lib/modules/"$kver"/updates/dkms/*) ;;
		*) lab_die "after dkms install, modinfo -k $kver -n $m is $f, not DKMS's" ;;
		esac
		check_module "$f" "$kver"
		[ "$(modinfo -F version "$f")" = "$ver" ] ||
			lab_die "$f is version $(modinfo -F version "$f"), DKMS installed $ver"
		# stock modules they need, dependencies first
		for d in $(modinfo -F depends "$f" | tr ',' ' '); do
			case " $OURS $order " in *" $d "* | *" ${d//_/-} "*) continue ;; esac
			[ -z "$(modinfo -k "$kver" -F depends "$d")" ] ||
				lab_die "stock module $d has dependencies of its own: teach debian.sh to follow them"
			xz -dcf "$(modinfo -k "$kver" -n "$d")" >"$out/$d.ko"
			order="$order $d"
		done
		xz -dcf "$f" >"$out/$m.ko"
		# kvm-intel is loaded by the guest's check, to see it refuse.
		[ "$m" = kvm-intel ] || order="$order $m"
	done
	# shellcheck disable=SC2086 # one module a line
	printf '%s\n' $order >"$out/order"
	lab_log "DKMS installed $ver for $kver; staged:$order (and kvm-intel)"
	# Back to the stock modules.
	lab_run_logged "make dkms-remove" "$LAB_LOGS/dkms-remove.log" "$KMOD" dkms-remove
	for m in $OURS; do
		f=$(modinfo -k "$kver" -n "$m")
		case $f in
		/lib/modules/"$kver"/kernel/*) ;;
		*) lab_die "after dkms remove, modinfo -k $kver -n $m is $f, not the stock module" ;;
		esac
		[ -z "$(modinfo -F kvmig "$f")" ] || lab_die "$f still carries kvmig's modinfo"
	done
	[ -z "$(dkms status -m kvmig-kvm)" ] || lab_die "dkms still lists kvmig-kvm: $(dkms status -m kvmig-kvm)"
	;;
*)
	sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
