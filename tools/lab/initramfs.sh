#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack the guest's initramfs: static busybox, tools/lab/init as /init, and
# the test programs of $LAB_CACHE/build/tests.list in /tests/bin/; kvmig's
# own tests (built in $LAB_CACHE/build/user/) go to /tests/user/tests/, next
# to the programs they start in /tests/user/bin/, where its benchmarks go
# too, and are listed by path.
#
# usage: initramfs.sh OUTPUT.cpio.gz [TIMEOUT-SCALE]
#   TIMEOUT-SCALE multiplies every test's timeout (the debug kernel is slower)
# KVMIG_LAB_MODULES: a folder of kernel modules and their load order
# ("order"), packed into /tests/modules (the boot of Debian's kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?usage: initramfs.sh OUTPUT.cpio.gz [TIMEOUT-SCALE]}
scale=${2:-1}
list=$LAB_CACHE/build/tests.list
busybox=/bin/busybox
[ -f "$list" ] || lab_die "no $list: run build-tests.sh first"
[ -x "$busybox" ] || lab_die "$busybox missing: install busybox-static"

# The kernel's own cpio writer takes a spec file: device nodes and owners
# without needing root or a staging tree.
gen=$LAB_CACHE/build/gen_init_cpio
if [ ! -x "$gen" ] || [ "$LAB_SRC/usr/gen_init_cpio.c" -nt "$gen" ]; then
	gcc -O2 -o "$gen" "$LAB_SRC/usr/gen_init_cpio.c" || lab_die "cannot build gen_init_cpio"
fi

stage=$(dirname "$out")/initramfs.d
rm -rf "$stage"
mkdir -p "$stage"
spec=$stage/spec
{
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /tests /tests/bin; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $LAB_DIR/init 0755 0 0"
	echo "file /tests/list $stage/list 0644 0 0"
} >"$spec"

# Debug info off (a third of the size, faster to unpack under TCG); the
# symbols stay for backtraces.
add() { # host-file guest-path
	local staged=$stage/files$2
	[ ! -f "$staged" ] || return 0
	mkdir -p "$(dirname "$staged")"
	case $(head -c 4 "$1") in
	$'\x7fELF') strip --strip-debug -o "$staged" "$1" ;;
	*) cp "$1" "$staged" ;; # a script (lab:NAME)
	esac
	echo "file $2 $staged 0755 0 0" >>"$spec"
}

# Kernel modules for the guest to load (lab.sh --debian): every file of
# $KVMIG_LAB_MODULES, in /tests/modules.
if [ -n "${KVMIG_LAB_MODULES:-}" ]; then
	[ -f "$KVMIG_LAB_MODULES/order" ] || lab_die "no $KVMIG_LAB_MODULES/order"
	echo "dir /tests/modules 0755 0 0" >>"$spec"
	for f in "$KVMIG_LAB_MODULES"/*; do
		echo "file /tests/modules/$(basename "$f") $f 0644 0 0" >>"$spec"
	done
fi
user=$LAB_CACHE/build/user
user_dirs=0
while read -r name timeout _onskip tcg bin args; do
	case $bin in
	"$user"/tests/* | "$user"/bin/bench_*)
		# a test in tests/, a benchmark in bin/: both start ../bin/kvmig*
		prog=/tests/user/${bin#"$user"/}
		if [ "$user_dirs" = 0 ]; then
			user_dirs=1
			for d in /tests/user /tests/user/tests /tests/user/bin; do
				echo "dir $d 0755 0 0" >>"$spec"
			done
			add "$user/bin/kvmig-vm" /tests/user/bin/kvmig-vm
			add "$user/bin/kvmig" /tests/user/bin/kvmig
		fi
		add "$bin" "$prog"
		;;
	*)
		prog=$(basename "$bin")
		add "$bin" "/tests/bin/$prog"
		;;
	esac
	echo "$name $((timeout * scale)) $tcg $prog${args:+ $args}"
done <"$list" >"$stage/list"

"$gen" "$spec" | gzip -n -1 >"$out.tmp"
mv "$out.tmp" "$out"
