/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Convergence (converge.c): from what a pass measured, the expected
 * downtime, whether the migration makes progress, when to switch over, and
 * how to slow the guest when it does not converge.  Pure logic: no I/O, no
 * clock; the source (source.c) feeds it samples and applies its plans.
 */
#ifndef KVMIG_CONVERGE_H
#define KVMIG_CONVERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmig/kvmig.h"

#define CONV_MAX_VCPUS		64

/* What the VMM can do to slow vCPUs (query-vcpu-dirty-limit). */
struct conv_mechs {
	bool kernel;		/* KVM holds per-vCPU byte limits */
	bool vmm;		/* the VMM holds them in its vCPU threads */
	bool cpu;		/* the VMM throttles vCPUs' CPU time */
};

struct conv_opts {
	enum kvmig_converge policy;
	uint32_t downtime_limit_ms;
	uint32_t max_iterations;
	bool io_aware;			/* spare vCPUs that serve IO */
	uint32_t io_stall_us;		/* their longest stall (limits) */
	double io_rate_min;		/* IO exits/s from which a vCPU serves IO */
	uint32_t throttle_initial;	/* auto-converge, percent */
	uint32_t throttle_increment;
	uint32_t throttle_max;
};

/* A vCPU's counters at the end of a pass (cumulative, as the VMM reports). */
struct conv_vcpu {
	uint64_t dirty_bytes;		/* bytes it dirtied in logged memory */
	uint64_t io_exits;		/* port IO / MMIO exits */
	uint64_t stall_ns;		/* slept for its limit (statistics only) */
};

/* What one pass measured. */
struct conv_sample {
	uint64_t pass_ns;		/* the pass's duration */
	uint64_t wire_bytes;		/* bytes it put on the wire */
	double bytes_per_page;		/* wire bytes per data page it sent */
	uint64_t dirty_pages;		/* the dirty set it left: the next pass */
	uint64_t sync_ns;		/* the dirty sync after it */
	uint64_t fixed_ns;		/* switchover costs besides the pages:
					 * pausing, device state, round trips,
					 * hashing (verify) */
	uint64_t fixed_bytes;		/* wire bytes besides the pages: the
					 * page hashes (verify) */
	unsigned int nr_vcpus;		/* 0: no per-vCPU counters */
	const struct conv_vcpu *vcpu;
};

enum conv_action {
	CONV_GO_ON,		/* another pass */
	CONV_SWITCH,		/* the expected downtime fits: stop-and-copy */
	CONV_FORCE,		/* give up converging: stop-and-copy anyway */
};

enum conv_mech {
	CONV_MECH_NONE,
	CONV_MECH_LIMIT,	/* per-vCPU byte-rate limits */
	CONV_MECH_CPU,		/* CPU-time throttle of every vCPU */
};

/* The decision after a pass, and the throttle to apply. */
struct conv_plan {
	enum conv_action action;
	char why[160];			/* a sentence for logs and stats */
	uint64_t expected_downtime_ms;
	double bandwidth;		/* wire bytes/s, smoothed */
	double shrink;			/* dirty set / previous one */
	bool progress;			/* the dirty set shrinks */
	enum conv_mech mech;		/* what the policy uses now */
	uint32_t cpu_pct;		/* CPU: every vCPU's throttle */
	unsigned int nr_vcpus;
	double rate[CONV_MAX_VCPUS];	/* measured dirty bytes/s */
	double io_rate[CONV_MAX_VCPUS];	/* IO exits/s */
	bool io[CONV_MAX_VCPUS];	/* serves IO (spared when io_aware) */
	uint64_t limit[CONV_MAX_VCPUS];	/* LIMIT: bytes/s, 0 = none */
	bool changed;			/* mech, cpu_pct or a limit changed */
};

struct conv;

/*
 * @mechs: what the VMM offers; 0 or -EINVAL (bad options; @why says).
 * The policy auto picks per-vCPU limits if the VMM has them (kernel or
 * vmm) and per-vCPU counters come in, else the CPU throttle, else none.
 */
int conv_init(struct conv *c, const struct conv_opts *o,
	      const struct conv_mechs *mechs, char *why, size_t len);
struct conv *conv_new(void);
void conv_free(struct conv *c);
/* The vCPUs' counters before pass 0, so that pass 0 gives rates too. */
void conv_baseline(struct conv *c, const struct conv_vcpu *v, unsigned int nr);
/*
 * The knobs that may change while a migration runs (kvmig set): the
 * downtime limit, io_aware, io_stall_us and the CPU throttle's initial,
 * increment and cap, from @o (the rest of @o is ignored); 0, or -EINVAL
 * with @why and nothing changed.  A CPU throttle in force above a new cap
 * is lowered in @p at once (p->changed set): the caller applies @p.
 */
int conv_tune(struct conv *c, const struct conv_opts *o, struct conv_plan *p,
	      char *why, size_t len);
/* After each pass (the first is pass 0, all of RAM). */
void conv_pass(struct conv *c, const struct conv_sample *s, struct conv_plan *p);
/* What a tick measured, during a pass (counters cumulative, as above). */
struct conv_tick_sample {
	uint64_t ns;			/* since the pass began */
	uint64_t wire_bytes;		/* the pass's, so far */
	double bytes_per_page;		/* wire bytes per data page, 0: unknown */
	unsigned int nr_vcpus;
	const struct conv_vcpu *vcpu;
};

/*
 * During a pass, every few hundred ms: with dirty-rate limits, a guest
 * that outruns the link is limited now, not at the pass's end.  @p holds
 * the plan in force; it is changed in place (p->changed says so) and must
 * then be applied.  Rates over less than 200 ms are not used.
 */
void conv_tick(struct conv *c, const struct conv_tick_sample *s,
	       struct conv_plan *p);
/* Whether ticks can act (the policy uses dirty-rate limits): sample only then. */
bool conv_ticks(const struct conv *c);
/* "none", "dirty-limit", "cpu-throttle" */
const char *conv_mech_name(enum conv_mech m);

#endif /* KVMIG_CONVERGE_H */
