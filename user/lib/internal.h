/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libkvmig internals any of its files may need: the page and slot
 * constants, a few macros, the clock, err_ptr() and the counters' relaxed
 * accessors, with the public API; not installed.  Everything else has a
 * header named after the file that defines it (log.h, opts.h, dirty.h,
 * memmap.h, vmm_client.h, simd.h, xbzrle.h, stats.h, codec.h, ...).
 */
#ifndef KVMIG_INTERNAL_H
#define KVMIG_INTERNAL_H

#include <errno.h>
#include <stdarg.h>

#include "kvmig/kvmig.h"

#define KVMIG_PAGE_SIZE		4096ULL
#define KVMIG_PAGE_SHIFT	12
#define KVMIG_MAX_SLOTS		512

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define KVMIG_EXPORT	__attribute__((visibility("default")))

/* CLOCK_MONOTONIC in nanoseconds (log.c). */
uint64_t kvmig_now_ns(void);

/* Set errno from a negative error code and return NULL (pointer APIs). */
static inline void *err_ptr(int err)
{
	errno = -err;
	return NULL;
}

/* Relaxed loads and stores of counters one thread writes, others read. */
#define STAT_ADD(var, n)						\
	__atomic_store_n(&(var), __atomic_load_n(&(var), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)
#define STAT_GET(var)	__atomic_load_n(&(var), __ATOMIC_RELAXED)

#endif /* KVMIG_INTERNAL_H */
