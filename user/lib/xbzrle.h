/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * xbzrle.c: the XBZRLE encoder of each SIMD level, all giving the same
 * bytes (the public kvmig_xbzrle_encode() runs the best one); internal to
 * libkvmig.
 */
#ifndef KVMIG_XBZRLE_H
#define KVMIG_XBZRLE_H

#include <stddef.h>
#include <stdint.h>

#include "simd.h"

typedef int (*kvmig_xbzrle_fn)(const uint8_t *old_page, const uint8_t *new_page,
			       uint8_t *out, size_t limit);
/* The encoder of @level, or NULL if this CPU lacks it. */
kvmig_xbzrle_fn kvmig_xbzrle_impl(enum kvmig_simd level);

#endif /* KVMIG_XBZRLE_H */
