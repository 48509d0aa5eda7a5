// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig-vm's VMM-side mechanisms for slowing one vCPU on a kernel without
 * the kvmig patch (Documentation/control-protocol.rst, "Dirty-rate
 * limits"): the "vmm" dirty-rate limit, charged from the vCPU's own dirty
 * ring, and the CPU throttle (set-vcpu-throttle).
 *
 * Every malformed or unavailable request is refused by name before any
 * vCPU is touched, and the guest runs on.  With dirty rings (1024 entries,
 * 4 MiB a ring: modest, since a "vmm" limit learns what a vCPU dirtied only
 * when its ring is harvested) and ring dirty logging synced every 50 ms:
 *
 * - a limit of 1/8 of vCPU 0's unlimited logged rate holds, the IO vCPU
 *   (limited too, far above what it dirties) keeps its round trips, and a
 *   cancel lifts the limit;
 * - IO-aware: an IO vCPU in debt naps at most io-stall-us per exit, so its
 *   round trips go on at their period with a bounded p99, where the same
 *   debt without IO-awareness stops them (naps of up to 100 ms);
 * - the CPU throttle at 50 % about halves a CPU-bound vCPU's loop rate;
 * - a client that disconnects takes its limits and throttles with it.
 *
 * Rates are compared within one run, as ratios: this host's guest page
 * faults are slow and its load varies.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define SYNC_MS		50
#define RING		"1024"
#define RING_BYTES	(1024 * 4096.0)

/* A command that must succeed; its "return", owned by the caller. */
static json_t *okf(struct test_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static json_t *okf(struct test_vm *vm, const char *fmt, ...)
{
	char line[512];
	json_t *r, *ret;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r = test_vm_raw(vm, line);
	ret = json_object_get(r, "return");
	TEST_ASSERT(ret, "%s: %s", line, json_text(r));
	json_incref(ret);
	json_decref(r);
	return ret;
}

static bool is_error(json_t *r, const char *desc)
{
	const char *d = json_string_value(json_object_get(
		json_object_get(r, "error"), "desc"));

	ksft_print_msg("  -> %s\n", json_text(r));
	return d && strstr(d, desc) && !json_object_get(r, "return");
}

static const char *vcpu_str(json_t *q, unsigned int i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(
		json_object_get(q, "vcpus"), i), key));
}

/* No vCPU has a limit or a throttle. */
static bool nothing_in_force(struct test_vm *vm, unsigned int nr)
{
	json_t *q = test_vm_cmd(vm, "query-vcpu-dirty-limit");
	bool none = true;
	unsigned int i;
	char p[64];

	for (i = 0; i < nr; i++) {
		snprintf(p, sizeof(p), "vcpus.%u.bytes-per-sec", i);
		none &= json_path_int(q, p) == 0;
		snprintf(p, sizeof(p), "vcpus.%u.throttle-percentage", i);
		none &= json_path_int(q, p) == 0;
		none &= !strcmp(vcpu_str(q, i, "mechanism") ?: "", "none");
	}
	json_decref(q);
	return none;
}

/*
 * Logged bytes per second of vCPU @cpu over @ms, dirty-sync every SYNC_MS
 * (the ring's per-vCPU counts); *@trips: vCPU @io's round trips per second.
 */
static double logged_rate(struct test_vm *vm, unsigned int cpu, unsigned int ms,
			  unsigned int io, double *trips)
{
	uint64_t start, end, pages = 0;
	char p[32];
	int64_t t0;
	json_t *r;

	snprintf(p, sizeof(p), "vcpus.%u.io-round-trips", io);
	t0 = test_vm_stat(vm, p);
	json_decref(test_vm_cmd(vm, "dirty-sync"));
	start = test_now_ns();
	do {
		msleep(SYNC_MS);	/* the sync period: pacing, not waiting */
		r = test_vm_cmd(vm, "dirty-sync");
		pages += (uint64_t)json_integer_value(json_array_get(
			json_object_get(r, "vcpu-pages"), cpu));
		json_decref(r);
		end = test_now_ns();
	} while (end - start < ms * 1000000ULL);
	if (trips)
		*trips = (double)(test_vm_stat(vm, p) - t0) * 1e9 / (double)(end - start);
	return pages * 4096.0 * 1e9 / (double)(end - start);
}

