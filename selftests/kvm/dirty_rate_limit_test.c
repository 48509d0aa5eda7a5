// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_SET_DIRTY_RATE_LIMIT / KVM_GET_DIRTY_RATE_LIMIT (kernel/patches/):
 * a per-vCPU dirty-rate limit in bytes per second, held by KVM.
 *
 * - The limit holds with every dirty-logging interface: a vCPU writes to one
 *   new page after another of a dirty-logged slot while the host re-arms the
 *   log every 50 ms (KVM_GET_DIRTY_LOG; GET + KVM_CLEAR_DIRTY_LOG; the dirty
 *   ring + KVM_RESET_DIRTY_RINGS; GET + KVM_FAST_WRITE_PROTECT) and counts
 *   the pages the log reports.  The rate measured without a limit, then at
 *   1/4, 1/8 and 1/16 of it, then with the limit removed again.
 * - IO-aware: a vCPU alternates background writes with port IO and a few
 *   writes right after each IO (timed by the guest with the TSC).  With
 *   KVM_DIRTY_RATE_LIMIT_IO_AWARE no such write stalls much longer than the
 *   configured bound; without it they stall for a page's worth of the rate.
 *   Both runs keep the long-run rate.
 * - A signal ends a stall at once: KVM_RUN returns -EINTR, KVM_EXIT_INTR.
 * - A limit below a page per longest sleep (a page a second against
 *   kvm.dirty_rate_limit_max_stall_us of 100 ms) holds: the vCPU sleeps
 *   again instead of entering the guest in debt.
 * - Who pays: only the vCPU that wrote, in KVM_RUN; not an idle vCPU beside
 *   it, and not a vCPU whose ioctl (KVM_SET_MSRS of the Hyper-V hypercall
 *   page) makes KVM write a logged page.
 * - Every invalid argument, the wrong fd, the capability disabled through
 *   kvm.dirty_rate_limit, the module parameters' ranges, the per-vCPU stats
 *   and the per-vCPU debugfs file.
 *
 * Tolerances.  The lab runs this nested under QEMU's software emulation,
 * where a guest page fault costs 30-90 us and the host's timers fire late
 * by up to a few ms under load: a window of 1.5 s holds hundreds to
 * thousands of pages, the bucket admits at most one burst (100 ms of the
 * rate, excluded by a warm-up) beyond the rate, and sleeps only ever
 * overshoot.  So the achieved rate must lie between 0.5x and 1.15x the
 * limit: a limit that did not act would give 4-16x, a limit that stalled
 * twice too long would give 0.5x.
 */
#include "dirty_rate_limit.h"
#include "hyperv.h"

/* ------------------------------------------------------------ the limit holds */

static void test_rate(enum log_mode mode)
{
	static const unsigned int div[] = { 4, 8, 16 };
	struct kvm_dirty_rate_limit l = {}, off = {};
	const char *name = log_mode_name[mode];
	double r0, r, ratio;
	uint64_t stalls;
	struct tvm t;
	unsigned int i;

	tvm_create(&t, mode);
	tvm_start(&t);

	tvm_rate(&t, 300);			/* fault the page tables in */
	r0 = tvm_rate(&t, 1500);
	ksft_print_msg("%s: unlimited %.1f MiB/s\n", name, r0 / (1 << 20));
	TEST_ASSERT(r0 >= 16 * 64 * PAGE,
		    "%s: the guest dirties only %.0f bytes/s", name, r0);

	for (i = 0; i < ARRAY_SIZE(div); i++) {
		l.bytes_per_sec = (uint64_t)(r0 / div[i]) & ~(PAGE - 1);
		TEST_ASSERT(!tvm_set_limit(&t, &l), "%s: set %llu B/s", name,
			    l.bytes_per_sec);
		tvm_rate(&t, 300);		/* the first, full bucket */
		r = tvm_rate(&t, 1500);
		ratio = r / l.bytes_per_sec;
		ksft_print_msg("%s: limit 1/%u: %.2f MiB/s achieved, %.3f x the limit\n",
			       name, div[i], r / (1 << 20), ratio);
		TEST_ASSERT(ratio >= 0.5 && ratio <= 1.15,
			    "%s: limit %llu B/s, achieved %.0f B/s (%.3fx)",
			    name, l.bytes_per_sec, r, ratio);
	}
	stalls = vcpu_stat(t.stats_fd, "dirty_limit_stalls");
	TEST_ASSERT(stalls > 0, "%s: dirty_limit_stalls is 0", name);

	TEST_ASSERT(!tvm_set_limit(&t, &off), "%s: remove the limit", name);
	r = tvm_rate(&t, 1000);
	TEST_ASSERT(r >= 4 * l.bytes_per_sec,
		    "%s: with the limit removed the guest dirties %.0f B/s, limit was %llu",
		    name, r, l.bytes_per_sec);
	tvm_finish(&t);
	ksft_test_result_pass("%s: the limit holds at 1/4, 1/8, 1/16 of %.1f MiB/s, "
			      "%lu stalls, and is gone when removed\n",
			      name, r0 / (1 << 20), stalls);
}

