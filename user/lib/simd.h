/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * simd.c: the CPU's vector extensions and zero-page detection; internal to
 * libkvmig.
 */
#ifndef KVMIG_SIMD_H
#define KVMIG_SIMD_H

#include <stdbool.h>

enum kvmig_simd {
	KVMIG_SIMD_SCALAR,
	KVMIG_SIMD_AVX2,
	KVMIG_SIMD_AVX512,	/* AVX-512F + BW */
	KVMIG_SIMD_NR,
};
typedef bool (*kvmig_zero_fn)(const void *page);
bool kvmig_cpu_has(enum kvmig_simd level);
enum kvmig_simd kvmig_simd_best(void);
const char *kvmig_simd_name(enum kvmig_simd level);
/* The zero test of @level, or NULL if this CPU lacks it. */
kvmig_zero_fn kvmig_zero_impl(enum kvmig_simd level);

#endif /* KVMIG_SIMD_H */
