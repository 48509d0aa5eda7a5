// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Convergence: the estimator, the switchover decision and the throttle
 * policy, fed one sample per pass by the source (source.c).
 *
 * Expected downtime.  The next stop-and-copy sends the dirty set the pass
 * left, each page at the wire bytes a data page really took in that pass
 * (encoded: zero pages, XBZRLE, compression), and the other bytes of the
 * switchover (the page hashes with verify), at the wire bandwidth (an
 * average over the passes, half weight to the last), plus the final dirty
 * sync as the last one took, plus the fixed costs the source measured
 * (pausing the vCPUs, device state, the commit's round trips, hashing).
 *
 * Progress.  A pass shrinks the dirty set by the factor
 *   q = next set / this set ~ dirty rate x wire bytes per page / bandwidth:
 * with q >= 0.9 the passes make no progress, and another pass costs link
 * time for nothing.  The set is compared with the smallest of the last
 * three, so that a set that swings (a burst, a late harvest) does not pass
 * for progress every other pass.  Then the policy acts at once:
 *
 *   dirty-limit   the vCPUs' dirty rates (bytes/s, from the VMM's per-vCPU
 *                 counters) must sum to what gives the shrink factor that
 *                 brings the dirty set to 3/4 of what fits the downtime
 *                 limit in one pass, q = 0.75 x fitting set / dirty set,
 *                 kept within [0.3, 0.8] (each pass costs link time: one
 *                 more is cheaper than the guest's lost speed only when the
 *                 set is already small; the quarter is headroom for the
 *                 estimate, measured: aiming at the whole fitting set
 *                 overshot the limit by 3% in bench_converge):
 *                     budget = q x factor x bandwidth x 4096 / bytes per page
 *                 shared max-min fair (water-filling): a vCPU that dirties
 *                 less than its fair share keeps its rate, the rest share
 *                 what is left equally.  IO-aware: vCPUs that serve IO are
 *                 served first, at their own rate, out of up to half the
 *                 link (x factor) even where the budget is less, the rest
 *                 then sharing what is left of the budget; they get an IO
 *                 stall bound if they must be limited at all.  A pass that
 *                 still makes no progress tightens (factor x 0.6); one that
 *                 shrinks the set to less than 0.3 relaxes (x 1.25, up to 1).
 *                 Ticks (conv_tick()): every 100 ms of a pass the vCPUs'
 *                 rates are read again, and a guest that outruns the link
 *                 is limited then, at q = 0.3, not at the pass's end; in
 *                 pass 0 the link's rate is learnt tick by tick, and limits
 *                 set on a rate that proves 15% too high are set again:
 *                 bench_converge, 2x the link, total time / link time of
 *                 the working set 2.68 -> 1.63 with ticks and one-pass aim,
 *                 -> 1.18-1.31 with the syncs within a pass (source.c).
 *   auto-converge every vCPU's CPU time, throttle_initial %, then
 *                 + throttle_increment per pass without progress, capped.
 *   none          force the switchover after 3 passes without progress.
 *
 * A throttle that is at its floor (CPU at the cap, or every limit at
 * 4 KiB/s) and 3 more passes without progress: force.  max_iterations
 * passes: force.  The source turns a force into a failure with no_force.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "converge.h"

#define CONV_PROGRESS		0.9	/* q below this is progress */
#define CONV_Q_MIN		0.3	/* the shrink factors limits aim at */
#define CONV_Q_MAX		0.8
#define CONV_AIM		0.75	/* of the fitting set: the next pass's aim */
#define CONV_TIGHTEN		0.6
#define CONV_IO_SHARE		0.5	/* of the link, IO vCPUs' at most */
#define CONV_RELAX		1.25
#define CONV_STUCK_FORCE	3	/* passes without progress before forcing */
#define CONV_MIN_LIMIT		4096ULL	/* the kernel's smallest rate */
#define CONV_BW_MIN_BYTES	(1ULL << 20)	/* a pass that measures the link */
#define CONV_TICK_MIN_NS	100000000ULL	/* rates over less say little */
#define CONV_SLOWER		0.85	/* a link this much slower: new limits */