/* ------------------------------------------------------------ IO-aware */

/*
 * A page costs 15.6 ms at IO_RATE.  Each cycle writes IO_A pages, does a port
 * IO and writes IO_B pages: IO_GRACE_US covers the IO_B pages (a few ms each
 * under TCG) and some of the IO_A ones, whose debt stays below a burst and is
 * paid by the remaining IO_A pages.
 */
#define IO_RATE		(256 * 1024)
#define IO_BURST	(128 * 1024)
#define IO_STALL_US	2000
#define IO_GRACE_US	"50000"
#define IO_A		24
#define IO_B		4
#define IO_CYCLES	6

static void io_run(bool aware, struct io_result *res)
{
	struct kvm_dirty_rate_limit l = {
		.bytes_per_sec = IO_RATE,
		.burst_bytes = IO_BURST,
	};

	if (aware) {
		l.flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE;
		l.io_stall_max_us = IO_STALL_US;
	}
	tvm_io_run(&l, IO_A, IO_B, IO_CYCLES, res);
}

/*
 * The guest times each write with the TSC, which under TCG follows the host's
 * clock: a nested fault and a late timer add a few ms, and the host taking
 * the emulator's thread off its CPU (make check runs other tests beside the
 * lab) adds any amount, once in a while.  A stall that IO-awareness failed to
 * shorten costs a page at IO_RATE (15.6 ms) in every run; the host's noise
 * seldom strikes twice.  So the IO-aware run is tried up to IO_TRIES times
 * and the first whose every write after an IO kept the bound counts, with
 * the bound unchanged; the attempts are printed.
 */
#define IO_TRIES	3
#define IO_NOISE_MS	5.0

static void test_io_aware(void)
{
	unsigned long grace = param_read("dirty_rate_limit_io_grace_us");
	const double bound_ms = IO_STALL_US / 1000.0 + IO_NOISE_MS;
	struct io_result on, off;
	unsigned int tries;
	double slack;
	char buf[32];

	param_set("dirty_rate_limit_io_grace_us", IO_GRACE_US);
	for (tries = 1; ; tries++) {
		io_run(true, &on);
		ksft_print_msg("IO-aware, try %u: longest write after an IO %.2f ms "
			       "(bound %u us + %.0f ms), %.0f B/s, %lu stalls shortened\n",
			       tries, on.max_ms, IO_STALL_US, IO_NOISE_MS, on.rate,
			       on.shortened);
		if (on.max_ms <= bound_ms || tries == IO_TRIES)
			break;
	}
	io_run(false, &off);
	snprintf(buf, sizeof(buf), "%lu", grace);
	param_set("dirty_rate_limit_io_grace_us", buf);

	ksft_print_msg("not IO-aware: longest write after an IO %.2f ms, %.0f B/s\n",
		       off.max_ms, off.rate);

	TEST_ASSERT(on.max_ms <= bound_ms,
		    "IO-aware: a write after an IO took %.2f ms in each of %u runs "
		    "(the last shown)", on.max_ms, tries);
	TEST_ASSERT(on.shortened > 0, "IO-aware: no stall was shortened");
	TEST_ASSERT(off.max_ms >= 10, "not IO-aware: the longest write after an IO "
		    "took only %.2f ms; a page costs 15.6 ms", off.max_ms);
	TEST_ASSERT(off.shortened == 0, "not IO-aware: %lu stalls shortened",
		    off.shortened);
	/* long-run: at most the rate plus the debt, at most a burst */
	slack = 1.0 * IO_BURST / on.secs;
	TEST_ASSERT(on.rate <= IO_RATE * 1.15 + slack && on.rate >= IO_RATE * 0.5,
		    "IO-aware: long-run rate %.0f B/s, limit %u", on.rate, IO_RATE);
	slack = 1.0 * IO_BURST / off.secs;
	TEST_ASSERT(off.rate <= IO_RATE * 1.15 + slack && off.rate >= IO_RATE * 0.5,
		    "not IO-aware: long-run rate %.0f B/s, limit %u", off.rate, IO_RATE);
	ksft_test_result_pass("IO-aware: writes after an IO stall at most %.2f ms "
			      "(bound %u us, run %u of %u) against %.2f ms without; "
			      "long-run %.2fx and %.2fx the limit\n", on.max_ms,
			      IO_STALL_US, tries, IO_TRIES, off.max_ms,
			      on.rate / IO_RATE, off.rate / IO_RATE);
}

