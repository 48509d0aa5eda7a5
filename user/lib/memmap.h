/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * memmap.c's helpers for the other files: holes of the memfds behind the
 * slots, and a page's hash for VERIFY; internal to libkvmig.
 */
#ifndef KVMIG_MEMMAP_H
#define KVMIG_MEMMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmig/kvmig.h"

struct kvmig_hole_cache {
	unsigned int slot;
	uint64_t lo, hi;	/* memfd offsets of the cached extent */
	bool is_hole;
};
#define KVMIG_HOLE_CACHE_INIT	{ .slot = ~0U }
bool kvmig_memmap_is_hole(const struct kvmig_memmap *m, uint64_t index,
			  struct kvmig_hole_cache *hc);
/*
 * The number of pages from @index on, at most @max and within its slot,
 * that are holes of their memfd (0: @index is not one): a run that needs
 * neither reading nor a per-page entry.
 */
uint64_t kvmig_memmap_hole_run(const struct kvmig_memmap *m, uint64_t index,
			       uint64_t max, struct kvmig_hole_cache *hc);
/* XXH3-64 of a zero page */
uint64_t kvmig_zero_page_hash(void);
/* XXH3-64 of page @index for VERIFY; holes hash as a zero page, unread */
uint64_t kvmig_page_hash(const struct kvmig_memmap *m, uint64_t index,
			 struct kvmig_hole_cache *hc, uint64_t zero_hash);

#endif /* KVMIG_MEMMAP_H */