static const struct {
	const char *cmd, *args, *desc;
} bad[] = {
	{ "set-vcpu-dirty-limit", "{\"bytes-per-sec\": 65536, \"mechanism\": 7}",
	  "'mechanism' must be a string" },
	{ "set-vcpu-dirty-limit", "{\"bytes-per-sec\": 65536, \"mechanism\": \"fast\"}",
	  "unknown mechanism 'fast' (auto, kernel, vmm)" },
	{ "set-vcpu-dirty-limit", "{\"bytes-per-sec\": 100, \"mechanism\": \"vmm\"}",
	  "rate 100 bytes/s: want 4096" },
	{ "set-vcpu-dirty-limit", "{\"cpu-index\": 2, \"bytes-per-sec\": 65536, "
	  "\"mechanism\": \"vmm\"}", "no vCPU 2 (the VM has 2)" },
	{ "set-vcpu-throttle", "{}", "'percentage' is required (0 removes the throttle)" },
	{ "set-vcpu-throttle", "{\"percentage\": 100}",
	  "'percentage' must be an integer from 0 to 99" },
	{ "set-vcpu-throttle", "{\"percentage\": -1}",
	  "'percentage' must be an integer from 0 to 99" },
	{ "set-vcpu-throttle", "{\"percentage\": \"half\"}",
	  "'percentage' must be an integer from 0 to 99" },
	{ "set-vcpu-throttle", "{\"cpu-index\": 2, \"percentage\": 50}",
	  "no vCPU 2 (the VM has 2)" },
	{ "set-vcpu-throttle", "{\"cpu-index\": -1, \"percentage\": 50}",
	  "'cpu-index' must be an integer >= 0" },
	{ "set-vcpu-throttle", "{\"percentage\": 50, \"speed\": 1}",
	  "command 'set-vcpu-throttle' has no argument 'speed'" },
};

static void test_bad(struct test_vm *vm, bool kernel)
{
	int64_t before;
	size_t i;
	bool ok;
	json_t *r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = test_pages_written(vm);
		r = test_vm_cmdf(vm, "{\"execute\": \"%s\", \"arguments\": %s}",
			 bad[i].cmd, bad[i].args);
		ok = is_error(r, bad[i].desc);
		json_decref(r);
		ok &= nothing_in_force(vm, 2) && test_vm_progresses(vm, before);
		ksft_test_result(ok, "%s %s refused: '%s'; nothing set, the guest "
				 "runs on", bad[i].cmd, bad[i].args, bad[i].desc);
	}
	if (kernel) {
		ksft_test_result_skip("the kernel has the limit: 'kernel' is available");
		return;
	}
	before = test_pages_written(vm);
	r = test_vm_cmdf(vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
		 "{\"bytes-per-sec\": 65536, \"mechanism\": \"kernel\"}}");
	ok = is_error(r, "mechanism 'kernel': this kernel holds no per-vCPU "
		      "dirty-rate limit (no KVM_CAP_DIRTY_RATE_LIMIT");
	json_decref(r);
	ok &= nothing_in_force(vm, 2) && test_vm_progresses(vm, before);
	ksft_test_result(ok, "mechanism 'kernel' refused by name on a kernel "
			 "without the limit; the guest runs on");
}

