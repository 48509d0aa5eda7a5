// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * XBZRLE: a page as its difference to the previous version the other side
 * already has, in the well-known encoding (the one QEMU uses, so outputs
 * can be checked against other implementations):
 *
 *   repeat { ULEB128 zero-run, ULEB128 non-zero-run, non-zero-run bytes }
 *
 * where a zero run counts bytes equal in both versions and a non-zero run
 * bytes that differ, whose *new* values follow.  Runs are maximal and
 * alternate; the first zero run may be 0, later ones may not; a trailing
 * zero run is left out, so an unchanged page encodes to nothing.  Lengths
 * are at most 4096, so a ULEB128 takes one or two bytes.
 *
 * Encoders: a byte-at-a-time scalar reference, and AVX2 / AVX-512BW
 * versions that compare the pages a vector at a time into a 4096-bit
 * "differs" mask, then walk the runs of that mask with count-trailing-
 * zeros, copying each non-zero run in one memcpy.  Every version gives the
 * same bytes (the canonical encoding), checked by the tests.
 *
 * The decoder is strict: it validates the whole encoding before it writes
 * a byte of the page, so a refused encoding leaves the page untouched.
 */
#include <errno.h>
#include <immintrin.h>
#include <string.h>

#include "internal.h"
#include "simd.h"
#include "xbzrle.h"
#include "codec.h"

#define PAGE	KVMIG_PAGE_SIZE

static size_t uleb_put(uint8_t *p, uint32_t v)
{
	if (v < 0x80) {
		p[0] = (uint8_t)v;
		return 1;
	}
	p[0] = (uint8_t)(v | 0x80);
	p[1] = (uint8_t)(v >> 7);
	return 2;
}

static size_t uleb_len(uint32_t v)
{
	return v < 0x80 ? 1 : 2;
}

/* The reference: one byte at a time, as plain as it gets. */
static int encode_scalar(const uint8_t *old, const uint8_t *new, uint8_t *out,
			 size_t limit)
{
	size_t o = 0;
	uint32_t i = 0;

	while (i < PAGE) {
		uint32_t z = 0, nz = 0;

		while (i + z < PAGE && old[i + z] == new[i + z])
			z++;
		if (i + z == PAGE)
			break;		/* the trailing zero run is left out */
		while (i + z + nz < PAGE && old[i + z + nz] != new[i + z + nz])
			nz++;
		if (o + uleb_len(z) + uleb_len(nz) + nz > limit)
			return -ENOSPC;
		o += uleb_put(out + o, z);
		o += uleb_put(out + o, nz);
		memcpy(out + o, new + i + z, nz);
		o += nz;
		i += z + nz;
	}
	return (int)o;
}

/*
 * Copy a run: short runs (most of them when changes are dense) as one
 * fixed 16-byte move when there is room on both sides, which the compiler
 * inlines, instead of a call to memcpy.
 */
static inline void copy_run(uint8_t *dst, size_t room, const uint8_t *src,
			    uint32_t src_left, uint32_t n)
{
	if (n <= 16 && room >= 16 && src_left >= 16)
		memcpy(dst, src, 16);
	else
		memcpy(dst, src, n);
}

/* The run of bytes [@start, @end) after equal ones from @pos; -ENOSPC. */
static inline int emit_run(uint8_t *out, size_t *o, size_t limit,
			   const uint8_t *new, uint32_t pos, uint32_t start,
			   uint32_t end)
{
	uint32_t z = start - pos, nz = end - start;

	if (*o + uleb_len(z) + uleb_len(nz) + nz > limit)
		return -ENOSPC;
	*o += uleb_put(out + *o, z);
	*o += uleb_put(out + *o, nz);
	copy_run(out + *o, limit - *o, new + start, PAGE - start, nz);
	*o += nz;
	return 0;
}

/*
 * Emit the runs of a "differs" mask (bit i: byte i differs), @changed
 * bits set in all.  The compare loop before it fills the mask without a
 * branch, so its loads overlap; the walk here finds each end of a run
 * with one count-trailing-zeros on a word in a register, skips words with
 * nothing to find, and stops once every changed byte went out: no scan of
 * the page's unchanged tail.
 */
static int emit_runs(const uint64_t *diff, uint64_t changed, const uint8_t *new,
		     uint8_t *out, size_t limit)
{
	uint32_t pos = 0, start, end, w = 0, b = 0;
	uint64_t left = changed, v;
	size_t o = 0;

	if (!changed)
		return 0;
	/* the changed bytes alone do not fit: overflow without encoding */
	if (changed > limit)
		return -ENOSPC;
	while (left) {
		/* a run starts at the first differing byte from (w, b) on */
		v = diff[w] & (~0ULL << b);
		if (!v) {
			w++;
			b = 0;
			continue;
		}
		b = (uint32_t)__builtin_ctzll(v);
		start = w * 64 + b;
		/* ... and ends at the next equal byte, or the page's end */
		v = ~diff[w] & (~0ULL << b);
		while (!v && ++w < PAGE / 64)
			v = ~diff[w];
		b = v ? (uint32_t)__builtin_ctzll(v) : 0;
		end = v ? w * 64 + b : PAGE;
		if (emit_run(out, &o, limit, new, pos, start, end))
			return -ENOSPC;
		left -= end - start;
		pos = end;
	}
	return (int)o;
}

