// SPDX-License-Identifier: GPL-2.0
/*
 * converge.c on synthetic guests: the expected-downtime formula, the
 * switchover decision, the policies (none, auto-converge, dirty-limit,
 * auto) and IO awareness, against a model of a migration.
 *
 * The model: a guest of RAM_PAGES pages whose vCPUs each dirty a working
 * set at some raw rate (bytes/s); a pass sends the dirty set at the link's
 * bandwidth, each page costing BPP wire bytes, and meanwhile each vCPU
 * dirties rate x time, capped by its limit (or slowed by the CPU throttle),
 * up to its working set.  Its counters accumulate as a VMM's would.
 */
#include "harness.h"
#include "kvmig/kvmig.h"
#include "../../user/lib/converge.h"

#define RAM_PAGES	65536ULL		/* 256 MiB */
#define LINK		125e6			/* 1 Gbit/s, wire bytes/s */
#define BPP		(4096.0 + 16)

struct model {
	unsigned int nr;
	double rate[4];			/* raw bytes/s each vCPU wants */
	double ws[4];			/* its working set, pages */
	double io_rate[4];		/* its IO exits/s */
	struct conv_vcpu ctr[4];	/* cumulative counters */
	uint64_t dirty;			/* the set the next pass sends */
	uint64_t limit[4];
	uint32_t cpu_pct;
};

static const struct conv_opts defaults = {
	.policy = KVMIG_CONVERGE_AUTO, .downtime_limit_ms = 300,
	.max_iterations = 30, .io_aware = true, .io_stall_us = 2000,
	.io_rate_min = 100, .throttle_initial = 20, .throttle_increment = 10,
	.throttle_max = 99,
};

/* One pass of the model; fills @s. */
static void model_pass(struct model *m, struct conv_sample *s)
{
	double secs = (double)m->dirty * BPP / LINK, pages = 0;
	unsigned int i;

	if (secs < 0.001)
		secs = 0.001;
	for (i = 0; i < m->nr; i++) {
		double r = m->rate[i], p;

		if (m->limit[i] && r > (double)m->limit[i])
			r = (double)m->limit[i];
		r *= (100.0 - m->cpu_pct) / 100.0;
		m->ctr[i].dirty_bytes += (uint64_t)(r * secs);
		m->ctr[i].io_exits += (uint64_t)(m->io_rate[i] * secs);
		p = r * secs / 4096;
		pages += p < m->ws[i] ? p : m->ws[i];
	}
	memset(s, 0, sizeof(*s));
	s->pass_ns = (uint64_t)(secs * 1e9);
	s->wire_bytes = (uint64_t)((double)m->dirty * BPP);
	s->bytes_per_page = BPP;
	s->dirty_pages = (uint64_t)pages;
	s->sync_ns = 2000000;
	s->fixed_ns = 10000000;
	s->nr_vcpus = m->nr;
	s->vcpu = m->ctr;
	m->dirty = (uint64_t)pages;
}

static void model_apply(struct model *m, const struct conv_plan *p)
{
	unsigned int i;

	m->cpu_pct = p->mech == CONV_MECH_CPU ? p->cpu_pct : 0;
	for (i = 0; i < m->nr; i++)
		m->limit[i] = p->mech == CONV_MECH_LIMIT ? p->limit[i] : 0;
}

/* The heavy guest: vCPU 0 dirties 2x the link, 1 serves IO, 2 idles. */
static void heavy(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->nr = 3;
	m->rate[0] = 2 * LINK;
	m->ws[0] = 32768;
	m->rate[1] = 2e6;
	m->ws[1] = 512;
	m->io_rate[1] = 2000;
	m->dirty = RAM_PAGES;
}

/* Run until a switchover; returns the passes, the last plan in @last. */
static unsigned int run(struct conv *c, struct model *m, struct conv_plan *last,
			uint32_t *max_cpu, uint64_t *max_limit1)
{
	struct conv_sample s;
	unsigned int n = 0;

	do {
		model_pass(m, &s);
		conv_pass(c, &s, last);
		model_apply(m, last);
		if (max_cpu && last->cpu_pct > *max_cpu)
			*max_cpu = last->cpu_pct;
		if (max_limit1 && last->limit[1] > *max_limit1)
			*max_limit1 = last->limit[1];
		n++;
	} while (last->action == CONV_GO_ON && n < 100);
	return n;
}

