#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the lab's kernel tree in the cache folder: the pristine Debian
# source as the first commit (tag "pristine"), then kernel/series applied as
# commits with git am.  Cheap when nothing changed: the applied series is
# stamped with its hash and the resulting HEAD.
#
# usage: tree.sh [--keep | --reset | --unpatched]
#   --keep   build the tree as it is, even with commits or edits that are not
#            in kernel/patches (for quick iteration; says so loudly)
#   --reset  throw such changes away and re-apply kernel/series
#   --unpatched  (lab.sh --unpatched, after a plain tree.sh) a git worktree
#            of the tree at "pristine", $LAB_UNPATCHED_SRC: Debian's source
#            without kernel/series, for the control runs; the tree itself
#            is not touched
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=check
case ${1:-} in
"") ;;
--keep) mode=keep ;;
--reset) mode=reset ;;
--unpatched) mode=unpatched ;;
*) lab_die "tree.sh: unknown option '$1'" ;;
esac

git_src() { git -C "$LAB_SRC" "$@"; }

mkdir -p "$LAB_STATE" "$LAB_LOGS"
[ -f "$LAB_TARBALL" ] || lab_die "$LAB_TARBALL missing: install $LAB_SRC_PKG (tools/lab/deps.sh)"

# The source's identity: a new Debian upload of linux-source gives a new tree.
src_id="$LAB_SRC_PKG $(dpkg-query -W -f='${Version}' "$LAB_SRC_PKG") $(stat -c '%s %Y' "$LAB_TARBALL")"

unpack() {
	local tmp=$LAB_CACHE/linux.tmp top ver
	lab_log "unpacking $LAB_TARBALL into $LAB_SRC (once per source version)"
	rm -rf "$tmp" "$LAB_SRC"
	rm -f "$LAB_STATE/source.id" "$LAB_STATE/series.stamp"
	mkdir -p "$tmp"
	tar -xJf "$LAB_TARBALL" -C "$tmp"
	top=$(find "$tmp" -mindepth 1 -maxdepth 1)
	[ -f "$top/Makefile" ] || lab_die "unexpected layout in $LAB_TARBALL"
	ver=$(awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3} /^SUBLEVEL =/{s=$3}
		END{print v "." p "." s}' "$top/Makefile")
	(
		cd "$top"
		git init -q
		git config user.name "kvmig lab"
		git config user.email "lab@kvmig.invalid"
		git config gc.auto 0  # no surprise repacks of a 1.5 GB tree
		git config feature.manyFiles true
		git config advice.detachedHead false
		# -f: also files that the tree's own .gitignore files match, so
		# that "pristine" is exactly the tarball.
		git add -Af .
		git commit -q -m "Linux $ver from Debian $LAB_SRC_PKG, pristine" \
			-m "$src_id"
		git tag pristine
	)
	mv "$top" "$LAB_SRC"
	rmdir "$tmp"
	# Written last: a tree without it is incomplete and gets redone.
	echo "$src_id" >"$LAB_STATE/source.id"
}

if [ ! -d "$LAB_SRC/.git" ] || [ "$(cat "$LAB_STATE/source.id" 2>/dev/null)" != "$src_id" ] ||
	! git_src rev-parse -q --verify 'pristine^{commit}' >/dev/null; then
	unpack
fi

if [ "$mode" = unpatched ]; then
	wt=$LAB_UNPATCHED_SRC
	# (Re)made when missing or when the tree was unpacked anew; else only
	# put back at "pristine": files of the selftests that the lab copies in
	# are ignored (build-tests.sh) and stay.
	if ! git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
		[ "$(git -C "$wt" rev-parse --git-common-dir)" != "$LAB_SRC/.git" ]; then
		lab_log "adding the unpatched worktree $wt (tag pristine)"
		rm -rf "$wt"
		git_src worktree prune
		git_src worktree add -q --detach "$wt" pristine >/dev/null
	fi
	git -C "$wt" checkout -q --detach pristine
	git -C "$wt" reset -q --hard
	lab_log "unpatched tree: $(git -C "$wt" log -1 --format='%h %s')"
	exit 0
fi

want=$(lab_series_hash)
have=""
head_ok=$(git_src rev-parse 'pristine^{commit}')
if [ -f "$LAB_STATE/series.stamp" ]; then
	read -r have head_ok <"$LAB_STATE/series.stamp"
fi
head=$(git_src rev-parse HEAD)
changes=$(git_src status --porcelain)

# The tree moved away from what the lab put there: someone works in it.
moved() {
	[ "$head" = "$head_ok" ] ||
		echo "lab:   HEAD is $(git_src log -1 --format='%h %s' HEAD), the lab left it at" \
			"$(git_src log -1 --format='%h %s' "$head_ok")"
}
if [ "$head" != "$head_ok" ] || [ -n "$changes" ]; then
	case $mode in
	keep)
		lab_log "WARNING: --keep: building the kernel tree AS IS, with changes not in kernel/patches:"
		moved >&2
		git_src log --oneline "$head_ok..HEAD" | sed 's/^/lab:   commit /' >&2
		echo "$changes" | sed '/^$/d; s/^/lab:   edit /' >&2
		exit 0
		;;
	check)
		{
			echo "lab: error: the kernel tree $LAB_SRC has changes that are not in kernel/patches:"
			moved
			git_src log --oneline "$head_ok..HEAD" | sed 's/^/lab:   commit /'
			echo "$changes" | sed '/^$/d; s/^/lab:   edit /' | head -20
			echo "lab: save commits with tools/lab/export-patches.sh, build them as they are with"
			echo "lab: --keep, or throw them away with --reset"
		} >&2
		exit 1
		;;
	reset) lab_log "--reset: discarding the changes in $LAB_SRC" ;;
	esac
elif [ "$want" = "$have" ]; then
	exit 0
fi

lab_log "applying kernel/series to $LAB_SRC"
rm -f "$LAB_STATE/series.stamp"
# reset --hard rewrites only the files that differ, so make rebuilds little.
git_src reset -q --hard pristine
git_src clean -fdq
files=$(lab_series_files)
n=0
for p in $files; do
	log=$LAB_LOGS/git-am.log
	if ! git_src am -q --committer-date-is-author-date "$p" >"$log" 2>&1; then
		lab_tail "$log" 30
		git_src am --abort >/dev/null 2>&1 || true
		git_src reset -q --hard pristine
		lab_die "kernel/patches/$(basename "$p") does not apply (on top of $n patches)"
	fi
	n=$((n + 1))
done
echo "$want $(git_src rev-parse HEAD)" >"$LAB_STATE/series.stamp"
lab_log "kernel tree: pristine + $n patches"
