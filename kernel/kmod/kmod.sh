#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kvmig's KVM as out-of-tree modules (kvm.ko, kvm-amd.ko, kvm-intel.ko) for
# Debian's 6.12 kernel: the KVM sources of Debian's linux-source-6.12 with
# kernel/series applied, in the kernel's own layout under the repository's
# top-level Kbuild, built against the installed linux-headers of one kernel.
# Documentation/kernel.rst, "Modules for Debian's kernel", has the why.
#
# usage: kmod.sh kver                    print the kernel to build for (below)
#        kmod.sh prepare DIR [KVER]      the module tree in DIR (DKMS's source)
#        kmod.sh build DIR [KVER]        prepare, then build the modules in DIR
#        kmod.sh dkms-install DIR [KVER] prepare, then add, build and install
#                                        the tree with DKMS for KVER
#        kmod.sh dkms-remove             remove every kvmig-kvm version from DKMS
#        kmod.sh dkms-pre-build KVER     (DKMS's PRE_BUILD, in its copy of the tree)
#
# KVER is a kernel release as uname -r prints it (6.12.118+deb12-amd64).
# Without it: the running kernel if it is a 6.12 one (its headers must be
# installed), otherwise the newest installed 6.12 headers ("kver" prints
# which).  The Debian packages a step needs are installed first (source,
# headers, dkms), as scripts/deps.sh does for the rest of kvmig.
# Environment: KVMIG_KMOD_JOBS (make -j, default: the CPUs), KVMIG_KMOD_CC
# (the compiler command; default: the headers'), KVMIG_KMOD_NO_DEPS=1 (do
# not install packages), KVMIG_KMOD_TARBALL (another source tarball).
set -euo pipefail

KMOD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$KMOD_DIR/../.." && pwd)
KERNEL_DIR=$REPO_DIR/kernel
SRC_PKG=linux-source-6.12
TARBALL=${KVMIG_KMOD_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
DKMS_NAME=kvmig-kvm
# The kernel series the patches are written for.
SERIES_KERNEL=6.12

log() { echo "kmod: $*" >&2; }
die() { echo "kmod: error: $*" >&2; exit 1; }

# ---- versions ------------------------------------------------------------

# The upstream version a kernel release starts with: 6.12.118+deb12-amd64
# -> 6.12.118.
upstream_of() { echo "$1" | sed -n 's/^\([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p'; }

# The Debian package version of an installed package, or nothing.
pkg_version() {
	dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null |
		awk '$1 ~ /^.i/ { print $2 }'
}

# The 6.12 kernels with headers installed, newest first.
headers_kvers() {
	local d r
	for d in /lib/modules/"$SERIES_KERNEL".*/build; do
		[ -f "$d/include/config/kernel.release" ] || continue
		r=$(cat "$d/include/config/kernel.release")
		echo "$r"
	done | sort -rV
}

resolve_kver() {
	local running have
	running=$(uname -r)
	have=$(headers_kvers)
	case $running in
	"$SERIES_KERNEL".*)
		if ! printf '%s\n' "$have" | awk -v r="$running" '$0 == r { f = 1 } END { exit !f }'; then
			die "the running kernel is $running, and its headers are not installed" \
				"(headers installed: ${have:-none}): apt-get install linux-headers-$running," \
				"or name another kernel with KVER=..."
		fi
		echo "$running"
		;;
	*)
		[ -n "$have" ] || die "no linux-headers for a $SERIES_KERNEL kernel are installed" \
			"(the running kernel is $running): apt-get install linux-headers-$SERIES_KERNEL-amd64"
		have=$(echo "$have" | head -n1)
		log "the running kernel is $running, not a $SERIES_KERNEL one: building for $have" \
			"(the modules load into that kernel only)"
		echo "$have"
		;;
	esac
}

