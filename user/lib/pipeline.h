/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The source's page pipeline (pipeline.c); internal to libkvmig.
 *
 * One producer (the migration thread) hands batches of page indices to N
 * worker threads; worker i encodes them and writes PAGES frames to
 * channel i.  See pipeline.c for the ownership and ordering rules.
 */
#ifndef KVMIG_PIPELINE_H
#define KVMIG_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmig/kvmig.h"
#include "log.h"
#include "simd.h"
#include "chan.h"
#include "xcache.h"

struct pipe;

struct pipe_cfg {
	const struct kvmig_memmap *map;
	struct chan *ch;		/* one worker per channel */
	unsigned int nr_ch;
	unsigned int workers;		/* active, 1..nr_ch */
	enum kvmig_codec codec;
	int level;
	uint64_t max_bandwidth;		/* wire bytes/s, 0 = unlimited */
	int timeout_ms;			/* a send stuck this long fails */
	enum kvmig_simd simd;		/* zero test, XBZRLE; NR = the best */
	/*
	 * XBZRLE: each worker keeps its share of @xbzrle_cache_size and owns
	 * a fixed part of the pages (batches of 32 consecutive pages go to
	 * worker (index / 32) % workers); an encoding of @xbzrle_threshold
	 * bytes or more overflows and the page goes through the codec.
	 */
	bool xbzrle;
	uint64_t xbzrle_cache_size;
	uint32_t xbzrle_threshold;
	enum xcache_policy xbzrle_policy;
	struct kvmig_log log;
};

/* Start the workers; NULL with errno on failure. */
struct pipe *pipe_new(const struct pipe_cfg *cfg);
/* Stop and join the workers (any queued work is dropped). */
void pipe_free(struct pipe *p);

/*
 * pipe_page() and pipe_end_pass() wait for the workers at most this long:
 * then they return -EAGAIN, the caller runs its per-tick schedule
 * (statistics, progress, tuning, convergence) and calls again.  The
 * control path never runs inside the data path.
 */
#define PIPE_TICK_NS	100000000ULL

/*
 * The caller re-armed dirty tracking of pages it is about to queue: a
 * worker forgets the memfd holes it knew, since a page that was a hole
 * then may hold what the guest wrote before the re-arm, a write no later
 * pass would send again.
 */
void pipe_rearmed(struct pipe *p);
/* Pages that follow belong to pass @iteration (stop-and-copy if @downtime). */
void pipe_set_pass(struct pipe *p, uint32_t iteration, bool downtime);
/*
 * Queue page @index: 0; -EAGAIN if every ring it may go to stayed full
 * for a tick (the page is not queued: call again with it); or the error
 * that stopped the pipeline.
 */
int pipe_page(struct pipe *p, uint64_t index);
/*
 * Queue @pages pages from @index on, holes of one slot's memfd, as one
 * zero run (the destination must decode WIRE_ENC_ZERO_RUN; with XBZRLE,
 * only in pass 0): 0, -EAGAIN (not queued: call again), or the error.
 */
int pipe_zero_run(struct pipe *p, uint64_t index, uint64_t pages);
/*
 * End the pass: flush, ITER_END on every channel, and wait until every
 * worker is idle; -EAGAIN after a tick of waiting (call again: it goes on
 * where it was).  Afterwards, until the next pipe_page(), the channels
 * belong to the caller again.
 */
int pipe_end_pass(struct pipe *p);
/* For a caller without a schedule of its own (tests, benchmarks): make
 * @call again while it says -EAGAIN. */
#define PIPE_RETRY(call) ({						\
	int r_;								\
									\
	while ((r_ = (call)) == -EAGAIN)				\
		;							\
	r_;								\
})
/* Why the pipeline stopped ("" if it did not). */
const char *pipe_error(const struct pipe *p);
/* Stop everything now with @err (cancel, or a failure elsewhere). */
void pipe_abort(struct pipe *p, int err);

/* Wait until @bytes more may go out under the rate limit (any thread). */
int pipe_pace(struct pipe *p, uint64_t bytes);

/* Live knobs; values are checked by the caller. */
void pipe_tune(struct pipe *p, unsigned int workers, enum kvmig_codec codec,
	       int level, uint64_t max_bandwidth);
/*
 * Fill st->pipeline and the ram counters the workers keep; also runs the
 * auto codec's effort control.  Producer thread only.
 */
void pipe_stats(struct pipe *p, struct kvmig_migration_stats *st);

/* Wire bytes and pages of pages the guest wrote (holes left out). */
void pipe_estimate(const struct pipe *p, uint64_t *bytes, uint64_t *pages);

#endif /* KVMIG_PIPELINE_H */