/* VM: vCPU 0 dirties 16 MiB unpaced, vCPU 1 does port IO every 1 ms. */
static void test_vmm_limit(struct test_vm *vm)
{
	double r0, r, trips0, trips, stalled, window;
	uint64_t limit;
	json_t *q;

	q = okf(vm, "{\"execute\": \"dirty-start\", \"arguments\": "
		"{\"backend\": \"ring\"}}");
	json_decref(q);
	logged_rate(vm, 0, 300, 1, NULL);		/* warm up */
	r0 = logged_rate(vm, 0, 1500, 1, &trips0);
	ksft_print_msg("unlimited: vCPU 0 %.1f MiB/s logged, vCPU 1 %.0f round "
		       "trips/s\n", r0 / (1 << 20), trips0);
	TEST_ASSERT(r0 >= 8 * 64 * 4096.0, "the guest dirties only %.0f B/s", r0);

	/* every vCPU, as a helper that knows no better would */
	limit = (uint64_t)(r0 / 8) & ~4095ULL;
	q = okf(vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
		"{\"bytes-per-sec\": %llu, \"io-stall-us\": 2000, \"mechanism\": "
		"\"vmm\"}}", (unsigned long long)limit);
	ksft_test_result(json_path_int(q, "vcpus.0.bytes-per-sec") == (int64_t)limit &&
			 json_path_int(q, "vcpus.1.io-stall-us") == 2000 &&
			 !strcmp(vcpu_str(q, 0, "mechanism"), "vmm") &&
			 !strcmp(vcpu_str(q, 1, "mechanism"), "vmm") &&
			 json_path_int(q, "mechanisms.vmm") == 1 &&
			 json_path_int(q, "mechanisms.cpu") == 1,
			 "set-vcpu-dirty-limit, mechanism vmm: %s", json_text(q));
	json_decref(q);
	/*
	 * A harvest may charge a ring's worth (4 MiB) dirtied before the
	 * limit: pay it off first.  And measure long enough for one ring to
	 * be a quarter of the window at most: 1.5 s at this host's usual
	 * 10-20 MiB/s, longer when a busy host starves the guest (and so
	 * the limit, 1/8 of what it managed, is lower).
	 */
	window = 4.0 * RING_BYTES / limit;
	window = window < 1.5 ? 1.5 : window > 8 ? 8 : window;
	logged_rate(vm, 0, 300 + (unsigned int)(1000.0 * RING_BYTES / limit), 1,
		    NULL);
	stalled = test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns");
	r = logged_rate(vm, 0, (unsigned int)(window * 1000), 1, &trips);
	stalled = (test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns") - stalled) /
		  (window * 1e9);
	ksft_print_msg("limit %llu B/s: %.0f B/s logged (%.3fx); vCPU 1 %.0f "
		       "round trips/s, p99 %lld ns\n", (unsigned long long)limit,
		       r, r / limit, trips,
		       (long long)test_vm_stat(vm, "vcpus.1.io-latency-ns.p99"));
	/*
	 * Over T the vCPU dirties at most limit × T + one burst (0.1 s of
	 * the limit) + one ring not yet charged (at most T / 4 of the
	 * limit, by the choice of T): up to 1.35x; 1.3 since both are
	 * seldom whole.  Below, it loses only the
	 * time it takes to wake and be scheduled: 0.5x is far below, unless
	 * the host is so busy that the vCPU, starved of CPU, is hardly ever
	 * in debt (it napped less than a tenth of the window): then falling
	 * short is not the limit's doing.
	 */
	ksft_test_result(r <= 1.3 * limit && (r >= 0.5 * limit || stalled < 0.1),
			 "a vmm limit of 1/8 holds: %.3fx (napped %.2f of the "
			 "time)", r / limit, stalled);
	ksft_test_result(test_vm_stat(vm, "vcpus.0.dirty-limit.stalls") > 0 &&
			 test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns") > 0 &&
			 test_vm_stat(vm, "vcpus.0.dirty-limit.dirty-bytes") > 0 &&
			 test_vm_stat(vm, "vcpus.1.dirty-limit.stalls") == 0 &&
			 trips >= trips0 / 4,
			 "query-stats shows vCPU 0's stalls; the IO vCPU, under "
			 "its limit, keeps %.0f of %.0f round trips/s", trips, trips0);

	q = okf(vm, "{\"execute\": \"cancel-vcpu-dirty-limit\"}");
	json_decref(q);
	/*
	 * Lifted: the vCPU naps no more.  (Its rate says so too on a quiet
	 * host, but a busy one may starve it below the old limit.)
	 */
	stalled = (double)test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns");
	r = logged_rate(vm, 0, 1000, 1, NULL);
	ksft_test_result(test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns") == stalled &&
			 nothing_in_force(vm, 2),
			 "cancelled: no more naps, %.0f B/s logged (%.1fx the "
			 "old limit)", r, r / limit);
}

/*
 * VM: one vCPU doing port IO every 1 ms, dirtying a few pages per sync
 * (its stack, its block).  A limit far below that puts it in debt at
 * once; with a burst of 4 MiB the debt stays within one burst for many
 * seconds, the regime where IO-awareness applies (as in KVM: beyond one
 * burst a vCPU pays as if not IO-aware).  The burst is set small first so
 * that the vCPU starts without a full 4 MiB bucket: a changed limit keeps
 * its tokens.
 */
static void test_io_aware(void)
{
	const char *const args[] = {
		"--vcpus", "1", "--mem", "16M", "--dirty-ring", RING,
		"--workload", "0:io,period=1000", NULL,
	};
	double base, trips, off;
	struct test_vm vm;
	int64_t shortened, p99;
	json_t *q;

	test_vm_start(&vm, args);
	json_decref(okf(&vm, "{\"execute\": \"dirty-start\", \"arguments\": "
			"{\"backend\": \"ring\"}}"));
	logged_rate(&vm, 0, 1000, 0, &base);
	json_decref(okf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
			"{\"bytes-per-sec\": 4096, \"burst-bytes\": 4096, "
			"\"io-stall-us\": 500}}"));
	q = okf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
		"{\"bytes-per-sec\": 4096, \"burst-bytes\": 4194304, "
		"\"io-stall-us\": 500}}");
	TEST_ASSERT(!strcmp(vcpu_str(q, 0, "mechanism"), "vmm"),
		    "auto picks vmm on a VM with rings: %s", json_text(q));
	json_decref(q);
	TEST_WAIT((logged_rate(&vm, 0, SYNC_MS, 0, NULL),
		   test_vm_stat(&vm, "vcpus.0.dirty-limit.io-shortened") > 0),
		  TEST_DEADLINE_S, "the IO vCPU never got into debt");
	shortened = test_vm_stat(&vm, "vcpus.0.dirty-limit.io-shortened");
	logged_rate(&vm, 0, 1500, 0, &trips);
	shortened = test_vm_stat(&vm, "vcpus.0.dirty-limit.io-shortened") - shortened;
	p99 = test_vm_stat(&vm, "vcpus.0.io-latency-ns.p99");
	ksft_print_msg("IO vCPU: %.0f round trips/s unlimited, %.0f in debt "
		       "IO-aware (%lld naps cut to 500 us), p99 %lld us\n", base,
		       trips, (long long)shortened, (long long)p99 / 1000);
	/*
	 * Every round trip naps up to 500 us and its period is 1 ms, so the
	 * rate holds (measured 0.99-1.0x; a quarter leaves room for a host so
	 * oversubscribed that the vCPU waits for a CPU after each nap, 0.27x
	 * at a load of 18 on 2 CPUs).  p99 (over the run, most of it in
	 * debt): 500 us of nap plus what it takes to be scheduled again, 2-8
	 * ms on this shared host under load; 20 ms is a fifth of the 100 ms
	 * naps the same debt costs without IO-awareness.
	 */
	ksft_test_result(trips >= base / 4 && shortened >= trips &&
			 p99 <= 20000000,
			 "IO-aware: the IO vCPU in debt keeps %.0f of %.0f round "
			 "trips/s, p99 %lld us", trips, base, (long long)p99 / 1000);

	json_decref(okf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
			"{\"bytes-per-sec\": 4096, \"burst-bytes\": 4194304}}"));
	logged_rate(&vm, 0, 1000, 0, &off);
	ksft_test_result(off < trips / 10, "not IO-aware, the same debt stops "
			 "it: %.0f round trips/s", off);
	json_decref(okf(&vm, "{\"execute\": \"cancel-vcpu-dirty-limit\"}"));
	ksft_test_result(TEST_POLL((logged_rate(&vm, 0, SYNC_MS, 0, &off),
				    off > base / 2), TEST_DEADLINE_S),
			 "cancelled: its round trips resume");
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
}

