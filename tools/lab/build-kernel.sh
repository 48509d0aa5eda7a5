#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the lab kernel (bzImage) from the cache tree.
#
# usage: build-kernel.sh normal|debug|unpatched
#   normal: tinyconfig + kernel/config
#   debug:  tinyconfig + kernel/config + kernel/config.debug (own build dir)
#   unpatched: the normal config from the unpatched worktree (lab.sh
#           --unpatched sets KVMIG_LAB_UNPATCHED=1; own build dir)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-normal}
case $variant in
normal) B=$LAB_CACHE/build/kernel frags=("$KERNEL_DIR/config") ;;
debug) B=$LAB_CACHE/build/kernel-debug frags=("$KERNEL_DIR/config" "$KERNEL_DIR/config.debug") ;;
unpatched)
	[ -n "$LAB_BUILD_SUFFIX" ] || lab_die "build-kernel.sh unpatched: KVMIG_LAB_UNPATCHED=1 is not set"
	B=$LAB_CACHE/build/kernel-unpatched frags=("$KERNEL_DIR/config")
	;;
*) lab_die "build-kernel.sh: unknown variant '$variant'" ;;
esac
for f in "${frags[@]}"; do
	[ -f "$f" ] || lab_die "missing config fragment $f"
done
mkdir -p "$B" "$LAB_LOGS" "$CCACHE_DIR"
log=$LAB_LOGS/kernel-$variant.log
kmake=(make -C "$LAB_SRC" O="$B" ARCH=x86_64 -j"$LAB_JOBS"
	CC="ccache gcc" HOSTCC="ccache gcc")

# The config is a function of the fragments, the source tree and the
# compiler: regenerate it only when one of them changed.
config_key=$(
	{
		cat "${frags[@]}"
		git -C "$LAB_SRC" rev-parse HEAD
		git -C "$LAB_SRC" diff HEAD # edits under tree.sh --keep
		gcc --version
	} | sha256sum | cut -d' ' -f1
)
if [ ! -f "$B/.config" ] || [ "$(cat "$B/.config.lab-key" 2>/dev/null)" != "$config_key" ]; then
	lab_log "configuring the $variant kernel"
	rm -f "$B/.config.lab-key"
	[ ! -f "$B/.config" ] || cp -p "$B/.config" "$B/.config.lab-prev"
	{
		"${kmake[@]}" tinyconfig &&
			"$LAB_SRC/scripts/kconfig/merge_config.sh" -m -O "$B" "$B/.config" "${frags[@]}" &&
			"${kmake[@]}" olddefconfig
	} >"$log" 2>&1 || {
		lab_tail "$log" 40
		lab_die "configuring the $variant kernel failed (full log: $log)"
	}
	# Same config as before: keep its old mtime so that make does not
	# re-run syncconfig and rebuild what depends on it.
	if [ -f "$B/.config.lab-prev" ] && cmp -s "$B/.config" "$B/.config.lab-prev"; then
		touch -r "$B/.config.lab-prev" "$B/.config"
	fi
	rm -f "$B/.config.lab-prev"
fi

# Every fragment line must have survived olddefconfig; a line that did not
# means a missing dependency, and a test of the wrong kernel.  The last
# fragment that sets an option wins, as in merge_config.sh.
lost=$(
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1 \2/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 n/p' "${frags[@]}" |
		awk '{ want[$1] = $2 } END { for (k in want) print k, want[k] }' |
		sort | while read -r opt val; do
			have=$(sed -n "s/^$opt=//p" "$B/.config")
			[ -n "$have" ] || have=n
			[ "$have" = "$val" ] || echo "  $opt: fragment wants '$val', .config has '$have'"
		done
)
if [ -n "$lost" ]; then
	echo "lab: error: options of ${frags[*]} lost in $B/.config:" >&2
	echo "$lost" >&2
	lab_die "fix the fragment (add the missing dependency) or the tree"
fi
echo "$config_key" >"$B/.config.lab-key"

lab_log "building the $variant kernel (log: $log)"
lab_run_logged "building the $variant kernel" "$log" "${kmake[@]}" bzImage
[ -f "$B/arch/x86/boot/bzImage" ] || lab_die "no bzImage in $B after the build"
