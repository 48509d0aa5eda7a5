// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The migration source.  The caller's thread (the migration thread) runs
 * the state machine below and walks the dirty bitmap; the pages themselves
 * are encoded and sent by the worker threads of the pipeline (pipeline.c),
 * one per channel:
 *
 *   setup ──► pass 0 (all RAM) ──► pass k (dirty set) ... ──► stop-and-copy
 *     │            │                      │                     │
 *     └────────────┴──────── any error ───┴─────────────────────┴──► failed:
 *                                            resume the VM if we paused it
 *
 * Pass k: for each chunk of the dirty bitmap, re-arm tracking for exactly
 * its dirty pages (clear-log), then queue them to the workers, which read,
 * encode and send them in PAGES frames on their own channels; then
 * ITER_END(k) on every channel, which the destination uses as a barrier so
 * that a page from pass k+1 never lands before the same page from pass k.
 * Re-arming happens before a page is queued, so every read of it by a
 * worker comes after its tracking was re-armed.
 *
 * Convergence: after a pass, the next dirty set is known; expected
 * downtime = its pages x the wire bytes a page really took in the last pass
 * / the wire bandwidth measured in the last pass (not raw bytes: the lesson
 * from QEMU with compression).  When that fits downtime_limit_ms, or after
 * max_iterations passes, stop-and-copy: pause the VM, last sync, last pass,
 * device state, page hashes (verify), END, and wait for COMPLETE, which
 * says the destination has everything and is ready.  Then the commit:
 *
 *   COMPLETE ──► publish "committing" to our VMM ──► GO ──► STARTED
 *
 * Before GO is sent, any failure resumes the guest here: the destination
 * starts only on GO.  Once GO is out, the guest may be running there, so
 * a failure (no STARTED: timeout, drop, Ctrl-C) leaves the guest paused
 * here with the outcome reported as unknown: never two running copies.
 * "committing" is published first so that our VMM, should this process
 * die, does not resume the guest either.  STARTED with an error (the
 * destination could not start it) resumes the guest here.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "memmap.h"
#include "simd.h"
#include "stats.h"
#include "chan.h"
#include "tls.h"
#include "codec.h"
#include "pipeline.h"
#include "converge.h"
#include "converge_vmm.h"

#define CHUNK_PAGES	65536ULL	/* re-arm granularity, 256 MiB */
#define MID_SYNC_NS	200000000ULL	/* syncs within a pass, at most */

struct source {
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	struct kvmig_dirty *dirty;
	struct kvmig_migrate_opts o;
	struct kvmig_migration_stats *st;
	struct kvmig_log log;
	struct chan *ch;
	unsigned int nr_ch;
	struct tls_creds *tls;		/* NULL: plaintext channels */
	struct pipe *pipe;
	uint32_t dst_codecs;		/* encodings the destination decodes */
	uint64_t pages;
	uint64_t *bm;
	/*
	 * Syncs within a pass (mid_sync()): what they found for the next pass,
	 * their own bitmap, and when the last one ran.
	 */
	uint64_t *next, *mid;
	uint64_t t_mid;
	bool mid_pays;			/* the last one found pages ahead */
	struct kvmig_hole_cache holes;	/* the migration thread's: zero runs */
	bool paused;			/* we stopped the VM */
	bool committed;			/* GO sent: never resume here */
	bool was_paused;		/* it was paused before we started */
	bool tracking;			/* dirty logging on */
	uint64_t t_start;
	uint64_t t_progress;		/* last progress callback */
	uint64_t pass_t0;		/* the pass under way began; 0 = none */
	uint64_t pass_bytes0;		/* wire_bytes() then */
	uint64_t pass_est_bytes0;	/* pipe_estimate() then */
	uint64_t pass_est_pages0;
	uint64_t t_tick;		/* the last convergence tick */
	bool downtime;			/* the pass under way is the last */

	uint32_t iteration;

	/* convergence (converge.c), the migration thread's */
	struct conv *conv;
	struct conv_plan plan;		/* in force at the VMM */
	bool throttled;			/* something was put in force */
	uint64_t vmm_rtt_ns;		/* a control round trip, the least seen */
	struct conv_vcpu ctr[CONV_MAX_VCPUS];
	uint64_t stall_ns;		/* the vCPUs' stalls, summed, last pass */
	uint64_t hash_page_ns;		/* verify: hashing a page with data */
	uint64_t data_pages;		/* pages that are not memfd holes */
};

static int fail(struct source *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct source *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (!s->st->error[0]) {
		va_start(ap, fmt);
		vsnprintf(s->st->error, sizeof(s->st->error), fmt, ap);
		va_end(ap);
		pr_err(&s->log, "migration failed: %s", s->st->error);
	}
	return err;
}

static uint64_t wire_bytes(struct source *s)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < s->nr_ch; i++)
		n += STAT_GET(s->ch[i].bytes_sent);
	return n;
}

/* Does the destination decode what @codec sends? */
static bool dest_decodes(const struct source *s, enum kvmig_codec codec)
{
	uint32_t need = codec == KVMIG_CODEC_AUTO ? codec_auto_encodings() :
			1U << codec_encoding(codec);

	return (s->dst_codecs & need) == need;
}

/* Let the caller change knobs (opts.tune); refuse what is invalid. */
/* The plan in force, in the statistics: the lever, why, per vCPU. */
static void plan_stats(struct kvmig_migration_stats *st, const struct conv_plan *plan)
{
	unsigned int i;

	snprintf(st->converge.mechanism, sizeof(st->converge.mechanism), "%s",
		 conv_mech_name(plan->mech));
	snprintf(st->converge.decision, sizeof(st->converge.decision), "%s",
		 plan->why);
	st->converge.cpu_throttle_percentage = plan->mech == CONV_MECH_CPU ?
					       plan->cpu_pct : 0;
	st->converge.nr_vcpus = plan->nr_vcpus;
	for (i = 0; i < plan->nr_vcpus && i < 64; i++) {
		st->converge.vcpu[i].dirty_rate = plan->rate[i];
		st->converge.vcpu[i].limit = plan->mech == CONV_MECH_LIMIT ?
					     plan->limit[i] : 0;
		st->converge.vcpu[i].io_rate = plan->io_rate[i];
		st->converge.vcpu[i].io = plan->io[i];
	}
}

/* The knobs in force, in the statistics. */
static void show_params(struct source *s)
{
	struct kvmig_migration_stats *st = s->st;

	st->params.max_bandwidth = s->o.max_bandwidth;
	st->params.downtime_limit_ms = s->o.downtime_limit_ms;
	st->params.max_iterations = s->o.max_iterations;
	st->params.throttle_initial = s->o.throttle_initial;
	st->params.throttle_increment = s->o.throttle_increment;
	st->params.throttle_max = s->o.throttle_max;
	st->params.io_aware = !s->o.no_io_aware;
	st->params.io_stall_us = s->o.io_stall_us;
}

/*
 * The convergence knobs of @t: checked and applied by converge.c; 0, 1
 * if refused (said so; the old values stay), or -errno (failed).
 */
