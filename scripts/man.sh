#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A man page from one of the manuals in Documentation/, with Debian's
# rst2man (python3-docutils): the manual's own title block gives way to a
# man page's (NAME - DESCRIPTION, section).
#
# usage: man.sh NAME SECTION 'ONE-LINE DESCRIPTION' SOURCE.rst OUTPUT
set -eu
name=$1 section=$2 what=$3 src=$4 out=$5
command -v rst2man >/dev/null 2>&1 || {
	echo "man.sh: no rst2man: install python3-docutils (make deps)" >&2
	exit 1
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bar=$(printf '%s' "$name" | tr -c '' '=')
dash=$(printf '%s' "$what" | tr -c '' '-')
{
	printf '%s\n%s\n%s\n\n' "$bar" "$name" "$bar"
	printf '%s\n%s\n%s\n\n' "$dash" "$what" "$dash"
	printf ':Manual section: %s\n:Manual group: kvmig\n\n' "$section"
	# the body: everything after the source's title (its second ==== line)
	awk 'n >= 2 { print; next } /^=+$/ { n++ }' "$src"
} >"$tmp"
rst2man --halt=warning --report=warning "$tmp" "$out"