/* ------------------------------------------------------------ a signal */

static void test_signal(void)
{
	unsigned long max_stall = param_read("dirty_rate_limit_max_stall_us");
	struct kvm_dirty_rate_limit l = {
		.bytes_per_sec = PAGE,	/* a page a second */
		.burst_bytes = PAGE,
	};
	uint64_t sent, stall_ns;
	struct tvm t;
	char buf[32];

	param_set("dirty_rate_limit_max_stall_us", "5000000");
	tvm_create(&t, LOG_BITMAP);
	t.stop_on_eintr = true;
	TEST_ASSERT(!__set_limit(t.vcpu, &l), "set a page a second");
	tvm_start(&t);

	/*
	 * The first page takes the bucket; the second costs a second of sleep.
	 * Signal 200 ms into it (the stats below tell whether it slept).
	 */
	while (guest_var_load(t.vm, &guest_pages) < 1)
		sched_yield();
	sleep_ms(200);
	sent = now_ns();
	pthread_kill(t.thread, SIGUSR1);
	pthread_join(t.thread, NULL);

	stall_ns = vcpu_stat(t.stats_fd, "dirty_limit_stall_ns");
	snprintf(buf, sizeof(buf), "%lu", max_stall);
	param_set("dirty_rate_limit_max_stall_us", buf);

	TEST_ASSERT(t.run_errno == EINTR &&
		    t.vcpu->run->exit_reason == KVM_EXIT_INTR,
		    "KVM_RUN: errno %d, exit %s", t.run_errno,
		    exit_reason_str(t.vcpu->run->exit_reason));
	TEST_ASSERT(vcpu_stat(t.stats_fd, "dirty_limit_stalls") == 1 &&
		    stall_ns >= 100000000ULL,
		    "the vCPU was not stalling when signalled (%lu ns)", stall_ns);
	TEST_ASSERT(t.run_end_ns - sent < 200000000ULL && stall_ns < 600000000ULL,
		    "KVM_RUN returned %lu ms after the signal, stalled %lu ms of 1000",
		    (t.run_end_ns - sent) / 1000000, stall_ns / 1000000);
	ksft_test_result_pass("a signal ends a 1 s stall after %lu ms: -EINTR, "
			      "KVM_EXIT_INTR (stalled %lu ms)\n",
			      (t.run_end_ns - sent) / 1000000, stall_ns / 1000000);
	tvm_free(&t);
}

/* ------------------------------------------------------------ below a page a stall */

/*
 * A page a second: each page costs 10 of kvm.dirty_rate_limit_max_stall_us's
 * 100 ms sleeps.  A vCPU that entered the guest after each capped sleep would
 * log ~10 pages a second; the limit must hold instead.
 */