struct conv {
	struct conv_opts o;
	struct conv_mechs m;
	unsigned int passes;		/* samples seen */
	double bw;			/* smoothed wire bytes/s */
	uint64_t prev_dirty[3];		/* the last passes' dirty sets */
	unsigned int stuck;		/* consecutive passes without progress */
	unsigned int stuck_at_floor;	/* ... while the throttle was at its floor */
	double factor;			/* dirty-limit: tightening, (0, 1] */
	enum conv_mech mech;
	uint32_t cpu_pct;
	uint64_t limit[CONV_MAX_VCPUS];
	struct conv_vcpu last[CONV_MAX_VCPUS];
	unsigned int nr_last;
	/* ticks: the counters at the last tick (or pass end), and when */
	struct conv_vcpu tick[CONV_MAX_VCPUS];
	uint64_t tick_ns;		/* into the pass */
	uint64_t tick_wire;		/* the pass's wire bytes then */
	double tick_bw;			/* the pass's link rate, tick by tick */
	double limit_bw;		/* the link rate the limits assume */
};

static const char *const policy_names[KVMIG_CONVERGE_NR] = {
	[KVMIG_CONVERGE_AUTO] = "auto",
	[KVMIG_CONVERGE_NONE] = "none",
	[KVMIG_CONVERGE_AUTO_CONVERGE] = "auto-converge",
	[KVMIG_CONVERGE_DIRTY_LIMIT] = "dirty-limit",
};

KVMIG_EXPORT const char *kvmig_converge_name(enum kvmig_converge c)
{
	return (unsigned int)c < KVMIG_CONVERGE_NR ? policy_names[c] : "?";
}