# check_versions KVER: the headers of KVER are installed and are of the same
# kernel as linux-source-6.12, or die naming both versions.
check_versions() {
	local kver=$1 build rel src_v hdr_v
	case $kver in
	"$SERIES_KERNEL".*) ;;
	*) die "kernel/series is written for Linux $SERIES_KERNEL; KVER is $kver" ;;
	esac
	build=/lib/modules/$kver/build
	[ -f "$build/include/config/kernel.release" ] ||
		die "no headers for $kver in $build: apt-get install linux-headers-$kver"
	rel=$(cat "$build/include/config/kernel.release")
	[ "$rel" = "$kver" ] || die "$build is the headers of $rel, not of $kver"
	[ -f "$TARBALL" ] || die "$TARBALL missing: apt-get install $SRC_PKG"
	# Both from Debian: the same package version (the same kernel, with
	# the same Debian patches).
	# (Another tarball, KVMIG_KMOD_TARBALL, has no package version: its
	# upstream version is checked when the tree is prepared.)
	src_v=""
	[ "$TARBALL" != /usr/src/linux-source-6.12.tar.xz ] || src_v=$(pkg_version "$SRC_PKG")
	hdr_v=$(pkg_version "linux-headers-$kver")
	if [ -n "$src_v" ] && [ -n "$hdr_v" ] && [ "$src_v" != "$hdr_v" ]; then
		die "$SRC_PKG is version $src_v but linux-headers-$kver is $hdr_v:" \
			"the modules must be built from the source of the kernel they load into;" \
			"apt-get install $SRC_PKG=$hdr_v (or the headers of a kernel of $src_v)"
	fi
}

# The source, as modinfo and the messages name it.
source_name() {
	if [ "$TARBALL" = /usr/src/linux-source-6.12.tar.xz ]; then
		echo "$SRC_PKG $(pkg_version "$SRC_PKG")"
	else
		echo "$TARBALL"
	fi
}

# The version of the source tarball, from its top Makefile (6.12.118).
tarball_version() {
	tar -xJOf "$TARBALL" "$SRC_PKG/Makefile" | awk '
		/^VERSION =/ { v = $3 } /^PATCHLEVEL =/ { p = $3 } /^SUBLEVEL =/ { s = $3 }
		END { print v "." p "." s }'
}

# ---- the series ----------------------------------------------------------

series_files() {
	local p
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$KERNEL_DIR/series" |
		while read -r p; do
			[ -f "$KERNEL_DIR/patches/$p" ] || die "kernel/series names '$p', not in kernel/patches/"
			echo "$KERNEL_DIR/patches/$p"
		done
}

# What the module tree is a function of: the source package, the series,
# the Kbuild and this script.
tree_id() {
	{
		echo "kvmig-kmod v1"
		echo "$SRC_PKG $(pkg_version "$SRC_PKG") $(stat -c '%s %Y' "$TARBALL")"
		# shellcheck disable=SC2046
		cat "$KERNEL_DIR/series" $(series_files) "$REPO_DIR/Kbuild" "$KMOD_DIR/kmod.sh" \
			"$KMOD_DIR/abi-guard.sh"
	} | sha256sum | cut -c1-12
}

# The directories of the module tree: KVM's own, and the headers' of which
# the series changes some files (only those are taken).
TREE_DIRS="arch/x86/kvm virt/kvm include arch/x86/include"

