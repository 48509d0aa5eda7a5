// SPDX-License-Identifier: GPL-2.0
/*
 * Page codecs and zero-page detection (user/lib/codec.c, simd.c):
 *
 *  - every zero test the CPU has (scalar, AVX2, AVX-512) finds the zero
 *    page zero and a page with any single byte set non-zero, and they
 *    agree on random sparse pages; a version the CPU lacks is reported as
 *    a skip, never passed;
 *  - zlib, zstd and lz4 at several levels round-trip text, binary and
 *    sparse pages, and decline random ones (those go raw);
 *  - the decoders refuse, with a message naming the codec and the fault:
 *    every truncation, trailing bytes, an empty entry, a stream of 4095
 *    or 8192 bytes made by the real library, a zstd frame without a
 *    content size or followed by a skippable frame, a damaged zlib
 *    header or checksum; and flipped bits never make one write past the
 *    page (ASan watches) or return success with a short page.
 */
#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"
#include "kvmig/kvmig.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/codec.h"

#define PAGE	4096

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	return test_xorshift(&rng);
}

enum kind { K_ZERO, K_TEXT, K_BINARY, K_SPARSE, K_RANDOM, K_NR };

static void make_page(uint8_t *p, enum kind k)
{
	static const char *const words[] = {
		"the ", "guest ", "page ", "dirty ", "migration ", "kernel ",
		"memory ", "of ", "and ", "log ", "\n", "write ", "protect ",
	};
	unsigned int i = 0;

	memset(p, 0, PAGE);
	switch (k) {
	case K_TEXT:
		while (i < PAGE) {
			const char *w = words[next() % (sizeof(words) / sizeof(words[0]))];
			size_t n = strlen(w);

			memcpy(p + i, w, i + n <= PAGE ? n : PAGE - i);
			i += (unsigned int)n;
		}
		break;
	case K_BINARY:	/* small integers and pointers, like heap data */
		for (i = 0; i < PAGE; i += 8) {
			uint64_t v = next() % 4 ? next() % 1000 :
				     0x00007f0000000000ULL | (next() & 0xffffff8);

			memcpy(p + i, &v, 8);
		}
		break;
	case K_SPARSE:
		for (i = 0; i < 12; i++)
			p[next() % PAGE] = (uint8_t)next() | 1;
		break;
	case K_RANDOM:
		test_fill_random(p, PAGE, &rng);
		break;
	default:
		break;
	}
}

static void test_names(void)
{
	unsigned int i;
	bool ok = kvmig_codec_from_name("brotli") == -EINVAL &&
		  !kvmig_codec_name(KVMIG_CODEC_NR) &&
		  kvmig_codec_from_name(NULL) == -EINVAL;

	for (i = 0; i < KVMIG_CODEC_NR; i++)
		ok &= kvmig_codec_from_name(kvmig_codec_name(i)) == (int)i;
	ksft_test_result(ok, "codec names round-trip, unknown ones are -EINVAL");
}

static void test_zero(void)
{
	uint8_t *page = aligned_alloc(64, PAGE);
	kvmig_zero_fn fn[KVMIG_SIMD_NR];
	unsigned int lvl, i, disagree = 0;
	bool want_zero;

	for (lvl = 0; lvl < KVMIG_SIMD_NR; lvl++) {
		bool ok = true;

		fn[lvl] = kvmig_zero_impl(lvl);
		if (!fn[lvl]) {
			ksft_test_result_skip("zero test %s: this CPU lacks it",
					      kvmig_simd_name(lvl));
			continue;
		}
		memset(page, 0, PAGE);
		ok &= fn[lvl](page);
		for (i = 0; i < PAGE; i++) {
			page[i] = (uint8_t)(1 << (i % 8));
			ok &= !fn[lvl](page);
			page[i] = 0;
		}
		{
			/* any alignment: pages at odd offsets of a buffer */
			uint8_t *buf = calloc(1, PAGE + 64);
			unsigned int off;

			for (off = 1; off < 64; off += 7) {
				ok &= fn[lvl](buf + off);
				buf[off + PAGE - 1] = 1;
				ok &= !fn[lvl](buf + off);
				buf[off + PAGE - 1] = 0;
			}
			free(buf);
		}
		ksft_test_result(ok, "zero test %s: zero page is zero, each of the "
				 "4096 single-byte pages is not, at any alignment",
				 kvmig_simd_name(lvl));
	}
	for (i = 0; i < 20000; i++) {
		bool want;

		memset(page, 0, PAGE);
		if (i % 3)
			page[next() % PAGE] = (uint8_t)next();
		want = fn[0](page);
		for (lvl = 1; lvl < KVMIG_SIMD_NR; lvl++)
			disagree += fn[lvl] && fn[lvl](page) != want;
	}
	ksft_test_result(!disagree, "zero tests agree on 20000 random sparse pages "
			 "(%u disagreements); best here: %s", disagree,
			 kvmig_simd_name(kvmig_simd_best()));
	memset(page, 0, PAGE);
	want_zero = kvmig_page_is_zero(page);
	page[4095] = 1;
	ksft_test_result(want_zero && !kvmig_page_is_zero(page),
			 "kvmig_page_is_zero() (public): zero, then last byte set");
	free(page);
}