static void loops_per_sec(struct test_vm *vm, unsigned int ms, double *loops,
			  double *slept)
{
	int64_t l0 = test_vm_stat(vm, "vcpus.0.loops");
	int64_t s0 = test_vm_stat(vm, "vcpus.0.dirty-limit.throttle-ns");
	uint64_t t0 = test_now_ns(), t;

	msleep(ms);		/* the measuring window: not a wait */
	t = test_now_ns() - t0;
	*loops = (double)(test_vm_stat(vm, "vcpus.0.loops") - l0) * 1e9 / (double)t;
	*slept = (double)(test_vm_stat(vm, "vcpus.0.dirty-limit.throttle-ns") - s0) /
		 (double)t;
}

/* VM: vCPU 0 rewrites 16 pages in a loop, no exits; vCPU 1 does IO. */
static void test_cpu_throttle(void)
{
	const char *const args[] = {
		"--vcpus", "2", "--mem", "16M",
		"--workload", "0:dirty,rate=0,ws=64K",
		"--workload", "1:io,period=1000", NULL,
	};
	double a, b, c, s, ratio, unused;
	unsigned int tries;
	struct test_vm vm;
	bool set_ok = false;
	json_t *q;

	test_vm_start(&vm, args);
	loops_per_sec(&vm, 300, &a, &unused);		/* warm up */
	/*
	 * Unthrottled, throttled, unthrottled; again (up to 5 times) while
	 * the two unthrottled windows differ by more than a quarter: the
	 * host's load changed under the measurement, and the ratio would
	 * measure that.
	 */
	for (tries = 0; tries < 5; tries++) {
		loops_per_sec(&vm, 1000, &a, &unused);
		q = okf(&vm, "{\"execute\": \"set-vcpu-throttle\", \"arguments\": "
			"{\"cpu-index\": 0, \"percentage\": 50}}");
		set_ok = json_path_int(q, "vcpus.0.throttle-percentage") == 50 &&
			 json_path_int(q, "vcpus.1.throttle-percentage") == 0;
		if (!set_ok)
			ksft_print_msg("set-vcpu-throttle: %s\n", json_text(q));
		json_decref(q);
		loops_per_sec(&vm, 1000, &b, &s);
		json_decref(okf(&vm, "{\"execute\": \"set-vcpu-throttle\", "
				"\"arguments\": {\"cpu-index\": 0, \"percentage\": 0}}"));
		loops_per_sec(&vm, 1000, &c, &unused);
		if (a < 1.25 * c && c < 1.25 * a && s >= 0.3)
			break;
		ksft_print_msg("unthrottled windows %.0f and %.0f loops/s, slept "
			       "%.2f of the throttled one: the host's load changed "
			       "or starved the vCPU, again\n", a, c, s);
		/* a throttle that never sleeps is a bug, not the host */
		TEST_ASSERT(s >= 0.05, "the throttled vCPU slept %.2f of the time", s);
	}
	ksft_test_result(set_ok, "set-vcpu-throttle shows 50 on vCPU 0 only");
	if (tries == 5) {
		ksft_test_result_skip("the host's load changes faster than a 3 s "
				      "measurement, or starves the vCPU: no ratio "
				      "to compare");
		goto out;
	}
	ratio = 2 * b / (a + c);
	ksft_print_msg("loops/s: %.0f, at 50 %%: %.0f (slept %.2f of each "
		       "second), then %.0f: %.2fx\n", a, b, s, c, ratio);
	/*
	 * It sleeps as long as each slice took: 0.5 of the time, less the
	 * wake-up lags (measured 0.40-0.49 at a load of 10-18 on this 2-CPU
	 * host; under 0.3, the thread waited for a CPU after most naps, and
	 * the measurement was repeated).  The
	 * loop rate also depends on the host: measured 0.42-0.57x, up to
	 * 0.64x under load, where the scheduler favours a thread that slept
	 * over those that did not.
	 */
	ksft_test_result(ratio >= 0.3 && ratio <= 0.75 && s >= 0.3 && s <= 0.6,
			 "the CPU throttle at 50 %% gives %.2fx the loops, "
			 "sleeping %.2f of the time", ratio, s);
out:
	ksft_test_result(test_vm_stat(&vm, "vcpus.0.dirty-limit.throttle-percentage") == 0 &&
			 test_vm_stat(&vm, "vcpus.0.dirty-limit.throttle-ns") > 0,
			 "query-stats shows the throttle's time; 0 removed it");
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
}