in_tree() {
	local d
	for d in $TREE_DIRS; do
		case $1 in "$d"/*) return 0 ;; esac
	done
	return 1
}

# patch_files PATCH...: each file the patches write, once, as "PATH new"
# (a patch creates it) or "PATH old".
patch_files() {
	awk '/^diff --git / { sub(/^b\//, "", $4); f = $4; if (!(f in seen)) { seen[f] = 1; order[++n] = f } }
		/^new file mode / { made[f] = 1 }
		END { for (i = 1; i <= n; i++) print order[i], ((order[i] in made) ? "new" : "old") }' "$@"
}

# touches_tree PATCH: PATCH changes a file of the module tree.  (No "grep
# -q" on a pipe here: under pipefail its early exit fails the pipeline now
# and then, which once skipped a patch.)
touches_tree() {
	local f
	while read -r f _; do
		! in_tree "$f" || return 0
	done < <(patch_files "$1")
	return 1
}

# The files outside KVM's directories that the series modifies (not those
# it creates): to extract from the source besides those directories.
series_headers() {
	local f how
	# shellcheck disable=SC2046
	while read -r f how; do
		case $f in arch/x86/kvm/* | virt/kvm/*) continue ;; esac
		[ "$how" = new ] || ! in_tree "$f" || echo "$f"
	done < <(patch_files $(series_files))
}

# ---- prepare ---------------------------------------------------------------

prepare() {
	local dir=$1 kver=$2 id tmp top v src_up kver_up f sym info excl
	check_versions "$kver"
	id=$(tree_id)
	if [ "$(cat "$dir/.kvmig-kmod.id" 2>/dev/null)" = "$id" ]; then
		return 0
	fi
	src_up=$(tarball_version)
	kver_up=$(upstream_of "$kver")
	[ "$src_up" = "$kver_up" ] ||
		die "$TARBALL is Linux $src_up but $kver is Linux $kver_up:" \
			"install the source and the headers of the same kernel"

	# Every Kconfig symbol the series adds must be known to the Kbuild.
	# shellcheck disable=SC2046,SC2013 # symbols are words
	for sym in $(sed -n 's/^+config \([A-Z0-9_]*\).*/\1/p' $(series_files)); do
		grep -q "^kvmig-kconfig :=.*\b$sym\b" "$REPO_DIR/Kbuild" ||
			die "kernel/series adds Kconfig symbol $sym: list it in kvmig-kconfig in the top-level Kbuild"
	done

	log "preparing the module tree in $dir (Linux $src_up, $(source_name))"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmig-kmod.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	top=$tmp/$SRC_PKG
	# shellcheck disable=SC2046
	tar -xJf "$TARBALL" -C "$tmp" "$SRC_PKG/arch/x86/kvm" "$SRC_PKG/virt/kvm" \
		$(series_headers | sed "s|^|$SRC_PKG/|") ||
		die "cannot extract KVM from $TARBALL"
	[ -f "$top/arch/x86/kvm/Makefile" ] || die "$TARBALL has no arch/x86/kvm/Makefile"

	# The series, on the files of the module tree only (the rest is
	# documentation and selftests).  GIT_CEILING_DIRECTORIES: outside of
	# any repository, as GNU patch would be.
	local inc=() d
	for d in $TREE_DIRS; do
		inc+=("--include=$d/*")
	done
	for f in $(series_files); do
		touches_tree "$f" || continue
		(cd "$top" && GIT_CEILING_DIRECTORIES=$tmp git apply "${inc[@]}" "$f") ||
			die "kernel/patches/$(basename "$f") does not apply to $(source_name)"
	done

	# Every file of the module tree that the series writes is there.
	# shellcheck disable=SC2046
	while read -r f _; do
		! in_tree "$f" || [ -f "$top/$f" ] ||
			die "kernel/series writes $f, but the module tree has no such file"
	done < <(patch_files $(series_files))

	# Upstream's Makefile, built outside the kernel tree: its own
	# directory and virt/kvm are here, not under $(srctree) (the headers).
	v=$top/arch/x86/kvm/Makefile
	# shellcheck disable=SC2016 # make's $(...), not the shell's
	if ! grep -q '^ccflags-y += -I \$(srctree)/arch/x86/kvm$' "$v" ||
		! grep -q '^include \$(srctree)/virt/kvm/Makefile.kvm$' "$v"; then
		die "arch/x86/kvm/Makefile of $SRC_PKG changed: update kmod.sh's edit of it"
	fi
	# shellcheck disable=SC2016
	sed -i -e 's|^ccflags-y += -I \$(srctree)/arch/x86/kvm$|ccflags-y += -I $(src)|' \
		-e 's|^include \$(srctree)/virt/kvm/Makefile.kvm$|include $(src)/../../../virt/kvm/Makefile.kvm|' "$v"
	info="kvmig KVM $src_up, tree $id: $(source_name) + kernel/series ($(series_files | wc -l) patches)"
	{
		echo ""
		echo "# kvmig (kernel/kmod/kmod.sh): what each module was built from, for modinfo"
		echo "kvm-y += kvmig_info.o"
		echo "kvm-amd-y += kvmig_info_amd.o"
		echo "kvm-intel-y += kvmig_info_intel.o"
	} >>"$v"
	for m in kvmig_info kvmig_info_amd kvmig_info_intel; do
		cat >"$top/arch/x86/kvm/$m.c" <<-EOF
			// SPDX-License-Identifier: GPL-2.0
			/* Generated by kvmig's kernel/kmod/kmod.sh: what this module is built from. */
			#include <linux/module.h>

			MODULE_INFO(kvmig, "$info");
			/* DKMS installs a module whose version differs from the stock one's (none). */
			MODULE_VERSION("$src_up+kvmig.$id");
		EOF
	done
	# The layout guard (abi-guard.sh), against the kernel of each build.
	cp "$KMOD_DIR/abi-guard.sh" "$top/arch/x86/kvm/kvmig-abi-guard.sh"
	cat >"$top/arch/x86/kvm/kvmig_abi.c" <<-EOF
		// SPDX-License-Identifier: GPL-2.0
		/* Generated by kvmig's kernel/kmod/kmod.sh: see kvmig-abi-guard.sh. */
		#include <linux/kvm_host.h>
		#include <linux/build_bug.h>
		#include "kvmig_abi.h"
	EOF
	# (printf: a recipe line starts with a tab, which <<- would strip)
	# shellcheck disable=SC2016 # make's $(...)
	printf '%s\n' "" \
		"# kvmig: the layout that code built into the kernel uses, from the" \
		"# BTF of the kernel built for (\$(objtree)/vmlinux), as static_asserts" \
		'kvm-y += kvmig_abi.o' \
		'$(obj)/kvmig_abi.o: $(obj)/kvmig_abi.h' \
		'$(obj)/kvmig_abi.h: $(src)/kvmig-abi-guard.sh $(objtree)/vmlinux FORCE' \
		'	$(call filechk,kvmig_abi)' \
		'filechk_kvmig_abi = bash $(src)/kvmig-abi-guard.sh $(objtree)/vmlinux' \
		'targets += kvmig_abi.h' >>"$v"
	mkdir -p "$top/include/trace"
	cp "$REPO_DIR/Kbuild" "$top/Kbuild"
	# What the tree is made from, so that DKMS can make it again from the
	# source of another 6.12 release (dkms-pre-build).
	mkdir -p "$top/kernel/kmod" "$top/kernel/patches"
	cp "$KERNEL_DIR/series" "$top/kernel/series"
	# shellcheck disable=SC2046
	cp $(series_files) "$top/kernel/patches/"
	cp "$KMOD_DIR/kmod.sh" "$KMOD_DIR/abi-guard.sh" "$top/kernel/kmod/"
	excl="^${SERIES_KERNEL//./\\.}\\."
	cat >"$top/dkms.conf" <<-EOF
		# Generated by kvmig's kernel/kmod/kmod.sh: $info
		PACKAGE_NAME="$DKMS_NAME"
		PACKAGE_VERSION="$src_up+kvmig.$id"
		# Built for the kernels of the 6.12 series: for another release than
		# Linux $src_up, PRE_BUILD makes the tree again from that release's
		# linux-source-6.12 (it must be installed), or stops the build.
		BUILD_EXCLUSIVE_KERNEL="$excl"
		PRE_BUILD="kernel/kmod/kmod.sh dkms-pre-build \${kernelver}"
		MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build modules"
		CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build clean"
		BUILT_MODULE_NAME[0]="kvm"
		BUILT_MODULE_LOCATION[0]="arch/x86/kvm/"
		DEST_MODULE_LOCATION[0]="/updates/dkms"
		BUILT_MODULE_NAME[1]="kvm-amd"
		BUILT_MODULE_LOCATION[1]="arch/x86/kvm/"
		DEST_MODULE_LOCATION[1]="/updates/dkms"
		BUILT_MODULE_NAME[2]="kvm-intel"
		BUILT_MODULE_LOCATION[2]="arch/x86/kvm/"
		DEST_MODULE_LOCATION[2]="/updates/dkms"
		AUTOINSTALL="yes"
	EOF
	echo "$src_up+kvmig.$id" >"$top/.kvmig-kmod.version"
	echo "$id" >"$top/.kvmig-kmod.id"

	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	mv "$top" "$dir"
	rm -rf "$tmp"
	trap - EXIT
}

