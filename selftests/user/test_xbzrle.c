// SPDX-License-Identifier: GPL-2.0
/*
 * XBZRLE (user/lib/xbzrle.c):
 *
 *  - the golden vectors (selftests/vectors/xbzrle, from the shared set):
 *    every .enc decodes on .old to .new, and every encoder the CPU has
 *    (scalar reference, AVX2, AVX-512BW) produces exactly that .enc;
 *    every .overflow pair overflows a 4096-byte limit; every .bad
 *    encoding is refused and leaves the page untouched;
 *  - the encoders agree byte for byte, and their output decodes to the
 *    new page, on random and adversarial pairs: every byte changed,
 *    alternating bytes, runs at the page edges, runs of 127/128 and
 *    16383/16384-straddling lengths (ULEB128 boundaries), single bytes,
 *    sparse words, and under every output limit around the real length;
 *  - the decoder refuses non-minimal ULEB128 lengths;
 *  - the page cache: hits with the right content, updates, drops; use
 *    counts keep pages that come back against one-off ones, ageing lets
 *    newcomers in; direct-mapped always replaces.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/xbzrle.h"
#include "../../user/lib/xcache.h"

#define PAGE	4096

static uint64_t rng = 0x1234567887654321ULL;

static uint64_t next(void)
{
	return test_xorshift(&rng);
}

/* The whole of @dir/@name into @buf (at most @max); returns its length or -1. */
static ssize_t load(const char *name, const char *ext, uint8_t *buf, size_t max)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/xbzrle/%s%s", VECTORS_DIR, name, ext);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, max);
	close(fd);
	return n;
}

static kvmig_xbzrle_fn enc[KVMIG_SIMD_NR];

static void test_golden(void)
{
	DIR *d = opendir(VECTORS_DIR "/xbzrle");
	unsigned int pairs = 0, overflows = 0, bads = 0, fail = 0, lvl;
	struct dirent *e;
	char first_fail[512] = "";

	TEST_ASSERT(d, "%s/xbzrle", VECTORS_DIR);
	while ((e = readdir(d))) {
		static uint8_t old[PAGE], new[PAGE], want[2 * PAGE], got[2 * PAGE],
			       page[PAGE];
		char name[256], *dot;
		ssize_t wl;

		snprintf(name, sizeof(name), "%s", e->d_name);
		dot = strrchr(name, '.');
		if (!dot)
			continue;
		if (!strcmp(dot, ".bad")) {
			char err[256] = "";
			ssize_t n;
			int r;

			*dot = 0;
			n = load(name, ".bad", want, sizeof(want));
			memset(page, 0x5a, PAGE);
			r = kvmig_xbzrle_decode(want, (size_t)n, page, err, sizeof(err));
			memset(old, 0x5a, PAGE);
			bads++;
			if (r != -EBADMSG || !err[0] || memcmp(page, old, PAGE)) {
				fail++;
				snprintf(first_fail, sizeof(first_fail), "%s accepted", name);
			} else {
				ksft_print_msg("%s: %s\n", name, err);
			}
			continue;
		}
		if (strcmp(dot, ".old"))
			continue;
		*dot = 0;
		TEST_ASSERT(load(name, ".old", old, PAGE) == PAGE &&
			    load(name, ".new", new, PAGE) == PAGE, "%s: pages", name);
		wl = load(name, ".enc", want, sizeof(want));
		if (wl < 0) {
			/* .overflow: no 4096-byte encoding exists */
			TEST_ASSERT(load(name, ".overflow", want, 1) == 0, "%s", name);
			overflows++;
			for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
				if (enc[lvl] && enc[lvl](old, new, got, PAGE) != -ENOSPC) {
					fail++;
					snprintf(first_fail, sizeof(first_fail),
						 "%s: %s did not overflow", name,
						 kvmig_simd_name(lvl));
				}
			}
			continue;
		}
		pairs++;
		memcpy(page, old, PAGE);
		if (kvmig_xbzrle_decode(want, (size_t)wl, page, NULL, 0) ||
		    memcmp(page, new, PAGE)) {
			fail++;
			snprintf(first_fail, sizeof(first_fail), "%s: .enc does not "
				 "decode to .new", name);
		}
		for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
			int n;

			if (!enc[lvl])
				continue;
			n = enc[lvl](old, new, got, PAGE);
			if (n != wl || memcmp(got, want, (size_t)wl)) {
				fail++;
				snprintf(first_fail, sizeof(first_fail), "%s: %s gives %d "
					 "bytes, the vector %zd", name,
					 kvmig_simd_name(lvl), n, wl);
			}
		}
	}
	closedir(d);
	ksft_test_result(!fail && pairs >= 20 && overflows >= 2 && bads >= 7,
			 "golden vectors: %u pairs encode to their .enc and decode to "
			 ".new, %u overflow, %u bad encodings refused untouched%s%s",
			 pairs, overflows, bads, fail ? "; first failure: " : "",
			 first_fail);
}