static int tune_converge(struct source *s, const struct kvmig_tunables *t)
{
	struct conv_opts co = {
		.downtime_limit_ms = t->downtime_limit_ms,
		.io_aware = !t->no_io_aware,
		.io_stall_us = t->io_stall_us,
		.throttle_initial = t->throttle_initial,
		.throttle_increment = t->throttle_increment,
		.throttle_max = t->throttle_max,
	};
	struct conv_plan plan = s->plan;
	char why[200];
	int r;

	if (!s->conv)	/* before convergence starts: it takes them then */
		return 0;
	/* a cap lowered below the initial throttle takes the initial along */
	if (co.throttle_max < co.throttle_initial &&
	    t->throttle_initial == s->o.throttle_initial)
		co.throttle_initial = co.throttle_max;
	plan.changed = false;
	r = conv_tune(s->conv, &co, &plan, why, sizeof(why));
	if (r) {
		pr_warn(&s->log, "tune: %s: refused, keeping the current values", why);
		return 1;
	}
	/* a new IO stall reaches the limits in force; a lower cap, the throttle */
	if (plan.mech == CONV_MECH_LIMIT && t->io_stall_us != s->o.io_stall_us) {
		memset(&s->plan.limit, 0, sizeof(s->plan.limit));
		plan.changed = true;
	}
	if (plan.changed) {
		r = conv_vmm_apply(s->vmm, &plan, &s->plan, t->io_stall_us, why,
				   sizeof(why));
		if (r)
			return fail(s, r, "putting the new convergence knobs in "
				    "force: %s", why);
		if (plan.mech == CONV_MECH_CPU)
			pr_info(&s->log, "tune: CPU throttle lowered to %u%% (the new "
				"cap)", plan.cpu_pct);
		s->plan = plan;
		plan_stats(s->st, &plan);
	}
	return 0;
}

static int tune(struct source *s)
{
	struct kvmig_tunables t = {
		.workers = s->o.workers, .codec = s->o.codec, .level = s->o.level,
		.max_bandwidth = s->o.max_bandwidth,
		.downtime_limit_ms = s->o.downtime_limit_ms,
		.throttle_initial = s->o.throttle_initial,
		.throttle_increment = s->o.throttle_increment,
		.throttle_max = s->o.throttle_max,
		.no_io_aware = s->o.no_io_aware,
		.io_stall_us = s->o.io_stall_us,
	};
	int r;

	s->o.tune(&t, s->o.tune_opaque);
	if (t.workers < 1 || t.workers > s->nr_ch ||
	    (unsigned int)t.codec >= KVMIG_CODEC_NR ||
	    !codec_level_ok(t.codec, t.level) || !dest_decodes(s, t.codec)) {
		pr_warn(&s->log, "tune: workers %u (1..%u), codec %d, level %d: "
			"refused, keeping the current values", t.workers, s->nr_ch,
			(int)t.codec, t.level);
		return 0;
	}
	r = tune_converge(s, &t);
	if (r)
		return r > 0 ? 0 : r;
	s->o.throttle_initial = t.throttle_initial < t.throttle_max ?
				t.throttle_initial : t.throttle_max;
	s->o.throttle_increment = t.throttle_increment;
	s->o.throttle_max = t.throttle_max;
	s->o.no_io_aware = t.no_io_aware;
	s->o.io_stall_us = t.io_stall_us;
	if (t.workers != s->o.workers || t.codec != s->o.codec ||
	    t.level != s->o.level || t.max_bandwidth != s->o.max_bandwidth)
		pr_info(&s->log, "tune: workers %u, codec %s level %d, max "
			"bandwidth %llu B/s", t.workers, kvmig_codec_name(t.codec),
			t.level, (unsigned long long)t.max_bandwidth);
	s->o.workers = t.workers;
	s->o.codec = t.codec;
	s->o.level = t.level;
	s->o.max_bandwidth = t.max_bandwidth;
	s->o.downtime_limit_ms = t.downtime_limit_ms;
	if (s->pipe)
		pipe_tune(s->pipe, t.workers, t.codec, t.level, t.max_bandwidth);
	show_params(s);
	return 0;
}

static int converge_tick(struct source *s, uint64_t now);

/* A switchover's costs besides the pages, in ns (see converge_pass()). */
static uint64_t switch_fixed_ns(const struct source *s)
{
	/*
	 * Control round trips (stop, device state here; the destination's
	 * set-device-state and cont; "committing"; END/COMPLETE and
	 * GO/STARTED), and with verify hashing RAM on both sides.
	 */
	return 6 * s->vmm_rtt_ns + 2 * s->hash_page_ns * s->data_pages;
}

/*
 * Pages with data, what verification hashes and sends a hash for: holes
 * of the memfd hash for free on both sides and go as zero ranges where
 * the destination takes them (an idle 16 GiB guest has a few hundred
 * pages with data, not 4 Mi).
 */
static void count_data_pages(struct source *s)
{
	struct kvmig_hole_cache hc = KVMIG_HOLE_CACHE_INIT;
	uint64_t i, n, data = 0;

	for (i = 0; i < s->pages; i += n) {
		n = kvmig_memmap_hole_run(s->map, i, s->pages - i, &hc);
		if (!n) {
			n = 1;
			data++;
		}
	}
	s->data_pages = data;
}

/*
 * The pass under way, for a person watching: its pace so far, when it
 * will end, and during the first pass the downtime a switchover would
 * take now (the pages not reached yet, at that pace).
 */
static void pass_update(struct source *s, uint64_t now)
{
	struct kvmig_migration_stats *st = s->st;
	uint64_t ns = now - s->pass_t0, b = wire_bytes(s) - s->pass_bytes0;
	uint64_t left = st->pass.pages - st->pass.done;

	st->pass.elapsed_ms = ns / 1000000;
	/* the first 200 ms say little: the rings fill, the link ramps up */
	if (ns < 200000000ULL || !st->pass.done || !b)
		return;
	st->ram.mbps = (double)b * 8 / ((double)ns / 1e9) / 1e6;
	st->pass.eta_ms = (uint64_t)((double)ns / 1e6 * (double)left /
				     (double)st->pass.done);
	if (!st->ram.iterations)
		st->expected_downtime_ms = st->pass.eta_ms +
					   switch_fixed_ns(s) / 1000000;
}

static int progress(struct source *s, bool force)
{
	uint64_t now = kvmig_now_ns();

	if (!force && now - s->t_progress < 100000000ULL)
		return 0;
	s->t_progress = now;
	if (s->pass_t0) {
		int r;

		pass_update(s, now);
		r = converge_tick(s, now);
		if (r)
			return r;
	}
	s->st->total_time_ms = (now - s->t_start) / 1000000;
	s->st->ram.transferred = wire_bytes(s);
	if (s->pipe)
		pipe_stats(s->pipe, s->st);
	if (s->o.tune) {
		int r = tune(s);

		if (r)
			return r;
	}
	if (s->o.progress && s->o.progress(s->st, s->o.progress_opaque))
		return fail(s, -ECANCELED, "cancelled");
	return 0;
}

/*
 * A pipeline call waited a tick for its workers (-EAGAIN): run the tick's
 * schedule, progress(), and let the caller call again; anything else
 * passes through.
 */