__attribute__((target("avx2,popcnt")))
static int encode_avx2(const uint8_t *old, const uint8_t *new, uint8_t *out,
		       size_t limit)
{
	uint64_t diff[PAGE / 64], changed = 0;
	unsigned int i;

	for (i = 0; i < PAGE / 64; i++) {
		const __m256i *a = (const __m256i *)(old + i * 64);
		const __m256i *b = (const __m256i *)(new + i * 64);
		uint32_t lo = (uint32_t)_mm256_movemask_epi8(
			_mm256_cmpeq_epi8(_mm256_loadu_si256(a), _mm256_loadu_si256(b)));
		uint32_t hi = (uint32_t)_mm256_movemask_epi8(
			_mm256_cmpeq_epi8(_mm256_loadu_si256(a + 1),
					  _mm256_loadu_si256(b + 1)));

		diff[i] = ~((uint64_t)hi << 32 | lo);
		changed += (uint64_t)__builtin_popcountll(diff[i]);
	}
	return emit_runs(diff, changed, new, out, limit);
}

__attribute__((target("avx512f,avx512bw,popcnt")))
static int encode_avx512(const uint8_t *old, const uint8_t *new, uint8_t *out,
			 size_t limit)
{
	uint64_t diff[PAGE / 64], changed = 0;
	unsigned int i;

	for (i = 0; i < PAGE / 64; i++) {
		diff[i] = _mm512_cmpneq_epi8_mask(_mm512_loadu_si512(old + i * 64),
						  _mm512_loadu_si512(new + i * 64));
		changed += (uint64_t)__builtin_popcountll(diff[i]);
	}
	return emit_runs(diff, changed, new, out, limit);
}

kvmig_xbzrle_fn kvmig_xbzrle_impl(enum kvmig_simd level)
{
	if (!kvmig_cpu_has(level))
		return NULL;
	switch (level) {
	case KVMIG_SIMD_AVX512:
		return encode_avx512;
	case KVMIG_SIMD_AVX2:
		return encode_avx2;
	default:
		return encode_scalar;
	}
}

KVMIG_EXPORT int kvmig_xbzrle_encode(const void *old_page, const void *new_page,
				     void *out, size_t limit)
{
	return kvmig_xbzrle_impl(kvmig_simd_best())(old_page, new_page, out, limit);
}

/* One ULEB128 of one or two bytes, minimal; 0 or -EBADMSG. */
static int uleb_get(const uint8_t *in, size_t len, size_t *i, uint32_t *v,
		    const char *what, char *err, size_t errlen)
{
	size_t at = *i;

	if (at >= len)
		return codec_err(err, errlen, "xbzrle: %s length missing at "
				 "byte %zu", what, at);
	if (!(in[at] & 0x80)) {
		*v = in[at];
		*i = at + 1;
		return 0;
	}
	if (at + 1 >= len)
		return codec_err(err, errlen, "xbzrle: %s length truncated at "
				 "byte %zu", what, at);
	if (in[at + 1] & 0x80)
		return codec_err(err, errlen, "xbzrle: %s length at byte %zu is "
				 "longer than two bytes", what, at);
	if (!in[at + 1])
		return codec_err(err, errlen, "xbzrle: %s length at byte %zu is "
				 "not minimal", what, at);
	*v = (uint32_t)(in[at] & 0x7f) | (uint32_t)in[at + 1] << 7;
	*i = at + 2;
	return 0;
}

KVMIG_EXPORT int kvmig_xbzrle_decode(const void *in_, size_t len, void *page_,
				     char *err, size_t errlen)
{
	const uint8_t *in = in_;
	uint8_t *page = page_;
	size_t i, pos;
	int pass, r;

	/* pass 0 checks everything, pass 1 writes: all or nothing */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0, pos = 0; i < len;) {
			uint32_t z, nz;
			size_t at = i;

			r = uleb_get(in, len, &i, &z, "zero-run", err, errlen);
			if (r)
				return r;
			if (!z && at)
				return codec_err(err, errlen, "xbzrle: zero run of "
						 "length 0 at byte %zu (only the "
						 "first may be)", at);
			if (i == len)
				return codec_err(err, errlen, "xbzrle: zero run at "
						 "byte %zu without a non-zero run "
						 "after it", at);
			r = uleb_get(in, len, &i, &nz, "non-zero-run", err, errlen);
			if (r)
				return r;
			if (!nz)
				return codec_err(err, errlen, "xbzrle: non-zero run "
						 "of length 0 at byte %zu", at);
			if (pos + z + nz > PAGE)
				return codec_err(err, errlen, "xbzrle: runs reach "
						 "byte %zu, past the %llu-byte page",
						 pos + z + nz, PAGE);
			if (nz > len - i)
				return codec_err(err, errlen, "xbzrle: non-zero run "
						 "of %u bytes at byte %zu, only %zu "
						 "left", nz, at, len - i);
			if (pass)	/* exactly nz bytes: the rest stays */
				memcpy(page + pos + z, in + i, nz);
			i += nz;
			pos += z + nz;
		}
	}
	return 0;
}