/* Passes until the CPU throttle reaches @pct or @max passes ran. */
static void run_until(struct conv *c, struct model *m, struct conv_plan *last,
		      uint32_t pct, unsigned int max)
{
	struct conv_sample s;
	unsigned int n;

	for (n = 0; n < max; n++) {
		model_pass(m, &s);
		conv_pass(c, &s, last);
		model_apply(m, last);
		if (last->action != CONV_GO_ON || last->cpu_pct >= pct)
			break;
	}
}

static void test_estimate(void)
{
	struct conv_mechs none = { 0 };
	struct conv *c = conv_new();
	struct conv_vcpu v = { 0 };
	struct conv_sample s = {
		.pass_ns = 1000000000, .wire_bytes = 100000000,
		.bytes_per_page = 2000, .dirty_pages = 10000,
		.sync_ns = 5000000, .fixed_ns = 15000000, .nr_vcpus = 1, .vcpu = &v,
	};
	struct conv_plan p;
	char why[160];

	TEST_ASSERT(c && !conv_init(c, &defaults, &none, why, sizeof(why)), "%s", why);
	conv_pass(c, &s, &p);
	/* 10000 pages x 2000 B / 100 MB/s = 200 ms, + 5 ms sync + 15 ms fixed */
	ksft_test_result(p.expected_downtime_ms == 220 && p.action == CONV_SWITCH &&
			 p.bandwidth == 1e8,
			 "expected downtime = pages x wire bytes/page / bandwidth + "
			 "sync + fixed: %llu ms (220), switch over",
			 (unsigned long long)p.expected_downtime_ms);
	conv_free(c);
}

static void test_none(void)
{
	struct conv_mechs all = { .kernel = true, .vmm = true, .cpu = true };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	struct conv_plan p;
	struct model m;
	unsigned int n;
	char why[160];

	o.policy = KVMIG_CONVERGE_NONE;
	TEST_ASSERT(!conv_init(c, &o, &all, why, sizeof(why)), "%s", why);
	heavy(&m);
	n = run(c, &m, &p, NULL, NULL);
	ksft_print_msg("none: %u passes, %s\n", n, p.why);
	ksft_test_result(p.action == CONV_FORCE && n <= 6 && p.mech == CONV_MECH_NONE &&
			 strstr(p.why, "no progress"),
			 "none: the heavy guest is forced after %u passes, not 30", n);
	conv_free(c);
}

static void test_dirty_limit(bool io_aware)
{
	struct conv_mechs mechs = { .kernel = true };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	uint64_t max_limit1 = 0;
	struct conv_plan p;
	struct model m;
	unsigned int n;
	char why[160];

	o.policy = KVMIG_CONVERGE_DIRTY_LIMIT;
	o.io_aware = io_aware;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	if (!io_aware)
		m.rate[1] = 0.6 * LINK;	/* the IO vCPU dirties a lot too */
	n = run(c, &m, &p, NULL, &max_limit1);
	ksft_print_msg("dirty-limit%s: %u passes, %s; limits %llu %llu %llu\n",
		       io_aware ? "" : " (not IO-aware)", n, p.why,
		       (unsigned long long)m.limit[0], (unsigned long long)m.limit[1],
		       (unsigned long long)m.limit[2]);
	if (io_aware)
		ksft_test_result(p.action == CONV_SWITCH && n <= 12 && m.limit[0] &&
				 m.limit[0] < LINK && !max_limit1 && !m.limit[2],
				 "dirty-limit: converges in %u passes, limiting only the "
				 "vCPU that dirties too fast (%llu B/s)", n,
				 (unsigned long long)m.limit[0]);
	else
		ksft_test_result(p.action == CONV_SWITCH && m.limit[0] && max_limit1,
				 "dirty-limit, not IO-aware: the IO vCPU that dirties "
				 "0.6x the link is limited too (%llu B/s)",
				 (unsigned long long)max_limit1);
	conv_free(c);
}