enum shape {
	S_RANDOM_SPARSE, S_ALL, S_ALTERNATE, S_EDGES, S_RUN127, S_RUN128,
	S_ZRUN127, S_ZRUN128, S_ONE_WORD, S_RANDOM_RUNS, S_LAST_ONLY, S_FIRST_ONLY,
	S_EQUAL, S_NR,
};
static const char *const shape_name[S_NR] = {
	"random sparse bytes", "every byte changed", "alternating bytes",
	"runs at both page edges", "non-zero runs of 127", "non-zero runs of 128",
	"zero runs of 127", "zero runs of 128", "one word per cache line",
	"random runs", "the last byte only", "the first byte only", "no change",
};

static void make_pair(uint8_t *old, uint8_t *new, enum shape s)
{
	unsigned int i, j;

	test_fill_random(old, PAGE, &rng);
	memcpy(new, old, PAGE);
	switch (s) {
	case S_RANDOM_SPARSE:
		for (i = 0; i < 40; i++)
			new[next() % PAGE] ^= (uint8_t)(next() | 1);
		break;
	case S_ALL:
		for (i = 0; i < PAGE; i++)
			new[i] = (uint8_t)~old[i];
		break;
	case S_ALTERNATE:
		for (i = 0; i < PAGE; i += 2)
			new[i] ^= 0x80;
		break;
	case S_EDGES:
		for (i = 0; i < 100; i++) {
			new[i] ^= 1;
			new[PAGE - 1 - i] ^= 1;
		}
		break;
	case S_RUN127:
	case S_RUN128:
		for (i = 0; i + 256 <= PAGE; i += 256)
			for (j = 0; j < (s == S_RUN127 ? 127u : 128u); j++)
				new[i + j] ^= 0x11;
		break;
	case S_ZRUN127:
	case S_ZRUN128:
		/* change every byte except runs of 127 / 128 equal ones */
		for (i = 0; i < PAGE; i++)
			if (i % 300 >= (s == S_ZRUN127 ? 127u : 128u))
				new[i] ^= 0x22;
		break;
	case S_ONE_WORD:
		for (i = 0; i < PAGE; i += 64)
			new[i + 8 + next() % 8] ^= 0x40;
		break;
	case S_RANDOM_RUNS:
		for (i = 0; i < PAGE;) {
			unsigned int z = (unsigned int)(next() % 300), nz = 1 +
					 (unsigned int)(next() % 200);

			for (i += z, j = 0; j < nz && i < PAGE; j++, i++)
				new[i] ^= (uint8_t)(next() | 1);
		}
		break;
	case S_LAST_ONLY:
		new[PAGE - 1] ^= 1;
		break;
	case S_FIRST_ONLY:
		new[0] ^= 1;
		break;
	default:
		break;
	}
}

static void test_agree(void)
{
	static uint8_t old[PAGE], new[PAGE], ref[2 * PAGE], got[2 * PAGE], page[PAGE];
	unsigned int s, k, lvl;

	for (s = 0; s < S_NR; s++) {
		unsigned int bad = 0, cases = 0;
		int len = 0;

		for (k = 0; k < 30; k++) {
			int n, lim;

			make_pair(old, new, s);
			n = enc[KVMIG_SIMD_SCALAR](old, new, ref, 2 * PAGE);
			TEST_ASSERT(n >= 0, "scalar with room to spare");
			len = n;
			memcpy(page, old, PAGE);
			bad += kvmig_xbzrle_decode(ref, (size_t)n, page, NULL, 0) != 0 ||
			       memcmp(page, new, PAGE) != 0;
			/* every encoder, at the exact limit and around it */
			for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
				if (!enc[lvl])
					continue;
				for (lim = n > 2 ? n - 2 : 0; lim <= n + 2; lim++) {
					int m = enc[lvl](old, new, got, (size_t)lim);

					cases++;
					if (lim < n)
						bad += m != -ENOSPC;
					else
						bad += m != n || memcmp(got, ref, (size_t)n);
				}
			}
		}
		ksft_test_result(!bad, "%s: every encoder gives the same bytes, they "
				 "decode to the new page, overflow exactly below the "
				 "length (%u cases, last %d bytes)", shape_name[s], cases, len);
	}
}

