#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make install puts a usable libkvmig in place: a program built with
# pkg-config against the installed headers links (shared and static) and
# runs.  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bdir=$(dirname "$here")			# build, build/asan, ...
root=$(cd "$here" && git rev-parse --show-toplevel 2>/dev/null || cd "$bdir/../.." && pwd)
[ -f "$root/Makefile" ] || root=$(cd "$bdir/.." && pwd)
[ -f "$root/Makefile" ] || root=$(cd "$bdir/../.." && pwd)
tmp=$(mktemp -d /tmp/kvmig-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1"; }

echo "TAP version 13"
echo "1..7"
if make -s -C "$root" B="${bdir#$root/}" install PREFIX="$tmp/usr" \
	>"$tmp/install.log" 2>&1; then
	ok "make install"
else
	cat "$tmp/install.log" | sed 's/^/# /'
	notok "make install"
fi
[ -f "$tmp/usr/include/kvmig/kvmig.h" ] && [ -e "$tmp/usr/lib/libkvmig.so" ] &&
	[ -f "$tmp/usr/lib/libkvmig.a" ] && [ -x "$tmp/usr/bin/kvmig-vm" ] &&
	[ -f "$tmp/usr/lib/pkgconfig/kvmig.pc" ] && ok "files in place" ||
	notok "files in place"

# the man pages, built from Documentation/ by rst2man
if grep -q '^\.TH "KVMIG" 1' "$tmp/usr/share/man/man1/kvmig.1" 2>/dev/null &&
	grep -q '^\.TH "KVMIG-VM" 1' "$tmp/usr/share/man/man1/kvmig-vm.1" 2>/dev/null &&
	grep -q '^\.TH "LIBKVMIG" 3' "$tmp/usr/share/man/man3/libkvmig.3" 2>/dev/null; then
	ok "man pages kvmig(1), kvmig-vm(1), libkvmig(3) installed"
else
	notok "man pages kvmig(1), kvmig-vm(1), libkvmig(3) installed"
fi
# kvmig.pc: a tree moved to another prefix still works (pkg-config's
# --define-variable=prefix=...)
if grep -qx 'libdir=${prefix}/lib' "$tmp/usr/lib/pkgconfig/kvmig.pc" &&
	grep -qx 'includedir=${prefix}/include' "$tmp/usr/lib/pkgconfig/kvmig.pc"; then
	ok "kvmig.pc: libdir and includedir relative to \${prefix}"
else
	sed 's/^/# /' "$tmp/usr/lib/pkgconfig/kvmig.pc"
	notok "kvmig.pc: libdir and includedir relative to \${prefix}"
fi

cat > "$tmp/prog.c" <<'PROG'
#include <kvmig/kvmig.h>
#include <stdio.h>
int main(void)
{
	struct kvmig_memmap *m = kvmig_memmap_new(NULL);
	enum kvmig_dirty_backend b;
	int r = !m || kvmig_dirty_backend_parse("clear", &b) ||
		b != KVMIG_DIRTY_CLEAR;

	printf("libkvmig %s\n", kvmig_version());
	kvmig_memmap_free(m);
	return r;
}
PROG
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
if cc -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs kvmig) &&
	LD_LIBRARY_PATH="$tmp/usr/lib" "$tmp/prog"; then
	ok "a program links the shared library through pkg-config and runs"
else
	notok "a program links the shared library through pkg-config and runs"
fi
if cc -o "$tmp/prog-static" "$tmp/prog.c" $(pkg-config --cflags kvmig) \
	"$tmp/usr/lib/libkvmig.a" $(pkg-config --libs-only-l --static kvmig | sed 's/-lkvmig//') &&
	"$tmp/prog-static"; then
	ok "... and the static library"
else
	notok "... and the static library"
fi
# make install in a fresh build folder builds what it installs, no tests
if make -s -C "$root" B="$tmp/fresh" install PREFIX="$tmp/usr2" \
	>"$tmp/install2.log" 2>&1 && [ -x "$tmp/usr2/bin/kvmig" ] &&
	[ ! -e "$tmp/fresh/tests" ] && [ ! -e "$tmp/fresh/bench" ] &&
	[ ! -e "$tmp/fresh/fuzz" ]; then
	ok "make install in a fresh build folder builds no tests"
else
	sed 's/^/# /' "$tmp/install2.log"
	ls "$tmp/fresh" | sed 's/^/# built: /'
	notok "make install in a fresh build folder builds no tests"
fi
[ $fail -eq 0 ]