static int pipe_tick(struct source *s, int r)
{
	return r == -EAGAIN ? progress(s, false) ?: -EAGAIN : r;
}

/* END on every channel.  The workers are idle: the channels are ours. */
static int send_to_all(struct source *s, uint8_t type)
{
	unsigned int i;

	for (i = 0; i < s->nr_ch; i++) {
		int r = chan_send_end(&s->ch[i], type, s->iteration);

		if (r)
			return fail(s, r, "sending %s (pass %u) on channel %u: %s",
				    wire_type_name(type), s->iteration,
				    s->ch[i].index, strerror(-r));
	}
	return 0;
}

/* The pipeline stopped: why, in the statistics. */
static int pipe_failed(struct source *s, int r)
{
	if (r == -ECANCELED && s->st->error[0])
		return r;	/* cancelled from progress(): already said */
	return fail(s, r, "%s", pipe_error(s->pipe)[0] ? pipe_error(s->pipe) :
		    strerror(-r));
}

/* How many bits of @bm from @i on are set, up to @max. */
static uint64_t bits_set_run(const uint64_t *bm, uint64_t i, uint64_t max)
{
	uint64_t n = 0;

	while (n < max) {
		uint64_t w = ~bm[(i + n) / 64] >> ((i + n) % 64);

		if (w) {	/* a clear bit in this word */
			n += (uint64_t)__builtin_ctzll(w);
			break;
		}
		n += 64 - (i + n) % 64;
	}
	return n < max ? n : max;
}

/*
 * Pass 0 sends a run of at least ZERO_RUN_MIN pages that are holes of
 * their memfd (RAM the guest never touched) as one zero run, if the
 * destination takes them: 24 bytes instead of 16 a page, and no page
 * walked by a worker.  In later passes a dirty page was written.
 */
#define ZERO_RUN_MIN	2

static uint64_t zero_run(struct source *s, uint64_t i, uint64_t max)
{
	uint64_t n;

	if (s->iteration || !(s->dst_codecs & (1U << WIRE_ENC_ZERO_RUN)))
		return 0;
	n = kvmig_memmap_hole_run(s->map, i, max, &s->holes);
	if (n >= ZERO_RUN_MIN)
		n = bits_set_run(s->bm, i, n);
	return n >= ZERO_RUN_MIN ? n : 0;
}

/*
 * A sync within a pass, every MID_SYNC_NS while the guest runs, before the
 * page at @pos is queued.  A page it reports that this pass has still to
 * queue (set in s->bm at or after @pos) is sent by this pass with what
 * the guest wrote: every backend's sync re-armed it (ring: harvested and
 * reset; bitmap: fetched and protected; fast-wp: protected), or (clear)
 * re-arms it with its chunk before it is read, or it was re-armed with
 * its chunk already and the kernel's log keeps it for the next fetch.  So
 * it is not the next pass's; every other page reported is, in s->next.
 * Measured with bench_converge (ring, random writes at 2x the link): the
 * pass 0 a guest half re-writes no longer sends those pages twice.
 *
 * It pays only for the pages it finds ahead of the scan; every page it
 * re-arms costs the guest a write fault more, and a vCPU that rewrites a
 * few pages (an IO loop) dirties them again at each sync, which its rate
 * shows.  So send_pass() syncs within a pass only while a quarter of the
 * pass is still ahead, and stops for the pass once a sync found less than
 * a quarter of what it reported ahead (s->mid_pays).
 */
static int mid_sync(struct source *s, uint64_t pos)
{
	uint64_t words = kvmig_bitmap_words(s->pages), w, pw = pos / 64;
	uint64_t ahead_found = 0;
	int64_t n;

	s->t_mid = kvmig_now_ns();
	memset(s->mid, 0, words * 8);
	n = kvmig_dirty_sync(s->dirty, s->mid);
	if (n < 0)
		return fail(s, (int)n, "dirty sync: %s", strerror((int)-n));
	s->st->ram.dirty_sync_count++;
	for (w = 0; w < words; w++) {
		uint64_t ahead = w > pw ? ~0ULL : w < pw ? 0 :
				 ~0ULL << (pos % 64);

		ahead_found += (uint64_t)__builtin_popcountll(s->mid[w] & s->bm[w] &
							      ahead);
		s->next[w] |= s->mid[w] & ~(s->bm[w] & ahead);
	}
	s->mid_pays = ahead_found * 4 >= (uint64_t)n;
	/* a hole seen before this sync may hold data written since */
	s->holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
	pipe_rearmed(s->pipe);
	return 0;
}

/* One pass over the pages set in s->bm; returns pages sent or -errno. */
static int64_t send_pass(struct source *s, bool downtime)
{
	uint64_t first, i, run, sent = 0, reported = 0, n = 0;
	int r;

	pipe_set_pass(s->pipe, s->iteration, downtime);
	for (i = 0; i < kvmig_bitmap_words(s->pages); i++)
		n += (uint64_t)__builtin_popcountll(s->bm[i]);
	memset(&s->st->pass, 0, sizeof(s->st->pass));
	s->st->pass.pages = n;
	s->pass_t0 = s->t_tick = s->t_mid = kvmig_now_ns();
	s->mid_pays = true;
	s->pass_bytes0 = wire_bytes(s);
	pipe_estimate(s->pipe, &s->pass_est_bytes0, &s->pass_est_pages0);
	s->downtime = downtime;
	for (first = 0; first < s->pages; first += CHUNK_PAGES) {
		uint64_t n = s->pages - first < CHUNK_PAGES ? s->pages - first :
			     CHUNK_PAGES;

		/* re-arm exactly the pages we are about to queue */
		r = kvmig_dirty_rearm(s->dirty, s->bm, first, n);
		if (r)
			return fail(s, r, "re-arming dirty tracking: %s", strerror(-r));
		/* a hole seen before the re-arm may hold data written since */
		s->holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
		pipe_rearmed(s->pipe);
		for (i = first; i < first + n; i++) {
			if (!(i % 64) && !s->bm[i / 64]) {
				i += 63;	/* a clean word */
				continue;
			}
			if (!kvmig_bitmap_test(s->bm, i))
				continue;
			if (!downtime && s->mid_pays &&
			    (s->st->pass.pages - sent) * 4 >= s->st->pass.pages &&
			    kvmig_now_ns() - s->t_mid >= MID_SYNC_NS) {
				r = mid_sync(s, i);
				if (r)
					return r;
			}
			run = zero_run(s, i, first + n - i);
			if (run) {
				while ((r = pipe_tick(s, pipe_zero_run(s->pipe, i, run))) ==
				       -EAGAIN)
					;
			} else {
				run = 1;
				while ((r = pipe_tick(s, pipe_page(s->pipe, i))) == -EAGAIN)
					;
			}
			if (r)
				return pipe_failed(s, r);
			i += run - 1;
			sent += run;
			s->st->pass.done = sent;
			s->st->ram.remaining -= s->st->ram.remaining >= run * WIRE_PAGE_SIZE ?
						run * WIRE_PAGE_SIZE : s->st->ram.remaining;
			if (sent - reported >= 1024) {
				reported = sent;
				r = progress(s, false);
				if (r)
					return r;
			}
		}
	}
	while ((r = pipe_tick(s, pipe_end_pass(s->pipe))) == -EAGAIN)
		;
	s->pass_t0 = 0;
	if (r)
		return pipe_failed(s, r);
	s->st->ram.iterations++;
	s->iteration++;
	return (int64_t)sent;
}