struct setting {
	enum kvmig_codec codec;
	int level;
};

static const struct setting settings[] = {
	{ KVMIG_CODEC_ZLIB, 1 }, { KVMIG_CODEC_ZLIB, 6 }, { KVMIG_CODEC_ZLIB, 9 },
	{ KVMIG_CODEC_ZSTD, 1 }, { KVMIG_CODEC_ZSTD, 3 }, { KVMIG_CODEC_ZSTD, 19 },
	{ KVMIG_CODEC_LZ4, 0 },
};

static void test_round_trip(struct codec_ctx *c)
{
	uint8_t page[PAGE], out[PAGE], back[PAGE];
	char err[256];
	unsigned int s, k, i;

	for (s = 0; s < sizeof(settings) / sizeof(settings[0]); s++) {
		const struct setting *st = &settings[s];
		unsigned int bad = 0, compressed[K_NR] = { 0 };
		uint64_t in_bytes = 0, out_bytes = 0;

		for (k = 0; k < K_NR; k++) {
			for (i = 0; i < 40; i++) {
				int n;

				make_page(page, k);
				n = codec_encode(c, st->codec, st->level, page, out,
						 PAGE * 7 / 8);
				if (n < 0 || n >= PAGE * 7 / 8) {
					bad++;
					continue;
				}
				if (!n)
					continue;
				compressed[k]++;
				in_bytes += PAGE;
				out_bytes += (uint64_t)n;
				memset(back, 0xa5, PAGE);
				if (codec_decode(c, codec_encoding(st->codec), out,
						 (uint32_t)n, back, err, sizeof(err)) ||
				    memcmp(page, back, PAGE))
					bad++;
			}
		}
		ksft_test_result(!bad && compressed[K_ZERO] == 40 &&
				 compressed[K_TEXT] == 40 && compressed[K_SPARSE] == 40 &&
				 compressed[K_BINARY] == 40 && !compressed[K_RANDOM],
				 "%s level %d: text, binary, sparse and zero pages "
				 "round-trip (rate %.2f), random ones are declined "
				 "(%u bad)", kvmig_codec_name(st->codec), st->level,
				 out_bytes ? (double)in_bytes / (double)out_bytes : 0, bad);
	}
}

/* Decoding @len bytes of @in must fail with a message containing @want. */
static bool refused(struct codec_ctx *c, uint8_t enc, const uint8_t *in,
		    uint32_t len, const char *want, char *err, size_t errlen)
{
	uint8_t *page = malloc(PAGE);	/* exact size: ASan sees overruns */
	int r;

	err[0] = 0;
	r = codec_decode(c, enc, in, len, page, err, errlen);
	free(page);
	return r == -EBADMSG && strstr(err, want);
}