KVMIG_EXPORT int kvmig_converge_parse(const char *name, enum kvmig_converge *c)
{
	unsigned int i;

	for (i = 0; i < KVMIG_CONVERGE_NR; i++) {
		if (!strcmp(name, policy_names[i])) {
			*c = (enum kvmig_converge)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *conv_mech_name(enum conv_mech m)
{
	switch (m) {
	case CONV_MECH_LIMIT:
		return "dirty-limit";
	case CONV_MECH_CPU:
		return "cpu-throttle";
	default:
		return "none";
	}
}

struct conv *conv_new(void)
{
	return calloc(1, sizeof(struct conv));
}

void conv_free(struct conv *c)
{
	free(c);
}

/* The knobs that may change while a migration runs, checked once, here. */
static int knobs_ok(const struct conv_opts *o, char *why, size_t len)
{
	if (o->throttle_initial < 1 || o->throttle_max > 99 ||
	    o->throttle_initial > o->throttle_max || o->throttle_increment < 1 ||
	    o->throttle_increment > 99) {
		snprintf(why, len, "CPU throttle: initial %u%%, increment %u%%, "
			 "cap %u%%: want 1 <= initial <= cap <= 99, increment 1..99",
			 o->throttle_initial, o->throttle_increment, o->throttle_max);
		return -EINVAL;
	}
	if (o->downtime_limit_ms < 1 || o->downtime_limit_ms > 3600000) {
		snprintf(why, len, "downtime limit %u ms: want 1..3600000",
			 o->downtime_limit_ms);
		return -EINVAL;
	}
	if (o->io_stall_us < 1 || o->io_stall_us > 1000000) {
		snprintf(why, len, "IO stall %u us: want 1..1000000", o->io_stall_us);
		return -EINVAL;
	}
	return 0;
}

int conv_init(struct conv *c, const struct conv_opts *o,
	      const struct conv_mechs *mechs, char *why, size_t len)
{
	int r;

	if ((unsigned int)o->policy >= KVMIG_CONVERGE_NR) {
		snprintf(why, len, "unknown convergence policy %d", o->policy);
		return -EINVAL;
	}
	r = knobs_ok(o, why, len);
	if (r)
		return r;
	if (o->policy == KVMIG_CONVERGE_DIRTY_LIMIT && !mechs->kernel && !mechs->vmm) {
		snprintf(why, len, "dirty-limit: the VMM can limit no vCPU's dirty "
			 "rate (neither the kernel's KVM_CAP_DIRTY_RATE_LIMIT nor "
			 "a limit of its own)");
		return -EOPNOTSUPP;
	}
	if (o->policy == KVMIG_CONVERGE_AUTO_CONVERGE && !mechs->cpu) {
		snprintf(why, len, "auto-converge: the VMM cannot throttle its "
			 "vCPUs' CPU time");
		return -EOPNOTSUPP;
	}
	memset(c, 0, sizeof(*c));
	c->o = *o;
	c->m = *mechs;
	c->factor = 1;
	return 0;
}

/* The mechanism the policy uses, given what came in. */
static enum conv_mech pick_mech(const struct conv *c, bool per_vcpu)
{
	bool limit = (c->m.kernel || c->m.vmm) && per_vcpu;

	switch (c->o.policy) {
	case KVMIG_CONVERGE_DIRTY_LIMIT:
		return limit ? CONV_MECH_LIMIT : CONV_MECH_NONE;
	case KVMIG_CONVERGE_AUTO_CONVERGE:
		return CONV_MECH_CPU;
	case KVMIG_CONVERGE_AUTO:
		return limit ? CONV_MECH_LIMIT : c->m.cpu ? CONV_MECH_CPU :
		       CONV_MECH_NONE;
	default:
		return CONV_MECH_NONE;
	}
}

/*
 * Share @budget bytes/s between the vCPUs, max-min fair.  When io_aware,
 * the vCPUs that serve IO go first, out of @io_budget (at least @budget):
 * each keeps its own rate if its fair share of @io_budget allows, and what
 * they keep comes off @budget for the others.  A vCPU's rate counts every
 * first write after a re-arm, so a vCPU that rewrites a handful of pages
 * (an IO loop's stack and counters) dirties in proportion to how often the
 * source syncs, not to what it costs the link: measured in the kernel lab,
 * 0.4 MB/s with one sync per pass, 2.9 MB/s with one every 200 ms, for
 * the same few pages.  Holding IO vCPUs to @budget alone would then limit
 * them exactly when the link is slow and the syncs frequent.  Then the
 * others share what is left.  A vCPU that is limited wants more than it
 * gets (its rate shows the limit, not its appetite): its demand is
 * unbounded, so it stays limited until the migration ends, at whatever the
 * budget allows; lifting a limit because one pass measured the vCPU under
 * it would let it burst and blow the switchover's estimate.  Sets
 * p->limit[]; returns true if every limited vCPU sits at the floor.
 */
static bool water_fill(struct conv *c, struct conv_plan *p, double budget,
		       double io_budget)
{
	double demand[CONV_MAX_VCPUS], avail;
	bool done[CONV_MAX_VCPUS] = { false };
	unsigned int i, left, round;
	bool floor = true, any = false;

	for (i = 0; i < p->nr_vcpus; i++) {
		demand[i] = c->limit[i] ? 1e300 : p->rate[i];
		p->limit[i] = 0;
	}
	if (io_budget < budget)
		io_budget = budget;
	/* round 0: IO vCPUs, round 1: the rest (all in round 1 if not io_aware) */
	for (round = 0; round < 2; round++) {
		avail = round ? budget : io_budget;
		for (;;) {
			double share;
			bool moved = false;

			left = 0;
			for (i = 0; i < p->nr_vcpus; i++)
				if (!done[i] && (round || (c->o.io_aware && p->io[i])))
					left++;
			if (!left)
				break;
			share = avail > 0 ? avail / left : 0;
			for (i = 0; i < p->nr_vcpus; i++) {
				if (done[i] || !(round || (c->o.io_aware && p->io[i])))
					continue;
				if (demand[i] <= share) {
					avail -= demand[i];
					budget -= demand[i];
					done[i] = true;
					moved = true;
				}
			}
			if (moved)
				continue;
			/* everyone left wants more than the share: limit them */
			if (round == 0 && !c->o.io_aware)
				break;
			for (i = 0; i < p->nr_vcpus; i++) {
				uint64_t l;

				if (done[i] || !(round || (c->o.io_aware && p->io[i])))
					continue;
				l = share > (double)CONV_MIN_LIMIT ?
				    (uint64_t)share & ~4095ULL : CONV_MIN_LIMIT;
				p->limit[i] = l;
				floor &= l == CONV_MIN_LIMIT;
				any = true;
				done[i] = true;
				budget -= share;
			}
			break;
		}
	}
	return any && floor;
}

void conv_baseline(struct conv *c, const struct conv_vcpu *v, unsigned int nr)
{
	if (!nr || nr > CONV_MAX_VCPUS)
		return;
	memcpy(c->last, v, nr * sizeof(c->last[0]));
	memcpy(c->tick, v, nr * sizeof(c->tick[0]));
	c->tick_ns = 0;
	c->tick_wire = 0;
	c->tick_bw = 0;
	c->nr_last = nr;
}

int conv_tune(struct conv *c, const struct conv_opts *o, struct conv_plan *p,
	      char *why, size_t len)
{
	int r = knobs_ok(o, why, len);

	if (r)
		return r;
	c->o.downtime_limit_ms = o->downtime_limit_ms;
	c->o.io_aware = o->io_aware;
	c->o.io_stall_us = o->io_stall_us;
	c->o.throttle_initial = o->throttle_initial;
	c->o.throttle_increment = o->throttle_increment;
	c->o.throttle_max = o->throttle_max;
	/* a throttle above the new cap comes down now, not after a pass */
	if (c->mech == CONV_MECH_CPU && c->cpu_pct > o->throttle_max) {
		c->cpu_pct = o->throttle_max;
		p->cpu_pct = o->throttle_max;
		p->changed = true;
	}
	return 0;
}

void conv_pass(struct conv *c, const struct conv_sample *s, struct conv_plan *p)
{
	double secs = (double)s->pass_ns / 1e9, bpp, cur;
	bool per_vcpu, at_floor = false;
	enum conv_mech mech;
	unsigned int i;

	memset(p, 0, sizeof(*p));
	/*
	 * A pass that sent little measures latency, not the link: it counts
	 * only if it moved a MiB and took 20 ms (or nothing better is known).
	 */
	if (secs > 0 && s->wire_bytes &&
	    ((s->wire_bytes >= CONV_BW_MIN_BYTES && secs >= 0.02) || c->bw <= 0)) {
		cur = (double)s->wire_bytes / secs;
		c->bw = c->bw > 0 ? 0.5 * c->bw + 0.5 * cur : cur;
	}
	p->bandwidth = c->bw;
	bpp = s->bytes_per_page > 0 ? s->bytes_per_page : 4096;
	p->expected_downtime_ms = (uint64_t)(((c->bw > 0 ?
		((double)s->dirty_pages * bpp + (double)s->fixed_bytes) / c->bw * 1e9 :
		1e15) + (double)s->sync_ns + (double)s->fixed_ns) / 1e6);

	/* progress: the dirty set shrinks below the smallest of the last three */
	{
		uint64_t best = 0;

		for (i = 0; i < 3 && i < c->passes; i++)
			if (!best || c->prev_dirty[i] < best)
				best = c->prev_dirty[i];
		p->shrink = best ? (double)s->dirty_pages / (double)best : 0;
		p->progress = !c->passes || p->shrink < CONV_PROGRESS;
		c->stuck = p->progress ? 0 : c->stuck + 1;
		memmove(&c->prev_dirty[1], &c->prev_dirty[0], 2 * sizeof(c->prev_dirty[0]));
		c->prev_dirty[0] = s->dirty_pages;
		c->passes++;
	}

	/* per-vCPU rates over this pass, from the VMM's cumulative counters */
	per_vcpu = s->nr_vcpus && s->vcpu && s->nr_vcpus <= CONV_MAX_VCPUS;
	p->nr_vcpus = per_vcpu ? s->nr_vcpus : 0;
	if (per_vcpu && c->nr_last == s->nr_vcpus && secs > 0) {
		for (i = 0; i < s->nr_vcpus; i++) {
			uint64_t d = s->vcpu[i].dirty_bytes - c->last[i].dirty_bytes;
			uint64_t io = s->vcpu[i].io_exits - c->last[i].io_exits;

			p->rate[i] = (double)d / secs;
			p->io_rate[i] = (double)io / secs;
			p->io[i] = p->io_rate[i] >= c->o.io_rate_min;
		}
	} else {
		per_vcpu = false;	/* rates from the next pass on */
	}
	if (s->nr_vcpus && s->vcpu && s->nr_vcpus <= CONV_MAX_VCPUS) {
		memcpy(c->last, s->vcpu, s->nr_vcpus * sizeof(c->last[0]));
		memcpy(c->tick, s->vcpu, s->nr_vcpus * sizeof(c->tick[0]));
		c->nr_last = s->nr_vcpus;
	}
	c->tick_ns = 0;
	c->tick_wire = 0;
	c->tick_bw = 0;

	/*
	 * The throttle: engaged at the first pass without progress, or as soon
	 * as the vCPUs' rates say the next pass cannot make any (they dirty
	 * more than 0.9 of what the link carries), pass 0 included.
	 */
	if (per_vcpu && c->bw > 0 && c->mech == CONV_MECH_NONE) {
		double total = 0;

		for (i = 0; i < p->nr_vcpus; i++)
			total += p->rate[i];
		if (total * bpp / 4096 >= CONV_PROGRESS * c->bw)
			p->progress = false;
	}
	mech = c->mech;
	if (!p->progress && c->o.policy != KVMIG_CONVERGE_NONE) {
		if (mech == CONV_MECH_NONE)
			mech = pick_mech(c, per_vcpu);
		if (mech == CONV_MECH_CPU) {
			if (c->mech != CONV_MECH_CPU)
				c->cpu_pct = c->o.throttle_initial;
			else if (c->cpu_pct < c->o.throttle_max)
				c->cpu_pct = c->cpu_pct + c->o.throttle_increment >
					     c->o.throttle_max ? c->o.throttle_max :
					     c->cpu_pct + c->o.throttle_increment;
			else
				at_floor = true;
		} else if (mech == CONV_MECH_LIMIT && c->mech == CONV_MECH_LIMIT) {
			c->factor *= CONV_TIGHTEN;
		}
	} else if (c->mech == CONV_MECH_LIMIT && p->progress && p->shrink < 0.3) {
		c->factor = c->factor * CONV_RELAX > 1 ? 1 : c->factor * CONV_RELAX;
	}
	if (mech == CONV_MECH_LIMIT && !per_vcpu)
		mech = c->mech == CONV_MECH_LIMIT ? CONV_MECH_LIMIT : CONV_MECH_NONE;
	p->changed = mech != c->mech;
	c->mech = mech;
	p->mech = mech;
	if (mech == CONV_MECH_CPU) {
		p->changed |= p->cpu_pct != c->cpu_pct;
		p->cpu_pct = c->cpu_pct;
	} else if (mech == CONV_MECH_LIMIT && per_vcpu) {
		/* the set that fits the limit, at this bandwidth */
		double fit = ((double)c->o.downtime_limit_ms * 1e6 -
			      (double)s->sync_ns - (double)s->fixed_ns) / 1e9 *
			     c->bw / bpp - (double)s->fixed_bytes / bpp;
		double q = fit > 0 && s->dirty_pages ?
			   CONV_AIM * fit / (double)s->dirty_pages : CONV_Q_MIN;
		double budget;

		q = q < CONV_Q_MIN ? CONV_Q_MIN : q > CONV_Q_MAX ? CONV_Q_MAX : q;
		budget = q * c->factor * c->bw * 4096 / bpp;

		at_floor = water_fill(c, p, budget, CONV_IO_SHARE * c->factor *
				      c->bw * 4096 / bpp) && !p->progress;
		c->limit_bw = c->bw;
		for (i = 0; i < p->nr_vcpus; i++) {
			p->changed |= p->limit[i] != c->limit[i];
			c->limit[i] = p->limit[i];
		}
	} else if (mech == CONV_MECH_LIMIT) {
		/* no new rates this pass: keep the limits in force */
		memcpy(p->limit, c->limit, sizeof(p->limit));
		p->nr_vcpus = c->nr_last;
	}
	c->stuck_at_floor = at_floor ? c->stuck_at_floor + 1 : 0;

	/* the decision */
	if (p->expected_downtime_ms <= c->o.downtime_limit_ms) {
		p->action = CONV_SWITCH;
		snprintf(p->why, sizeof(p->why), "converged: expected downtime "
			 "%llu ms <= %u ms", (unsigned long long)p->expected_downtime_ms,
			 c->o.downtime_limit_ms);
	} else if (c->bw > 0 && (double)s->dirty_pages * bpp / c->bw * 1e3 <
		   0.1 * c->o.downtime_limit_ms) {
		/* no throttle makes the rest smaller: pages are not the problem */
		p->action = CONV_SWITCH;
		snprintf(p->why, sizeof(p->why), "converged: the pages take under "
			 "a tenth of the limit; the switchover's fixed costs alone "
			 "are expected to take %llu ms > %u ms",
			 (unsigned long long)p->expected_downtime_ms,
			 c->o.downtime_limit_ms);
	} else if (c->passes >= c->o.max_iterations) {
		p->action = CONV_FORCE;
		snprintf(p->why, sizeof(p->why), "%u passes (max-iterations), "
			 "expected downtime %llu ms", c->passes,
			 (unsigned long long)p->expected_downtime_ms);
	} else if (mech == CONV_MECH_NONE && c->stuck >= CONV_STUCK_FORCE) {
		p->action = CONV_FORCE;
		snprintf(p->why, sizeof(p->why), "no progress for %u passes and "
			 "nothing to slow the guest with (policy %s)", c->stuck,
			 kvmig_converge_name(c->o.policy));
	} else if (c->stuck_at_floor >= CONV_STUCK_FORCE) {
		p->action = CONV_FORCE;
		snprintf(p->why, sizeof(p->why), "no progress for %u passes with "
			 "the %s at its floor", c->stuck_at_floor,
			 conv_mech_name(mech));
	} else {
		p->action = CONV_GO_ON;
		snprintf(p->why, sizeof(p->why), "%s, dirty set x%.2f",
			 p->progress ? "progress" : "no progress", p->shrink);
	}
}

/*
 * A tick, during a pass: the per-vCPU rates since the last tick, and, with
 * dirty-rate limits, act now instead of at the pass's end.  A guest that
 * dirties more than CONV_PROGRESS of what the link carries gets its limits
 * within the pass (pass 0 included, where the link's rate is that of the
 * pass so far); so does a vCPU that starts dirtying fast under limits that
 * were shared out without it.  The budget aims at the smallest shrink
 * factor, q = CONV_Q_MIN: a pass that cannot shrink the set is a pass
 * wasted; the pass's end relaxes what the next one does not need.
 */
bool conv_ticks(const struct conv *c)
{
	return pick_mech(c, true) == CONV_MECH_LIMIT &&
	       (c->mech == CONV_MECH_NONE || c->mech == CONV_MECH_LIMIT);
}

void conv_tick(struct conv *c, const struct conv_tick_sample *s,
	       struct conv_plan *p)
{
	double secs = (double)(s->ns - c->tick_ns) / 1e9, bw, bpp, total = 0, budget;
	double rate[CONV_MAX_VCPUS], io_rate[CONV_MAX_VCPUS];
	unsigned int i, nr = s->nr_vcpus;
	bool escaped = false, slower = false;

	p->changed = false;
	if (!nr || nr > CONV_MAX_VCPUS || !s->vcpu || nr != c->nr_last ||
	    s->ns < c->tick_ns + CONV_TICK_MIN_NS)
		return;
	for (i = 0; i < nr; i++) {
		rate[i] = (double)(s->vcpu[i].dirty_bytes - c->tick[i].dirty_bytes) / secs;
		io_rate[i] = (double)(s->vcpu[i].io_exits - c->tick[i].io_exits) / secs;
		total += rate[i];
	}
	memcpy(c->tick, s->vcpu, nr * sizeof(c->tick[0]));
	c->tick_ns = s->ns;
	/*
	 * The link's rate within the pass, tick by tick, half weight to the
	 * last: the first tick's bytes include what filled the sockets'
	 * buffers at once (measured: 1.5x the link 100 ms into pass 0), the
	 * later ones what the link carried.
	 */
	if (s->wire_bytes >= c->tick_wire) {
		double cur = (double)(s->wire_bytes - c->tick_wire) / secs;

		c->tick_bw = c->tick_bw > 0 ? 0.5 * c->tick_bw + 0.5 * cur : cur;
	}
	c->tick_wire = s->wire_bytes;
	if (!conv_ticks(c))
		return;
	bw = c->bw > 0 ? c->bw : c->tick_bw;
	if (bw <= 0)
		return;
	bpp = s->bytes_per_page > 0 ? s->bytes_per_page : 4096;
	budget = CONV_Q_MIN * c->factor * bw * 4096 / bpp;
	if (c->mech == CONV_MECH_NONE) {
		if (total * bpp / 4096 < CONV_PROGRESS * bw)
			return;		/* the link keeps up */
	} else {
		/* limits in force: act only for a vCPU that escaped them */
		for (i = 0; i < nr; i++)
			escaped |= !c->limit[i] && rate[i] > budget / nr &&
				   !(c->o.io_aware && io_rate[i] >= c->o.io_rate_min);
		/* ... or when the link proved slower than they assumed */
		slower = c->limit_bw > 0 && bw < CONV_SLOWER * c->limit_bw;
		if (!escaped && !slower)
			return;
	}
	p->nr_vcpus = nr;
	for (i = 0; i < nr; i++) {
		p->rate[i] = rate[i];
		p->io_rate[i] = io_rate[i];
		p->io[i] = io_rate[i] >= c->o.io_rate_min;
	}
	water_fill(c, p, budget, CONV_IO_SHARE * c->factor * bw * 4096 / bpp);
	c->limit_bw = bw;
	p->mech = CONV_MECH_LIMIT;
	p->changed = c->mech != CONV_MECH_LIMIT;
	for (i = 0; i < nr; i++) {
		p->changed |= p->limit[i] != c->limit[i];
		c->limit[i] = p->limit[i];
	}
	c->mech = CONV_MECH_LIMIT;
	snprintf(p->why, sizeof(p->why), "%.1f s into the pass, the vCPUs dirty "
		 "%.1f MiB/s against a link of %.1f MB/s: limits",
		 (double)s->ns / 1e9, total / (1 << 20), bw / 1e6);
}
