// SPDX-License-Identifier: GPL-2.0
/*
 * fast_wp_perf: the cost of write-protecting guest memory for dirty
 * logging, three ways, in one VM per size, in one boot (make bench runs
 * it in the kernel lab; compare ratios, never absolute times: the lab is
 * an emulated machine):
 *
 *   get-dirty-log  KVM_GET_DIRTY_LOG in its classic mode, which
 *                  write-protects every page it reports (all of them here);
 *   clear-log      KVM_CLEAR_DIRTY_LOG over the whole slot (manual
 *                  protection), after a fetch;
 *   fast-wp        KVM_GET_DIRTY_LOG with KVM_CAP_FAST_WRITE_PROTECT on,
 *                  which fetches and then write-protects all of memory
 *                  at once.
 *
 * Each runs after the guest has written every page of the slot once, so
 * every page is mapped writable and must be protected.  Each takes
 * mmu_lock for write for its protecting part; a vCPU that faults meanwhile
 * waits for it.  Measured, per method, over REPEAT rounds, as medians:
 * the call's time, and the stall a vCPU sees: a second vCPU, the probe, writes
 * one word per page to memory that is not mapped yet (a slot of its own,
 * not dirty-logged, dropped with MADV_DONTNEED before each round), so that
 * every write takes the slow fault path, which takes mmu_lock for read;
 * it times each write with the TSC, from PROBE_LEAD writes before the call
 * to PROBE_LEAD after it, and its longest write is the round's stall.  "idle" is
 * the same without a call: the cost of one such fault, the noise floor.
 * (Writes to pages that were write-protected do not stall on mmu_lock:
 * the TDP MMU makes those writable again in its lockless fast path.)
 * Then the price of laziness: the time of the guest's next pass over the
 * slot (one write per page) after each kind of protection.
 *
 * Then the same fetch once a nested guest has run: an L2 guest under
 * nested SVM (shadow NPT: the shadow MMU, with rmaps) writes the whole
 * slot, then NESTED_DIRTY pages of it per round; each round's fetch is
 * timed with the capability on (the TDP MMU's protection, and the shadow
 * MMU's for the pages fetched: O(dirty)) and off (classic), with slots of
 * 64 and 512 MiB, and KVM_FAST_WRITE_PROTECT alone (O(dirty) as well,
 * from the bits set).
 *
 * Output: one line per size, prefixed "fastwp-perf:" so that the lab's
 * console log can be searched for the table.
 */
#include <linux/bitmap.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "fast_wp.h"

#define SLOT		10
#define GPA		(1ULL << 32)
#define PROBE_SLOT	11
#define PROBE_GPA	(3ULL << 30)
#define PROBE_PAGES	4096		/* more than a round writes */
#define PROBE_LEAD	64
#define REPEAT		5

static uint64_t guest_pages;

