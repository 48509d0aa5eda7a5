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
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bitmap.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "fast_wp.h"

#define TEST_SLOT	10
#define TEST_GPA	(1ULL << 30)
#define TEST_PAGES	16384		/* 64 MiB */
#define PAGE		4096ULL
#define RING_ENTRIES	65536
#define HARVEST_MS	50

#define PARAM_DIR	"/sys/module/kvm/parameters/"

/* shared with the guest (guest_var_store/load) */
static volatile uint64_t guest_pages;	/* pages written so far */
static volatile uint64_t guest_stop;	/* host: finish */
static volatile uint64_t guest_io_a;	/* IO pattern: background pages */
static volatile uint64_t guest_io_b;	/* IO pattern: pages after an IO */
static volatile uint64_t guest_io_max;	/* longest such write, TSC cycles */

static inline void guest_write_page(uint64_t i)
{
	*(volatile uint64_t *)(TEST_GPA + (i % TEST_PAGES) * PAGE) = i;
	guest_pages = i + 1;
}

/*
 * Write one new page after another; with guest_io_a set, write that many,
 * do a port IO (a ucall), then write guest_io_b pages timing each.
 */
static void guest_code(void)
{
	uint64_t i = 0, j, t0, t1;

	while (!guest_stop) {
		if (!guest_io_a) {
			guest_write_page(i++);
			continue;
		}
		for (j = 0; j < guest_io_a; j++)
			guest_write_page(i++);
		GUEST_SYNC(i);
		for (j = 0; j < guest_io_b; j++) {
			t0 = rdtsc();
			guest_write_page(i++);
			t1 = rdtsc();
			if (t1 - t0 > guest_io_max)
				guest_io_max = t1 - t0;
		}
	}
	GUEST_DONE();
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ------------------------------------------------------------ ioctls */

static int __set_limit(struct kvm_vcpu *vcpu, struct kvm_dirty_rate_limit *l)
{
	return __vcpu_ioctl(vcpu, KVM_SET_DIRTY_RATE_LIMIT, l);
}

static void get_limit(struct kvm_vcpu *vcpu, struct kvm_dirty_rate_limit *l)
{
	vcpu_ioctl(vcpu, KVM_GET_DIRTY_RATE_LIMIT, l);
}

/*
 * A vCPU stat by name, from its binary stats fd.  The fd is taken before the
 * vCPU runs: KVM_GET_STATS_FD, a vCPU ioctl, waits for KVM_RUN to return.
 */
static uint64_t vcpu_stat(int fd, const char *name)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *d;
	uint64_t data = 0;
	bool found = false;
	int i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		d = get_stats_descriptor(descs, i, &header);
		if (strcmp(d->name, name))
			continue;
		read_stat_data(fd, &header, d, &data, 1);
		found = true;
		break;
	}
	free(descs);
	TEST_ASSERT(found, "vCPU stat %s not found", name);
	return data;
}

/* ------------------------------------------------------------ module parameters */

static int param_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY);
	TEST_ASSERT(fd >= 0, "open %s", path);
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = errno;
	close(fd);
	return err;
}

static void param_set(const char *name, const char *val)
{
	int err = param_write(name, val);

	TEST_ASSERT(!err, "writing %s to %s: %s", val, name, strerror(err));
}

static unsigned long param_read(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	TEST_ASSERT(fd >= 0, "open %s", path);
	TEST_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0, "read %s", path);
	close(fd);
	if (buf[0] == 'Y' || buf[0] == 'N')
		return buf[0] == 'Y';
	return strtoul(buf, NULL, 0);
}

/* ------------------------------------------------------------ a test VM */

enum log_mode { LOG_BITMAP, LOG_CLEAR, LOG_RING, LOG_FASTWP, NR_LOG_MODES };
static const char *const log_mode_name[] = {
	"dirty-log", "clear-log", "dirty-ring", "fast-wp",
};

