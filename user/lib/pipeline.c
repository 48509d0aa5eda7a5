// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The source's page pipeline: one producer, N workers, no lock.
 *
 *   migration thread ──job──► ring 0 ──► worker 0 ──PAGES──► channel 0
 *   (dirty bitmap walk)  ──► ring 1 ──► worker 1 ──PAGES──► channel 1
 *                        ...
 *
 * A job is up to JOB_MAX_PAGES page indices of one pass, or a marker (end of
 * pass, quit).  The producer hands jobs round-robin to the active workers;
 * a full ring means it tries the next one, and when every ring is full it
 * counts a "busy" and sleeps until a worker finishes a job.  Worker i
 * checks each page for zero (SIMD), encodes it with the codec, and sends
 * one PAGES frame per job on channel i, paced by a rate limit shared
 * through one atomic word.
 *
 * Ownership and ordering:
 *  - Each ring is single-producer/single-consumer.  Only the producer
 *    writes a slot and w->head; it publishes a slot by storing head with
 *    release (seq_cst) after writing it.  Only the worker writes w->tail,
 *    with release (seq_cst), after it has finished with the slot (frame
 *    sent), so tail == head means the worker is idle and its channel is
 *    quiet.
 *  - Sleeping is a Dekker handshake on seq_cst operations: the worker
 *    stores sleeping = 1 then re-reads head before futex_wait; the
 *    producer stores head then reads sleeping, and wakes it if set.  One
 *    of the two always sees the other, so no wake-up is lost.  The
 *    producer sleeps the same way: it stores in prod_sleeping what it
 *    waits for (room, or every ring drained) then re-reads the tails; a
 *    worker stores tail then reads prod_sleeping, and wakes it when its
 *    ring now offers that: at most half full, or empty.
 *  - Worker i alone uses channel i from its first job until it is idle
 *    again; between pipe_end_pass() and the next pipe_page() the producer
 *    may use every channel (the acquire on tail orders it after the
 *    worker's last send).
 *  - Statistics: each counter has one writer (STAT_ADD, relaxed); the
 *    producer sums them with STAT_GET.  Knobs (active workers, codec,
 *    level, rate, auto effort) are written by the producer and read by
 *    the workers with relaxed atomics, at job granularity.
 *  - XBZRLE: worker i alone owns its page cache.  A cache entry must be
 *    exactly what the destination has, so (1) a page is copied to a
 *    snapshot before it is encoded, and the snapshot is what is sent and
 *    cached (the guest may write the page meanwhile); (2) a page always
 *    goes to the same worker: batch b of 32 consecutive pages to worker
 *    b % active; (3) when the number of active workers changes, pages
 *    change owners, so every job carries an epoch and a worker that sees
 *    a new one empties its cache.  A page is sent once per pass and
 *    passes are drained before the next, so two workers never hold
 *    competing versions of one page.
 *  - Failure: the first thread to fail writes its message in memory it
 *    owns, then claims p->failed with a CAS (seq_cst); everyone else sees
 *    failed != 0 and stops: workers drop their jobs (still advancing
 *    tail) and any wait on a socket ends through the channel's idle hook.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "memmap.h"
#include "simd.h"
#include "xbzrle.h"
#include "pipeline.h"
#include "ratelimit.h"
#include "codec.h"
#include "futex.h"
#include "wire.h"

#define JOB_MAX_PAGES	32
#define RING_SLOTS	16	/* power of two; 16 x 32 pages = 2 MiB queued */
#define FRAME_MAX	(WIRE_PAGES_FIXED + JOB_MAX_PAGES * \
			 (WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE))

/* JOB_ZERO_RUN: index[0] pages zero from index[1] on, within one slot */
enum job_kind { JOB_PAGES, JOB_ZERO_RUN, JOB_ITER_END, JOB_QUIT };

struct job {
	uint8_t kind;
	bool downtime;
	uint16_t count;
	uint32_t iteration;
	uint32_t epoch;			/* owners of pages (XBZRLE) */
	uint32_t holes_gen;		/* re-arms before it (pipe_rearmed()) */
	uint64_t index[JOB_MAX_PAGES];
};

