// SPDX-License-Identifier: GPL-2.0
/*
 * Each workload runs and makes progress at the asked rate, measured from
 * the guest's own counters over a host-timed interval.  The tolerance is
 * wide on the slow side (a loaded 2-core machine may delay the guest) and
 * tight on the fast side (a paced guest must never run ahead of its rate).
 */
#include "harness.h"

#define SAMPLE_MS	2000

struct sample {
	int64_t pages[4];
	int64_t trips[4];
	int64_t loops[4];
	int64_t sleeps[4];
	uint64_t ns;
};

static void sample(struct test_vm *vm, unsigned int nr, struct sample *s)
{
	json_t *st = test_vm_cmd(vm, "query-stats");
	char path[64];
	unsigned int i;

	s->ns = test_now_ns();
	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), "vcpus.%u.pages-written", i);
		s->pages[i] = json_path_int(st, path);
		snprintf(path, sizeof(path), "vcpus.%u.io-round-trips", i);
		s->trips[i] = json_path_int(st, path);
		snprintf(path, sizeof(path), "vcpus.%u.loops", i);
		s->loops[i] = json_path_int(st, path);
		snprintf(path, sizeof(path), "vcpus.%u.exits.sleep", i);
		s->sleeps[i] = json_path_int(st, path);
	}
	json_decref(st);
}

static bool within(const char *what, double got, double want, double lo,
		   double hi)
{
	double ratio = got / want;

	ksft_print_msg("%s: %.0f/s, asked %.0f/s (ratio %.2f, allowed %.2f..%.2f)\n",
		       what, got, want, ratio, lo, hi);
	return ratio >= lo && ratio <= hi;
}

int main(void)
{
	const char *const args[] = {
		"--vcpus", "4", "--mem", "128M",
		"--workload", "0:dirty,rate=4M,ws=16M,pattern=random,data=text",
		"--workload", "1:dirty,rate=700p,ws=8M,pattern=seq,data=counter",
		"--workload", "2:io,period=1000",
		"--workload", "3:idle",
		NULL,
	};
	const char *const fast[] = {
		"--vcpus", "1", "--mem", "64M",
		"--workload", "dirty,rate=0,ws=16M,data=zero", NULL,
	};
	struct test_vm vm;
	struct sample a, b;
	double dt;
	json_t *st;
	int64_t count, p50, p99, max;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(7);

	test_vm_start(&vm, args);
	/* every guest runs before the window opens */
	TEST_WAIT((sample(&vm, 4, &a), a.loops[0] && a.loops[1] && a.loops[2] &&
		   a.loops[3]), TEST_DEADLINE_S, "a vCPU never ran its workload");
	sample(&vm, 4, &a);
	msleep(SAMPLE_MS);	/* the measured window: the workload, not a wait */
	sample(&vm, 4, &b);
	dt = (double)(b.ns - a.ns) / 1e9;

	ksft_test_result(within("dirty rate=4M (pages)",
				(double)(b.pages[0] - a.pages[0]) / dt,
				4.0 * 1048576 / 4096, 0.70, 1.05),
			 "dirty rate in bytes/s is kept");
	ksft_test_result(within("dirty rate=700p",
				(double)(b.pages[1] - a.pages[1]) / dt,
				700, 0.70, 1.05),
			 "dirty rate in pages/s is kept");
	ksft_test_result(within("io period=1000us (round trips)",
				(double)(b.trips[2] - a.trips[2]) / dt,
				1000, 0.50, 1.05),
			 "io round trips at the asked period");

	st = test_vm_cmd(&vm, "query-stats");
	count = json_path_int(st, "vcpus.2.io-latency-ns.count");
	p50 = json_path_int(st, "vcpus.2.io-latency-ns.p50");
	p99 = json_path_int(st, "vcpus.2.io-latency-ns.p99");
	max = json_path_int(st, "vcpus.2.io-latency-ns.max");
	ksft_print_msg("io latency: %lld samples, p50 %lld ns, p99 %lld ns, max %lld ns\n",
		       (long long)count, (long long)p50, (long long)p99,
		       (long long)max);
	/* every trip but the first reports the previous one's latency */
	ksft_test_result(count > 0 && count + 1 >= b.trips[2] &&
			 p50 > 0 && p50 <= p99 && p99 <= max,
			 "io latency histogram is filled and ordered");
	json_decref(st);

	ksft_test_result(b.loops[3] > a.loops[3] && b.sleeps[3] > a.sleeps[3] &&
			 b.pages[3] == 0 && b.trips[3] == 0,
			 "idle vCPU naps and does nothing else (loops %lld -> %lld)",
			 (long long)a.loops[3], (long long)b.loops[3]);
	st = test_vm_cmd(&vm, "verify");
	ksft_test_result(json_path_int(st, "bad") == 0 &&
			 json_path_int(st, "pages") > 0,
			 "all pages verify after the run");
	json_decref(st);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");

	/* unpaced: must run far above the paced rates above */
	test_vm_start(&vm, fast);
	TEST_WAIT((sample(&vm, 1, &a), a.loops[0] > 0), TEST_DEADLINE_S,
		  "the unpaced guest never ran");
	msleep(1000);		/* the measured window */
	sample(&vm, 1, &b);
	dt = (double)(b.ns - a.ns) / 1e9;
	ksft_print_msg("unpaced: %.0f pages/s\n", (double)(b.pages[0] - a.pages[0]) / dt);
	ksft_test_result((double)(b.pages[0] - a.pages[0]) / dt > 5000,
			 "rate=0 writes as fast as it can");
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
