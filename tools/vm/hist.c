// SPDX-License-Identifier: GPL-2.0
/*
 * Latency histogram: values below 16 have a bucket each; above, every power
 * of two is split into 16 linear sub-buckets, so a percentile is within
 * 1/16 (6 %) of the true value, with a fixed 8 KiB of memory.
 */
#include <string.h>

#include "vm.h"

static unsigned int hist_index(uint64_t v)
{
	unsigned int msb;

	if (v < (1u << HIST_SUB_BITS))
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	return ((msb - HIST_SUB_BITS + 1) << HIST_SUB_BITS) +
	       (unsigned int)((v >> (msb - HIST_SUB_BITS)) &
			      ((1u << HIST_SUB_BITS) - 1));
}

/* The smallest value that falls in bucket @i. */
static uint64_t hist_value(unsigned int i)
{
	unsigned int octave = i >> HIST_SUB_BITS;
	uint64_t sub = i & ((1u << HIST_SUB_BITS) - 1);

	if (!octave)
		return sub;
	return (sub | (1ULL << HIST_SUB_BITS)) << (octave - 1);
}

void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* Lower bound of the bucket holding the @pct percentile; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	want = (uint64_t)((double)h->count * pct / 100.0);
	if (want >= h->count)
		want = h->count - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > want) {
			uint64_t v = hist_value(i);

			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