static void test_io_spared(void)
{
	struct conv_mechs mechs = { .kernel = true };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	uint64_t max_limit1 = 0;
	struct conv_plan p;
	struct model m;
	char why[160];

	o.policy = KVMIG_CONVERGE_DIRTY_LIMIT;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	m.rate[1] = 0.2 * LINK;	/* serves IO and dirties a fair amount */
	run(c, &m, &p, NULL, &max_limit1);
	ksft_test_result(p.action == CONV_SWITCH && !max_limit1 && m.limit[0],
			 "IO-aware: the IO vCPU keeps its 0.2x-link rate, its "
			 "share is taken from vCPU 0 (%llu B/s)",
			 (unsigned long long)m.limit[0]);
	conv_free(c);
}

static void test_auto_converge(void)
{
	struct conv_mechs mechs = { .cpu = true };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	uint32_t max_cpu = 0;
	struct conv_plan p;
	struct model m;
	unsigned int n;
	char why[160];

	o.policy = KVMIG_CONVERGE_AUTO_CONVERGE;
	o.throttle_max = 60;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	m.rate[0] = 8 * LINK;	/* even 60% leaves 3.2x the link */
	n = run(c, &m, &p, &max_cpu, NULL);
	ksft_print_msg("auto-converge (cap 60%%): %u passes, %s\n", n, p.why);
	ksft_test_result(p.action == CONV_FORCE && max_cpu == 60 &&
			 strstr(p.why, "floor"),
			 "auto-converge: 20%% + 10%% per pass, never above the 60%% "
			 "cap, forced %u passes later at the cap", n);
	conv_free(c);

	c = conv_new();
	o.throttle_max = 99;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	max_cpu = 0;
	n = run(c, &m, &p, &max_cpu, NULL);
	ksft_test_result(p.action == CONV_SWITCH && max_cpu > 20 && max_cpu <= 99,
			 "auto-converge: converges at %u%% in %u passes", max_cpu, n);
	conv_free(c);
}

static void test_auto_picks(void)
{
	static const struct {
		struct conv_mechs m;
		enum conv_mech want;
	} cases[] = {
		{ { .kernel = true, .cpu = true }, CONV_MECH_LIMIT },
		{ { .vmm = true }, CONV_MECH_LIMIT },
		{ { .cpu = true }, CONV_MECH_CPU },
		{ { 0 }, CONV_MECH_NONE },
	};
	unsigned int i;
	bool ok = true;
	char why[160];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conv *c = conv_new();
		struct conv_plan p;
		struct model m;

		TEST_ASSERT(!conv_init(c, &defaults, &cases[i].m, why, sizeof(why)),
			    "%s", why);
		heavy(&m);
		run(c, &m, &p, NULL, NULL);
		ok &= p.mech == cases[i].want;
		ksft_print_msg("auto with kernel=%d vmm=%d cpu=%d: %s, %s\n",
			       cases[i].m.kernel, cases[i].m.vmm, cases[i].m.cpu,
			       conv_mech_name(p.mech), p.why);
		conv_free(c);
	}
	ksft_test_result(ok, "auto: dirty-limit if the VMM limits, else the CPU "
			 "throttle, else nothing");
}

static void test_bad_opts(void)
{
	struct conv_mechs none = { 0 }, cpu = { .cpu = true };
	struct conv *c = conv_new();
	struct conv_opts o;
	char why[160];
	bool ok = true;

	o = defaults;
	o.throttle_max = 100;
	ok &= conv_init(c, &o, &cpu, why, sizeof(why)) == -EINVAL && strstr(why, "cap");
	o = defaults;
	o.throttle_initial = 70;
	o.throttle_max = 60;
	ok &= conv_init(c, &o, &cpu, why, sizeof(why)) == -EINVAL;
	o = defaults;
	o.policy = KVMIG_CONVERGE_DIRTY_LIMIT;
	ok &= conv_init(c, &o, &cpu, why, sizeof(why)) == -EOPNOTSUPP &&
	      strstr(why, "KVM_CAP_DIRTY_RATE_LIMIT");
	o.policy = KVMIG_CONVERGE_AUTO_CONVERGE;
	ok &= conv_init(c, &o, &none, why, sizeof(why)) == -EOPNOTSUPP &&
	      strstr(why, "CPU time");
	o.policy = KVMIG_CONVERGE_NR;
	ok &= conv_init(c, &o, &none, why, sizeof(why)) == -EINVAL;
	ksft_test_result(ok, "bad throttle ranges and missing mechanisms refused, "
			 "saying why");
	conv_free(c);
}

