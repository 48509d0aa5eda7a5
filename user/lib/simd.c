// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Zero-page detection at memory speed.  Three versions of one function,
 * chosen at run time from what the CPU has (AVX-512BW, AVX2, or plain
 * 64-bit words); each is compiled for its own target with a function
 * attribute, so the library still runs on any x86-64.
 *
 * Most non-zero pages are non-zero in their first cache line, so every
 * version looks at it alone first and only then streams the rest, four
 * vectors per step with one test per step.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "simd.h"

static bool zero_scalar(const void *page)
{
	const uint8_t *b = page;
	unsigned int i, k;

	for (i = 0; i < KVMIG_PAGE_SIZE; i += 64) {
		uint64_t w[8], any = 0;

		memcpy(w, b + i, sizeof(w));	/* any alignment */
		for (k = 0; k < 8; k++)
			any |= w[k];
		if (any)
			return false;
	}
	return true;
}

__attribute__((target("avx2")))
static bool zero_avx2(const void *page)
{
	const __m256i *v = page;	/* any alignment: loadu */
	__m256i a = _mm256_or_si256(_mm256_loadu_si256(v), _mm256_loadu_si256(v + 1));
	unsigned int i;

	if (!_mm256_testz_si256(a, a))
		return false;
	for (i = 2; i + 4 <= KVMIG_PAGE_SIZE / 32; i += 4) {
		a = _mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256(v + i),
						    _mm256_loadu_si256(v + i + 1)),
				    _mm256_or_si256(_mm256_loadu_si256(v + i + 2),
						    _mm256_loadu_si256(v + i + 3)));
		if (!_mm256_testz_si256(a, a))
			return false;
	}
	/* 128 vectors: 2 + 31 x 4 = 126, two left */
	for (; i < KVMIG_PAGE_SIZE / 32; i++) {
		a = _mm256_loadu_si256(v + i);
		if (!_mm256_testz_si256(a, a))
			return false;
	}
	return true;
}

__attribute__((target("avx512f,avx512bw")))
static bool zero_avx512(const void *page)
{
	const uint8_t *b = page;	/* any alignment: loadu */
	__m512i a = _mm512_loadu_si512(b);
	unsigned int i;

	if (_mm512_test_epi64_mask(a, a))
		return false;
	for (i = 1; i + 4 <= KVMIG_PAGE_SIZE / 64; i += 4) {
		a = _mm512_or_si512(_mm512_or_si512(_mm512_loadu_si512(b + i * 64),
						    _mm512_loadu_si512(b + i * 64 + 64)),
				    _mm512_or_si512(_mm512_loadu_si512(b + i * 64 + 128),
						    _mm512_loadu_si512(b + i * 64 + 192)));
		if (_mm512_test_epi64_mask(a, a))
			return false;
	}
	/* 64 lines: 1 + 15 x 4 = 61, three left */
	for (; i < KVMIG_PAGE_SIZE / 64; i++) {
		a = _mm512_loadu_si512(b + i * 64);
		if (_mm512_test_epi64_mask(a, a))
			return false;
	}
	return true;
}

bool kvmig_cpu_has(enum kvmig_simd level)
{
	__builtin_cpu_init();
	switch (level) {
	case KVMIG_SIMD_SCALAR:
		return true;
	case KVMIG_SIMD_AVX2:	/* every AVX2 CPU has POPCNT; check anyway */
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("popcnt");
	case KVMIG_SIMD_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("popcnt");
	default:
		return false;
	}
}

enum kvmig_simd kvmig_simd_best(void)
{
	if (kvmig_cpu_has(KVMIG_SIMD_AVX512))
		return KVMIG_SIMD_AVX512;
	if (kvmig_cpu_has(KVMIG_SIMD_AVX2))
		return KVMIG_SIMD_AVX2;
	return KVMIG_SIMD_SCALAR;
}

const char *kvmig_simd_name(enum kvmig_simd level)
{
	static const char *const names[] = {
		[KVMIG_SIMD_SCALAR] = "scalar", [KVMIG_SIMD_AVX2] = "avx2",
		[KVMIG_SIMD_AVX512] = "avx512",
	};

	return (unsigned int)level < ARRAY_SIZE(names) ? names[level] : "?";
}

kvmig_zero_fn kvmig_zero_impl(enum kvmig_simd level)
{
	if (!kvmig_cpu_has(level))
		return NULL;
	switch (level) {
	case KVMIG_SIMD_AVX512:
		return zero_avx512;
	case KVMIG_SIMD_AVX2:
		return zero_avx2;
	default:
		return zero_scalar;
	}
}

KVMIG_EXPORT bool kvmig_page_is_zero(const void *page)
{
	return kvmig_zero_impl(kvmig_simd_best())(page);
}