static int sync_dirty(struct source *s, int64_t *n)
{
	*n = kvmig_dirty_sync(s->dirty, s->bm);
	if (*n < 0)
		return fail(s, (int)*n, "dirty sync: %s", strerror((int)-*n));
	s->st->ram.dirty_sync_count++;
	return 0;
}

static int vmm_cmd(struct source *s, const char *cmd)
{
	int r = kvmig_vmm_request(s->vmm, cmd, NULL, NULL, NULL, 0, NULL);

	if (r)
		return fail(s, r, "VMM %s: %s", cmd, kvmig_vmm_last_error(s->vmm));
	return 0;
}

/*
 * Wait for @type (or the destination's refusal) on channel 0; its payload
 * is then in s->ch[0].rx, for the frame's reader.
 */
static int expect(struct source *s, uint8_t type, struct wire_hdr *h)
{
	struct chan *c = &s->ch[0];
	char err[512];
	int r = chan_recv(c, h, err, sizeof(err));

	if (r)
		return fail(s, r, "waiting for %s: %s", wire_type_name(type), err);
	if (h->type == WIRE_ERROR) {
		char msg[WIRE_MAX_ERROR_MSG + 1];

		r = chan_parse_error(h, c->rx, msg, sizeof(msg));
		return fail(s, r ? r : -EPROTO, "the destination refused: %s", msg);
	}
	if (h->type != type)
		return fail(s, -EPROTO, "expected %s from the destination, got %s",
			    wire_type_name(type), wire_type_name(h->type));
	return 0;
}

/* The destination's answer to HELLO: which encodings it decodes. */
static int expect_hello_ack(struct source *s)
{
	struct wire_hello_ack ack;
	struct wire_hdr h;
	char err[256];
	int r = expect(s, WIRE_HELLO_ACK, &h);

	if (r)
		return r;
	r = wire_get_hello_ack(&h, s->ch[0].rx, &ack, err, sizeof(err));
	if (r)
		return fail(s, r, "%s", err);
	s->dst_codecs = ack.codecs;
	return 0;
}

static int handshake(struct source *s, const char *host, const char *port)
{
	struct wire_hello *h = calloc(1, sizeof(*h));
	uint8_t *buf = NULL;
	char err[512];
	uint64_t session;
	unsigned int i;
	int r = -ENOMEM;

	if (!h)
		return fail(s, -ENOMEM, "out of memory");
	session = kvmig_now_ns() ^ ((uint64_t)getpid() << 32);
	for (i = 0; i < s->nr_ch; i++) {
		int fd = tcp_connect(host, port, s->o.timeout_ms, err, sizeof(err));

		if (fd < 0) {
			r = fail(s, fd, "channel %u: %s", i, err);
			goto out;
		}
		r = chan_init(&s->ch[i], fd, (uint16_t)i, s->o.timeout_ms);
		if (r) {
			close(fd);
			r = fail(s, r, "channel %u: out of memory", i);
			goto out;
		}
		if (s->tls) {
			r = chan_tls_start(&s->ch[i], s->tls, s->o.tls_hostname ?: host,
					   err, sizeof(err));
			if (r) {
				r = fail(s, r, "channel %u: %s", i, err);
				goto out;
			}
			if (i == 0) {
				char *desc = chan_tls_desc(&s->ch[0]);

				pr_info(&s->log, "TLS %s, %s", desc ? desc : "",
					tls_creds_is_psk(s->tls) ? "pre-shared key" :
					"certificates checked");
				free(desc);
			}
		}
		if (i == 0) {
			h->page_size = WIRE_PAGE_SIZE;
			h->nr_slots = (uint16_t)kvmig_memmap_nr_slots(s->map);
			h->nr_channels = (uint16_t)s->nr_ch;
			h->session = session;
			/* all we can send: a tune may switch codecs later */
			h->codecs = WIRE_CODECS_ALL;
			h->flags = s->o.verify ? WIRE_HELLO_VERIFY : 0;
			h->ram_bytes = kvmig_memmap_bytes(s->map);
			for (unsigned int k = 0; k < h->nr_slots; k++) {
				const struct kvmig_slot *sl = kvmig_memmap_slot(s->map, k);

				h->slots[k] = (struct wire_slot){ sl->id, sl->gpa, sl->size };
			}
			buf = malloc(wire_hello_size(h));
			if (!buf) {
				r = fail(s, -ENOMEM, "out of memory");
				goto out;
			}
			wire_put_hello(buf, h);
			r = chan_send(&s->ch[0], WIRE_HELLO, buf,
				      (uint32_t)wire_hello_size(h), NULL, 0);
			if (!r)
				r = expect_hello_ack(s);
			if (r) {
				if (!s->st->error[0])
					fail(s, r, "sending HELLO: %s", strerror(-r));
				goto out;
			}
			if (!dest_decodes(s, s->o.codec) || (s->o.xbzrle &&
			    !(s->dst_codecs & (1U << WIRE_ENC_XBZRLE)))) {
				r = fail(s, -EPROTO, "the destination does not decode "
					 "%s pages (its codecs: 0x%x)", s->o.xbzrle &&
					 dest_decodes(s, s->o.codec) ? "xbzrle" :
					 kvmig_codec_name(s->o.codec), s->dst_codecs);
				goto out;
			}
		} else {
			struct wire_channel ch = {
				.session = session, .index = (uint16_t)i,
			};
			uint8_t p[WIRE_CHANNEL_SIZE];

			wire_put_channel(p, &ch);
			r = chan_send(&s->ch[i], WIRE_CHANNEL, p, sizeof(p), NULL, 0);
			if (r) {
				r = fail(s, r, "channel %u: %s", i, strerror(-r));
				goto out;
			}
		}
	}
	r = 0;
out:
	free(buf);
	free(h);
	return r;
}

static int send_device_state(struct source *s)
{
	struct wire_device_state ds;
	char *state = NULL;
	int r = kvmig_vmm_request(s->vmm, "get-device-state", NULL, &state, NULL,
				  0, NULL);

	if (r)
		return fail(s, r, "VMM get-device-state: %s",
			    kvmig_vmm_last_error(s->vmm));
	/* the payload is the text itself (a string: no NUL inside) */
	if (wire_put_device_state(&ds, state, strlen(state))) {
		free(state);
		return fail(s, -E2BIG, "device state larger than a frame");
	}
	r = pipe_pace(s->pipe, ds.len);
	if (!r)
		r = chan_send(&s->ch[0], WIRE_DEVICE_STATE, ds.json, ds.len, NULL, 0);
	free(state);
	return r ? fail(s, r, "sending the device state: %s", strerror(-r)) : 0;
}

/* Send the VERIFY frame in @buf (v->count hashes, or a zero range). */
static int send_verify(struct source *s, uint8_t *buf, struct wire_verify *v)
{
	uint32_t len = wire_put_verify(buf, v);
	int r = pipe_pace(s->pipe, len);

	return r ?: chan_send(&s->ch[0], WIRE_VERIFY, buf, len, NULL, 0);
}

