// SPDX-License-Identifier: GPL-2.0
/*
 * bench_xbzrle: XBZRLE in one process, in one run.
 *
 *  - encoder throughput (GiB/s of new pages) of the scalar reference, the
 *    AVX2 and the AVX-512BW encoders, and of two baselines written here
 *    from QEMU's algorithms (word-scalar: 8 bytes at a time; avx512-qemu:
 *    64-byte blocks compared into a mask), on three sets of page pairs: a
 *    few sparse word changes, random byte changes, dense changes; ratios
 *    against the scalar encoder.  Every encoder's output is checked byte
 *    for byte against the reference's first;
 *  - decoder throughput on the same encodings;
 *  - the page cache: hit rate of the use-count policy against a plain
 *    direct-mapped cache (QEMU's) on a page stream where a hot working
 *    set keeps coming back while one-off pages stream past.
 *
 * The end-to-end comparison (a guest rewriting one word per page, XBZRLE
 * on and off) is in bench_migrate.
 */
#include <getopt.h>
#include <immintrin.h>
#include <stdbool.h>

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

/*
 * Baselines: XBZRLE encoders written for this bench from the published
 * algorithms of QEMU's migration/xbzrle.c, so that kvmig's are measured
 * against what a user would otherwise run, not against kvmig's own
 * byte-at-a-time reference.  They share no code with libkvmig.  Like
 * kvmig's, they fail with -ENOSPC exactly when the whole encoding would be
 * longer than @limit (QEMU's own checks are a little more cautious at the
 * limit), so their output can be compared byte for byte.
 */

/* A run length as a ULEB128 of one or two bytes (lengths are <= 4096). */
static size_t base_len_put(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n < 0x80 ? n : (n & 0x7f) | 0x80);
	if (n < 0x80)
		return 1;
	p[1] = (uint8_t)(n >> 7);
	return 2;
}

#define BASE_LEN_SIZE(n)	((n) < 0x80 ? 1u : 2u)

static uint64_t base_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Whether a word has a zero byte (the classic exact test). */
static bool base_has_zero_byte(uint64_t x)
{
	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/*
 * word-scalar: QEMU's xbzrle_encode_buffer() algorithm.  Each run is
 * scanned a byte at a time up to a word boundary, then 8 bytes at a time
 * (a zero run while the two words are equal, a non-zero run while their
 * xor has no zero byte), then a byte at a time to its exact end.
 */
static int base_word(const uint8_t *old, const uint8_t *new, uint8_t *out,
		     size_t limit)
{
	uint32_t i = 0, start;
	size_t o = 0;

	while (i < PAGE) {
		start = i;
		while (i % 8 && old[i] == new[i])
			i++;
		if (i % 8 == 0) {
			while (i < PAGE && base_load64(old + i) == base_load64(new + i))
				i += 8;
			while (i < PAGE && old[i] == new[i])
				i++;
		}
		if (i == PAGE)
			break;		/* the trailing zero run is left out */
		/* a non-zero run of at least one byte follows */
		if (o + BASE_LEN_SIZE(i - start) + 2 > limit)
			return -ENOSPC;
		o += base_len_put(out + o, i - start);

		start = i;
		while (i % 8 && old[i] != new[i])
			i++;
		if (i % 8 == 0) {
			while (i < PAGE) {
				if (base_has_zero_byte(base_load64(old + i) ^
						       base_load64(new + i))) {
					while (old[i] != new[i])
						i++;
					break;
				}
				i += 8;
			}
		}
		if (o + BASE_LEN_SIZE(i - start) + (i - start) > limit)
			return -ENOSPC;
		o += base_len_put(out + o, i - start);
		memcpy(out + o, new + start, i - start);
		o += i - start;
	}
	return (int)o;
}

/*
 * avx512-qemu: QEMU's xbzrle_encode_buffer_avx512() algorithm.  The pages
 * are compared 64 bytes at a time into an "equal" mask; the runs are
 * counted across blocks and the mask is walked with count-trailing-zeros
 * inside a block, a run being written out when the next one starts (a
 * block all equal or all different only adds 64 to the current run).
 */
__attribute__((target("avx512f,avx512bw")))
static int base_avx512(const uint8_t *old, const uint8_t *new, uint8_t *out,
		       size_t limit)
{
	uint32_t i, at, n, zrun = 0, nzrun = 0;
	bool in_nz = false;	/* which run is being counted */
	size_t o = 0;

	for (i = 0; i < PAGE; i += 64) {
		uint64_t same = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(old + i),
						       _mm512_loadu_si512(new + i));

		for (at = 0; at < 64; at += n) {
			uint64_t rest = same >> at;	/* zeros above bit 63 - at */

			if (rest & 1) {
				if (in_nz) {	/* a non-zero run ends at i + at */
					if (o + BASE_LEN_SIZE(nzrun) + nzrun > limit)
						return -ENOSPC;
					o += base_len_put(out + o, nzrun);
					memcpy(out + o, new + i + at - nzrun, nzrun);
					o += nzrun;
					nzrun = 0;
					in_nz = false;
				}
				n = ~rest ? (uint32_t)__builtin_ctzll(~rest) : 64;
				zrun += n;
			} else {
				if (!in_nz) {	/* a zero run, maybe empty, ends */
					if (o + BASE_LEN_SIZE(zrun) + 2 > limit)
						return -ENOSPC;
					o += base_len_put(out + o, zrun);
					zrun = 0;
					in_nz = true;
				}
				n = rest ? (uint32_t)__builtin_ctzll(rest) : 64 - at;
				nzrun += n;
			}
		}
	}
	if (in_nz) {
		if (o + BASE_LEN_SIZE(nzrun) + nzrun > limit)
			return -ENOSPC;
		o += base_len_put(out + o, nzrun);
		memcpy(out + o, new + PAGE - nzrun, nzrun);
		o += nzrun;
	}
	return (int)o;
}

