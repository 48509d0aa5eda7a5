// SPDX-License-Identifier: GPL-2.0
/*
 * bench_converge: the guest that never converges without help, migrated
 * with each convergence policy in one run.  vCPU 0 rewrites whole random
 * pages of a 64 MiB working set as fast as it can, vCPU 1 does a port IO
 * every 500 us.  The link is loopback TCP capped with --max-bandwidth at
 * half the rate at which the guest's pages are logged, measured first on
 * the same VM with dirty logging on (--bandwidth fixes it instead), so the
 * guest dirties 2x what the link carries whatever this machine's speed.
 * For each policy (none, auto-converge, dirty-limit: held by kvmig-vm
 * through its dirty rings, or by the kernel where it has the patch, as in
 * the lab, where make bench runs this program too: tools/lab/bench):
 *
 *   converged   the switchover's kind
 *   total/link  total time / the link time of the working set (what had to
 *               cross at least once: WS at the link's rate)
 *   downtime    ms, and against the 300 ms limit
 *   guest       the dirtying vCPU's page rate during the migration against
 *               its rate before it (no dirty logging), and against the
 *               rate during the migration with no throttle (policy none:
 *               each first write after a re-arm is a write fault, slow on
 *               this machine)
 *   window      the dirtying vCPU's pages written in the same window for
 *               every policy (WINDOW link times of the working set from the
 *               start), on the source and, once the guest has moved, on
 *               the destination, against the rate before the migration:
 *               the guest's work while a migration is under way, whichever
 *               end it runs on; a policy that ends the migration sooner
 *               gives the guest its speed back sooner
 *   IO p99      the IO vCPU's round-trip p99 over the run, against a run of
 *               the same VM without a migration
 *
 * The policies run in interleaved rounds (--rounds, 3; round k starts
 * with policy k mod 3); each figure is the median of the rounds with their
 * min..max.  Every migration is verified (--verify) and the destination
 * guest's self-check must be clean, or the bench fails.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>

#include "../../selftests/user/harness.h"

#define WS	"64M"
#define WINDOW	6	/* link times of the working set: the common window */

struct run {
	const char *policy;
	char switchover[16];
	double total_ms, link_ms, downtime_ms, guest_ratio, io_p99_us, mbytes;
	double window_ratio;
	/* the switchover: expected downtime and the real one's parts, ms */
	int64_t expected_ms, part_ms[6];
	int64_t passes;
};

static const char *const vm_args[] = {
	"--vcpus", "2", "--mem", "128M", "--dirty-ring", "256",
	"--workload", "0:dirty,rate=0,ws=" WS ",pattern=random,data=random",
	"--workload", "1:io,period=500", NULL,
};
static const char *const dst_args[] = {
	"--vcpus", "2", "--mem", "128M", "--dirty-ring", "256", NULL,
};

/* Whether kvmig-vm holds dirty-limit's limits in the kernel (the patch). */
static bool kernel_limits;

/*
 * The rate at which the guest's pages are logged (bytes/s), with the ring
 * synced every 50 ms as a migration would, over 2 s.
 */
static double logged_rate(void)
{
	struct test_vm vm;
	uint64_t t, pages = 0;
	json_t *r;

	test_vm_start(&vm, vm_args);
	r = test_vm_cmd(&vm, "query-vcpu-dirty-limit");
	kernel_limits = json_is_true(json_object_get(r, "kernel"));
	json_decref(r);
	TEST_ASSERT(test_vm_dirtied_working_set(&vm), "the guest never warmed up");
	json_decref(test_vm_cmdf(&vm, "{\"execute\": \"dirty-start\", "
				 "\"arguments\": {\"backend\": \"ring\"}}"));
	json_decref(test_vm_cmd(&vm, "dirty-sync"));
	t = test_now_ns();
	while (test_now_ns() - t < 2000000000ULL) {
		msleep(50);	/* the sync period */
		r = test_vm_cmd(&vm, "dirty-sync");
		pages += (uint64_t)json_path_int(r, "pages");
		json_decref(r);
	}
	json_decref(test_vm_cmd(&vm, "dirty-stop"));
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit");
	return (double)pages * 4096.0 * 1e9 / (double)(test_now_ns() - t);
}