/*
 * A run of holes long enough to go as a zero range rather than hashes,
 * where the destination takes them: a frame header and 16 bytes beat
 * 8 bytes a page from 8 pages on.
 */
#define VERIFY_ZERO_MIN	8

/*
 * Hashes of every page, in page-index order, in VERIFY frames; runs of
 * pages that are holes of their memfd as zero ranges, without a hash.
 * The guest is paused: what is a hole now is one on the destination too.
 */
static int send_hashes(struct source *s)
{
	const uint32_t per = WIRE_VERIFY_MAX_HASHES;
	uint8_t *buf = malloc(WIRE_VERIFY_FIXED + (size_t)per * 8);
	struct kvmig_hole_cache hc = KVMIG_HOLE_CACHE_INIT;
	uint64_t i, n, zero_hash = kvmig_zero_page_hash();
	bool ranges = s->dst_codecs & (1U << WIRE_ENC_ZERO_RUN);
	struct wire_verify v = { 0 };
	int r = 0;

	if (!buf)
		return fail(s, -ENOMEM, "out of memory");
	for (i = 0; i < s->pages && !r; i += n) {
		n = ranges ? kvmig_memmap_hole_run(s->map, i, s->pages - i, &hc) : 0;
		if (n >= VERIFY_ZERO_MIN) {
			if (v.count)
				r = send_verify(s, buf, &v);
			v = (struct wire_verify){ .first = i, .flags = WIRE_VERIFY_ZERO,
						  .count = n > UINT32_MAX ?
							   UINT32_MAX : (uint32_t)n };
			n = v.count;
			if (!r)
				r = send_verify(s, buf, &v);
			v.count = 0;
			continue;
		}
		n = 1;
		if (!v.count)
			v = (struct wire_verify){ .first = i };
		wire_put_verify_hash(buf, v.count++,
				     kvmig_page_hash(s->map, i, &hc, zero_hash));
		if (v.count == per) {
			r = send_verify(s, buf, &v);
			v.count = 0;
		}
	}
	if (!r && v.count)
		r = send_verify(s, buf, &v);
	free(buf);
	s->st->verify.pages = s->pages;
	return r ? fail(s, r, "sending page hashes: %s", strerror(-r)) : 0;
}

static int wait_complete(struct source *s)
{
	struct wire_complete c;
	struct wire_hdr h;
	char err[256];
	int r = expect(s, WIRE_COMPLETE, &h);

	if (r)
		return r;
	r = wire_get_complete(&h, s->ch[0].rx, &c, err, sizeof(err));
	if (r)
		return fail(s, r, "%s", err);
	s->st->verify.done = s->o.verify;
	s->st->verify.pages = c.verify_pages;
	s->st->verify.mismatches = c.mismatches;
	if (c.status)
		return fail(s, -(int)c.status, "the destination failed to complete: "
			    "%s%s", strerror((int)c.status), c.mismatches ?
			    " (pages differ)" : "");
	return 0;
}

/* COMPLETE received: commit the switchover (see the top of this file). */
static int commit(struct source *s)
{
	char *text, *args = NULL, err[256];
	uint8_t go[WIRE_GO_SIZE];
	struct wire_started started;
	struct wire_hdr h;
	int r;

	snprintf(s->st->status, sizeof(s->st->status), "committing");
	text = kvmig_migration_stats_json(s->st);
	if (!text || asprintf(&args, "{\"status\": %s}", text) < 0)
		args = NULL;
	free(text);
	r = args ? kvmig_vmm_request(s->vmm, "migrate-set-status", args, NULL,
				     NULL, 0, NULL) : -ENOMEM;
	free(args);
	if (r)
		return fail(s, r, "telling the VMM the switchover commits: %s",
			    kvmig_vmm_last_error(s->vmm));
	wire_put_go(go);
	r = chan_send(&s->ch[0], WIRE_GO, go, sizeof(go), NULL, 0);
	if (r)	/* not all of GO went out: the destination will not start */
		return fail(s, r, "sending GO: %s", strerror(-r));
	s->committed = true;
	r = expect(s, WIRE_STARTED, &h);
	if (!r) {
		r = wire_get_started(&h, s->ch[0].rx, &started, err, sizeof(err));
		if (r)
			fail(s, r, "%s", err);
	}
	if (r) {
		snprintf(s->st->error + strlen(s->st->error),
			 sizeof(s->st->error) - strlen(s->st->error),
			 "; outcome unknown: the guest may be running on the "
			 "destination, so it stays paused here — check there "
			 "before resuming it");
		return r;
	}
	if (started.status) {
		s->committed = false;	/* it told us: it does not run there */
		return fail(s, -(int)started.status, "the destination could not "
			    "start the guest: %s", strerror((int)started.status));
	}
	return 0;
}

/* A control round trip, with the cheapest request: keep the least seen. */
static void converge_rtt(struct source *s)
{
	uint64_t t = kvmig_now_ns();

	if (!kvmig_vmm_request(s->vmm, "query-status", NULL, NULL, NULL, 0, NULL) &&
	    kvmig_now_ns() - t < s->vmm_rtt_ns)
		s->vmm_rtt_ns = kvmig_now_ns() - t;
}

/*
 * Convergence (converge.c): what the VMM offers to slow vCPUs, and the
 * policy.  A policy asked for that the VMM cannot carry out fails here,
 * before pass 0, saying what is missing.
 */
static int converge_setup(struct source *s)
{
	struct conv_opts co = {
		.policy = s->o.converge,
		.downtime_limit_ms = s->o.downtime_limit_ms,
		.max_iterations = s->o.max_iterations,
		.io_aware = !s->o.no_io_aware,
		.io_stall_us = s->o.io_stall_us,
		.io_rate_min = 50,
		.throttle_initial = s->o.throttle_initial,
		.throttle_increment = s->o.throttle_increment,
		.throttle_max = s->o.throttle_max,
	};
	struct conv_mechs m;
	unsigned int nr;
	char why[200];
	uint64_t t;
	int r;

	/* what the VMM offers, and the counters pass 0's rates start from */
	r = conv_vmm_sample(s->vmm, s->ctr, CONV_MAX_VCPUS, &nr, &m);
	if (r)
		return fail(s, r, "VMM per-vCPU counters: %s",
			    kvmig_vmm_last_error(s->vmm));
	s->vmm_rtt_ns = UINT64_MAX;
	converge_rtt(s);
	if (s->o.verify) {
		/*
		 * What hashing a page costs at the switchover: the first 256
		 * pages with data (the guest's own), holes skipped.
		 */
		struct kvmig_hole_cache hc = KVMIG_HOLE_CACHE_INIT;
		uint64_t i, n = 0, sum = 0;

		t = kvmig_now_ns();
		for (i = 0; i < s->pages && n < 256; i++) {
			if (kvmig_memmap_is_hole(s->map, i, &hc))
				continue;
			sum += kvmig_page_hash(s->map, i, &hc, 0);
			n++;
		}
		s->hash_page_ns = n ? (kvmig_now_ns() - t) / n + (sum & 1) : 0;
		count_data_pages(s);
	}
	s->conv = conv_new();
	if (!s->conv)
		return fail(s, -ENOMEM, "out of memory");
	r = conv_init(s->conv, &co, &m, why, sizeof(why));
	if (r)
		return fail(s, r, "%s", why);
	conv_baseline(s->conv, s->ctr, nr);
	snprintf(s->st->converge.policy, sizeof(s->st->converge.policy), "%s",
		 kvmig_converge_name(s->o.converge));
	snprintf(s->st->converge.mechanism, sizeof(s->st->converge.mechanism),
		 "none");
	pr_info(&s->log, "convergence: policy %s; the VMM offers kernel dirty "
		"limits: %s, its own: %s, a CPU throttle: %s",
		kvmig_converge_name(s->o.converge), m.kernel ? "yes" : "no",
		m.vmm ? "yes" : "no", m.cpu ? "yes" : "no");
	return 0;
}

