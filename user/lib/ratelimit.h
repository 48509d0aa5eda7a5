/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The wire rate limit (ratelimit.c); internal to libkvmig.
 *
 * A generic cell rate algorithm shared by every thread that sends: each
 * asks to send some bytes and sleeps until they fit the rate.  Lock-free:
 * one atomic word says when everything admitted so far has drained.
 */
#ifndef KVMIG_RATELIMIT_H
#define KVMIG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t rate;		/* bytes/s, 0 = unlimited (atomic) */
	uint64_t next;		/* ns: when admitted bytes have drained (atomic) */
	uint64_t burst;		/* bytes that may leave at once, at least */
};

/* Start at @rate bytes/s (0: unlimited), letting @burst bytes out at once. */
void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst);
/* A new rate, from any thread; takes effect at the next ratelimit_wait(). */
void ratelimit_set(struct ratelimit *rl, uint64_t rate);

/*
 * Admit @bytes, sleeping until they fit the rate; while it sleeps,
 * @stop(@opaque) is asked every 100 ms at most and a true answer ends the
 * wait with -ECANCELED.  0 once admitted.  Any thread.
 */
int ratelimit_wait(struct ratelimit *rl, uint64_t bytes,
		   bool (*stop)(void *opaque), void *opaque);

#endif /* KVMIG_RATELIMIT_H */
