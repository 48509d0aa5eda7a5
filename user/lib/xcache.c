// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The XBZRLE page cache: the last version of a page that went to the
 * destination, keyed by page index.  Each pipeline worker owns one (its
 * share of xbzrle-cache-size) and is the only thread that touches it, so
 * there is no lock.
 *
 * Set-associative, XCACHE_WAYS entries per set, each with a 2-bit use
 * count.  A hit raises the count.  A page not in the cache takes a free
 * way, or a way whose count is 0; if every way of its set is in use, the
 * counts of the set age by one and the page is not admitted this time.
 * So a page has to come back to displace one that keeps coming back,
 * while pages seen once only churn among themselves.  The "direct" policy
 * (one way, always replace: QEMU's cache) is kept to measure against.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xcache.h"

#define XCACHE_WAYS	4
#define EMPTY		UINT64_MAX

struct xentry {
	uint64_t key;
	uint8_t use;
};

struct xcache {
	enum xcache_policy policy;
	unsigned int ways;
	uint64_t sets;
	struct xentry *e;	/* sets x ways */
	uint8_t *data;		/* a page per entry */
};

struct xcache *xcache_new(uint64_t bytes, enum xcache_policy policy)
{
	struct xcache *c = calloc(1, sizeof(*c));
	uint64_t pages = bytes / KVMIG_PAGE_SIZE, i;

	if (!c)
		return NULL;
	c->policy = policy;
	c->ways = policy == XCACHE_DIRECT ? 1 : XCACHE_WAYS;
	c->sets = pages / c->ways;
	if (!c->sets) {		/* too small to hold a set */
		free(c);
		return NULL;
	}
	c->e = malloc(c->sets * c->ways * sizeof(*c->e));
	c->data = malloc(c->sets * c->ways * KVMIG_PAGE_SIZE);
	if (!c->e || !c->data) {
		xcache_free(c);
		return NULL;
	}
	for (i = 0; i < c->sets * c->ways; i++)
		c->e[i] = (struct xentry){ .key = EMPTY };
	return c;
}

void xcache_free(struct xcache *c)
{
	if (!c)
		return;
	free(c->e);
	free(c->data);
	free(c);
}

uint64_t xcache_bytes(const struct xcache *c)
{
	return c ? c->sets * c->ways * KVMIG_PAGE_SIZE : 0;
}

void xcache_clear(struct xcache *c)
{
	uint64_t i;

	for (i = 0; i < c->sets * c->ways; i++)
		c->e[i] = (struct xentry){ .key = EMPTY };
}

/*
 * First entry of @key's set: a Fibonacci hash spreads neighbouring pages,
 * and its top 32 bits scaled by the set count pick the set without a
 * division (any number of sets, so the whole size is used).
 */
static uint64_t set_of(const struct xcache *c, uint64_t key)
{
	uint64_t h = (key * 0x9e3779b97f4a7c15ULL) >> 32;

	return ((h * c->sets) >> 32) * c->ways;
}

static struct xentry *find(struct xcache *c, uint64_t key, uint64_t *slot)
{
	uint64_t s = set_of(c, key);
	unsigned int w;

	for (w = 0; w < c->ways; w++) {
		if (c->e[s + w].key == key) {
			*slot = s + w;
			return &c->e[s + w];
		}
	}
	return NULL;
}

const uint8_t *xcache_lookup(struct xcache *c, uint64_t key)
{
	struct xentry *e;
	uint64_t slot;

	e = find(c, key, &slot);
	if (!e)
		return NULL;
	if (e->use < 3)
		e->use++;
	return c->data + slot * KVMIG_PAGE_SIZE;
}

bool xcache_insert(struct xcache *c, uint64_t key, const uint8_t *page)
{
	uint64_t s = set_of(c, key), slot;
	struct xentry *e = find(c, key, &slot);
	unsigned int w, victim = 0;

	if (!e) {
		for (w = 0; w < c->ways; w++) {
			if (c->e[s + w].key == EMPTY) {
				victim = w;
				break;
			}
			if (c->e[s + w].use < c->e[s + victim].use)
				victim = w;
		}
		if (c->policy == XCACHE_FREQ && w == c->ways &&
		    c->e[s + victim].use) {
			/* every way is in use: age them, admit nobody */
			for (w = 0; w < c->ways; w++)
				c->e[s + w].use--;
			return false;
		}
		slot = s + victim;
		e = &c->e[slot];
		*e = (struct xentry){ .key = key };
	}
	memcpy(c->data + slot * KVMIG_PAGE_SIZE, page, KVMIG_PAGE_SIZE);
	return true;
}

void xcache_drop(struct xcache *c, uint64_t key)
{
	uint64_t slot;
	struct xentry *e = find(c, key, &slot);

	if (e)
		*e = (struct xentry){ .key = EMPTY };
}
