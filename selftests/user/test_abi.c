// SPDX-License-Identifier: GPL-2.0
/*
 * libkvmig's ABI, as libbpf keeps its own (Documentation/libkvmig.rst,
 * "Building and linking"):
 *
 *  - the shared library exports exactly the functions the header declares
 *    (its static inline helpers aside), each listed by name in
 *    user/lib/libkvmig.map under a version node, and nothing else;
 *  - an options struct whose .sz does not cover .sz, or that sets bytes
 *    past the struct this library knows (a newer caller's field), is
 *    refused with EINVAL and a message naming the struct and the byte, by
 *    every function that takes one; trailing zero bytes are accepted, and
 *    so is NULL (every default).
 *
 * Needs neither /dev/kvm nor a VMM: the checks come before either is used.
 */
#include <ctype.h>
#include <limits.h>

#include "harness.h"
#include "kvmig/kvmig.h"

#define ROOT		VECTORS_DIR "/../.."
#define MAX_SYMS	256

struct names {
	char *v[MAX_SYMS];
	unsigned int n;
};

static void add(struct names *s, const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && !strncmp(s->v[i], name, len))
			return;
	TEST_ASSERT(s->n < MAX_SYMS, "too many symbols");
	s->v[s->n++] = strndup(name, len);
}

static void drop(struct names *s)
{
	while (s->n)
		free(s->v[--s->n]);
}

static bool has(const struct names *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

/* The functions the header declares: "kvmig_x(" at a declaration's start. */
static void header_functions(struct names *s)
{
	FILE *f = fopen(ROOT "/user/include/kvmig/kvmig.h", "r");
	char line[512];

	TEST_ASSERT(f, "the header");
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "kvmig_"), *e;

		if (!isalpha((unsigned char)line[0]) || !p ||
		    !strncmp(line, "static inline", 13) || !strncmp(line, "typedef", 7))
			continue;
		for (e = p; isalnum((unsigned char)*e) || *e == '_'; e++)
			;
		/* the first kvmig_ word may be the return type: take the called one */
		while (*e != '(' && (p = strstr(e, "kvmig_"))) {
			for (e = p; isalnum((unsigned char)*e) || *e == '_'; e++)
				;
		}
		if (*e == '(')
			add(s, p, (size_t)(e - p));
	}
	fclose(f);
}

/* The names in the version script's global: sections. */
static void map_symbols(struct names *s)
{
	FILE *f = fopen(ROOT "/user/lib/libkvmig.map", "r");
	char line[256];

	TEST_ASSERT(f, "the version script");
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, "kvmig_", 6))
			continue;
		for (e = p; isalnum((unsigned char)*e) || *e == '_'; e++)
			;
		TEST_ASSERT(*e == ';', "map line '%s'", line);
		add(s, p, (size_t)(e - p));
	}
	fclose(f);
}

/* What the shared library exports (nm -D), and under which version. */
static void exported(struct names *s, bool *versioned)
{
	char cmd[PATH_MAX + 64], line[256], lib[PATH_MAX];
	FILE *f;

	snprintf(lib, sizeof(lib), "%s", test_bin("kvmig"));
	*strrchr(lib, '/') = 0;		/* B/bin */
	*strrchr(lib, '/') = 0;		/* B */
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s/lib/libkvmig.so.1", lib);
	f = popen(cmd, "r");
	TEST_ASSERT(f, "%s", cmd);
	*versioned = true;
	while (fgets(line, sizeof(line), f)) {
		char type, name[200];

		if (sscanf(line, "%*s %c %199s", &type, name) != 2)
			continue;
		if (type == 'A')
			continue;	/* the version node itself */
		if (!strstr(name, "@@KVMIG_0."))
			*versioned = false;
		*strchrnul(name, '@') = 0;
		add(s, name, strlen(name));
	}
	TEST_ASSERT(pclose(f) == 0, "%s failed", cmd);
}

static void test_symbols(void)
{
	struct names hdr = { 0 }, map = { 0 }, so = { 0 };
	bool versioned, ok = true;
	unsigned int i;

	header_functions(&hdr);
	map_symbols(&map);
	exported(&so, &versioned);
	for (i = 0; i < hdr.n; i++)
		if (!has(&so, hdr.v[i]) || !has(&map, hdr.v[i])) {
			ksft_print_msg("%s: declared, but %s\n", hdr.v[i],
				       has(&so, hdr.v[i]) ? "not in the map" :
				       "not exported");
			ok = false;
		}
	for (i = 0; i < so.n; i++)
		if (!has(&hdr, so.v[i])) {
			ksft_print_msg("%s: exported, not declared\n", so.v[i]);
			ok = false;
		}
	for (i = 0; i < map.n; i++)
		if (!has(&so, map.v[i])) {
			ksft_print_msg("%s: in the map, not exported\n", map.v[i]);
			ok = false;
		}
	ksft_test_result(ok && versioned && hdr.n > 40 && so.n == hdr.n,
			 "the library exports the header's %u functions, each in "
			 "the map, versioned, and nothing else (%u exported)",
			 hdr.n, so.n);
	drop(&hdr);
	drop(&map);
	drop(&so);
}

static char said[512];

static void catch(enum kvmig_log_level l, const char *msg, void *opaque)
{
	(void)l;
	(void)opaque;
	snprintf(said, sizeof(said), "%s", msg);
}