/* After a pass: the VMM's counters in, the decision and throttle out. */
/* Put @plan in force if it changed, say what changed; it becomes s->plan. */
static int converge_apply(struct source *s, struct conv_plan *plan)
{
	char err[256];
	unsigned int i;
	int r;

	if (plan->changed) {
		r = conv_vmm_apply(s->vmm, plan, &s->plan, s->o.io_stall_us, err,
				   sizeof(err));
		if (r)
			return fail(s, r, "putting the %s in force: %s",
				    conv_mech_name(plan->mech), err);
		if (plan->mech != CONV_MECH_NONE)
			s->throttled = true;
		if (plan->mech == CONV_MECH_CPU)
			pr_info(&s->log, "pass %u: %s; every vCPU's CPU throttled "
				"to %u%%", s->iteration, plan->why, plan->cpu_pct);
		for (i = 0; plan->mech == CONV_MECH_LIMIT && i < plan->nr_vcpus; i++)
			if (plan->limit[i] != s->plan.limit[i])
				pr_info(&s->log, "pass %u: vCPU %u dirties %.1f MiB/s%s: "
					"limit %.1f MiB/s", s->iteration, i,
					plan->rate[i] / (1 << 20),
					plan->io[i] ? " (serves IO)" : "",
					(double)plan->limit[i] / (1 << 20));
	}
	s->plan = *plan;
	return 0;
}

/* Every CONV_TICK_NS of a pass with the guest running: conv_tick(). */
#define CONV_TICK_NS	100000000ULL

static int converge_tick(struct source *s, uint64_t now)
{
	struct conv_tick_sample ts = { .ns = now - s->pass_t0 };
	struct conv_plan plan = s->plan;
	uint64_t est_bytes, est_pages;
	unsigned int nr;
	int r;

	if (!s->conv || s->downtime || now - s->t_tick < CONV_TICK_NS ||
	    !conv_ticks(s->conv))
		return 0;
	s->t_tick = now;
	r = conv_vmm_sample(s->vmm, s->ctr, CONV_MAX_VCPUS, &nr, NULL);
	if (r)
		return fail(s, r, "VMM per-vCPU counters: %s",
			    kvmig_vmm_last_error(s->vmm));
	pipe_estimate(s->pipe, &est_bytes, &est_pages);
	ts.wire_bytes = wire_bytes(s) - s->pass_bytes0;
	if (est_pages > s->pass_est_pages0)
		ts.bytes_per_page = (double)(est_bytes - s->pass_est_bytes0) /
				    (double)(est_pages - s->pass_est_pages0);
	ts.nr_vcpus = nr;
	ts.vcpu = s->ctr;
	conv_tick(s->conv, &ts, &plan);
	if (!plan.changed)
		return 0;
	r = converge_apply(s, &plan);
	if (r)
		return r;
	plan_stats(s->st, &plan);
	return 0;
}

static int converge_pass(struct source *s, struct conv_sample *cs)
{
	struct kvmig_migration_stats *st = s->st;
	uint64_t stall = 0;
	struct conv_plan plan;
	unsigned int nr, i;
	int r;

	r = conv_vmm_sample(s->vmm, s->ctr, CONV_MAX_VCPUS, &nr, NULL);
	if (r)
		return fail(s, r, "VMM per-vCPU counters: %s",
			    kvmig_vmm_last_error(s->vmm));
	converge_rtt(s);
	cs->nr_vcpus = nr;
	cs->vcpu = s->ctr;
	/* besides pages and the sync; with verify, 8 bytes a page of hashes */
	if (s->o.verify)
		count_data_pages(s);
	cs->fixed_ns = switch_fixed_ns(s);
	cs->fixed_bytes = s->o.verify ? (s->dst_codecs & (1U << WIRE_ENC_ZERO_RUN) ?
					 s->data_pages : s->pages) * 8 : 0;
	conv_pass(s->conv, cs, &plan);
	r = converge_apply(s, &plan);
	if (r)
		return r;

	for (i = 0; i < nr; i++)
		stall += s->ctr[i].stall_ns;
	st->converge.dirty_limit_throttle_time_per_round =
		stall >= s->stall_ns ? (stall - s->stall_ns) / 1000 : 0;
	s->stall_ns = stall;
	st->expected_downtime_ms = plan.expected_downtime_ms;
	st->converge.passes_without_progress = plan.progress ? 0 :
		st->converge.passes_without_progress + 1;
	plan_stats(st, &plan);
	return 0;
}