static void guest_code(void)
{
	uint64_t i;

	for (;;) {
		for (i = 0; i < guest_pages; i++)
			*(volatile uint64_t *)(GPA + i * 4096) += 1;
		GUEST_SYNC(0);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* shared with the guest: the host accesses them with guest_var_store/load() */
static volatile uint64_t probe_go, probe_writes, probe_max_cycles;

/*
 * The probe: while probe_go, one write per page of its slot, each timed;
 * the longest in probe_max_cycles.
 */
static void probe_code(void)
{
	uint64_t i = 0, t0, t1, max = 0;

	for (;;) {
		while (probe_go) {
			t0 = rdtsc();
			*(volatile uint64_t *)(PROBE_GPA + i * 4096) += 1;
			t1 = rdtsc();
			if (t1 - t0 > max)
				max = t1 - t0;
			probe_max_cycles = max;
			__atomic_store_n(&probe_writes, probe_writes + 1, __ATOMIC_RELEASE);
			i = (i + 1) % PROBE_PAGES;
		}
		max = 0;
		GUEST_SYNC(1);
	}
}

struct probe {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	void *hva;			/* of PROBE_SLOT */
	pthread_t thread;
	sem_t go, done;
	bool quit;
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct ucall uc;

	for (;;) {
		sem_wait(&p->go);
		if (p->quit)
			return NULL;
		vcpu_run(p->vcpu);
		TEST_ASSERT(get_ucall(p->vcpu, &uc) == UCALL_SYNC, "probe: %s",
			    exit_reason_str(p->vcpu->run->exit_reason));
		sem_post(&p->done);
	}
}

static void wait_writes(struct probe *p, uint64_t n)
{
	while (guest_var_load(p->vm, &probe_writes) < n)
		usleep(100);
}

/*
 * Run @protect (NULL: nothing) while the probe faults in new pages, from
 * PROBE_LEAD writes before to PROBE_LEAD after; returns the call's time,
 * *stall_ms the probe's longest write.
 */
static double probed(struct probe *p, void (*protect)(struct kvm_vm *, void *),
		     void *arg, double *stall_ms)
{
	uint64_t start;
	double t = 0;

	/* unmapped again: KVM zaps the slot's SPTEs (MMU notifier) */
	TEST_ASSERT(!madvise(p->hva, PROBE_PAGES * 4096, MADV_DONTNEED), "madvise");
	guest_var_store(p->vm, &probe_writes, 0);
	guest_var_store(p->vm, &probe_go, 1);
	sem_post(&p->go);
	wait_writes(p, PROBE_LEAD);
	if (protect) {
		t = now_ms();
		protect(p->vm, arg);
		t = now_ms() - t;
	}
	start = guest_var_load(p->vm, &probe_writes);
	wait_writes(p, start + PROBE_LEAD);
	guest_var_store(p->vm, &probe_go, 0);
	sem_wait(&p->done);
	TEST_ASSERT(guest_var_load(p->vm, &probe_writes) < PROBE_PAGES,
		    "the probe wrapped around its slot: its last writes did not fault");
	*stall_ms = (double)guest_var_load(p->vm, &probe_max_cycles) / guest_tsc_khz;
	return t;
}

/* One guest pass over every page; returns its time. */
static double guest_pass(struct kvm_vcpu *vcpu)
{
	double t = now_ms();
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "guest pass: %s",
		    exit_reason_str(vcpu->run->exit_reason));
	return now_ms() - t;
}

/* bitmap_weight() is not in the selftests' library */
static uint64_t count_bits(const unsigned long *bm, uint64_t nbits)
{
	uint64_t i, n = 0;

	for (i = 0; i < nbits / BITS_PER_LONG; i++)
		n += __builtin_popcountl(bm[i]);
	return n;
}

struct row {
	uint64_t mib;
	double call_ms[3], stall_ms[3], idle_stall_ms;
	double pass_after_clear_ms, pass_after_fastwp_ms;
};

enum { GET, CLEAR, FASTWP };
static const char *const method_name[] = { "get-dirty-log", "clear-log", "fast-wp" };

struct ctx {
	int method;
	unsigned long *bm;
	uint64_t pages;
};

/*
 * The protecting call of each method: KVM_GET_DIRTY_LOG (classic, or with
 * the capability on), or KVM_CLEAR_DIRTY_LOG, whose fetch before it is not
 * timed.
 */
static void protect(struct kvm_vm *vm, void *arg)
{
	struct ctx *c = arg;

	if (c->method == CLEAR)
		kvm_vm_clear_dirty_log(vm, SLOT, c->bm, 0, c->pages);
	else
		kvm_vm_get_dirty_log(vm, SLOT, c->bm);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* of REPEAT values, reordered */
static double median(double *v)
{
	qsort(v, REPEAT, sizeof(v[0]), cmp_double);
	return v[REPEAT / 2];
}

/*
 * REPEAT probed rounds of @m (guest pass, fetch, protect): the median call
 * time and stall; then an unprobed round whose next guest pass is
 * timed (the probe's own faults would shorten it).
 */
static void method(struct probe *p, struct kvm_vcpu *writer, int m,
		   uint64_t pages, unsigned long *bm, struct row *r,
		   double *next_pass_ms)
{
	struct ctx c = { .method = m, .bm = bm, .pages = pages };
	double t[REPEAT], stall[REPEAT];
	unsigned int i;

	for (i = 0; i < REPEAT; i++) {
		guest_pass(writer);
		if (m == CLEAR)
			kvm_vm_get_dirty_log(p->vm, SLOT, bm);
		t[i] = probed(p, protect, &c, &stall[i]);
	}
	r->call_ms[m] = median(t);
	r->stall_ms[m] = median(stall);
	if (next_pass_ms) {
		guest_pass(writer);
		if (m == CLEAR)
			kvm_vm_get_dirty_log(p->vm, SLOT, bm);
		protect(p->vm, &c);
		*next_pass_ms = guest_pass(writer);
	}
}

/*
 * A VM with one vCPU running @code, and SLOT: @pages at GPA, dirty-logged,
 * mapped by the guest with 2 MiB pages (few page tables; KVM still maps it
 * 4 KiB), guest_pages set.
 */
static struct kvm_vm *slot_vm(struct kvm_vcpu **vcpu, void *code, uint64_t pages)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, code);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, GPA, SLOT, pages,
				    KVM_MEM_LOG_DIRTY_PAGES);
	virt_map_level(vm, GPA, GPA, pages * 4096, PG_LEVEL_2M);
	guest_pages = pages;
	sync_global_to_guest(vm, guest_pages);
	return vm;
}