/* A struct with room for a newer caller's field: @type, then 8 bytes. */
#define NEWER(type)	struct { type o; uint64_t more; }

static void test_opts(void)
{
	NEWER(struct kvmig_vmm_opts) vo = { { .sz = sizeof(vo), .print = catch }, 0 };
	NEWER(struct kvmig_memmap_opts) mo = { { .sz = sizeof(mo), .print = catch }, 0 };
	NEWER(struct kvmig_dirty_limit) dl = { { .sz = sizeof(dl), .bytes_per_sec = 1 << 20 }, 0 };
	NEWER(struct kvmig_migrate_opts) mig = { { .sz = sizeof(mig), .print = catch }, 0 };
	NEWER(struct kvmig_incoming_opts) inc = { { .sz = sizeof(inc), .print = catch }, 0 };
	struct kvmig_migration_stats st = { .sz = sizeof(st) };
	struct kvmig_migrate_opts small = { .sz = 0, .print = catch };
	struct kvmig_memmap *map;
	struct kvmig_vmm *v;
	char why[256], want[160];
	bool ok;

	/* trailing zeroes: accepted (the connect then fails for its own reason) */
	errno = 0;
	v = kvmig_vmm_connect("/nonexistent/kvmig-abi.sock", &vo.o);
	ok = !v && errno == ENOENT;
	map = kvmig_memmap_new(&mo.o);
	ok &= map != NULL;
	kvmig_memmap_free(map);
	ok &= kvmig_dirty_limit_check(&dl.o, why, sizeof(why)) == 0;
	map = kvmig_memmap_new(NULL);
	ok &= map != NULL;
	kvmig_memmap_free(map);
	ksft_test_result(ok, "options with zero bytes past what the library knows, "
			 "or NULL: accepted");

	/* a newer caller's field: refused, named */
	snprintf(want, sizeof(want), "struct kvmig_vmm_opts: byte %zu of its %zu is "
		 "set, past the %zu bytes", sizeof(vo.o), sizeof(vo), sizeof(vo.o));
	vo.more = 1;
	errno = 0;
	said[0] = 0;
	v = kvmig_vmm_connect("/nonexistent/kvmig-abi.sock", &vo.o);
	ok = !v && errno == EINVAL && strstr(said, want);
	if (!ok)
		ksft_print_msg("vmm_connect: errno %d, '%s'\n", errno, said);
	mo.more = 1 << 8;
	said[0] = 0;
	map = kvmig_memmap_new(&mo.o);
	ok &= !map && errno == EINVAL && strstr(said, "struct kvmig_memmap_opts: byte ");
	dl.more = 1;
	ok &= kvmig_dirty_limit_check(&dl.o, why, sizeof(why)) == -EINVAL &&
	      strstr(why, "struct kvmig_dirty_limit: byte ");
	mig.more = 1;
	ok &= kvmig_migrate(NULL, "h", "1", &mig.o, &st) == -EINVAL &&
	      strstr(st.error, "struct kvmig_migrate_opts: byte ") &&
	      !strcmp(st.status, "failed");
	if (!strstr(st.error, "kvmig_migrate_opts"))
		ksft_print_msg("migrate: '%s'\n", st.error);
	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	inc.more = 1;
	ok &= kvmig_incoming(NULL, NULL, "1", &inc.o, &st) == -EINVAL &&
	      strstr(st.error, "struct kvmig_incoming_opts: byte ");
	if (!strstr(st.error, "kvmig_incoming_opts"))
		ksft_print_msg("incoming: '%s'\n", st.error);
	ksft_test_result(ok, "a newer caller's field (a byte set past the struct): "
			 "EINVAL, naming the struct and the byte, from vmm_connect, "
			 "memmap_new, dirty_limit_check, migrate, incoming");

	/* .sz that does not cover .sz: the caller forgot it */
	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	ksft_test_result(kvmig_migrate(NULL, "h", "1", &small, &st) == -EINVAL &&
			 strstr(st.error, "struct kvmig_migrate_opts: .sz 0 does not "
				"cover .sz itself"),
			 ".sz 0: EINVAL, '%s'", st.error);
}

static void test_escape(void)
{
	char out[64], tiny[8];
	bool ok;

	ok = kvmig_text_escape(out, sizeof(out), "ok \\ \x1b[2J\nx\t\xc3\xa9", 64) ==
	     strlen("ok \\\\ \\x1b[2J\\nx\\t\\xc3\\xa9") &&
	     !strcmp(out, "ok \\\\ \\x1b[2J\\nx\\t\\xc3\\xa9");
	/* bounded by inlen, stops at a NUL, never half an escape */
	ok &= kvmig_text_escape(out, sizeof(out), "abcdef", 3) == 3 && !strcmp(out, "abc");
	ok &= kvmig_text_escape(out, sizeof(out), "ab\0cd", 5) == 2 && !strcmp(out, "ab");
	ok &= kvmig_text_escape(tiny, sizeof(tiny), "abcd\x1b", 5) == 4 &&
	      !strcmp(tiny, "abcd");
	ok &= kvmig_text_escape(tiny, 0, "x", 1) == 0;
	ksft_test_result(ok, "kvmig_text_escape: printable ASCII kept; backslash, "
			 "newline, tab, control and non-ASCII bytes escaped; bounded, "
			 "never half an escape");
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(5);
	test_symbols();
	test_opts();
	test_escape();
	ksft_finished();
}