/*
 * Pass 0's first 100 ms put 1.5x what the link carries into the sockets'
 * buffers: the limits set then assume too fast a link, and are set again
 * as the ticks learn its rate, down to within 15% of q = 0.3 of it; once
 * they are right, a tick leaves them.
 */
static void test_tick_burst(void)
{
	struct conv_mechs vmm = { .vmm = true };
	struct conv_vcpu v[1] = { { 0 } };
	struct conv_tick_sample t = { .bytes_per_page = BPP, .nr_vcpus = 1,
				      .vcpu = v };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	uint64_t first, last = 0;
	unsigned int i, sets = 0;
	struct conv_plan p;
	char why[160];
	bool ok;

	TEST_ASSERT(!conv_init(c, &o, &vmm, why, sizeof(why)), "%s", why);
	conv_baseline(c, v, 1);
	memset(&p, 0, sizeof(p));
	v[0].dirty_bytes = (uint64_t)(2 * LINK * 0.1);
	t.ns = 100000000;
	t.wire_bytes = (uint64_t)(1.5 * LINK * 0.1);
	conv_tick(c, &t, &p);
	first = p.limit[0];
	for (i = 2; i <= 20; i++) {
		struct conv_plan q;

		memset(&q, 0, sizeof(q));
		v[0].dirty_bytes += (uint64_t)((double)(last ?: first) * 0.1);
		t.ns = i * 100000000ULL;
		t.wire_bytes += (uint64_t)(LINK * 0.1);
		conv_tick(c, &t, &q);
		if (q.changed) {
			sets++;
			last = q.limit[0];
		}
	}
	ok = first > 0.4 * LINK && sets >= 1 && sets <= 4 && last > 0 &&
	     (double)last <= 0.3 * LINK / 0.85 && (double)last >= 0.29 * LINK;
	ksft_test_result(ok, "ticks: limits set on pass 0's burst (%.1f MB/s, link "
			 "%.1f) are set again %u times as the link's rate is "
			 "learnt, to %.1f MB/s", (double)first / 1e6, LINK / 1e6,
			 sets, (double)last / 1e6);
	conv_free(c);
}

/*
 * Ticks during pass 0: a vCPU at twice the link is limited 100 ms in, not
 * at the pass's end; the IO vCPU is spared; nothing happens on a tick
 * closer than 100 ms to the last, for a guest the link keeps up with, or
 * under auto-converge (which acts per pass, as QEMU's does).
 */
