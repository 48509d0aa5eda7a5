/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* The XBZRLE page cache of one pipeline worker (xcache.c); internal. */
#ifndef KVMIG_XCACHE_H
#define KVMIG_XCACHE_H

#include <stdbool.h>
#include <stdint.h>

enum xcache_policy {
	XCACHE_FREQ,	/* 4-way, use counts, admission: the default */
	XCACHE_DIRECT,	/* 1-way, always replace (QEMU's) */
};

struct xcache;

/* A cache of at most @bytes of pages; NULL if too small or no memory. */
struct xcache *xcache_new(uint64_t bytes, enum xcache_policy policy);
void xcache_free(struct xcache *c);
/* Bytes of pages it holds (whole sets). */
uint64_t xcache_bytes(const struct xcache *c);
void xcache_clear(struct xcache *c);
/* The cached version of page @key, or NULL; a hit counts as a use. */
const uint8_t *xcache_lookup(struct xcache *c, uint64_t key);
/* @page is what the destination now has for @key: keep it if admitted. */
bool xcache_insert(struct xcache *c, uint64_t key, const uint8_t *page);
/* The destination's page @key changed in a way we do not keep. */
void xcache_drop(struct xcache *c, uint64_t key);

#endif /* KVMIG_XCACHE_H */