static void test_slow_limit(void)
{
	unsigned long max_stall = param_read("dirty_rate_limit_max_stall_us");
	struct kvm_dirty_rate_limit l = { .bytes_per_sec = PAGE };
	uint64_t start, pages = 0, stalls;
	struct tvm t;
	double secs;

	TEST_ASSERT(max_stall * 4 <= 1000000,
		    "kvm.dirty_rate_limit_max_stall_us is %lu: this case wants "
		    "several sleeps a page", max_stall);
	tvm_create(&t, LOG_BITMAP);
	TEST_ASSERT(!__set_limit(t.vcpu, &l), "set a page a second");
	tvm_start(&t);
	start = now_ns();
	tvm_harvest(&t);
	do {
		sleep_ms(HARVEST_MS);
		pages += tvm_harvest(&t);
	} while (now_ns() - start < 3000000000ULL);
	secs = (now_ns() - start) / 1e9;
	tvm_stop(&t);
	stalls = vcpu_stat(t.stats_fd, "dirty_limit_stalls");
	/* the rate, the first bucket (a page), the page that took it into debt */
	TEST_ASSERT(pages >= 1 && pages <= (uint64_t)secs + 1 + 1 + 1,
		    "a page a second, %lu us longest sleep: %lu pages in %.2f s",
		    max_stall, pages, secs);
	TEST_ASSERT(stalls * max_stall >= (pages - 1) * 1000000 / 2,
		    "%lu pages paid with only %lu sleeps of at most %lu us",
		    pages, stalls, max_stall);
	ksft_test_result_pass("a page a second with %lu ms sleeps: %lu pages in "
			      "%.2f s, %lu sleeps\n", max_stall / 1000, pages,
			      secs, stalls);
	tvm_free(&t);
}

/* ------------------------------------------------------------ who pays */

/*
 * vCPU 1 writes; vCPU 0, idle beside it, never runs, but its KVM_SET_MSRS
 * of the Hyper-V hypercall page makes KVM write a page of the logged slot
 * meanwhile.  vCPU 1 pays exactly its own pages; vCPU 0 pays nothing, and
 * the hypercall page is logged all the same.
 */
#define HC_PAGE		(TEST_PAGES - 1)

static void test_charging(void)
{
	/* 2048 pages a second: the writer stays far from HC_PAGE */
	struct kvm_dirty_rate_limit l = { .bytes_per_sec = 8ULL << 20 };
	bool hyperv = kvm_has_cap(KVM_CAP_HYPERV);
	struct kvm_vcpu *idle;
	uint64_t pages = 0, b0, b1;
	unsigned char *hc;
	struct tvm t;
	int idle_fd;

	tvm_create(&t, LOG_BITMAP);
	idle = t.vcpu;
	idle_fd = t.stats_fd;
	t.vcpu = vm_vcpu_add(t.vm, 1, guest_code);
	t.stats_fd = vcpu_get_stats_fd(t.vcpu);
	/* limited, both: a charge goes to a live bucket either way */
	TEST_ASSERT(!__set_limit(idle, &l) && !__set_limit(t.vcpu, &l),
		    "set limits");
	if (hyperv) {
		vcpu_set_hv_cpuid(idle);
		vcpu_set_msr(idle, HV_X64_MSR_GUEST_OS_ID, HYPERV_LINUX_OS_ID);
	}
	tvm_harvest(&t);
	tvm_start(&t);
	while (pages < 64) {
		sleep_ms(HARVEST_MS);
		pages += tvm_harvest(&t);
	}
	if (hyperv)
		vcpu_set_msr(idle, HV_X64_MSR_HYPERCALL,
			     (TEST_GPA + HC_PAGE * PAGE) | 1);
	tvm_stop(&t);
	pages += tvm_harvest(&t);
	b0 = vcpu_stat(idle_fd, "dirty_bytes");
	b1 = vcpu_stat(t.stats_fd, "dirty_bytes");
	close(idle_fd);

	TEST_ASSERT(b0 == 0, "the idle vCPU was charged %lu bytes", b0);
	if (!hyperv) {
		TEST_ASSERT(b1 == pages * PAGE, "vCPU 1 logged %lu pages, paid "
			    "%lu bytes", pages, b1);
		ksft_test_result_pass("who pays: the writer its %lu pages, the "
				      "idle vCPU nothing\n", pages);
		ksft_test_result_skip("who pays: no KVM_CAP_HYPERV for a vCPU "
				      "ioctl that writes guest memory\n");
		tvm_free(&t);
		return;
	}
	/* the hypercall page: written by KVM, logged, in vCPU 1's count? */
	hc = addr_gpa2hva(t.vm, TEST_GPA + HC_PAGE * PAGE);
	TEST_ASSERT(hc[0] && test_bit(HC_PAGE, t.bmap),
		    "the hypercall page was not written (%#x) or not logged",
		    hc[0]);
	TEST_ASSERT(b1 == (pages - 1) * PAGE, "vCPU 1 logged %lu pages (and "
		    "the hypercall page), paid %lu bytes", pages - 1, b1);
	ksft_test_result_pass("who pays: the writer its %lu pages, the idle "
			      "vCPU nothing\n", pages - 1);
	ksft_test_result_pass("who pays: KVM_SET_MSRS wrote and logged the "
			      "hypercall page, charged to no one\n");
	tvm_free(&t);
}