static void test_tick(void)
{
	struct conv_mechs vmm = { .vmm = true, .cpu = true };
	struct conv_vcpu v[3] = { { 0 } };
	struct conv_tick_sample t = { .bytes_per_page = BPP, .nr_vcpus = 3,
				      .vcpu = v };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	struct conv_plan p;
	char why[160];
	bool ok = true;

	TEST_ASSERT(!conv_init(c, &o, &vmm, why, sizeof(why)), "%s", why);
	conv_baseline(c, v, 3);
	memset(&p, 0, sizeof(p));
	/* 50 ms: too early to say */
	v[0].dirty_bytes = (uint64_t)(2 * LINK * 0.05);
	t.ns = 50000000;
	t.wire_bytes = (uint64_t)(LINK * 0.05);
	conv_tick(c, &t, &p);
	ok &= !p.changed && p.mech == CONV_MECH_NONE;
	/* 100 ms: vCPU 0 at 2x the link, vCPU 1 light and serving IO */
	v[0].dirty_bytes = (uint64_t)(2 * LINK * 0.1);
	v[1].dirty_bytes = 200000;
	v[1].io_exits = 200;
	t.ns = 100000000;
	t.wire_bytes = (uint64_t)(LINK * 0.1);
	conv_tick(c, &t, &p);
	ok &= p.changed && p.mech == CONV_MECH_LIMIT && p.limit[0] > 0 &&
	      (double)p.limit[0] <= 0.35 * LINK && !p.limit[1] && !p.limit[2] &&
	      p.io[1] && strstr(p.why, "into the pass");
	ksft_print_msg("tick: %s; vCPU 0 limit %.1f MB/s\n", p.why,
		       (double)p.limit[0] / 1e6);
	/* limits in force and kept to: the next tick changes nothing */
	v[0].dirty_bytes += (uint64_t)((double)p.limit[0] * 0.1);
	t.ns = 200000000;
	t.wire_bytes = (uint64_t)(LINK * 0.2);
	conv_tick(c, &t, &p);
	ok &= !p.changed;
	conv_free(c);

	/* a guest the link keeps up with; auto-converge: no tick acts */
	c = conv_new();
	TEST_ASSERT(!conv_init(c, &o, &vmm, why, sizeof(why)), "%s", why);
	memset(v, 0, sizeof(v));
	conv_baseline(c, v, 3);
	memset(&p, 0, sizeof(p));
	v[0].dirty_bytes = (uint64_t)(0.5 * LINK * 0.1);
	t.ns = 100000000;
	t.wire_bytes = (uint64_t)(LINK * 0.1);
	conv_tick(c, &t, &p);
	ok &= !p.changed && p.mech == CONV_MECH_NONE;
	conv_free(c);
	c = conv_new();
	o.policy = KVMIG_CONVERGE_AUTO_CONVERGE;
	TEST_ASSERT(!conv_init(c, &o, &vmm, why, sizeof(why)), "%s", why);
	memset(v, 0, sizeof(v));
	conv_baseline(c, v, 3);
	v[0].dirty_bytes = (uint64_t)(2 * LINK * 0.1);
	conv_tick(c, &t, &p);
	ok &= !p.changed && p.mech == CONV_MECH_NONE;
	ksft_test_result(ok, "ticks: a vCPU at 2x the link is limited 100 ms into "
			 "pass 0, the IO vCPU spared; not before 100 ms, not when "
			 "the link keeps up, not under auto-converge");
	conv_free(c);
	test_tick_burst();
}

/*
 * The IO vCPUs' allowance: an IO vCPU whose rate is above the tick's budget
 * (0.3 of the link) but within half the link keeps it, and vCPU 0 gets
 * what is left, down to the floor; one above half the link is limited.  A
 * VMM's per-vCPU rate counts each first write after a re-arm, so an IO
 * loop's few pages show a rate that grows with the syncs.
 */
static void test_io_allowance(void)
{
	struct conv_mechs vmm = { .vmm = true };
	struct conv_vcpu v[2];
	struct conv_tick_sample t = { .bytes_per_page = BPP, .nr_vcpus = 2,
				      .vcpu = v, .ns = 100000000,
				      .wire_bytes = (uint64_t)(LINK * 0.1) };
	struct conv_opts o = defaults;
	struct conv_plan p[2];
	double io[2] = { 0.4, 0.7 };
	unsigned int k;
	char why[160];

	for (k = 0; k < 2; k++) {
		struct conv *c = conv_new();

		TEST_ASSERT(!conv_init(c, &o, &vmm, why, sizeof(why)), "%s", why);
		memset(v, 0, sizeof(v));
		conv_baseline(c, v, 2);
		memset(&p[k], 0, sizeof(p[k]));
		v[0].dirty_bytes = (uint64_t)(2 * LINK * 0.1);
		v[1].dirty_bytes = (uint64_t)(io[k] * LINK * 0.1);
		v[1].io_exits = 200;
		conv_tick(c, &t, &p[k]);
		ksft_print_msg("IO vCPU at %.1fx the link: limits %.2f MB/s, %.2f MB/s\n",
			       io[k], (double)p[k].limit[0] / 1e6,
			       (double)p[k].limit[1] / 1e6);
		conv_free(c);
	}
	ksft_test_result(p[0].mech == CONV_MECH_LIMIT && !p[0].limit[1] &&
			 p[0].limit[0] > 0 && (double)p[0].limit[0] <= 0.01 * LINK &&
			 p[1].limit[1] > 0 && (double)p[1].limit[1] <= 0.5 * LINK &&
			 p[1].limit[0] > 0 && (double)p[1].limit[0] <= 0.01 * LINK,
			 "IO-aware: an IO vCPU over the budget keeps its rate up to "
			 "half the link, vCPU 0 gets the rest; above half it is limited");
}