static void test_strict(struct codec_ctx *c, enum kvmig_codec codec)
{
	const char *name = kvmig_codec_name(codec);
	uint8_t enc = codec_encoding(codec);
	uint8_t page[PAGE], out[2 * PAGE], big[2 * PAGE];
	char err[256], first[256] = "";
	unsigned int i, ok_trunc = 0, flips_ok = 0;
	int n;

	make_page(page, K_TEXT);
	n = codec_encode(c, codec, 0, page, out, PAGE);
	TEST_ASSERT(n > 0, "%s: encoding a text page", name);

	for (i = 1; i < (unsigned int)n; i++) {
		bool r = refused(c, enc, out, i, name, err, sizeof(err));

		ok_trunc += r;
		if (i == 1)
			snprintf(first, sizeof(first), "%s", err);
	}
	ksft_test_result(ok_trunc == (unsigned int)n - 1,
			 "%s: all %d truncations refused ('%s')", name, n - 1, first);

	out[n] = 0x42;
	ksft_test_result(refused(c, enc, out, (uint32_t)n + 1, name, err, sizeof(err)),
			 "%s: a trailing byte refused ('%s')", name, err);
	ksft_test_result(refused(c, enc, out, 0, "1..4095", err, sizeof(err)),
			 "%s: an empty entry refused ('%s')", name, err);

	/* real streams of the wrong size */
	memset(big, 'k', sizeof(big));
	for (i = 0; i < 2; i++) {
		size_t size = i ? 2 * PAGE : PAGE - 1;
		size_t m = 0;
		uLongf zl = sizeof(out);

		switch (codec) {
		case KVMIG_CODEC_ZLIB:
			TEST_ASSERT(compress2(out, &zl, big, size, 6) == Z_OK, "zlib");
			m = zl;
			break;
		case KVMIG_CODEC_ZSTD:
			m = ZSTD_compress(out, sizeof(out), big, size, 3);
			TEST_ASSERT(!ZSTD_isError(m), "zstd");
			break;
		default:
			m = (size_t)LZ4_compress_default((char *)big, (char *)out,
							  (int)size, sizeof(out));
			break;
		}
		ksft_test_result(m < PAGE && refused(c, enc, out, (uint32_t)m, name,
						     err, sizeof(err)),
				 "%s: a stream of %zu bytes refused ('%s')", name, size, err);
	}

	/* flipped bits: refused or a full page, never a crash or overrun */
	n = codec_encode(c, codec, 0, page, out, PAGE);
	for (i = 0; i < 2000; i++) {
		uint8_t copy[PAGE];
		uint8_t *res = malloc(PAGE);
		unsigned int bit = (unsigned int)(next() % ((unsigned int)n * 8));
		int r;

		memcpy(copy, out, (size_t)n);
		copy[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		err[0] = 0;
		r = codec_decode(c, enc, copy, (uint32_t)n, res, err, sizeof(err));
		flips_ok += r == 0 || (r == -EBADMSG && strstr(err, name));
		free(res);
	}
	ksft_test_result(flips_ok == 2000, "%s: 2000 single-bit flips: each refused "
			 "with a message or decoded to a whole page", name);
}

static void test_zstd_frames(struct codec_ctx *c)
{
	uint8_t page[PAGE], out[2 * PAGE];
	char err[256];
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_outBuffer ob = { out, sizeof(out), 0 };
	ZSTD_inBuffer ib = { page, PAGE, 0 };
	int n;

	make_page(page, K_TEXT);
	/* no content size in the frame header */
	TEST_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)),
		    "zstd parameter");
	TEST_ASSERT(!ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end)),
		    "zstd stream");
	ksft_test_result(refused(c, WIRE_ENC_ZSTD, out, (uint32_t)ob.pos,
				 "content size unknown", err, sizeof(err)),
			 "zstd: a frame without a content size refused ('%s')", err);
	ZSTD_freeCCtx(cc);

	n = codec_encode(c, KVMIG_CODEC_ZSTD, 1, page, out, PAGE);
	TEST_ASSERT(n > 0, "zstd encode");
	/* a skippable frame (magic 0x184D2A50, 4-byte size, payload) */
	put_u32(out + n, 0x184D2A50);
	put_u32(out + n + 4, 4);
	memset(out + n + 8, 0, 4);
	ksft_test_result(refused(c, WIRE_ENC_ZSTD, out, (uint32_t)n + 12,
				 "12 bytes after the frame", err, sizeof(err)),
			 "zstd: a skippable frame after the page refused ('%s')", err);
}

static void test_zlib_checks(struct codec_ctx *c)
{
	uint8_t page[PAGE], out[PAGE];
	char err[256], e2[256];
	int n;

	make_page(page, K_BINARY);
	n = codec_encode(c, KVMIG_CODEC_ZLIB, 6, page, out, PAGE);
	TEST_ASSERT(n > 4, "zlib encode");
	out[n - 1] ^= 0x10;	/* adler32 */
	ksft_test_result(refused(c, WIRE_ENC_ZLIB, out, (uint32_t)n,
				 "incorrect data check", err, sizeof(err)),
			 "zlib: a damaged checksum refused ('%s')", err);
	out[n - 1] ^= 0x10;
	out[0] ^= 0x01;		/* header check bits */
	ksft_test_result(refused(c, WIRE_ENC_ZLIB, out, (uint32_t)n,
				 "incorrect header check", e2, sizeof(e2)),
			 "zlib: a damaged header refused ('%s')", e2);
}

static void test_estimate(void)
{
	uint8_t page[PAGE];
	unsigned int text, rnd;

	make_page(page, K_TEXT);
	text = codec_distinct_bytes(page);
	make_page(page, K_RANDOM);
	rnd = codec_distinct_bytes(page);
	ksft_test_result(text < 40 && rnd > 200,
			 "compressibility estimate: text %u, random %u distinct bytes "
			 "of 512 sampled", text, rnd);
}

int main(void)
{
	struct codec_ctx c;

	ksft_print_header();
	ksft_set_plan(1 + KVMIG_SIMD_NR + 2 + 7 + 3 * 6 + 2 + 2 + 1);
	codec_ctx_init(&c);
	test_names();
	test_zero();
	test_round_trip(&c);
	test_strict(&c, KVMIG_CODEC_ZLIB);
	test_strict(&c, KVMIG_CODEC_ZSTD);
	test_strict(&c, KVMIG_CODEC_LZ4);
	test_zstd_frames(&c);
	test_zlib_checks(&c);
	test_estimate();
	codec_ctx_fini(&c);
	ksft_finished();
}