/* ------------------------------------------------------------ arguments */

static void expect_einval(struct kvm_vcpu *vcpu, struct kvm_dirty_rate_limit *l,
			  const char *what)
{
	struct kvm_dirty_rate_limit before, after;

	get_limit(vcpu, &before);
	TEST_ASSERT(__set_limit(vcpu, l) == -1 && errno == EINVAL,
		    "%s: want EINVAL, got %s", what, strerror(errno));
	get_limit(vcpu, &after);
	TEST_ASSERT(!memcmp(&before, &after, sizeof(before)),
		    "%s: refused, but the limit changed", what);
}

static void test_arguments(void)
{
	struct kvm_dirty_rate_limit good = {
		.flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE,
		.io_stall_max_us = 1000,
		.bytes_per_sec = 1 << 20,
		.burst_bytes = 1 << 16,
	}, l, got;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int i, kvm_fd;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT) ==
		    KVM_DIRTY_RATE_LIMIT_IO_AWARE,
		    "KVM_CHECK_EXTENSION: %d", vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT));

	get_limit(vcpu, &got);
	l = (struct kvm_dirty_rate_limit){};
	TEST_ASSERT(!memcmp(&got, &l, sizeof(l)), "a new vCPU has a limit");
	TEST_ASSERT(!__set_limit(vcpu, &good), "set a valid limit");
	get_limit(vcpu, &got);
	TEST_ASSERT(!memcmp(&got, &good, sizeof(good)), "GET differs from SET");
	ksft_test_result_pass("KVM_CHECK_EXTENSION says IO_AWARE; GET returns what SET set\n");

	l = good;
	l.flags = 1U << 1;
	expect_einval(vcpu, &l, "an unknown flag");
	l.flags = 1U << 31;
	expect_einval(vcpu, &l, "flag bit 31");
	for (i = 0; i < ARRAY_SIZE(l.reserved); i++) {
		l = good;
		l.reserved[i] = 1;
		expect_einval(vcpu, &l, "a reserved word");
	}
	ksft_test_result_pass("unknown flags, each reserved word: EINVAL, nothing changed\n");

	l = good;
	l.bytes_per_sec = PAGE - 1;
	expect_einval(vcpu, &l, "a rate below a page per second");
	l.bytes_per_sec = (1ULL << 40) + 1;
	expect_einval(vcpu, &l, "a rate above 1 TiB/s");
	l = good;
	l.burst_bytes = PAGE - 1;
	expect_einval(vcpu, &l, "a burst below a page");
	l.burst_bytes = (1ULL << 40) + 1;
	expect_einval(vcpu, &l, "a burst above 1 TiB");
	l = good;
	l.io_stall_max_us = 0;
	expect_einval(vcpu, &l, "IO_AWARE without a stall bound");
	l.io_stall_max_us = 1000001;
	expect_einval(vcpu, &l, "an IO stall bound above 1 s");
	l = good;
	l.flags = 0;
	expect_einval(vcpu, &l, "a stall bound without IO_AWARE");
	l = (struct kvm_dirty_rate_limit){ .burst_bytes = PAGE };
	expect_einval(vcpu, &l, "no rate but a burst");
	l = (struct kvm_dirty_rate_limit){ .flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE,
					   .io_stall_max_us = 10 };
	expect_einval(vcpu, &l, "no rate but IO_AWARE");
	/* the bounds themselves are in range */
	l = (struct kvm_dirty_rate_limit){ .bytes_per_sec = PAGE, .burst_bytes = PAGE,
					   .flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE,
					   .io_stall_max_us = 1 };
	TEST_ASSERT(!__set_limit(vcpu, &l), "the lowest rate, burst and IO "
		    "bound: %s", strerror(errno));
	l.bytes_per_sec = l.burst_bytes = 1ULL << 40;
	l.io_stall_max_us = 1000000;
	TEST_ASSERT(!__set_limit(vcpu, &l), "the highest rate, burst and IO "
		    "bound: %s", strerror(errno));
	get_limit(vcpu, &got);
	TEST_ASSERT(!memcmp(&got, &l, sizeof(l)), "GET after the highest bounds");
	TEST_ASSERT(!__set_limit(vcpu, &good), "set the valid limit again");
	ksft_test_result_pass("rates, bursts and IO stall bounds out of range: "
			      "EINVAL; the bounds themselves taken\n");

	TEST_ASSERT(__vcpu_ioctl(vcpu, KVM_SET_DIRTY_RATE_LIMIT,
				 (struct kvm_dirty_rate_limit *)8) == -1 &&
		    errno == EFAULT, "SET from a bad address: %s", strerror(errno));
	TEST_ASSERT(__vcpu_ioctl(vcpu, KVM_GET_DIRTY_RATE_LIMIT,
				 (struct kvm_dirty_rate_limit *)8) == -1 &&
		    errno == EFAULT, "GET to a bad address: %s", strerror(errno));
	TEST_ASSERT(__vm_ioctl(vm, KVM_SET_DIRTY_RATE_LIMIT, &good) == -1 &&
		    errno == ENOTTY, "SET on the VM fd: %s", strerror(errno));
	kvm_fd = open_kvm_dev_path_or_exit();
	TEST_ASSERT(ioctl(kvm_fd, KVM_SET_DIRTY_RATE_LIMIT, &good) == -1 &&
		    errno == EINVAL, "SET on /dev/kvm: %s", strerror(errno));
	close(kvm_fd);
	ksft_test_result_pass("a bad address: EFAULT; the VM fd: ENOTTY; /dev/kvm: EINVAL\n");

	/* Disabled: the capability says 0, SET is refused, GET still reads. */
	param_set("dirty_rate_limit", "N");
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT) == 0,
		    "disabled, KVM_CHECK_EXTENSION says %d",
		    vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT));
	TEST_ASSERT(__set_limit(vcpu, &good) == -1 && errno == EOPNOTSUPP,
		    "disabled, SET: %s", strerror(errno));
	get_limit(vcpu, &got);
	TEST_ASSERT(!memcmp(&got, &good, sizeof(good)),
		    "disabled, GET: the limit set before is not kept");
	l = (struct kvm_dirty_rate_limit){};
	TEST_ASSERT(!__set_limit(vcpu, &l), "disabled, SET 0 (remove): %s",
		    strerror(errno));
	get_limit(vcpu, &got);
	TEST_ASSERT(!got.bytes_per_sec, "disabled, SET 0 left a limit");
	param_set("dirty_rate_limit", "Y");
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT) ==
		    KVM_DIRTY_RATE_LIMIT_IO_AWARE, "re-enabled, KVM_CHECK_EXTENSION");
	l = (struct kvm_dirty_rate_limit){};
	TEST_ASSERT(!__set_limit(vcpu, &l), "remove the limit");
	ksft_test_result_pass("kvm.dirty_rate_limit=N: KVM_CHECK_EXTENSION 0, SET "
			      "EOPNOTSUPP, GET reads the limit kept, SET 0 "
			      "removes it; =Y: back\n");
	kvm_vm_free(vm);
}