static void test_disconnect(struct test_vm *vm)
{
	struct test_vm other;
	json_t *q;

	test_vm_connect_again(vm, &other);
	json_decref(okf(&other, "{\"execute\": \"set-vcpu-dirty-limit\", "
			"\"arguments\": {\"bytes-per-sec\": 1048576}}"));
	q = okf(&other, "{\"execute\": \"set-vcpu-throttle\", \"arguments\": "
		"{\"percentage\": 30}}");
	TEST_ASSERT(json_path_int(q, "vcpus.1.throttle-percentage") == 30 &&
		    json_path_int(q, "vcpus.1.bytes-per-sec") == 1048576,
		    "second client: %s", json_text(q));
	json_decref(q);
	fclose(other.rx);
	close(other.ctl);
	ksft_test_result(TEST_POLL(nothing_in_force(vm, 2), TEST_DEADLINE_S),
			 "the limits and throttles of a client that disconnected "
			 "are removed");
}

int main(void)
{
	const char *const args[] = {
		"--vcpus", "2", "--mem", "64M", "--dirty-ring", RING,
		"--workload", "0:dirty,rate=0,ws=16M",
		"--workload", "1:io,period=1000", NULL,
	};
	struct test_vm vm;
	bool kernel;
	json_t *r;

	ksft_print_header();
	test_require_kvm();
	test_vm_start(&vm, args);
	r = test_vm_cmd(&vm, "query-vcpu-dirty-limit");
	kernel = json_is_true(json_object_get(r, "kernel"));
	TEST_ASSERT(json_path_int(r, "mechanisms.vmm") == 1,
		    "a VM with rings has the vmm mechanism: %s", json_text(r));
	json_decref(r);
	ksft_set_plan(sizeof(bad) / sizeof(bad[0]) + 1 + 4 + 3 + 3 + 1);

	test_bad(&vm, kernel);
	test_vmm_limit(&vm);
	test_io_aware();
	test_cpu_throttle();
	test_disconnect(&vm);

	json_decref(test_vm_cmd(&vm, "dirty-stop"));
	r = test_vm_cmd(&vm, "verify");
	TEST_ASSERT(json_path_int(r, "bad") == 0, "guest memory: %s", json_text(r));
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
