#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Write the commits of the lab's kernel tree on top of "pristine" back to
# kernel/patches/ (git format-patch) and list them in kernel/series, so that
# the patch files stay the source of truth.  Then commit those in the repo.
#
# usage: export-patches.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

git_src() { git -C "$LAB_SRC" "$@"; }

[ -d "$LAB_SRC/.git" ] || lab_die "no lab tree in $LAB_SRC: run tools/lab/lab.sh first"
git_src rev-parse -q --verify 'pristine^{commit}' >/dev/null ||
	lab_die "$LAB_SRC has no 'pristine' tag"
changes=$(git_src status --porcelain)
[ -z "$changes" ] || {
	echo "$changes" | head -20 >&2
	lab_die "$LAB_SRC has uncommitted changes (above): commit them first"
}
[ -z "$(git_src rev-list --merges pristine..HEAD)" ] ||
	lab_die "pristine..HEAD has merge commits: rebase them away (git rebase pristine)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Zero commit ids and no signature: re-exporting unchanged commits gives
# byte-identical files, so the repo's diffs show only real changes.
git_src format-patch -q --zero-commit --no-signature -o "$tmp" pristine..HEAD

# Keep the series' leading comment block, list the new patches after it.
series=$KERNEL_DIR/series
old=$(lab_list "$series" 2>/dev/null || true)
{
	if [ -f "$series" ]; then
		awk '!/^#/ && !/^[[:space:]]*$/ { exit } { print }' "$series"
	else
		echo "# The kvmig KVM patch series (tools/lab/export-patches.sh)."
	fi
	for p in "$tmp"/*.patch; do
		[ -f "$p" ] && basename "$p"
	done
} >"$tmp/series"

mkdir -p "$KERNEL_DIR/patches"
for p in $old "$KERNEL_DIR"/patches/*.patch; do
	p=$(basename "$p")
	[ -f "$tmp/$p" ] || rm -f "$KERNEL_DIR/patches/$p"
done
n=0
for p in "$tmp"/*.patch; do
	[ -f "$p" ] || continue
	cmp -s "$p" "$KERNEL_DIR/patches/$(basename "$p")" || cp "$p" "$KERNEL_DIR/patches/"
	n=$((n + 1))
done
cmp -s "$tmp/series" "$series" || cp "$tmp/series" "$series"

# The tree already is this series applied: stamp it so the next lab run
# reuses it instead of re-applying.
mkdir -p "$LAB_STATE"
echo "$(lab_series_hash) $(git_src rev-parse HEAD)" >"$LAB_STATE/series.stamp"
lab_log "exported $n patches to $KERNEL_DIR/patches and kernel/series"