/* vCPU 0's pages per second over @ms. */
static double page_rate(struct test_vm *vm, unsigned int ms)
{
	int64_t a = test_vm_stat(vm, "vcpus.0.pages-written"), b;
	uint64_t t = test_now_ns();

	msleep(ms);	/* the measuring window */
	b = test_vm_stat(vm, "vcpus.0.pages-written");
	return (double)(b - a) * 1e9 / (double)(test_now_ns() - t);
}

static const char *const downtime_parts[6] = {
	"pause", "sync", "ram", "device", "verify", "commit",
};

/* The window's sampler: vCPU 0's pages written at t0 + window, either end. */
struct sampler {
	struct mig *m;
	uint64_t until;		/* test_now_ns() */
	int64_t pages;
};

static void *sample(void *arg)
{
	struct sampler *w = arg;
	uint64_t now = test_now_ns();

	if (now < w->until)
		usleep((useconds_t)((w->until - now) / 1000));	/* the window */
	/* the guest runs at one end: the paused source, or the destination */
	if (!strcmp(test_vm_status(&w->m->dst), "running"))
		w->pages = test_vm_stat(&w->m->dst, "vcpus.0.pages-written");
	else
		w->pages = test_vm_stat(&w->m->src, "vcpus.0.pages-written");
	return NULL;
}

static void one(struct run *r, const char *bw, double link_bytes)
{
	const char *extra[] = { "--max-bandwidth", bw, "--verify", "--keep-vm",
				"--converge", r->policy, NULL };
	double window_ms = WINDOW * (double)(64 << 20) / link_bytes * 1000.0;
	struct mig m;
	struct sampler w = { .m = &m };
	int64_t p0, p1;
	double before;
	pthread_t th;
	json_t *st, *g;
	uint64_t t;
	unsigned int i;
	int rc;

	start_vms(&m, vm_args, dst_args);
	start_incoming(&m, false);
	before = page_rate(&m.src, 1000);
	p0 = test_vm_stat(&m.src, "vcpus.0.pages-written");
	t = test_now_ns();
	w.until = t + (uint64_t)(window_ms * 1e6);
	TEST_ASSERT(!pthread_create(&th, NULL, sample, &w), "pthread_create");
	rc = migrate(&m, extra, &st);
	TEST_ASSERT(!pthread_join(th, NULL), "pthread_join");
	p1 = test_vm_stat(&m.src, "vcpus.0.pages-written");
	r->window_ratio = (double)(w.pages - p0) / (before > 0 ? before : 1) /
			  (window_ms / 1000.0);
	if (rc) {
		/* did not finish in the harness's 120 s: a result, not a crash */
		snprintf(r->switchover, sizeof(r->switchover), "failed");
		r->total_ms = (double)(test_now_ns() - t) / 1e6;
		ksft_print_msg("%s: kvmig migrate exited %d: %s\n", r->policy, rc,
			       st ? json_string_value(json_object_get(st, "error-desc")) ?:
			       "?" : test_slurp(m.mig_log));
		json_decref(st);
		kill(m.inc, SIGTERM);
		test_wait(m.inc, 60);
		test_wait(m.dst.pid, 30);
		close(m.dst.ctl);
		TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit");
		return;
	}
	TEST_ASSERT(st && json_path_int(st, "verify.mismatches") == 0,
		    "%s: migration failed: %s", r->policy, test_slurp(m.mig_log));
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "%s: kvmig incoming", r->policy);
	g = test_vm_cmd(&m.dst, "guest-check");
	TEST_ASSERT(json_path_int(g, "bad") == 0, "%s: destination self-check",
		    r->policy);
	json_decref(g);
	r->total_ms = (double)json_path_int(st, "total-time");
	r->downtime_ms = (double)json_path_int(st, "downtime");
	r->expected_ms = json_path_int(st, "expected-downtime");
	for (i = 0; i < 6; i++) {
		char path[64];

		snprintf(path, sizeof(path), "downtime-parts.%s", downtime_parts[i]);
		r->part_ms[i] = json_path_int(st, path);
	}
	r->mbytes = (double)json_path_int(st, "ram.transferred") / 1048576.0;
	r->passes = json_path_int(st, "ram.iterations");
	/* the working set at the link's rate: the least any policy needs */
	r->link_ms = (double)(64 << 20) / link_bytes * 1000.0;
	r->guest_ratio = (double)(p1 - p0) * 1e9 / (double)(test_now_ns() - t) /
			 (before > 0 ? before : 1);
	r->io_p99_us = (double)test_vm_stat(&m.src, "vcpus.1.io-latency-ns.p99") / 1000.0;
	snprintf(r->switchover, sizeof(r->switchover), "%s",
		 json_string_value(json_object_get(st, "switchover")) ?: "?");
	json_decref(st);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit");
}