struct tvm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	enum log_mode mode;
	unsigned long *bmap;
	struct kvm_dirty_gfn *ring;
	uint32_t ring_next;
	pthread_t thread;
	int stats_fd;

	/* vCPU thread mailbox: a limit to set between two KVM_RUNs */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool has_cmd;
	struct kvm_dirty_rate_limit cmd;
	int cmd_ret;

	uint64_t io_exits;	/* GUEST_SYNCs seen (vCPU thread) */
	uint64_t io_target;	/* vCPU thread: finish after this many */
	int run_errno;		/* errno of a KVM_RUN that failed */
	uint64_t run_end_ns;	/* when it failed */
	bool stop_on_eintr;	/* signal test: report the first EINTR */
};

static __thread struct kvm_run *cur_run;

/* The kick: make the vCPU thread return from KVM_RUN. */
static void kick_handler(int sig)
{
	if (cur_run)
		__atomic_store_n(&cur_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static void *vcpu_thread(void *arg)
{
	struct tvm *t = arg;
	struct kvm_vcpu *vcpu = t->vcpu;
	struct ucall uc;
	int r;

	cur_run = vcpu->run;
	for (;;) {
		r = __vcpu_run(vcpu);
		if (r < 0) {
			TEST_ASSERT(errno == EINTR, "KVM_RUN: %s", strerror(errno));
			if (t->stop_on_eintr) {
				t->run_end_ns = now_ns();
				t->run_errno = errno;
				return NULL;
			}
			__atomic_store_n(&vcpu->run->immediate_exit, 0,
					 __ATOMIC_SEQ_CST);
			pthread_mutex_lock(&t->lock);
			if (t->has_cmd) {
				t->cmd_ret = __set_limit(vcpu, &t->cmd) ? errno : 0;
				t->has_cmd = false;
				pthread_cond_broadcast(&t->cond);
			}
			pthread_mutex_unlock(&t->lock);
			continue;
		}
		if (vcpu->run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
			sched_yield();	/* the host thread harvests */
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			if (++t->io_exits == t->io_target)
				guest_var_store(t->vm, &guest_stop, 1);
			break;
		case UCALL_DONE:
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("vCPU: unexpected exit %s",
				  exit_reason_str(vcpu->run->exit_reason));
		}
	}
}

/* Set @l on the running vCPU the way a VMM does: from its own thread. */
static int tvm_set_limit(struct tvm *t, const struct kvm_dirty_rate_limit *l)
{
	int ret;

	pthread_mutex_lock(&t->lock);
	t->cmd = *l;
	t->has_cmd = true;
	pthread_kill(t->thread, SIGUSR1);
	while (t->has_cmd)
		pthread_cond_wait(&t->cond, &t->lock);
	ret = t->cmd_ret;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static void tvm_create(struct tvm *t, enum log_mode mode)
{
	memset(t, 0, sizeof(*t));
	t->mode = mode;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);

	t->vm = vm_create(1);
	if (mode == LOG_RING)
		vm_enable_dirty_ring(t->vm, RING_ENTRIES * sizeof(struct kvm_dirty_gfn));
	if (mode == LOG_CLEAR)
		vm_enable_cap(t->vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	if (mode == LOG_FASTWP)
		vm_enable_cap(t->vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	t->vcpu = vm_vcpu_add(t->vm, 0, guest_code);
	vm_userspace_mem_region_add(t->vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA,
				    TEST_SLOT, TEST_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(t->vm, TEST_GPA, TEST_GPA, TEST_PAGES);
	t->bmap = bitmap_zalloc(TEST_PAGES);
	t->stats_fd = vcpu_get_stats_fd(t->vcpu);
	if (mode == LOG_RING)
		t->ring = vcpu_map_dirty_ring(t->vcpu);
}

static void tvm_start(struct tvm *t)
{
	pthread_create(&t->thread, NULL, vcpu_thread, t);
}

/* Stop the guest and join the vCPU thread; the VM stays for its stats. */
static void tvm_stop(struct tvm *t)
{
	guest_var_store(t->vm, &guest_stop, 1);
	pthread_join(t->thread, NULL);
}

static void tvm_free(struct tvm *t)
{
	close(t->stats_fd);
	free(t->bmap);
	kvm_vm_free(t->vm);
}

static void tvm_finish(struct tvm *t)
{
	tvm_stop(t);
	tvm_free(t);
}

static uint64_t bitmap_count(const unsigned long *b, unsigned int bits)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < bits / 64; i++)
		n += __builtin_popcountll(b[i]);
	return n;
}

/* Re-arm the dirty log; return the pages of the test slot it reported. */
static uint64_t tvm_harvest(struct tvm *t)
{
	struct kvm_fast_write_protect fwp = {};
	uint64_t n = 0;

	switch (t->mode) {
	case LOG_BITMAP:
		kvm_vm_get_dirty_log(t->vm, TEST_SLOT, t->bmap);
		return bitmap_count(t->bmap, TEST_PAGES);
	case LOG_CLEAR:
		kvm_vm_get_dirty_log(t->vm, TEST_SLOT, t->bmap);
		n = bitmap_count(t->bmap, TEST_PAGES);
		kvm_vm_clear_dirty_log(t->vm, TEST_SLOT, t->bmap, 0, TEST_PAGES);
		return n;
	case LOG_FASTWP:
		kvm_vm_get_dirty_log(t->vm, TEST_SLOT, t->bmap);
		n = bitmap_count(t->bmap, TEST_PAGES);
		vm_ioctl(t->vm, KVM_FAST_WRITE_PROTECT, &fwp);
		return n;
	case LOG_RING:
		for (;;) {
			struct kvm_dirty_gfn *e = &t->ring[t->ring_next % RING_ENTRIES];

			if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
			      KVM_DIRTY_GFN_F_DIRTY))
				break;
			if (e->slot == TEST_SLOT)
				n++;
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
					 __ATOMIC_RELEASE);
			t->ring_next++;
		}
		kvm_vm_reset_dirty_ring(t->vm);
		return n;
	default:
		TEST_FAIL("log mode %d", t->mode);
	}
	return 0;
}