static void test_decode_edges(void)
{
	static const struct {
		const char *what;
		uint8_t enc[8];
		size_t len;
		int want;
	} cases[] = {
		{ "non-minimal ULEB128 zero run (0x85 0x00)", { 0x85, 0x00, 1, 7 }, 4,
		  -EBADMSG },
		{ "two-byte zero run 128 then 1 byte", { 0x80, 0x01, 1, 7 }, 4, 0 },
		{ "a run ending exactly at the page end", { 0xff, 0x1f, 1, 9 }, 4, 0 },
		{ "empty: the page is unchanged", { 0 }, 0, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t page[PAGE];
		char err[256] = "";
		int r;

		memset(page, 0, PAGE);
		r = kvmig_xbzrle_decode(cases[i].enc, cases[i].len, page, err, sizeof(err));
		ksft_test_result(r == cases[i].want && (!r || err[0]),
				 "decode %s: %d %s", cases[i].what, r, err);
	}
}

/*
 * The page cache's policies on a cache of exactly one set (4 pages for
 * use counts, 1 for direct-mapped).
 */
static void test_cache(void)
{
	static uint8_t a[PAGE], b[PAGE];
	struct xcache *c = xcache_new(4 * PAGE, XCACHE_FREQ);
	const uint8_t *got;
	bool ok = true;
	uint64_t k;

	TEST_ASSERT(c && xcache_bytes(c) == 4 * PAGE, "a 4-page cache");
	memset(a, 1, PAGE);
	memset(b, 2, PAGE);
	ok &= !xcache_lookup(c, 7);
	ok &= xcache_insert(c, 7, a);
	got = xcache_lookup(c, 7);
	ok &= got && !memcmp(got, a, PAGE);
	ok &= xcache_insert(c, 7, b);		/* a new version replaces */
	got = xcache_lookup(c, 7);
	ok &= got && !memcmp(got, b, PAGE);
	xcache_drop(c, 7);
	ok &= !xcache_lookup(c, 7);
	ksft_test_result(ok, "cache: insert, hit with the right content, update, drop");

	/* four pages that keep coming back fill the set with use counts */
	for (k = 1; k <= 4; k++) {
		xcache_insert(c, k, a);
		xcache_lookup(c, k);
		xcache_lookup(c, k);
	}
	ok = !xcache_insert(c, 100, a) && !xcache_lookup(c, 100);
	for (k = 1; k <= 4; k++)
		ok &= xcache_lookup(c, k) != NULL;
	ksft_test_result(ok, "use counts: a one-off page does not displace pages "
			 "that keep coming back");
	/* one-off pages keep coming: the counts age until one is admitted */
	for (k = 200; k < 220 && !xcache_insert(c, k, a); k++)
		;
	ksft_test_result(k < 220 && xcache_lookup(c, k),
			 "use counts: ageing admits a newcomer after %llu refusals",
			 (unsigned long long)(k - 200));
	xcache_clear(c);
	for (k = 1, ok = true; k <= 4; k++)
		ok &= !xcache_lookup(c, k);
	ksft_test_result(ok, "clear empties the cache");
	xcache_free(c);

	c = xcache_new(PAGE, XCACHE_DIRECT);
	TEST_ASSERT(c, "a 1-page direct-mapped cache");
	xcache_insert(c, 1, a);
	xcache_lookup(c, 1);
	ok = xcache_insert(c, 2, b) && !xcache_lookup(c, 1) && xcache_lookup(c, 2);
	ksft_test_result(ok, "direct-mapped: a newcomer always replaces");
	xcache_free(c);
	ksft_test_result(!xcache_new(PAGE, XCACHE_FREQ) && !xcache_new(0, XCACHE_DIRECT),
			 "a cache smaller than a set is refused");
}

int main(void)
{
	unsigned int lvl;

	ksft_print_header();
	ksft_set_plan(KVMIG_SIMD_NR + 1 + S_NR + 4 + 6);
	for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
		enc[lvl] = kvmig_xbzrle_impl(lvl);
		if (enc[lvl])
			ksft_test_result(true, "encoder %s present", kvmig_simd_name(lvl));
		else
			ksft_test_result_skip("encoder %s: this CPU lacks it",
					      kvmig_simd_name(lvl));
	}
	test_golden();
	test_agree();
	test_decode_edges();
	test_cache();
	ksft_finished();
}