/* The IO vCPU's p99 in the same VM, never migrated, over a comparable time. */
static double unmigrated_io_p99(unsigned int ms)
{
	struct test_vm vm;
	double p99;

	test_vm_start(&vm, vm_args);
	TEST_ASSERT(test_vm_dirtied_working_set(&vm), "the guest never warmed up");
	msleep(ms);	/* the measuring window */
	p99 = (double)test_vm_stat(&vm, "vcpus.1.io-latency-ns.p99") / 1000.0;
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit");
	return p99;
}

#define NR_POLICIES	3
#define MAX_ROUNDS	9

/* "1.28 (1.25..1.31)": the median of the rounds' @v and their spread */
static const char *cell(double *v, unsigned int n, int prec)
{
	static char buf[8][48];
	static unsigned int next;
	struct test_spread t = test_spread(v, n);
	char *b = buf[next++ % 8];

	snprintf(b, sizeof(buf[0]), "%.*f (%.*f..%.*f)", prec, t.med, prec, t.min,
		 prec, t.max);
	return b;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	static const char *const policies[NR_POLICIES] = {
		"none", "auto-converge", "dirty-limit",
	};
	static struct run runs[NR_POLICIES][MAX_ROUNDS];
	const char *json_path = NULL, *bw = NULL;
	double link, io_base, longest = 0, guest = 0;
	unsigned int i, k, rounds = 3;
	json_t *out = json_array();
	char bwbuf[32];
	int opt;

	while ((opt = getopt_long(argc, argv, "j:b:r:", opts, NULL)) != -1) {
		if (opt == 'j') {
			json_path = optarg;
		} else if (opt == 'b') {
			bw = optarg;
		} else if (opt == 'r') {
			rounds = (unsigned int)atoi(optarg);
			if (rounds < 1 || rounds > MAX_ROUNDS) {
				fprintf(stderr, "bench_converge: --rounds: 1..%u\n",
					MAX_ROUNDS);
				return 2;
			}
		} else {
			return 2;
		}
	}
	test_require_kvm();
	signal(SIGPIPE, SIG_IGN);	/* a destination VMM that quit */
	if (bw) {
		char *end;

		link = strtod(bw, &end);
		link *= *end == 'M' ? 1e6 : *end == 'G' ? 1e9 : 1;
	} else {
		guest = logged_rate();
		link = guest / 2;
		snprintf(bwbuf, sizeof(bwbuf), "%.0f", link);
		bw = bwbuf;
	}
	/* interleaved: round k starts with policy k mod 3 */
	for (k = 0; k < rounds; k++) {
		for (i = 0; i < NR_POLICIES; i++) {
			unsigned int pol = (k + i) % NR_POLICIES;
			struct run *r = &runs[pol][k];

			r->policy = policies[pol];
			one(r, bw, link);
			printf("# round %u: %s: %s, %lld passes, total/link %.2f, "
			       "downtime %.0f ms (expected %lld: pause %lld, sync "
			       "%lld, pages %lld, device %lld, verify %lld, commit "
			       "%lld), guest %.3f, window %.3f\n", k + 1, r->policy,
			       r->switchover, (long long)r->passes,
			       r->total_ms / (r->link_ms ?: 1), r->downtime_ms,
			       (long long)r->expected_ms, (long long)r->part_ms[0],
			       (long long)r->part_ms[1], (long long)r->part_ms[2],
			       (long long)r->part_ms[3], (long long)r->part_ms[4],
			       (long long)r->part_ms[5], r->guest_ratio,
			       r->window_ratio);
			fflush(stdout);
			longest = r->total_ms > longest ? r->total_ms : longest;
		}
	}
	io_base = unmigrated_io_p99((unsigned int)(longest < 30000 ? longest : 30000));

	printf("convergence: a vCPU rewriting random pages of %s as fast as it can "
	       "(logged at %.1f MiB/s) and an IO vCPU (500 us period), 128 MiB "
	       "guest, a %.1f MB/s link, --verify, downtime limit 300 ms; %s; "
	       "%u interleaved rounds, medians (min..max)\n",
	       WS, guest / 1048576.0, link / 1e6, kernel_limits ?
	       "the kernel's per-vCPU dirty-rate limits (KVM_SET_DIRTY_RATE_LIMIT)" :
	       "the VMM's own dirty limits (dirty rings)", rounds);
	printf("%-14s %-12s %6s %8s %-18s %-18s %-21s %-18s %-21s %-18s\n",
	       "policy", "converged", "passes", "MiB", "total/link",
	       "downtime/limit", "guest vs before", "guest vs none",
	       "window vs before", "IO p99 vs unmig.");
	for (i = 0; i < NR_POLICIES; i++) {
		double tl[MAX_ROUNDS], dl[MAX_ROUNDS], gb[MAX_ROUNDS], gn[MAX_ROUNDS];
		double wn[MAX_ROUNDS], io[MAX_ROUNDS], mb[MAX_ROUNDS], ps[MAX_ROUNDS];
		unsigned int conv = 0;
		char cv[16];

		for (k = 0; k < rounds; k++) {
			const struct run *r = &runs[i][k];

			conv += !strcmp(r->switchover, "converged");
			tl[k] = r->total_ms / (r->link_ms ?: 1);
			dl[k] = r->downtime_ms / 300.0;
			gb[k] = r->guest_ratio;
			gn[k] = r->guest_ratio / (runs[0][k].guest_ratio ?: 1);
			wn[k] = r->window_ratio;
			io[k] = r->io_p99_us / (io_base ?: 1);
			mb[k] = r->mbytes;
			ps[k] = (double)r->passes;
			json_array_append_new(out, json_pack(
				"{ss sI ss sI sf sf sf sf sf sf sf sf sf}",
				"policy", r->policy, "round", (json_int_t)k + 1,
				"switchover", r->switchover,
				"passes", (json_int_t)r->passes, "mib-sent", r->mbytes,
				"total-time-ms", r->total_ms, "link-time-ms", r->link_ms,
				"downtime-ms", r->downtime_ms,
				"guest-rate-ratio", r->guest_ratio,
				"guest-rate-vs-none", gn[k],
				"window-ratio", r->window_ratio,
				"io-p99-us", r->io_p99_us, "io-p99-unmigrated-us", io_base));
		}
		snprintf(cv, sizeof(cv), "%u/%u", conv, rounds);
		printf("%-14s %-12s %6.0f %8.1f %-18s %-18s %-21s %-18s %-21s %-18s\n",
		       policies[i], cv, test_spread(ps, rounds).med,
		       test_spread(mb, rounds).med, cell(tl, rounds, 2),
		       cell(dl, rounds, 2), cell(gb, rounds, 3), cell(gn, rounds, 2),
		       cell(wn, rounds, 3), cell(io, rounds, 2));
	}
	printf("IO p99 of the same VM never migrated: %.0f us\n", io_base);
	printf("window: vCPU 0's pages written in the first %u link times of the "
	       "working set (%.0f ms) from the migration's start, at whichever "
	       "end the guest ran, against its rate before\n", WINDOW,
	       WINDOW * (double)(64 << 20) / link * 1000.0);
	if (json_path && json_dump_file(out, json_path, JSON_INDENT(2)))
		fprintf(stderr, "bench_converge: cannot write %s\n", json_path);
	json_decref(out);
	return 0;
}