# ---- build -------------------------------------------------------------------

build() {
	local dir=$1 kver=$2 jobs cc=()
	jobs=${KVMIG_KMOD_JOBS:-$(nproc)}
	[ -z "${KVMIG_KMOD_CC:-}" ] || cc=(CC="$KVMIG_KMOD_CC")
	log "building kvm.ko, kvm-amd.ko, kvm-intel.ko for $kver in $dir"
	make -C "/lib/modules/$kver/build" M="$dir" -j"$jobs" "${cc[@]}" modules
	for m in kvm kvm-amd kvm-intel; do
		[ -f "$dir/arch/x86/kvm/$m.ko" ] || die "no $m.ko in $dir/arch/x86/kvm after the build"
	done
}

# ---- DKMS ----------------------------------------------------------------------

# dkms-pre-build KVER, in DKMS's copy of the tree: a tree of another
# release than KVER's is made again from the source tarball, which must be
# of KVER's release (Debian upgrades linux-source-6.12 with the kernel);
# KVM built from one release's source into another release's kernel would
# undo that release's KVM fixes.  When that cannot be, the tree is emptied
# so that the build stops with the reason (the top-level Kbuild's error).
dkms_pre_build() {
	local kver=$1 have want new
	have=$(cat .kvmig-kmod.version)
	have=${have%%+*}
	want=$(upstream_of "$kver")
	[ "$have" != "$want" ] || return 0
	log "this tree is Linux $have, $kver is Linux $want: making it again from $TARBALL"
	new=$(mktemp -d "${TMPDIR:-/tmp}/kvmig-kmod-dkms.XXXXXX")
	if ! (prepare "$new/tree" "$kver"); then
		rm -rf arch virt include
		rm -rf "$new"
		die "no KVM tree for $kver: see above; the kernel keeps its stock KVM"
	fi
	rm -rf arch virt include
	cp -a "$new/tree/." .
	rm -rf "$new"
}