/* The encoders compared: kvmig's (those this CPU has), then the baselines. */
struct encoder {
	const char *name;
	kvmig_xbzrle_fn fn;
};

static unsigned int encoders(struct encoder *e)
{
	static const char *const kvmig_name[KVMIG_SIMD_NR] = {
		[KVMIG_SIMD_SCALAR] = "kvmig-scalar", [KVMIG_SIMD_AVX2] = "kvmig-avx2",
		[KVMIG_SIMD_AVX512] = "kvmig-avx512",
	};
	unsigned int lvl, nr = 0;

	for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++)
		if (kvmig_xbzrle_impl(lvl))
			e[nr++] = (struct encoder){ kvmig_name[lvl], kvmig_xbzrle_impl(lvl) };
	e[nr++] = (struct encoder){ "word-scalar", base_word };
	if (kvmig_cpu_has(KVMIG_SIMD_AVX512))
		e[nr++] = (struct encoder){ "avx512-qemu", base_avx512 };
	return nr;
}

/*
 * Every encoder against the first (kvmig's byte-at-a-time reference) on
 * every pair, before anything is timed: the same result, the same bytes,
 * and the reference's encoding decodes to the new page.  A difference
 * stops the bench: an encoder that does not produce the reference's bytes
 * is not doing the same work, and its speed means nothing.
 */
static void check_same(const struct encoder *e, unsigned int nr, const uint8_t *old,
		       const uint8_t *new, unsigned int pairs, size_t limit,
		       const char *what)
{
	static uint8_t ref[PAGE], got[PAGE], page[PAGE];
	unsigned int p, k;
	char err[128];

	for (p = 0; p < pairs; p++) {
		const uint8_t *o = old + (size_t)p * PAGE, *n = new + (size_t)p * PAGE;
		int want = e[0].fn(o, n, ref, limit);

		if (want >= 0) {
			memcpy(page, o, PAGE);
			TEST_ASSERT(!kvmig_xbzrle_decode(ref, (size_t)want, page, err,
							 sizeof(err)) &&
				    !memcmp(page, n, PAGE),
				    "%s, pair %u: %s's encoding does not decode to the "
				    "new page (%s)", what, p, e[0].name, err);
		}
		for (k = 1; k < nr; k++) {
			int len = e[k].fn(o, n, got, limit), at = 0;

			while (len > 0 && at < len && at < want && got[at] == ref[at])
				at++;
			TEST_ASSERT(len == want && (len < 0 || at == len),
				    "%s, pair %u: %s gives %d bytes, %s %d; first "
				    "difference at byte %d", what, p, e[k].name, len,
				    e[0].name, want, at);
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
	struct encoder enc[KVMIG_SIMD_NR + 2];
	unsigned int s, k, nr_enc = encoders(enc);
	double rate[KVMIG_SIMD_NR + 2];
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
	       "this CPU lacks are left out; every encoder's output checked "
	       "byte for byte against kvmig-scalar's\n\n", PAIRS);
	printf("%-22s %-12s %10s %10s %12s\n", "pairs", "encoder", "enc GiB/s",
	       "vs scalar", "bytes/page");
	for (s = 0; s < SET_NR; s++) {
		double scalar = 0, dec;
		uint64_t bytes = 0;
		unsigned int p;

		make_pairs(old, new, s);
		check_same(enc, nr_enc, old, new, PAIRS, PAGE, set_name[s]);
		for (k = nr_enc; k-- > 0;) {	/* the reference last: its lens decode */
			double r = enc_rate(enc[k].fn, old, new, out, lens);

			if (k == 0)
				scalar = r;
			rate[k] = r;
		}
		for (p = 0, bytes = 0; p < PAIRS; p++)
			bytes += lens[p] < 0 ? PAGE : (uint64_t)lens[p];
		for (k = 0; k < nr_enc; k++) {
			printf("%-22s %-12s %10.2f %9.2fx %12.0f\n", set_name[s],
			       enc[k].name, rate[k], rate[k] / scalar,
			       (double)bytes / PAIRS);
			json_array_append_new(jout, json_pack("{ss ss sf sf}", "pairs",
				set_name[s], "encoder", enc[k].name,
				"enc_gib_per_s", rate[k], "vs_scalar", rate[k] / scalar));
		}
		dec = dec_rate(old, new, out, lens);
		printf("%-22s %-12s %10.2f (decode, overflowing pages left out)\n",
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
