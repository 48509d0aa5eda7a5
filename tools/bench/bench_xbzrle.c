// SPDX-License-Identifier: GPL-2.0
/*
 * bench_xbzrle: XBZRLE in one process, in one run.
 *
 *  - encoder throughput (GiB/s of new pages) of the scalar reference, the
 *    AVX2 and the AVX-512BW encoders on three sets of page pairs: a few
 *    sparse word changes, random byte changes, dense changes; ratios
 *    against the scalar encoder;
 *  - decoder throughput on the same encodings;
 *  - the page cache: hit rate of the use-count policy against a plain
 *    direct-mapped cache (QEMU's) on a page stream where a hot working
 *    set keeps coming back while one-off pages stream past.
 *
 * The end-to-end comparison (a guest rewriting one word per page, XBZRLE
 * on and off) is in bench_migrate.
 */
#include <getopt.h>

#include "../../selftests/user/harness.h"
#include "../../user/lib/internal.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/xbzrle.h"
#include "../../user/lib/xcache.h"

#define PAGE	4096
#define PAIRS	512

static uint64_t rng = 0x51ed270b27d4c3a5ULL;

static uint64_t next(void)
{
	return test_xorshift(&rng);
}

enum set { SPARSE_WORDS, RANDOM_BYTES, DENSE, SET_NR };
static const char *const set_name[SET_NR] = {
	"4 sparse words", "64 random bytes", "dense (1/2 of bytes)",
};

static void make_pairs(uint8_t *old, uint8_t *new, enum set s)
{
	unsigned int p, i;

	for (p = 0; p < PAIRS; p++) {
		uint8_t *o = old + (size_t)p * PAGE, *n = new + (size_t)p * PAGE;

		test_fill_random(o, PAGE, &rng);
		memcpy(n, o, PAGE);
		switch (s) {
		case SPARSE_WORDS:
			for (i = 0; i < 4; i++) {
				uint64_t v = next();

				memcpy(n + (next() % (PAGE / 8)) * 8, &v, 8);
			}
			break;
		case RANDOM_BYTES:
			for (i = 0; i < 64; i++)
				n[next() % PAGE] ^= (uint8_t)(next() | 1);
			break;
		default:
			for (i = 0; i < PAGE; i++)
				if (next() & 1)
					n[i] ^= (uint8_t)(next() | 1);
			break;
		}
	}
}

static double now_s(void)
{
	return (double)kvmig_now_ns() / 1e9;
}

/* GiB/s of new pages through @fn, best of 5 rounds of all pairs. */
static double enc_rate(kvmig_xbzrle_fn fn, const uint8_t *old, const uint8_t *new,
		       uint8_t *out, int *lens)
{
	double best = 0;
	unsigned int round, p, reps = 20;

	for (round = 0; round < 5; round++) {
		double t = now_s(), gib;

		for (unsigned int r = 0; r < reps; r++)
			for (p = 0; p < PAIRS; p++)
				lens[p] = fn(old + (size_t)p * PAGE, new + (size_t)p * PAGE,
					     out + (size_t)p * PAGE, PAGE);
		t = now_s() - t;
		gib = (double)reps * PAIRS * PAGE / (1 << 30);
		if (gib / t > best)
			best = gib / t;
	}
	return best;
}

/*
 * Decoding writes the new bytes at their places, so applying an encoding
 * again to its own result changes nothing: decode all pairs into copies
 * of the old pages, then time rounds of decoding them again.
 */
static double dec_rate(const uint8_t *old, const uint8_t *new, const uint8_t *enc,
		       const int *lens)
{
	uint8_t *pages = aligned_alloc(64, (size_t)PAIRS * PAGE);
	unsigned int round, p, r, reps = 20, done = 0;
	double best = 0;

	memcpy(pages, old, (size_t)PAIRS * PAGE);
	for (round = 0; round < 6; round++) {
		double t = now_s(), gib;

		for (r = 0, done = 0; r < (round ? reps : 1); r++) {
			for (p = 0; p < PAIRS; p++) {
				if (lens[p] < 0)
					continue;	/* overflowed: never sent */
				TEST_ASSERT(!kvmig_xbzrle_decode(enc + (size_t)p * PAGE,
								 (size_t)lens[p],
								 pages + (size_t)p * PAGE,
								 NULL, 0), "decode");
				done++;
			}
		}
		t = now_s() - t;
		gib = (double)done * PAGE / (1 << 30);
		if (round && done && gib / t > best)
			best = gib / t;
	}
	for (p = 0; p < PAIRS; p++)
		TEST_ASSERT(lens[p] < 0 || !memcmp(pages + (size_t)p * PAGE,
						   new + (size_t)p * PAGE, PAGE),
			    "decoded page %u", p);
	free(pages);
	return best;
}