/* Written by the worker only; read by the producer with STAT_GET. */
struct wstats {
	uint64_t pages;
	uint64_t busy_ns;
	uint64_t pace_ns;	/* sleeping for the rate limit */
	uint64_t link_ns;	/* waiting for the socket, in its own jobs (the
				 * migration thread sends on the channel too) */
	uint64_t cpu_ns;
	uint64_t precopy_bytes;
	uint64_t downtime_bytes;
	uint64_t est_bytes;	/* wire bytes of pages that are not holes */
	uint64_t est_pages;
};

struct worker {
	/* the ring: head is the producer's, tail the worker's */
	uint32_t head __attribute__((aligned(64)));
	uint32_t tail __attribute__((aligned(64)));
	uint32_t sleeping;		/* futex word */
	struct job ring[RING_SLOTS];

	/* set before the thread starts */
	struct pipe *p;
	unsigned int id;
	struct chan *ch;
	pthread_t thread;
	bool started;

	/* the worker thread's own; enc.st is read with STAT_GET */
	struct page_enc enc;		/* XBZRLE: enc.xc, its share of the cache */
	struct kvmig_hole_cache holes;	/* valid for jobs of holes_gen */
	uint32_t holes_gen;
	uint8_t *frame;
	uint32_t epoch;
	int err;
	char msg[256];
	struct wstats st;
};

struct pipe {
	struct pipe_cfg cfg;
	struct worker *w;
	uint64_t t0;
	bool xbzrle;

	/* the producer's */
	struct job *cur;		/* the batch being filled, per worker */
	unsigned int next;
	uint32_t epoch;
	uint32_t holes_gen;		/* pipe_rearmed() calls */
	uint32_t iteration;
	bool downtime;
	uint32_t want_active;		/* asked by pipe_tune() */
	uint64_t dispatches, busy;
	bool busy_counted;		/* a batch waits for room: counted */
	unsigned int ends_pushed;	/* pipe_end_pass(): ITER_ENDs queued */
	int abort_err;
	char abort_msg[256];
	/* auto effort control: the last window's totals */
	uint64_t ctl_t, ctl_disp, ctl_busy, ctl_wait, ctl_work;