/* kvmig set: the knobs change while it runs, checked like at the start. */
static void test_tune(void)
{
	struct conv_mechs mechs = { .cpu = true };
	struct conv_opts o = defaults, bad;
	struct conv *c = conv_new();
	struct conv_plan p, q;
	struct model m;
	char why[160];
	bool ok = true;

	o.policy = KVMIG_CONVERGE_AUTO_CONVERGE;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	m.rate[0] = 8 * LINK;
	/* passes without progress: 20, 30, 40 % */
	run_until(c, &m, &p, 40, 10);
	ok &= p.mech == CONV_MECH_CPU && p.cpu_pct == 40 && p.action == CONV_GO_ON;
	/* refused: nothing changes, the plan stays */
	bad = o;
	bad.throttle_increment = 0;
	q = p;
	q.changed = false;
	ok &= conv_tune(c, &bad, &q, why, sizeof(why)) == -EINVAL &&
	      strstr(why, "increment") && !q.changed && q.cpu_pct == 40;
	bad = o;
	bad.io_stall_us = 0;
	ok &= conv_tune(c, &bad, &q, why, sizeof(why)) == -EINVAL &&
	      strstr(why, "IO stall");
	/* a lower cap: the throttle comes down now, and stays under it */
	o.throttle_initial = 15;
	o.throttle_max = 25;
	ok &= !conv_tune(c, &o, &q, why, sizeof(why)) && q.changed &&
	      q.cpu_pct == 25;
	model_apply(&m, &q);
	run_until(c, &m, &p, 26, 3);
	ok &= p.cpu_pct == 25;
	ksft_test_result(ok, "tune: bad knobs refused (nothing changes); a lower "
			 "cap lowers the throttle at once, and it stays under it "
			 "(%u%%)", p.cpu_pct);
	conv_free(c);
}

static void test_names(void)
{
	enum kvmig_converge p;
	bool ok = true;
	unsigned int i;

	for (i = 0; i < KVMIG_CONVERGE_NR; i++)
		ok &= !kvmig_converge_parse(kvmig_converge_name(i), &p) && p == i;
	ok &= kvmig_converge_parse("fast", &p) == -EINVAL;
	ksft_test_result(ok, "policy names round-trip; unknown ones refused");
}

/* A dirty set that swings between two sizes makes no progress. */
static void test_swing(void)
{
	struct conv_mechs none = { 0 };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	struct conv_sample s = {
		.pass_ns = 1000000000, .wire_bytes = 100000000,
		.bytes_per_page = 4096,
	};
	struct conv_plan p;
	unsigned int n = 0;
	char why[160];

	o.policy = KVMIG_CONVERGE_NONE;
	TEST_ASSERT(!conv_init(c, &o, &none, why, sizeof(why)), "%s", why);
	do {
		s.dirty_pages = n % 2 ? 80000 : 100000;
		conv_pass(c, &s, &p);
		n++;
	} while (p.action == CONV_GO_ON && n < 30);
	ksft_test_result(p.action == CONV_FORCE && n <= 6,
			 "a dirty set swinging 100000/80000 pages is no progress: "
			 "forced after %u passes", n);
	conv_free(c);
}

static void test_max_iterations(void)
{
	struct conv_mechs mechs = { .kernel = true };
	struct conv_opts o = defaults;
	struct conv *c = conv_new();
	struct conv_plan p;
	struct model m;
	unsigned int n;
	char why[160];

	o.max_iterations = 4;
	o.downtime_limit_ms = 1;
	TEST_ASSERT(!conv_init(c, &o, &mechs, why, sizeof(why)), "%s", why);
	heavy(&m);
	n = run(c, &m, &p, NULL, NULL);
	ksft_test_result(p.action == CONV_FORCE && n == 4 && strstr(p.why, "max-iterations"),
			 "max-iterations: forced after %u passes", n);
	conv_free(c);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(16);
	test_estimate();
	test_none();
	test_dirty_limit(true);
	test_dirty_limit(false);
	test_io_spared();
	test_io_allowance();
	test_auto_converge();
	test_auto_picks();
	test_bad_opts();
	test_tune();
	test_tick();
	test_names();
	test_max_iterations();
	test_swing();
	ksft_finished();
}