/* Harvest for @ms, then return the logged rate over that time, bytes/s. */
static double tvm_rate(struct tvm *t, unsigned int ms)
{
	uint64_t start, end, pages = 0;

	tvm_harvest(t);
	start = now_ns();
	do {
		sleep_ms(HARVEST_MS);
		pages += tvm_harvest(t);
		end = now_ns();
	} while (end - start < ms * 1000000ULL);
	return pages * PAGE * 1e9 / (end - start);
}

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

struct io_result {
	double max_ms;		/* longest write right after an IO */
	double rate;		/* long-run bytes/s, after the first bucket */
	uint64_t shortened;
	double secs;		/* how long the run took */
};

static void io_run(bool aware, struct io_result *res)
{
	struct kvm_dirty_rate_limit l = {
		.bytes_per_sec = IO_RATE,
		.burst_bytes = IO_BURST,
	};
	uint64_t start, end, pages, tsc_khz;
	struct tvm t;

	if (aware) {
		l.flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE;
		l.io_stall_max_us = IO_STALL_US;
	}
	tvm_create(&t, LOG_BITMAP);
	t.io_target = IO_CYCLES;
	guest_var_store(t.vm, &guest_io_a, IO_A);
	guest_var_store(t.vm, &guest_io_b, IO_B);
	TEST_ASSERT(!__set_limit(t.vcpu, &l), "set the IO test's limit");
	tsc_khz = __vcpu_ioctl(t.vcpu, KVM_GET_TSC_KHZ, NULL);
	TEST_ASSERT(tsc_khz > 0, "KVM_GET_TSC_KHZ");

	start = now_ns();
	tvm_start(&t);
	pthread_join(t.thread, NULL);
	end = now_ns();

	pages = guest_var_load(t.vm, &guest_pages);
	res->max_ms = guest_var_load(t.vm, &guest_io_max) / (double)tsc_khz;
	/* the first, full bucket is not the rate */
	res->rate = (pages * PAGE - IO_BURST) * 1e9 / (end - start);
	res->secs = (end - start) / 1e9;
	res->shortened = vcpu_stat(t.stats_fd, "dirty_limit_io_shortened");
	tvm_free(&t);
}