	/* shared words (atomics) */
	uint32_t prod_sleeping;		/* futex word: 0, or enum wait_for */
	int failed;			/* 0; worker id + 1; -1: the producer */
	uint32_t active;		/* workers that get pages */
	uint32_t codec;
	int32_t level;
	uint32_t effort;		/* auto: 1..codec_auto_steps() */
	struct ratelimit rate;		/* max_bandwidth, every channel's */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int failed(const struct pipe *p)
{
	return __atomic_load_n(&p->failed, __ATOMIC_ACQUIRE);
}

/* Claim the failure for @who; the message must be written before. */
static bool claim_failure(struct pipe *p, int who)
{
	int none = 0;

	return __atomic_compare_exchange_n(&p->failed, &none, who, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* What the producer sleeps for: the value of p->prod_sleeping. */
enum wait_for { WAIT_SPACE = 1, WAIT_SPACE_ONE, WAIT_IDLE };

/*
 * Wake the producer if it sleeps, unless it waits for every ring to drain
 * and this worker still has @queued jobs: it would only check and sleep
 * again, once per job of the last half of every ring (bench_pipeline,
 * zlib, 4 workers: 26-33 wake-ups at each end of a pass instead of 4).
 */
static void wake_producer(struct pipe *p, uint32_t queued)
{
	uint32_t what = __atomic_load_n(&p->prod_sleeping, __ATOMIC_SEQ_CST);

	if (!what || (what == WAIT_IDLE && queued))
		return;
	__atomic_store_n(&p->prod_sleeping, 0, __ATOMIC_RELAXED);
	futex_wake(&p->prod_sleeping, 1);
}

static void worker_fail(struct worker *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void worker_fail(struct worker *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (failed(w->p))
		return;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->err = err;
	if (claim_failure(w->p, (int)w->id + 1))
		wake_producer(w->p, 0);	/* whatever it waits for */
}

/* A channel wait lasted 100 ms: give up if the pipeline has failed. */
static int chan_idle(void *opaque)
{
	return failed(opaque) ? -ECANCELED : 0;
}

static bool pace_stop(void *opaque)
{
	return failed(opaque);
}

int pipe_pace(struct pipe *p, uint64_t bytes)
{
	return ratelimit_wait(&p->rate, bytes, pace_stop, p);
}

/* Send the PAGES frame of @len bytes that holds @pages pages of @job. */
static int send_pages(struct worker *w, const struct job *job, uint32_t len,
		      uint64_t pages)
{
	uint64_t t = kvmig_now_ns();
	int r = pipe_pace(w->p, len + WIRE_HDR_SIZE);

	STAT_ADD(w->st.pace_ns, kvmig_now_ns() - t);
	if (!r)
		r = chan_send(w->ch, WIRE_PAGES, w->frame, len, NULL, 0);
	if (r) {
		worker_fail(w, r, "sending pages on channel %u: %s", w->ch->index,
			    strerror(-r));
		return r;
	}
	STAT_ADD(w->st.pages, pages);
	if (job->downtime)
		STAT_ADD(w->st.downtime_bytes, len + WIRE_HDR_SIZE);
	else
		STAT_ADD(w->st.precopy_bytes, len + WIRE_HDR_SIZE);
	return 0;
}

/* Encode the pages of @job into one PAGES frame and send it. */
static int do_pages(struct worker *w, const struct job *job)
{
	struct pipe *p = w->p;
	const struct page_policy pol = {
		.codec = __atomic_load_n(&p->codec, __ATOMIC_RELAXED),
		.level = __atomic_load_n(&p->level, __ATOMIC_RELAXED),
		.effort = __atomic_load_n(&p->effort, __ATOMIC_RELAXED),
	};
	struct wire_pages_writer fw;
	unsigned int i;
	int r;

	if (w->enc.xc && job->epoch != w->epoch) {
		xcache_clear(w->enc.xc);	/* pages changed owners */
		w->epoch = job->epoch;
	}
	if (job->holes_gen != w->holes_gen) {
		/* a hole it saw may hold what the guest wrote since */
		w->holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
		w->holes_gen = job->holes_gen;
	}
	wire_pages_start(&fw, w->frame, FRAME_MAX);
	for (i = 0; i < job->count; i++) {
		uint64_t idx = job->index[i], gpa = 0;
		/* the encoders write straight into the entry's data */
		uint8_t *data = wire_pages_data(&fw), *page;
		uint32_t plen;
		bool hole;
		int enc;

		kvmig_memmap_index_to_gpa(p->cfg.map, idx, &gpa);
		page = kvmig_memmap_index_to_hva(p->cfg.map, idx);
		hole = kvmig_memmap_is_hole(p->cfg.map, idx, &w->holes);
		enc = page_encode(&w->enc, &pol, idx, hole ? NULL : page, data,
				  &plen, w->msg, sizeof(w->msg));
		if (enc < 0) {
			worker_fail(w, enc, "%s", w->msg);
			return enc;
		}
		/* FRAME_MAX holds JOB_MAX_PAGES entries of any encoding */
		r = wire_pages_add(&fw, &(struct wire_page){
			.gpa = gpa, .encoding = (uint8_t)enc, .len = plen, .data = data,
		});
		if (r) {
			worker_fail(w, r, "page %llu does not fit its PAGES frame",
				    (unsigned long long)idx);
			return r;
		}
		if (!hole) {
			STAT_ADD(w->st.est_bytes, WIRE_PAGE_ENTRY_HDR + plen);
			STAT_ADD(w->st.est_pages, 1);
		}
	}
	return send_pages(w, job, wire_pages_finish(&fw, job->iteration),
			  job->count);
}

/*
 * A run of pages that are holes of their memfd: one entry, nothing read.
 * Only pass 0 has them (source.c), when no XBZRLE cache can hold those
 * pages yet: nothing to drop.
 */
static int do_zero_run(struct worker *w, const struct job *job)
{
	uint64_t pages = job->index[0], gpa = 0;
	struct wire_pages_writer fw;
	int r;

	kvmig_memmap_index_to_gpa(w->p->cfg.map, job->index[1], &gpa);
	wire_pages_start(&fw, w->frame, FRAME_MAX);
	r = wire_pages_add(&fw, &(struct wire_page){
		.gpa = gpa, .encoding = WIRE_ENC_ZERO_RUN, .len = 8,
		.pages = pages,
	});
	if (r) {
		worker_fail(w, r, "a zero run does not fit its PAGES frame");
		return r;
	}
	STAT_ADD(w->enc.st.zero, pages);
	return send_pages(w, job, wire_pages_finish(&fw, job->iteration), pages);
}

static int do_iter_end(struct worker *w, const struct job *job)
{
	int r = chan_send_end(w->ch, WIRE_ITER_END, job->iteration);

	if (r)
		worker_fail(w, r, "sending ITER_END (pass %u) on channel %u: %s",
			    job->iteration, w->ch->index, strerror(-r));
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;

	for (;;) {
		uint32_t tail = w->tail;	/* only this thread writes it */
		const struct job *job;
		uint32_t queued;

		if (tail == __atomic_load_n(&w->head, __ATOMIC_ACQUIRE)) {
			/* nothing to do: sleep until the producer wakes us */
			__atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
			if (tail == __atomic_load_n(&w->head, __ATOMIC_SEQ_CST))
				futex_wait(&w->sleeping, 1, -1);
			__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
			continue;
		}
		job = &w->ring[tail % RING_SLOTS];
		if (job->kind == JOB_QUIT)
			break;
		if (!failed(p)) {
			uint64_t t = kvmig_now_ns();
			uint64_t link = STAT_GET(w->ch->wait_ns);

			if (job->kind == JOB_PAGES)
				do_pages(w, job);
			else if (job->kind == JOB_ZERO_RUN)
				do_zero_run(w, job);
			else
				do_iter_end(w, job);
			STAT_ADD(w->st.busy_ns, kvmig_now_ns() - t);
			STAT_ADD(w->st.link_ns, STAT_GET(w->ch->wait_ns) - link);
		}
		/*
		 * seq_cst, not only release: the producer's sleep is a Dekker
		 * handshake, and a release store may pass wake_producer()'s
		 * later load of prod_sleeping (x86's store buffer does), a
		 * wake-up lost until the producer's 100 ms nap ends.
		 */
		__atomic_store_n(&w->tail, tail + 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&w->st.cpu_ns, thread_cpu_ns(), __ATOMIC_RELAXED);
		/*
		 * Wake a waiting producer once the ring is half empty, not
		 * after every job: it then refills in one go instead of
		 * waking once per job.  bench_pipeline, lz4, 1 worker: the
		 * migration thread's CPU fell from 160 to 6.6 ms per GiB.
		 * head may be stale: then queued is smaller than it is, an
		 * early wake-up at worst; it is exact for the last job.
		 */
		queued = __atomic_load_n(&w->head, __ATOMIC_RELAXED) - (tail + 1);
		if (queued <= RING_SLOTS / 2)
			wake_producer(p, queued);
	}
	return NULL;
}

/* ------------------------------------------------------------- producer */

void pipe_abort(struct pipe *p, int err)
{
	if (failed(p))
		return;
	p->abort_err = err;
	snprintf(p->abort_msg, sizeof(p->abort_msg), "%s", strerror(-err));
	claim_failure(p, -1);
}

const char *pipe_error(const struct pipe *p)
{
	int f = failed(p);

	if (!f)
		return "";
	return f > 0 ? p->w[f - 1].msg : p->abort_msg;
}

static int pipe_errno(const struct pipe *p)
{
	int f = failed(p);

	if (!f)
		return 0;
	return f > 0 ? p->w[f - 1].err : p->abort_err;
}

/*
 * The loads of tail are seq_cst, the other half of the Dekker handshake
 * of wait_for() (they order after its store of prod_sleeping); acquire
 * also orders the producer's reuse of a slot or channel after the worker.
 */
static bool ring_has_space(struct worker *w)
{
	return w->head - __atomic_load_n(&w->tail, __ATOMIC_SEQ_CST) < RING_SLOTS;
}

static bool ring_idle(struct worker *w)
{
	return w->head == __atomic_load_n(&w->tail, __ATOMIC_SEQ_CST);
}

static void push(struct worker *w, const struct job *job)
{
	w->ring[w->head % RING_SLOTS] = *job;
	__atomic_store_n(&w->head, w->head + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
		futex_wake(&w->sleeping, 1);
	}
}

static bool wait_done(struct pipe *p, enum wait_for what, unsigned int id)
{
	unsigned int i, n = __atomic_load_n(&p->active, __ATOMIC_RELAXED);

	/* after a failure, workers drop their jobs: only room still counts */
	if (failed(p) && what != WAIT_SPACE_ONE)
		return true;
	switch (what) {
	case WAIT_SPACE:
		for (i = 0; i < n; i++)
			if (ring_has_space(&p->w[i]))
				return true;
		return false;
	case WAIT_SPACE_ONE:
		return ring_has_space(&p->w[id]);
	default:
		for (i = 0; i < p->cfg.nr_ch; i++)
			if (!ring_idle(&p->w[i]))
				return false;
		return true;
	}
}

/*
 * Sleep until @what holds or the pipeline fails; if @tick, give up with
 * -EAGAIN after PIPE_TICK_NS, so that the caller runs its schedule.
 */
static int wait_for(struct pipe *p, enum wait_for what, unsigned int id,
		    bool tick)
{
	uint64_t t0 = tick ? kvmig_now_ns() : 0;

	while (!wait_done(p, what, id)) {
		__atomic_store_n(&p->prod_sleeping, what, __ATOMIC_SEQ_CST);
		if (!wait_done(p, what, id))
			futex_wait(&p->prod_sleeping, what, 100);
		__atomic_store_n(&p->prod_sleeping, 0, __ATOMIC_RELAXED);
		if (tick && kvmig_now_ns() - t0 >= PIPE_TICK_NS && !failed(p))
			return -EAGAIN;
	}
	return failed(p) ? pipe_errno(p) : 0;
}

/*
 * Hand @job to a worker: without XBZRLE to the next one round-robin that
 * has room; with it, to worker @w, whose pages they are.  -EAGAIN after a
 * tick without room: the job stays with the caller, to go next time.
 */
static int dispatch_job(struct pipe *p, struct job *job, unsigned int w)
{
	bool counted = p->busy_counted;

	job->iteration = p->iteration;
	job->downtime = p->downtime;
	job->epoch = p->epoch;
	job->holes_gen = p->holes_gen;
	for (;;) {
		unsigned int k, n = __atomic_load_n(&p->active, __ATOMIC_RELAXED);
		int r;

		if (failed(p))
			return pipe_errno(p);
		for (k = 0; k < n; k++) {
			unsigned int i = p->xbzrle ? w : (p->next + k) % n;

			if (ring_has_space(&p->w[i])) {
				push(&p->w[i], job);
				p->next = (i + 1) % n;
				p->dispatches++;
				p->busy_counted = false;
				job->count = 0;
				return 0;
			}
			if (p->xbzrle)
				break;
		}
		if (!counted) {
			p->busy++;	/* every ring we may use was full */
			counted = p->busy_counted = true;
		}
		r = wait_for(p, p->xbzrle ? WAIT_SPACE_ONE : WAIT_SPACE, w, true);
		if (r)
			return r;
	}
}

/* The batch p->cur[@w] */
static int dispatch(struct pipe *p, unsigned int w)
{
	p->cur[w].kind = JOB_PAGES;
	return dispatch_job(p, &p->cur[w], w);
}

static int flush_all(struct pipe *p)
{
	unsigned int w;
	int r;

	for (w = 0; w < p->cfg.nr_ch; w++) {
		if (p->cur[w].count && (r = dispatch(p, w)))
			return r;
	}
	return 0;
}

/*
 * A new number of active workers takes effect between two pages: the
 * batches filled for the old owners go out first, and with XBZRLE a new
 * epoch tells every worker to forget its cache.
 */
static int apply_active(struct pipe *p)
{
	int r = flush_all(p);

	if (r)
		return r;
	__atomic_store_n(&p->active, p->want_active, __ATOMIC_RELAXED);
	p->next = 0;
	if (p->xbzrle)
		p->epoch++;
	return 0;
}

void pipe_rearmed(struct pipe *p)
{
	p->holes_gen++;
}

void pipe_set_pass(struct pipe *p, uint32_t iteration, bool downtime)
{
	p->iteration = iteration;
	p->downtime = downtime;
}

int pipe_page(struct pipe *p, uint64_t index)
{
	unsigned int n = __atomic_load_n(&p->active, __ATOMIC_RELAXED), w = 0;
	struct job *job;
	int r;

	if (p->want_active != n) {
		r = apply_active(p);
		if (r)
			return r;
		n = p->want_active;
	}
	if (p->xbzrle)
		w = (unsigned int)((index / JOB_MAX_PAGES) % n);
	job = &p->cur[w];
	if (job->count == JOB_MAX_PAGES) {
		r = dispatch(p, w);	/* full since a call that said -EAGAIN */
		if (r)
			return r;
	}
	job->index[job->count++] = index;
	if (job->count < JOB_MAX_PAGES)
		return 0;
	r = dispatch(p, w);
	return r == -EAGAIN ? 0 : r;	/* queued: the batch goes next time */
}

int pipe_zero_run(struct pipe *p, uint64_t index, uint64_t pages)
{
	struct job job = { .kind = JOB_ZERO_RUN, .count = 1,
			   .index = { pages, index } };
	unsigned int n;
	int r;

	if (p->want_active != __atomic_load_n(&p->active, __ATOMIC_RELAXED)) {
		r = apply_active(p);
		if (r)
			return r;
	}
	n = __atomic_load_n(&p->active, __ATOMIC_RELAXED);
	return dispatch_job(p, &job, (unsigned int)((index / JOB_MAX_PAGES) % n));
}

/* Give @job to worker @i, waiting a tick at most for room in its ring. */
static int push_to(struct pipe *p, unsigned int i, const struct job *job)
{
	int r = wait_for(p, WAIT_SPACE_ONE, i, true);

	if (r)
		return r;
	push(&p->w[i], job);
	return 0;
}

int pipe_end_pass(struct pipe *p)
{
	struct job end = { .kind = JOB_ITER_END, .iteration = p->iteration };
	int r = flush_all(p);

	/* every channel, active or not, marks the end of the pass */
	while (!r && p->ends_pushed < p->cfg.nr_ch) {
		r = push_to(p, p->ends_pushed, &end);
		if (!r)
			p->ends_pushed++;
	}
	if (!r)
		r = wait_for(p, WAIT_IDLE, 0, true);
	if (r != -EAGAIN)
		p->ends_pushed = 0;	/* done, or failed: the next pass anew */
	return r;
}

void pipe_tune(struct pipe *p, unsigned int workers, enum kvmig_codec codec,
	       int level, uint64_t max_bandwidth)
{
	p->want_active = workers;	/* at the next page: apply_active() */
	__atomic_store_n(&p->codec, (uint32_t)codec, __ATOMIC_RELAXED);
	__atomic_store_n(&p->level, level, __ATOMIC_RELAXED);
	ratelimit_set(&p->rate, max_bandwidth);
	if (codec == KVMIG_CODEC_AUTO) {
		uint32_t cap = level ? (uint32_t)level : codec_auto_steps();

		if (__atomic_load_n(&p->effort, __ATOMIC_RELAXED) > cap)
			__atomic_store_n(&p->effort, cap, __ATOMIC_RELAXED);
	}
}

/*
 * Auto: every 200 ms, if the producer found every ring full for more than
 * 5% of its batches, the CPUs are the bottleneck: lower the effort.  If
 * the workers spent more than half of their busy time waiting for the
 * link (rate limit or a full socket), the link is: raise it.
 */
static void auto_control(struct pipe *p, uint64_t wait, uint64_t work)
{
	uint64_t now = kvmig_now_ns(), disp, busy, dw, dk;
	uint32_t e = __atomic_load_n(&p->effort, __ATOMIC_RELAXED), cap;
	int level = __atomic_load_n(&p->level, __ATOMIC_RELAXED);

	if (now - p->ctl_t < 200000000ULL)
		return;
	disp = p->dispatches - p->ctl_disp;
	busy = p->busy - p->ctl_busy;
	dw = wait - p->ctl_wait;
	dk = work - p->ctl_work;
	p->ctl_t = now;
	p->ctl_disp = p->dispatches;
	p->ctl_busy = p->busy;
	p->ctl_wait = wait;
	p->ctl_work = work;
	if (__atomic_load_n(&p->codec, __ATOMIC_RELAXED) != KVMIG_CODEC_AUTO || !disp)
		return;
	cap = level ? (uint32_t)level : codec_auto_steps();
	if (busy * 20 > disp && e > 1)
		e--;
	else if (dk && dw * 2 > dk && e < cap)
		e++;
	__atomic_store_n(&p->effort, e, __ATOMIC_RELAXED);
}

void pipe_estimate(const struct pipe *p, uint64_t *bytes, uint64_t *pages)
{
	unsigned int i;

	*bytes = *pages = 0;
	for (i = 0; i < p->cfg.nr_ch; i++) {
		*bytes += STAT_GET(p->w[i].st.est_bytes);
		*pages += STAT_GET(p->w[i].st.est_pages);
	}
}

void pipe_stats(struct pipe *p, struct kvmig_migration_stats *st)
{
	uint64_t elapsed = kvmig_now_ns() - p->t0, wait = 0, work = 0;
	uint64_t pre = 0, down = 0;
	unsigned int i;

	page_stats_begin(st);
	st->xbzrle.cache_size = 0;
	for (i = 0; i < p->cfg.nr_ch; i++) {
		struct worker *w = &p->w[i];
		struct kvmig_worker_stats *ws = &st->pipeline.worker[i];

		ws->pages = STAT_GET(w->st.pages);
		ws->wire_bytes = STAT_GET(w->ch->bytes_sent);
		ws->busy_ns = STAT_GET(w->st.busy_ns);
		ws->wait_ns = STAT_GET(w->st.pace_ns) + STAT_GET(w->st.link_ns);
		ws->cpu_ns = STAT_GET(w->st.cpu_ns);
		ws->cpu_util = elapsed ? (double)ws->cpu_ns / (double)elapsed : 0;
		wait += ws->wait_ns;
		work += ws->busy_ns;
		pre += STAT_GET(w->st.precopy_bytes);
		down += STAT_GET(w->st.downtime_bytes);
		page_stats_add(st, &w->enc.st, i);
		if (w->enc.xc)
			st->xbzrle.cache_size += xcache_bytes(w->enc.xc);
	}
	page_stats_end(st);
	auto_control(p, wait, work);
	snprintf(st->pipeline.codec_name, sizeof(st->pipeline.codec_name), "%s",
		 kvmig_codec_name(__atomic_load_n(&p->codec, __ATOMIC_RELAXED)));
	st->pipeline.level = __atomic_load_n(&p->level, __ATOMIC_RELAXED);
	st->pipeline.workers = __atomic_load_n(&p->active, __ATOMIC_RELAXED);
	st->pipeline.effort = __atomic_load_n(&p->effort, __ATOMIC_RELAXED);
	st->pipeline.dispatches = p->dispatches;
	st->pipeline.busy = p->busy;
	st->pipeline.busy_rate = p->dispatches ?
				 (double)p->busy / (double)p->dispatches : 0;
	st->pipeline.main_cpu_ns = thread_cpu_ns();
	st->ram.precopy_bytes = pre;
	st->ram.downtime_bytes = down;
}

struct pipe *pipe_new(const struct pipe_cfg *cfg)
{
	sigset_t all, old;
	enum kvmig_simd simd;
	struct pipe *p;
	unsigned int i;
	int r;

	if (!cfg->nr_ch || cfg->workers < 1 || cfg->workers > cfg->nr_ch ||
	    (unsigned int)cfg->codec >= KVMIG_CODEC_NR)
		return err_ptr(-EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return err_ptr(-ENOMEM);
	p->cfg = *cfg;
	p->t0 = p->ctl_t = kvmig_now_ns();
	p->active = p->want_active = cfg->workers;
	p->xbzrle = cfg->xbzrle;
	simd = cfg->simd < KVMIG_SIMD_NR ? cfg->simd : kvmig_simd_best();
	if (!kvmig_cpu_has(simd))
		simd = KVMIG_SIMD_SCALAR;
	p->codec = cfg->codec;
	p->level = cfg->level;
	p->effort = 1;
	/* a burst of two full frames, so that no frame waits for itself */
	ratelimit_init(&p->rate, cfg->max_bandwidth, 2 * FRAME_MAX);
	pipe_tune(p, cfg->workers, cfg->codec, cfg->level, cfg->max_bandwidth);
	p->w = aligned_alloc(64, sizeof(*p->w) * cfg->nr_ch);
	p->cur = calloc(cfg->nr_ch, sizeof(*p->cur));
	if (!p->w || !p->cur) {
		free(p->w);
		free(p->cur);
		free(p);
		return err_ptr(-ENOMEM);
	}
	memset(p->w, 0, sizeof(*p->w) * cfg->nr_ch);
	for (i = 0; i < cfg->nr_ch; i++) {
		struct worker *w = &p->w[i];

		w->p = p;
		w->id = i;
		w->ch = &cfg->ch[i];
		w->holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
		codec_ctx_init(&w->enc.ctx);
		w->enc.is_zero = kvmig_zero_impl(simd);
		w->frame = malloc(FRAME_MAX);
		if (!w->frame) {
			r = -ENOMEM;
			goto fail;
		}
		if (cfg->xbzrle) {
			/* every channel's worker may become active: a share each */
			w->enc.xc = xcache_new(cfg->xbzrle_cache_size / cfg->nr_ch,
					       cfg->xbzrle_policy);
			w->enc.snap = aligned_alloc(64, WIRE_PAGE_SIZE);
			w->enc.xbzrle = kvmig_xbzrle_impl(simd);
			w->enc.xb_limit = cfg->xbzrle_threshold - 1;
			if (!w->enc.xc || !w->enc.snap) {
				r = -ENOMEM;	/* the size was checked */
				goto fail;
			}
		}
		w->ch->idle = chan_idle;
		w->ch->idle_opaque = p;
	}
	/* signals stay with the caller's thread (Ctrl-C = cancel) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0, r = 0; i < cfg->nr_ch && !r; i++) {
		r = -pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
		p->w[i].started = !r;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		goto fail;
	return p;
fail:
	pipe_free(p);
	return err_ptr(r);
}

void pipe_free(struct pipe *p)
{
	struct job quit = { .kind = JOB_QUIT };
	unsigned int i;

	if (!p)
		return;
	pipe_abort(p, -ECANCELED);	/* queued work is dropped */
	for (i = 0; i < p->cfg.nr_ch; i++) {
		struct worker *w = &p->w[i];

		if (w->started) {
			wait_for(p, WAIT_SPACE_ONE, i, false);
			push(w, &quit);
			pthread_join(w->thread, NULL);
		}
		codec_ctx_fini(&w->enc.ctx);
		free(w->frame);
		xcache_free(w->enc.xc);
		free(w->enc.snap);
		if (w->ch) {
			w->ch->idle = NULL;
			w->ch->idle_opaque = NULL;
		}
	}
	free(p->w);
	free(p->cur);
	free(p);
}