static void test_params(void)
{
	static const struct {
		const char *name, *low, *high, *good;
	} p[] = {
		{ "dirty_rate_limit_period_ms", "0", "10001", "250" },
		{ "dirty_rate_limit_max_stall_us", "99", "10000001", "50000" },
		{ "dirty_rate_limit_io_grace_us", "-1", "1000001", "0" },
	};
	unsigned long before;
	char buf[32];
	int i;

	for (i = 0; i < ARRAY_SIZE(p); i++) {
		before = param_read(p[i].name);
		TEST_ASSERT(param_write(p[i].name, p[i].low) == EINVAL,
			    "%s=%s accepted", p[i].name, p[i].low);
		TEST_ASSERT(param_write(p[i].name, p[i].high) == EINVAL,
			    "%s=%s accepted", p[i].name, p[i].high);
		TEST_ASSERT(param_write(p[i].name, "x") == EINVAL,
			    "%s=x accepted", p[i].name);
		TEST_ASSERT(param_read(p[i].name) == before,
			    "%s changed by a refused write", p[i].name);
		param_set(p[i].name, p[i].good);
		TEST_ASSERT(param_read(p[i].name) == strtoul(p[i].good, NULL, 0),
			    "%s=%s not taken", p[i].name, p[i].good);
		snprintf(buf, sizeof(buf), "%lu", before);
		param_set(p[i].name, buf);
	}
	ksft_test_result_pass("module parameters: out-of-range and malformed "
			      "values refused (EINVAL), in-range taken\n");
}