static int run(struct source *s, const char *host, const char *port)
{
	uint64_t words = kvmig_bitmap_words(s->pages), t0, bytes0;
	uint64_t est_bytes0, est_pages0, est_bytes, est_pages;
	struct kvmig_dirty_opts dopts = {
		.sz = sizeof(dopts), .backend = s->o.dirty_backend,
		.print = s->log.fn, .print_opaque = s->log.opaque,
	};
	double bw = 0, bytes_per_page = WIRE_PAGE_SIZE;
	uint64_t sync_ns = 0;
	int64_t sent, dirty = 0;
	unsigned int i;
	int r;

	{
		char *st = NULL;

		r = kvmig_vmm_request(s->vmm, "query-status", NULL, &st, NULL, 0, NULL);
		if (r)
			return fail(s, r, "VMM query-status: %s",
				    kvmig_vmm_last_error(s->vmm));
		s->was_paused = !strstr(st, "\"running\":true");
		free(st);
	}
	r = handshake(s, host, port);
	if (r)
		return r;
	{
		struct pipe_cfg pc = {
			.map = s->map, .ch = s->ch, .nr_ch = s->nr_ch,
			.workers = s->o.workers, .codec = s->o.codec,
			.level = s->o.level, .max_bandwidth = s->o.max_bandwidth,
			.timeout_ms = s->o.timeout_ms, .simd = KVMIG_SIMD_NR,
			.xbzrle = s->o.xbzrle,
			.xbzrle_cache_size = s->o.xbzrle_cache_size,
			.xbzrle_threshold = s->o.xbzrle_threshold,
			.xbzrle_policy = XCACHE_FREQ,
			.log = s->log,
		};

		s->pipe = pipe_new(&pc);
		if (!s->pipe)
			return fail(s, -errno, "starting %u workers: %s", s->nr_ch,
				    strerror(errno));
	}
	s->dirty = kvmig_dirty_remote_new(s->vmm, s->map, &dopts);
	if (!s->dirty)
		return fail(s, -errno, "dirty source: %s", strerror(errno));
	r = kvmig_dirty_start(s->dirty);
	if (r)
		return fail(s, r, "starting dirty logging: %s",
			    kvmig_vmm_last_error(s->vmm));
	s->tracking = true;
	snprintf(s->st->dirty_backend, sizeof(s->st->dirty_backend), "%s",
		 kvmig_dirty_backend_name(kvmig_dirty_remote_backend(s->dirty)));
	r = converge_setup(s);
	if (r)
		return r;
	s->st->setup_time_ms = (kvmig_now_ns() - s->t_start) / 1000000;
	snprintf(s->st->status, sizeof(s->st->status), "active");

	/* pass 0: everything, whatever the first sync says */
	r = sync_dirty(s, &dirty);
	if (r)
		return r;
	for (i = 0; i < words; i++)
		s->bm[i] = ~0ULL;
	if (s->pages % 64)
		s->bm[words - 1] = (1ULL << (s->pages % 64)) - 1;
	s->st->ram.remaining = s->pages * WIRE_PAGE_SIZE;

	for (;;) {
		t0 = kvmig_now_ns();
		bytes0 = wire_bytes(s);
		pipe_estimate(s->pipe, &est_bytes0, &est_pages0);
		sent = send_pass(s, false);
		if (sent < 0)
			return (int)sent;
		{
			double secs = (double)(kvmig_now_ns() - t0) / 1e9;
			uint64_t b = wire_bytes(s) - bytes0;

			if (secs > 0 && b) {
				bw = (double)b / secs;
				s->st->ram.mbps = bw * 8 / 1e6;
				s->st->ram.pages_per_second = (uint64_t)((double)sent / secs);
			}
			/*
			 * What a page that the guest wrote cost on the wire this
			 * pass: the expected-downtime estimate's unit.  Holes
			 * (sent as 16-byte zero entries) are left out: they
			 * cannot be in a later dirty set, and counting them made
			 * pass 0's average a third of the real cost, so a guest
			 * that could not converge "converged" into a downtime
			 * 2.6x the estimate (measured with bench_migrate).
			 */
			pipe_estimate(s->pipe, &est_bytes, &est_pages);
			if (est_pages > est_pages0)
				bytes_per_page = (double)(est_bytes - est_bytes0) /
						 (double)(est_pages - est_pages0);
			memset(s->bm, 0, words * 8);
			sync_ns = kvmig_now_ns();
			r = sync_dirty(s, &dirty);
			if (r)
				return r;
			sync_ns = kvmig_now_ns() - sync_ns;
			/* with what the syncs within the pass kept for this one */
			dirty = 0;
			for (i = 0; i < words; i++) {
				s->bm[i] |= s->next[i];
				s->next[i] = 0;
				dirty += __builtin_popcountll(s->bm[i]);
			}
			if (secs > 0)
				s->st->ram.dirty_pages_rate = (uint64_t)((double)dirty / secs);
		}
		s->st->ram.remaining = (uint64_t)dirty * WIRE_PAGE_SIZE;
		/* the next pass, not begun */
		memset(&s->st->pass, 0, sizeof(s->st->pass));
		s->st->pass.pages = (uint64_t)dirty;
		{
			struct conv_sample cs = {
				.pass_ns = kvmig_now_ns() - t0 - sync_ns,
				.wire_bytes = wire_bytes(s) - bytes0,
				.bytes_per_page = bytes_per_page,
				.dirty_pages = (uint64_t)dirty,
				.sync_ns = sync_ns,
			};

			r = converge_pass(s, &cs);
			if (r)
				return r;
		}
		r = progress(s, true);
		if (r)
			return r;
		if (s->plan.action == CONV_SWITCH) {
			snprintf(s->st->switchover, sizeof(s->st->switchover),
				 "converged");
			break;
		}
		if (s->plan.action == CONV_FORCE) {
			if (s->o.no_force)
				return fail(s, -ETIME, "did not converge: %s "
					    "(dirtying %llu pages/s; limit %u ms)",
					    s->plan.why,
					    (unsigned long long)s->st->ram.dirty_pages_rate,
					    s->o.downtime_limit_ms);
			snprintf(s->st->switchover, sizeof(s->st->switchover),
				 "forced");
			break;
		}
	}

	/* stop-and-copy */
	{
		uint64_t t_down = kvmig_now_ns(), t = t_down, now;
		struct kvmig_migration_stats *st = s->st;

#define DOWNTIME_PART(field) \
	(now = kvmig_now_ns(), st->downtime_parts.field = (now - t) / 1000000, t = now)
		r = vmm_cmd(s, "stop");
		if (r)
			return r;
		s->paused = true;
		DOWNTIME_PART(pause);
		r = sync_dirty(s, &dirty);	/* ORs into what is left */
		if (r)
			return r;
		DOWNTIME_PART(sync);
		sent = send_pass(s, true);
		if (sent < 0)
			return (int)sent;
		DOWNTIME_PART(ram);
		r = send_device_state(s);
		DOWNTIME_PART(device);
		if (!r && s->o.verify)
			r = send_hashes(s);
		DOWNTIME_PART(verify);
		if (!r)
			r = send_to_all(s, WIRE_END);
		if (!r)
			r = wait_complete(s);
		if (!r)
			r = commit(s);
		DOWNTIME_PART(commit);
#undef DOWNTIME_PART
		s->st->downtime_ms = (kvmig_now_ns() - t_down) / 1000000;
		s->st->ram.remaining = 0;
		if (r)
			return r;
	}
	return 0;
}

/*
 * A send failed: the destination may have refused the stream and closed.
 * If it left an ERROR frame on channel 0, its message is the real reason.
 */
static void dest_reason(struct source *s)
{
	struct chan *c = &s->ch[0];
	struct wire_hdr h;
	char err[256], msg[WIRE_MAX_ERROR_MSG + 1];
	size_t len = strlen(s->st->error);

	c->timeout_ms = 500;
	while (!chan_recv(c, &h, err, sizeof(err))) {
		if (h.type != WIRE_ERROR)
			continue;
		chan_parse_error(&h, c->rx, msg, sizeof(msg));
		snprintf(s->st->error + len, sizeof(s->st->error) - len,
			 " (the destination says: %s)", msg);
		return;
	}
}

static int migrate(struct kvmig_vmm *vmm, const char *host,
			       const char *port,
			       const struct kvmig_migrate_opts *opts,
			       struct kvmig_migration_stats *stats)
{
	struct source s = { 0 };
	unsigned int i;
	int r;