static void measure(uint64_t mib, struct row *r)
{
	uint64_t pages = mib << 8;
	unsigned long *bm = bitmap_zalloc(pages);
	struct probe p = { 0 };
	double idle[REPEAT];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int i;

	vm = slot_vm(&vcpu, guest_code, pages);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, PROBE_GPA, PROBE_SLOT,
				    PROBE_PAGES, 0);
	virt_map_level(vm, PROBE_GPA, PROBE_GPA, PROBE_PAGES * 4096, PG_LEVEL_2M);
	p.vm = vm;
	p.hva = addr_gpa2hva(vm, PROBE_GPA);
	p.vcpu = vm_vcpu_add(vm, 1, probe_code);
	TEST_ASSERT(!sem_init(&p.go, 0, 0) && !sem_init(&p.done, 0, 0), "sem_init");
	TEST_ASSERT(!pthread_create(&p.thread, NULL, probe_thread, &p), "probe thread");
	r->mib = mib;

	/* the noise floor: the probe's faults with no call */
	guest_pass(vcpu);
	for (i = 0; i < REPEAT; i++)
		probed(&p, NULL, NULL, &idle[i]);
	r->idle_stall_ms = median(idle);

	/* get-dirty-log: fetch + write-protect every reported page */
	method(&p, vcpu, GET, pages, bm, r, NULL);

	/* clear-log: a fetch, then CLEAR over the whole slot */
	vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	method(&p, vcpu, CLEAR, pages, bm, r, &r->pass_after_clear_ms);
	vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0);

	/* fast-wp: the fetch, which protects all of memory at once */
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	method(&p, vcpu, FASTWP, pages, bm, r, &r->pass_after_fastwp_ms);
	/* and the pass logged every page it wrote */
	kvm_vm_get_dirty_log(vm, SLOT, bm);
	TEST_ASSERT(count_bits(bm, pages) == pages,
		    "%lu of %lu pages logged after fast-wp", count_bits(bm, pages),
		    pages);

	p.quit = true;
	sem_post(&p.go);
	pthread_join(p.thread, NULL);
	free(bm);
	kvm_vm_free(vm);
}

/* ------------------------------------------------------- after a nested guest */

#define NESTED_DIRTY	64	/* pages L2 writes per round */

/* L2: the whole slot once, then NESTED_DIRTY pages spread over it a round */
static void l2_code(void)
{
	uint64_t i, round = 0, step = guest_pages / NESTED_DIRTY;

	for (i = 0; i < guest_pages; i++)
		*(volatile uint64_t *)(GPA + i * 4096) += 1;
	GUEST_SYNC(0);
	for (;;) {
		round++;
		for (i = 0; i < NESTED_DIRTY; i++)
			*(volatile uint64_t *)(GPA + (i * step + round % step) * 4096) += 1;
		GUEST_SYNC(round);
	}
}

static void l1_code(void)
{
	l1_run_l2(l2_code);
}

enum { N_FASTWP, N_CLASSIC, N_IOCTL, N_METHODS };

/* The median time of REPEAT rounds' fetch (or ioctl) after L2 wrote. */
static void measure_nested(uint64_t mib, double ms[N_METHODS], uint64_t *shadow)
{
	uint64_t pages = mib << 8;
	unsigned long *bm = bitmap_zalloc(pages);
	double t[REPEAT];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int i, m;

	vm = slot_vm(&vcpu, l1_code, pages);
	nested_prepare(vm, 5);		/* the slot is at 4 GiB */

	guest_pass(vcpu);		/* L2 wrote every page: all mapped */
	*shadow = vm_get_stat(vm, "mmu_cache_miss");
	TEST_ASSERT(*shadow > 0, "nested: no shadow page was made");
	for (m = 0; m < N_METHODS; m++) {
		vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, m != N_CLASSIC);
		kvm_vm_get_dirty_log(vm, SLOT, bm);	/* a clean start */
		for (i = 0; i < REPEAT; i++) {
			struct kvm_fast_write_protect fwp = { 0 };
			double t0;

			guest_pass(vcpu);	/* NESTED_DIRTY pages */
			t0 = now_ms();
			if (m == N_IOCTL)
				vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
			else
				kvm_vm_get_dirty_log(vm, SLOT, bm);
			t[i] = now_ms() - t0;
			if (m == N_IOCTL) {
				kvm_vm_get_dirty_log(vm, SLOT, bm);
			} else {
				TEST_ASSERT(count_bits(bm, pages) == NESTED_DIRTY,
					    "nested: %lu pages logged, want %u",
					    count_bits(bm, pages), NESTED_DIRTY);
			}
		}
		ms[m] = median(t);
	}
	free(bm);
	kvm_vm_free(vm);
}