static void test_stats(void)
{
	static const struct {
		const char *name;
		uint32_t type, unit;
	} want[] = {
		{ "dirty_bytes", KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_UNIT_BYTES },
		{ "dirty_limit_stalls", KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_UNIT_NONE },
		{ "dirty_limit_stall_ns", KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_UNIT_SECONDS },
		{ "dirty_limit_stall_max_ns", KVM_STATS_TYPE_PEAK, KVM_STATS_UNIT_SECONDS },
		{ "dirty_limit_io_shortened", KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_UNIT_NONE },
	};
	struct kvm_dirty_rate_limit l = { .bytes_per_sec = 64 * PAGE };
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *d = NULL;
	uint64_t bytes, pages, stalls, ns, max_ns;
	struct tvm t;
	int fd, i, j;

	tvm_create(&t, LOG_BITMAP);
	fd = t.stats_fd;
	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		for (j = 0; j < header.num_desc; j++) {
			d = get_stats_descriptor(descs, j, &header);
			if (!strcmp(d->name, want[i].name))
				break;
		}
		TEST_ASSERT(j < header.num_desc, "no stat %s", want[i].name);
		TEST_ASSERT((d->flags & KVM_STATS_TYPE_MASK) == want[i].type &&
			    (d->flags & KVM_STATS_UNIT_MASK) == want[i].unit,
			    "stat %s: flags %#x", want[i].name, d->flags);
	}
	free(descs);

	/* 64 pages a second for a second after a bucket of 6: about 70 pages */
	TEST_ASSERT(!__set_limit(t.vcpu, &l), "set 64 pages/s");
	tvm_start(&t);
	tvm_harvest(&t);
	pages = 0;
	while (pages < 64) {
		sleep_ms(HARVEST_MS);
		pages += tvm_harvest(&t);
	}
	tvm_stop(&t);
	bytes = vcpu_stat(t.stats_fd, "dirty_bytes");
	stalls = vcpu_stat(t.stats_fd, "dirty_limit_stalls");
	ns = vcpu_stat(t.stats_fd, "dirty_limit_stall_ns");
	max_ns = vcpu_stat(t.stats_fd, "dirty_limit_stall_max_ns");
	TEST_ASSERT(bytes >= pages * PAGE, "dirty_bytes %lu < %lu pages logged",
		    bytes, pages);
	TEST_ASSERT(stalls >= 32 && ns >= 500000000ULL && max_ns >= 10000000ULL &&
		    max_ns <= ns,
		    "stalls %lu, stall_ns %lu, stall_max_ns %lu", stalls, ns, max_ns);
	/* kvm_stat reads the same stats as debugfs files, summed over vCPUs */
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s", want[i].name);
		TEST_ASSERT(!access(path, R_OK), "kvm_stat's %s: %s", path,
			    strerror(errno));
	}
	ksft_test_result_pass("stats: the five descriptors and their debugfs "
			      "files (kvm_stat); %lu bytes dirtied, %lu stalls, "
			      "%lu ms stalled, longest %lu ms\n",
			      bytes, stalls, ns / 1000000, max_ns / 1000000);
	tvm_free(&t);
}

/* /sys/kernel/debug/kvm/PID-FD/vcpu0/dirty_rate_limit of this process's VM */
static void debugfs_path(char *path, size_t size)
{
	char prefix[32];
	struct dirent *e;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	d = opendir("/sys/kernel/debug/kvm");
	TEST_ASSERT(d, "open /sys/kernel/debug/kvm");
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			break;
	TEST_ASSERT(e, "no debugfs directory for pid %d", getpid());
	snprintf(path, size, "/sys/kernel/debug/kvm/%s/vcpu0/dirty_rate_limit",
		 e->d_name);
	closedir(d);
}

static int debugfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	TEST_ASSERT(fd >= 0, "open %s", path);
	if (write(fd, s, strlen(s)) < 0)
		err = errno;
	close(fd);
	return err;
}

