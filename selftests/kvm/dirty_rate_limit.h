/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What dirty_rate_limit_test and dirty_rate_limit_perf share: a VM with one
 * vCPU writing one new page after another of a dirty-logged slot (or, in
 * the IO pattern, pages around port IOs, timing the writes after each IO),
 * the host's re-arming of each dirty-log mode, the limit's ioctls, stats and
 * module parameters.  Included once per program.
 */
#ifndef KVMIG_SELFTESTS_DIRTY_RATE_LIMIT_H
#define KVMIG_SELFTESTS_DIRTY_RATE_LIMIT_H

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

/* shared with the guest (guest_var_store/load) */
static volatile uint64_t guest_pages;	/* pages written so far */
static volatile uint64_t guest_stop;	/* host: finish */
static volatile uint64_t guest_io_a;	/* IO pattern: background pages */
static volatile uint64_t guest_io_b;	/* IO pattern: pages after an IO */
static volatile uint64_t guest_io_max;	/* longest such write, TSC cycles */
#define IO_LAT_MAX	4096
static volatile uint64_t guest_io_n;	/* such writes timed */
static volatile uint64_t guest_io_lat[IO_LAT_MAX];	/* their TSC cycles */

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
			if (guest_io_n < IO_LAT_MAX)
				guest_io_lat[guest_io_n] = t1 - t0;
			guest_io_n++;
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
 * vcpu_stat() (fast_wp.h) reads a stats fd taken before the vCPU runs:
 * KVM_GET_STATS_FD, a vCPU ioctl, waits for KVM_RUN to return.
 */

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

/* ------------------------------------------------------------ the IO pattern */

struct io_result {
	double max_ms;		/* longest write right after an IO */
	double p50_ms, p99_ms;	/* ... their median and 99th percentile */
	double rate;		/* long-run bytes/s, after the first bucket */
	uint64_t shortened;	/* dirty_limit_io_shortened */
	double secs;		/* how long the run took */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * @cycles times: @a pages, a port IO, @b pages each timed by the guest; with
 * limit @l (none if its rate is 0).  Bitmap logging, never re-armed: every
 * page is new (TEST_PAGES is far more than the run writes).
 */
static void tvm_io_run(const struct kvm_dirty_rate_limit *l, unsigned int a,
		       unsigned int b, unsigned int cycles, struct io_result *res)
{
	uint64_t start, end, pages, tsc_khz, n, *lat;
	struct kvm_dirty_rate_limit lim = *l;
	struct tvm t;

	TEST_ASSERT((uint64_t)(a + b) * cycles < TEST_PAGES, "IO run too long");
	tvm_create(&t, LOG_BITMAP);
	t.io_target = cycles;
	guest_var_store(t.vm, &guest_io_a, a);
	guest_var_store(t.vm, &guest_io_b, b);
	TEST_ASSERT(!__set_limit(t.vcpu, &lim), "set the IO run's limit");
	tsc_khz = __vcpu_ioctl(t.vcpu, KVM_GET_TSC_KHZ, NULL);
	TEST_ASSERT(tsc_khz > 0, "KVM_GET_TSC_KHZ");

	start = now_ns();
	tvm_start(&t);
	pthread_join(t.thread, NULL);
	end = now_ns();

	pages = guest_var_load(t.vm, &guest_pages);
	n = guest_var_load(t.vm, &guest_io_n);
	n = n < IO_LAT_MAX ? n : IO_LAT_MAX;
	TEST_ASSERT(n > 0, "no write after an IO was timed");
	lat = calloc(n, sizeof(*lat));
	TEST_ASSERT(lat, "calloc");
	memcpy(lat, addr_gva2hva(t.vm, (vm_vaddr_t)guest_io_lat), n * sizeof(*lat));
	qsort(lat, n, sizeof(*lat), cmp_u64);
	res->max_ms = guest_var_load(t.vm, &guest_io_max) / (double)tsc_khz;
	res->p50_ms = lat[n / 2] / (double)tsc_khz;
	res->p99_ms = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / (double)tsc_khz;
	free(lat);
	/* the first, full bucket is not the rate */
	res->secs = (end - start) / 1e9;
	res->rate = l->bytes_per_sec && l->burst_bytes ?
		    (pages * PAGE - l->burst_bytes) / res->secs : pages * PAGE / res->secs;
	res->shortened = vcpu_stat(t.stats_fd, "dirty_limit_io_shortened");
	tvm_free(&t);
}

#endif /* KVMIG_SELFTESTS_DIRTY_RATE_LIMIT_H */