static void nested_table(void)
{
	static const uint64_t sizes[] = { 64, 512 };
	static const char *const names[N_METHODS] = {
		"fast-wp get", "classic get", "fast-wp ioctl",
	};
	double ms[ARRAY_SIZE(sizes)][N_METHODS];
	uint64_t shadow[ARRAY_SIZE(sizes)];
	unsigned int i, m;

	if (!kvm_cpu_has(X86_FEATURE_SVM)) {
		printf("fastwp-perf: nested: skipped, no nested SVM\n");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		measure_nested(sizes[i], ms[i], &shadow[i]);
	printf("fastwp-perf: after a nested guest (L2 on shadow NPT wrote the whole "
	       "slot, then %u pages a round): ms, medians of %d\n", NESTED_DIRTY,
	       REPEAT);
	for (m = 0; m < N_METHODS; m++)
		printf("fastwp-perf: nested %-14s %4lu MiB %8.3f  %4lu MiB %8.3f  "
		       "growth %6.2fx  / classic get %6.2fx\n", names[m],
		       (unsigned long)sizes[0], ms[0][m], (unsigned long)sizes[1],
		       ms[1][m], ms[1][m] / ms[0][m], ms[1][m] / ms[1][N_CLASSIC]);
	printf("fastwp-perf: nested: %lu and %lu shadow pages made\n",
	       (unsigned long)shadow[0], (unsigned long)shadow[1]);
}

int main(int argc, char *argv[])
{
	static const uint64_t sizes[] = { 128, 256, 512, 1024 };
	struct row rows[ARRAY_SIZE(sizes)];
	const struct row *lo = &rows[0], *hi = &rows[ARRAY_SIZE(sizes) - 1];
	unsigned int i, m;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_FAST_WRITE_PROTECT));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		measure(sizes[i], &rows[i]);

	printf("fastwp-perf: write-protecting all of a dirty-logged slot that the "
	       "guest wrote in full; ms, medians of %d: call, and stall = the "
	       "longest write of a vCPU faulting in new memory meanwhile\n",
	       REPEAT);
	printf("fastwp-perf: %5s | %-22s | %-22s | %-22s | %6s | %9s %9s %7s\n", "",
	       method_name[GET], method_name[CLEAR], method_name[FASTWP], "idle",
	       "fast-wp /", "fast-wp /", "next");
	printf("fastwp-perf: %5s | %10s %11s | %10s %11s | %10s %11s | %6s | %9s %9s %7s\n",
	       "MiB", "call", "stall", "call", "stall", "call", "stall", "stall",
	       "clear", "get", "pass x");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct row *r = &rows[i];
		char line[256];
		int n = 0;

		for (m = GET; m <= FASTWP; m++)
			n += snprintf(line + n, sizeof(line) - n, " | %10.3f %11.3f",
				      r->call_ms[m], r->stall_ms[m]);
		printf("fastwp-perf: %5lu%s | %6.3f | %8.4fx %8.4fx %6.2fx\n", r->mib,
		       line, r->idle_stall_ms, r->call_ms[FASTWP] / r->call_ms[CLEAR],
		       r->call_ms[FASTWP] / r->call_ms[GET],
		       r->pass_after_fastwp_ms / r->pass_after_clear_ms);
	}
	printf("fastwp-perf: from %lu to %lu MiB the call grows: get-dirty-log %.2fx, "
	       "clear-log %.2fx, fast-wp %.2fx; the stall: %.2fx, %.2fx, %.2fx\n",
	       lo->mib, hi->mib,
	       hi->call_ms[GET] / lo->call_ms[GET],
	       hi->call_ms[CLEAR] / lo->call_ms[CLEAR],
	       hi->call_ms[FASTWP] / lo->call_ms[FASTWP],
	       hi->stall_ms[GET] / lo->stall_ms[GET],
	       hi->stall_ms[CLEAR] / lo->stall_ms[CLEAR],
	       hi->stall_ms[FASTWP] / lo->stall_ms[FASTWP]);
	printf("fastwp-perf: next pass x = the guest's next pass over the slot after "
	       "fast-wp / after clear-log (the lazy push-down's faults); idle = that "
	       "vCPU's longest write without a call (noise floor)\n");
	nested_table();
	return 0;
}