	s.vmm = vmm;
	s.st = stats;
	s.log.fn = OPTS_GET(opts, print, NULL);
	s.log.opaque = OPTS_GET(opts, print_opaque, NULL);
	{
		char why[200];

		if (OPTS_CHECK(opts, why, sizeof(why))) {
			snprintf(stats->status, sizeof(stats->status), "failed");
			return fail(&s, -EINVAL, "%s", why);
		}
	}
	s.o.channels = OPTS_GET(opts, channels, 0) ?: 2;
	s.o.max_bandwidth = OPTS_GET(opts, max_bandwidth, 0);
	s.o.downtime_limit_ms = OPTS_GET(opts, downtime_limit_ms, 0) ?: 300;
	s.o.max_iterations = OPTS_GET(opts, max_iterations, 0) ?: 30;
	s.o.no_force = OPTS_GET(opts, no_force, false);
	s.o.dirty_backend = OPTS_GET(opts, dirty_backend, KVMIG_DIRTY_AUTO);
	s.o.verify = OPTS_GET(opts, verify, false);
	s.o.timeout_ms = OPTS_GET(opts, timeout_ms, 0) ?: 30000;
	s.o.progress = OPTS_GET(opts, progress, NULL);
	s.o.progress_opaque = OPTS_GET(opts, progress_opaque, NULL);
	s.o.workers = OPTS_GET(opts, workers, 0) ?: s.o.channels;
	s.o.codec = OPTS_GET(opts, codec, KVMIG_CODEC_NONE);
	s.o.level = OPTS_GET(opts, level, 0);
	s.o.tune = OPTS_GET(opts, tune, NULL);
	s.o.tune_opaque = OPTS_GET(opts, tune_opaque, NULL);
	s.o.xbzrle = OPTS_GET(opts, xbzrle, false);
	s.o.xbzrle_cache_size = OPTS_GET(opts, xbzrle_cache_size, 0) ?: 64ULL << 20;
	s.o.xbzrle_threshold = OPTS_GET(opts, xbzrle_threshold, 0) ?: WIRE_PAGE_SIZE;
	s.o.converge = OPTS_GET(opts, converge, KVMIG_CONVERGE_AUTO);
	s.o.throttle_initial = OPTS_GET(opts, throttle_initial, 0) ?: 20;
	s.o.throttle_increment = OPTS_GET(opts, throttle_increment, 0) ?: 10;
	s.o.throttle_max = OPTS_GET(opts, throttle_max, 0) ?: 99;
	s.o.no_io_aware = OPTS_GET(opts, no_io_aware, false);
	s.o.io_stall_us = OPTS_GET(opts, io_stall_us, 0) ?: 2000;
	s.o.tls_creds = OPTS_GET(opts, tls_creds, NULL);
	s.o.tls_hostname = OPTS_GET(opts, tls_hostname, NULL);
	s.t_start = s.t_progress = kvmig_now_ns();
	show_params(&s);
	if (!vmm || !host || !port || s.o.channels > WIRE_MAX_CHANNELS ||
	    s.o.workers > s.o.channels || (unsigned int)s.o.codec >= KVMIG_CODEC_NR ||
	    !codec_level_ok(s.o.codec, s.o.level) ||
	    s.o.xbzrle_threshold > WIRE_PAGE_SIZE ||
	    (s.o.xbzrle && s.o.xbzrle_cache_size / s.o.channels < 4 * WIRE_PAGE_SIZE)) {
		snprintf(stats->status, sizeof(stats->status), "failed");
		return fail(&s, -EINVAL, "bad arguments (channels 1..%u, workers "
			    "1..channels, codec, level %d for %s, xbzrle-threshold "
			    "1..4096, xbzrle-cache-size at least 16 KiB a channel)",
			    WIRE_MAX_CHANNELS, s.o.level,
			    kvmig_codec_name(s.o.codec) ?: "?");
	}
	s.nr_ch = s.o.channels;
	stats->channels = s.nr_ch;
	s.ch = calloc(s.nr_ch, sizeof(*s.ch));
	for (i = 0; s.ch && i < s.nr_ch; i++)
		s.ch[i].fd = -1;
	s.map = kvmig_vmm_map_memory(vmm);
	if (!s.ch || !s.map) {
		r = fail(&s, s.map ? -ENOMEM : -errno, "%s", s.map ? "out of memory" :
			 "mapping the guest RAM from the VMM");
		goto out;
	}
	s.pages = kvmig_memmap_pages(s.map);
	s.holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
	stats->ram.total = kvmig_memmap_bytes(s.map);
	s.bm = calloc(kvmig_bitmap_words(s.pages), 8);
	s.next = calloc(kvmig_bitmap_words(s.pages), 8);
	s.mid = calloc(kvmig_bitmap_words(s.pages), 8);
	if (!s.bm || !s.next || !s.mid) {
		r = fail(&s, -ENOMEM, "out of memory");
		goto out;
	}
	if (s.o.tls_creds) {
		char err[512];

		s.tls = tls_creds_new(TLS_CLIENT, s.o.tls_creds, NULL, err, sizeof(err));
		if (!s.tls) {
			r = fail(&s, -errno, "%s", err);
			goto out;
		}
	}
	r = run(&s, host, port);
out:
	if (s.pipe) {
		/* stop the workers first: then the channels are ours again */
		pipe_stats(s.pipe, stats);
		pipe_free(s.pipe);
		s.pipe = NULL;
	}
	if (r && s.ch && s.ch[0].fd >= 0) {
		dest_reason(&s);	/* did the destination say why? */
		chan_send_error(&s.ch[0], r, stats->error);	/* best effort */
	}
	if (s.throttled) {
		/* no vCPU stays slowed, whatever the outcome */
		int e = conv_vmm_clear(vmm, true, s.plan.mech == CONV_MECH_CPU ||
				       s.st->converge.cpu_throttle_percentage);

		if (e)
			pr_err(&s.log, "could not remove the convergence throttle: %s",
			       e == -EREMOTEIO ? kvmig_vmm_last_error(vmm) :
			       strerror(-e));
	}
	conv_free(s.conv);
	if (r && s.paused && !s.was_paused && !s.committed) {
		/* never leave the guest stopped for a migration that failed */
		if (kvmig_vmm_request(vmm, "cont", NULL, NULL, NULL, 0, NULL))
			pr_err(&s.log, "could not resume the VM: %s",
			       kvmig_vmm_last_error(vmm));
	}
	if (s.tracking)
		kvmig_dirty_stop(s.dirty);
	kvmig_dirty_free(s.dirty);
	for (i = 0; s.ch && i < s.nr_ch; i++)
		chan_fini(&s.ch[i]);	/* keeps the byte counts */
	tls_creds_free(s.tls);
	stats->ram.transferred = s.ch ? wire_bytes(&s) : 0;
	stats->total_time_ms = (kvmig_now_ns() - s.t_start) / 1000000;
	snprintf(stats->status, sizeof(stats->status), "%s", !r ? "completed" :
		 r == -ECANCELED ? "cancelled" : "failed");
	if (s.o.progress)
		s.o.progress(stats, s.o.progress_opaque);
	free(s.ch);
	free(s.bm);
	free(s.next);
	free(s.mid);
	kvmig_memmap_free(s.map);
	return r;
}

KVMIG_EXPORT int kvmig_migrate(struct kvmig_vmm *vmm, const char *host, const char *port,
		  const struct kvmig_migrate_opts *opts,
		  struct kvmig_migration_stats *stats)
{
	struct kvmig_migration_stats *full = kvmig_stats_begin(stats);
	int r;

	if (!full)
		return -errno;
	r = migrate(vmm, host, port, opts, full);
	kvmig_stats_end(stats, full);
	return r;
}
