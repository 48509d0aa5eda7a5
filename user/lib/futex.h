/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Sleeping on a 32-bit word without a lock (futex(2)), for the pipeline's
 * idle workers, the producer waiting for ring space and the destination's
 * pass barrier.  Private futexes: every waiter is in this process.
 */
#ifndef KVMIG_FUTEX_H
#define KVMIG_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * Sleep while *@word == @val, at most @timeout_ms (< 0: no limit).  Returns
 * on a wake, a changed word, a signal or the timeout: callers re-check
 * their condition in a loop.
 */
static inline void futex_wait(uint32_t *word, uint32_t val, int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long)(timeout_ms % 1000) * 1000000L,
	};

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val,
		timeout_ms < 0 ? NULL : &ts, NULL, 0);
}

static inline void futex_wake(uint32_t *word, int nr)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}

static inline void futex_wake_all(uint32_t *word)
{
	futex_wake(word, INT_MAX);
}

#endif /* KVMIG_FUTEX_H */