dkms_remove() {
	local v
	command -v dkms >/dev/null || die "dkms is not installed: apt-get install dkms"
	for v in $(dkms status -m "$DKMS_NAME" 2>/dev/null | sed -n "s|^$DKMS_NAME/\([^,:]*\).*|\1|p" | sort -u); do
		log "removing $DKMS_NAME/$v from DKMS"
		dkms remove -m "$DKMS_NAME" -v "$v" --all
		rm -rf "/usr/src/$DKMS_NAME-$v"
	done
}

dkms_install() {
	local dir=$1 kver=$2 ver
	command -v dkms >/dev/null || die "dkms is not installed: apt-get install dkms"
	ver=$(cat "$dir/.kvmig-kmod.version")
	dkms_remove
	log "installing $DKMS_NAME/$ver with DKMS for $kver"
	rm -rf "/usr/src/$DKMS_NAME-$ver"
	mkdir -p "/usr/src/$DKMS_NAME-$ver"
	cp -a "$dir/." "/usr/src/$DKMS_NAME-$ver/"
	dkms add -m "$DKMS_NAME" -v "$ver"
	dkms build -m "$DKMS_NAME" -v "$ver" -k "$kver" ||
		die "dkms build failed: see /var/lib/dkms/$DKMS_NAME/$ver/build/make.log"
	dkms install -m "$DKMS_NAME" -v "$ver" -k "$kver"
}

# deps KVER [dkms]: the Debian packages of a build (and of DKMS): the
# source, pahole (for the layout guard), and the headers of KVER, of the
# running 6.12 kernel, or Debian's newest 6.12 if none are installed.
deps() {
	local kver=$1 pkgs="$SRC_PKG build-essential xz-utils pahole"
	shift
	[ -z "${KVMIG_KMOD_NO_DEPS:-}" ] || return 0
	if [ -n "$kver" ]; then
		pkgs="$pkgs linux-headers-$kver"
	else
		case $(uname -r) in
		"$SERIES_KERNEL".*) pkgs="$pkgs linux-headers-$(uname -r)" ;;
		*) [ -n "$(headers_kvers)" ] || pkgs="$pkgs linux-headers-$SERIES_KERNEL-amd64" ;;
		esac
	fi
	# shellcheck disable=SC2086
	sh "$REPO_DIR/scripts/deps.sh" $pkgs "$@" ||
		die "cannot install the packages the modules need: $pkgs $*"
}

cmd=${1:-}
case $cmd in
kver)
	resolve_kver
	;;
prepare | build | dkms-install)
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		die "usage: kmod.sh $cmd DIR [KVER]"
	fi
	kver=${3:-}
	case $kver in
	"" | "$SERIES_KERNEL".*) ;;
	*) die "kernel/series is written for Linux $SERIES_KERNEL; KVER is $kver" ;;
	esac
	if [ "$cmd" = dkms-install ]; then
		deps "$kver" dkms
	else
		deps "$kver"
	fi
	[ -n "$kver" ] || kver=$(resolve_kver)
	dir=$(mkdir -p "$2" && cd "$2" && pwd)
	prepare "$dir" "$kver"
	case $cmd in
	build) build "$dir" "$kver" ;;
	dkms-install) dkms_install "$dir" "$kver" ;;
	esac
	;;
dkms-remove)
	dkms_remove
	;;
dkms-pre-build)
	[ $# = 2 ] || die "usage: kmod.sh dkms-pre-build KVER (DKMS's PRE_BUILD)"
	[ -f .kvmig-kmod.version ] || die "dkms-pre-build runs in DKMS's copy of the module tree"
	dkms_pre_build "$2"
	;;
*)
	sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