static void test_debugfs(void)
{
	struct kvm_dirty_rate_limit got;
	char path[384], buf[512];
	uint64_t pages, deadline, start;
	struct tvm t;
	double secs;
	ssize_t n;
	int fd, err;

	tvm_create(&t, LOG_BITMAP);
	debugfs_path(path, sizeof(path));
	TEST_ASSERT(debugfs_write(path, "1") == EINVAL, "debugfs: 1 B/s accepted");
	TEST_ASSERT(debugfs_write(path, "4096 1") == EINVAL, "debugfs: 1 byte burst accepted");
	TEST_ASSERT(debugfs_write(path, "4096 0 2000000") == EINVAL,
		    "debugfs: a 2 s IO stall bound accepted");
	TEST_ASSERT(debugfs_write(path, "lots") == EINVAL, "debugfs: 'lots' accepted");
	TEST_ASSERT(debugfs_write(path, "4096 0 0 7") == EINVAL,
		    "debugfs: four numbers accepted");
	get_limit(t.vcpu, &got);
	TEST_ASSERT(!got.bytes_per_sec, "debugfs: a refused write set a limit");

	/* Limits off: no new limit, but removing one works. */
	param_set("dirty_rate_limit", "N");
	err = debugfs_write(path, "4096");
	TEST_ASSERT(!debugfs_write(path, "0") && err == EOPNOTSUPP,
		    "debugfs while disabled: '4096' gave %s, want EOPNOTSUPP",
		    strerror(err));
	param_set("dirty_rate_limit", "Y");

	/* The running vCPU takes a limit from debugfs without stopping. */
	tvm_start(&t);
	TEST_ASSERT(!debugfs_write(path, "32768 0 500\n"), "debugfs: set 8 pages/s");
	/* pending until the vCPU takes it at its next entry: it was kicked */
	deadline = now_ns() + 10000000000ULL;
	do {
		fd = open(path, O_RDONLY);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		TEST_ASSERT(n > 0, "debugfs: read");
		buf[n] = '\0';
		TEST_ASSERT(now_ns() < deadline,
			    "debugfs: the vCPU did not take the limit in 10 s: '%s'", buf);
	} while (strstr(buf, "pending:"));
	/*
	 * 8 pages a second, a burst of one page (100 ms of the rate, at least
	 * a page), and the page whose fault took the bucket into debt.
	 */
	start = now_ns();
	tvm_harvest(&t);
	sleep_ms(1000);
	pages = tvm_harvest(&t);
	secs = (now_ns() - start) / 1e9;
	TEST_ASSERT(pages <= (uint64_t)(8 * secs) + 1 + 1 + 1,
		    "debugfs limit of 8 pages/s: %lu pages in %.2f s", pages, secs);
	tvm_stop(&t);
	get_limit(t.vcpu, &got);
	TEST_ASSERT(got.bytes_per_sec == 32768 &&
		    got.flags == KVM_DIRTY_RATE_LIMIT_IO_AWARE &&
		    got.io_stall_max_us == 500 && !got.burst_bytes,
		    "debugfs: GET says %llu B/s, flags %#x, %u us",
		    got.bytes_per_sec, got.flags, got.io_stall_max_us);
	TEST_ASSERT(strstr(buf, "bytes_per_sec: ") && strstr(buf, "tokens: "),
		    "debugfs: read gave '%s'", buf);
	ksft_test_result_pass("debugfs: bad writes EINVAL, a limit EOPNOTSUPP "
			      "while disabled (0 works); a running vCPU takes "
			      "a limit (%lu pages in %.2f s at 8/s)\n", pages, secs);
	tvm_free(&t);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int mode;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_DIRTY_RATE_LIMIT));
	sigaction(SIGUSR1, &sa, NULL);

	ksft_print_header();
	ksft_set_plan(5 + 1 + 1 + 1 + NR_LOG_MODES + 1 + 1 + 1 + 2);

	test_arguments();
	test_params();
	test_stats();
	test_debugfs();
	for (mode = 0; mode < NR_LOG_MODES; mode++) {
		if (mode == LOG_RING && !kvm_has_cap(KVM_CAP_DIRTY_LOG_RING_ACQ_REL)) {
			ksft_test_result_skip("dirty-ring: not supported\n");
			continue;
		}
		if (mode == LOG_FASTWP && !kvm_has_cap(KVM_CAP_FAST_WRITE_PROTECT)) {
			ksft_test_result_skip("fast-wp: not supported\n");
			continue;
		}
		test_rate(mode);
	}
	test_io_aware();
	test_signal();
	test_slow_limit();
	test_charging();
	ksft_finished();
}