static void test_io_aware(void)
{
	unsigned long grace = param_read("dirty_rate_limit_io_grace_us");
	struct io_result on, off;
	double slack;
	char buf[32];

	param_set("dirty_rate_limit_io_grace_us", IO_GRACE_US);
	io_run(true, &on);
	io_run(false, &off);
	snprintf(buf, sizeof(buf), "%lu", grace);
	param_set("dirty_rate_limit_io_grace_us", buf);

	ksft_print_msg("IO-aware: longest write after an IO %.2f ms (bound %u us), "
		       "%.0f B/s, %lu stalls shortened\n",
		       on.max_ms, IO_STALL_US, on.rate, on.shortened);
	ksft_print_msg("not IO-aware: longest write after an IO %.2f ms, %.0f B/s\n",
		       off.max_ms, off.rate);

	/* a nested fault and a late timer: a few ms at most under TCG */
	TEST_ASSERT(on.max_ms <= IO_STALL_US / 1000.0 + 5,
		    "IO-aware: a write after an IO took %.2f ms", on.max_ms);
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
			      "(bound %u us) against %.2f ms without; long-run "
			      "%.2fx and %.2fx the limit\n", on.max_ms, IO_STALL_US,
			      off.max_ms, on.rate / IO_RATE, off.rate / IO_RATE);
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
	ksft_test_result_pass("rates, bursts and IO stall bounds out of range: EINVAL\n");

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
	param_set("dirty_rate_limit", "Y");
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_DIRTY_RATE_LIMIT) ==
		    KVM_DIRTY_RATE_LIMIT_IO_AWARE, "re-enabled, KVM_CHECK_EXTENSION");
	l = (struct kvm_dirty_rate_limit){};
	TEST_ASSERT(!__set_limit(vcpu, &l), "remove the limit");
	ksft_test_result_pass("kvm.dirty_rate_limit=N: KVM_CHECK_EXTENSION 0, SET "
			      "EOPNOTSUPP; =Y: back\n");
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
	ksft_test_result_pass("stats: the five descriptors; %lu bytes dirtied, "
			      "%lu stalls, %lu ms stalled, longest %lu ms\n",
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
	uint64_t pages, deadline;
	struct tvm t;
	ssize_t n;
	int fd;

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
	tvm_harvest(&t);
	sleep_ms(1000);
	pages = tvm_harvest(&t);
	TEST_ASSERT(pages <= 8 + 8 + 2,
		    "debugfs limit of 8 pages/s: %lu pages in a second", pages);
	tvm_stop(&t);
	get_limit(t.vcpu, &got);
	TEST_ASSERT(got.bytes_per_sec == 32768 &&
		    got.flags == KVM_DIRTY_RATE_LIMIT_IO_AWARE &&
		    got.io_stall_max_us == 500 && !got.burst_bytes,
		    "debugfs: GET says %llu B/s, flags %#x, %u us",
		    got.bytes_per_sec, got.flags, got.io_stall_max_us);
	TEST_ASSERT(strstr(buf, "bytes_per_sec: ") && strstr(buf, "tokens: "),
		    "debugfs: read gave '%s'", buf);
	ksft_test_result_pass("debugfs: bad writes EINVAL; a running vCPU takes "
			      "a limit (%lu pages in 1 s at 8/s)\n", pages);
	tvm_free(&t);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int mode;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_DIRTY_RATE_LIMIT));
	sigaction(SIGUSR1, &sa, NULL);

	ksft_print_header();
	ksft_set_plan(5 + 1 + 1 + 1 + NR_LOG_MODES + 1 + 1);

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
	ksft_finished();
}