/*
 * A stream of page keys: 70% from a hot set of 3000 pages that keeps
 * coming back, 30% one-off pages never seen again; a cache of 2048 pages.
 */
static double hit_rate(enum xcache_policy policy, uint64_t *lookups)
{
	struct xcache *c = xcache_new(2048 * PAGE, policy);
	static uint8_t page[PAGE];
	uint64_t hits = 0, n = 0, oneoff = 1ULL << 40, i;

	TEST_ASSERT(c, "xcache");
	rng = 42;
	for (i = 0; i < 400000; i++) {
		uint64_t key = next() % 10 < 7 ? next() % 3000 : oneoff++;

		n++;
		if (xcache_lookup(c, key))
			hits++;
		xcache_insert(c, key, page);
	}
	xcache_free(c);
	*lookups = n;
	return (double)hits / (double)n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ 0 }
	};
	uint8_t *old = aligned_alloc(64, (size_t)PAIRS * PAGE);
	uint8_t *new = aligned_alloc(64, (size_t)PAIRS * PAGE);
	uint8_t *out = aligned_alloc(64, (size_t)PAIRS * PAGE);
	int *lens = calloc(PAIRS, sizeof(int));
	const char *json_path = NULL;
	json_t *jout = json_array();
	unsigned int s, lvl;
	uint64_t n;
	double freq, direct;
	int opt;

	while ((opt = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else
			return 2;
	}
	TEST_ASSERT(old && new && out && lens, "memory");
	printf("bench_xbzrle: %u page pairs per set, best of 5 rounds; encoders "
	       "this CPU lacks are left out\n\n", PAIRS);
	printf("%-22s %-7s %10s %10s %12s\n", "pairs", "encoder", "enc GiB/s",
	       "vs scalar", "bytes/page");
	for (s = 0; s < SET_NR; s++) {
		double scalar = 0, dec;
		uint64_t bytes = 0;
		unsigned int p;

		make_pairs(old, new, s);
		for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
			kvmig_xbzrle_fn fn = kvmig_xbzrle_impl(lvl);
			double r;

			if (!fn)
				continue;
			r = enc_rate(fn, old, new, out, lens);
			if (lvl == KVMIG_SIMD_SCALAR)
				scalar = r;
			for (p = 0, bytes = 0; p < PAIRS; p++)
				bytes += lens[p] < 0 ? PAGE : (uint64_t)lens[p];
			printf("%-22s %-7s %10.2f %9.2fx %12.0f\n", set_name[s],
			       kvmig_simd_name(lvl), r, r / scalar,
			       (double)bytes / PAIRS);
			json_array_append_new(jout, json_pack("{ss ss sf sf}", "pairs",
				set_name[s], "encoder", kvmig_simd_name(lvl),
				"enc_gib_per_s", r, "vs_scalar", r / scalar));
		}
		dec = dec_rate(old, new, out, lens);
		printf("%-22s %-7s %10.2f (decode, overflowing pages left out)\n",
		       set_name[s], "decode", dec);
		json_array_append_new(jout, json_pack("{ss sf}", "pairs", set_name[s],
						      "dec_gib_per_s", dec));
	}

	freq = hit_rate(XCACHE_FREQ, &n);
	direct = hit_rate(XCACHE_DIRECT, &n);
	printf("\npage cache, 2048 pages; %llu lookups: 70%% from 3000 hot pages, "
	       "30%% one-off pages\n", (unsigned long long)n);
	printf("%-28s %8s\n", "policy", "hit rate");
	printf("%-28s %7.1f%%\n", "direct-mapped (QEMU's)", direct * 100);
	printf("%-28s %7.1f%%  (%.2fx)\n", "4-way, use counts, admission",
	       freq * 100, freq / direct);
	json_array_append_new(jout, json_pack("{sf sf}", "hit_rate_direct", direct,
					      "hit_rate_freq", freq));
	if (json_path)
		json_dump_file(jout, json_path, JSON_INDENT(2));
	json_decref(jout);
	free(old);
	free(new);
	free(out);
	free(lens);
	return 0;
}
