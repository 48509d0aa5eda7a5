// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The wire rate limit: GCRA (the generic cell rate algorithm of ATM
 * networks, also known as a virtual scheduling token bucket).  @next is
 * the theoretical arrival time: when everything admitted so far will
 * have drained at the rate.  A sender adds its cost to it and may leave
 * once it lies at most one burst ahead of now.  One compare-and-swap per
 * admission: the workers of every channel share it without a lock.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"
#include "ratelimit.h"

/* the shortest burst, in time: a sender may run this far ahead */
#define BURST_MIN_NS	100000000ULL
/* the longest sleep between two questions to stop() */
#define SLEEP_MAX_NS	100000000ULL

void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst)
{
	rl->rate = rate;
	rl->next = kvmig_now_ns();
	rl->burst = burst;
}

void ratelimit_set(struct ratelimit *rl, uint64_t rate)
{
	__atomic_store_n(&rl->rate, rate, __ATOMIC_RELAXED);
}

int ratelimit_wait(struct ratelimit *rl, uint64_t bytes,
		   bool (*stop)(void *opaque), void *opaque)
{
	uint64_t rate = __atomic_load_n(&rl->rate, __ATOMIC_RELAXED);
	uint64_t now, old, base, tat, burst, cost;

	if (!rate)
		return 0;
	cost = (uint64_t)((double)bytes * 1e9 / (double)rate);
	burst = (uint64_t)((double)rl->burst * 1e9 / (double)rate);
	if (burst < BURST_MIN_NS)
		burst = BURST_MIN_NS;
	now = kvmig_now_ns();
	old = __atomic_load_n(&rl->next, __ATOMIC_RELAXED);
	do {
		base = old > now ? old : now;
		tat = base + cost;
	} while (!__atomic_compare_exchange_n(&rl->next, &old, tat, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	while (tat > burst && (now = kvmig_now_ns()) < tat - burst) {
		uint64_t ns = tat - burst - now;
		struct timespec ts;

		if (stop && stop(opaque))
			return -ECANCELED;
		if (ns > SLEEP_MAX_NS)
			ns = SLEEP_MAX_NS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)ns;
		nanosleep(&ts, NULL);
	}
	return 0;
}
