// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_FAST_WRITE_PROTECT (kernel/patches/): its arguments, and that no
 * write is ever lost.
 *
 * Negative: the ioctl on a VM that did not enable the capability, or
 * enabled and disabled it again (EINVAL), bad KVM_ENABLE_CAP arguments
 * (EINVAL), unknown flags, a non-zero pad, input generation or
 * reserved word (EINVAL), no dirty-logged memslot (ENOENT); the VM runs
 * its vCPU normally afterwards.  A VM with private memory
 * (KVM_X86_SW_PROTECTED_VM) says 0 to KVM_CHECK_EXTENSION and refuses the
 * capability (EINVAL).  The dirty ring and the capability exclude each
 * other, whichever comes first (EINVAL; KVM_CHECK_EXTENSION 0).
 *
 * Correctness, like a migration would use it: two vCPUs write stamps to
 * random pages of a dirty-logged slot without pause; the host, round after
 * round, fetches the dirty bitmap (KVM_GET_DIRTY_LOG, which protects all of
 * memory at once once the capability is on), protects everything again
 * (KVM_FAST_WRITE_PROTECT, racing with the vCPUs' faults) and copies the
 * pages the bitmap names into a shadow copy.  Every few rounds it stops the vCPUs (in guest mode, with
 * a flag in guest memory), takes a last bitmap and compares the whole slot
 * with the shadow: a write that was never logged leaves a page that
 * differs.  Meanwhile another dirty-logged slot is added, moved and deleted.
 * Run with 4 KiB pages and with transparent huge pages; then with the
 * other ways of using it (enum fwp_variant): KVM_GET_DIRTY_LOG alone, as a
 * VMM that knows nothing of the capability would (its protection must be
 * the fast one: the vCPUs push markers down), with manual protection and
 * KVM_CLEAR_DIRTY_LOG, the capability turned off halfway and classic
 * fetches after it, a second thread protecting meanwhile, and a slot the
 * guest wrote before its logging started, mapped with 2 MiB leaves that
 * enabling the log did not split (kvm.eager_page_split off).
 *
 * One fault per page: after a protection, a write to a page of each of 32
 * 2 MiB regions costs one page fault each (the protection is pushed down
 * every level within the fault), counted by the vCPU's pf_taken and
 * fast_wp_push_downs statistics.
 *
 * SMM: a page written from SMM (its address space and TDP roots of its
 * own) after each fetch is reported by the next.
 *
 * --classic [N]: the no-lost-write workload (4 KiB pages, then
 * transparent huge pages) N times over (default 1) with the capability
 * never enabled, classic fetches: the control for the emulator's faults.
 * It builds and runs on a kernel without the series too (lab.sh
 * --unpatched; fast_wp.h stands in for the patched uapi).
 *
 * --absent: where the capability must not be offered (kvm.tdp_mmu=N,
 * tools/lab/kmod_tdp_off), it is not, and classic dirty logging works.
 */
#include <pthread.h>
#include <time.h>
#include <linux/bitmap.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "fast_wp.h"

#define TEST_SLOT	10
#define TEST_GPA	(1ULL << 30)
#define TEST_PAGES	4096		/* 16 MiB */
#define EXTRA_SLOT	11
#define EXTRA_GPA	(2ULL << 30)
#define EXTRA_PAGES	512
#define NR_VCPUS	2
#define ROUNDS		40
#define ROUND_WRITES	512	/* stamps the vCPUs write per round, at least */

/* shared with the guest: the host writes them with guest_var_store() */
static volatile uint64_t guest_stop, guest_done, guest_acked, guest_stamp;
static volatile uint64_t guest_writes;	/* stamps written, all vCPUs */
static volatile uint64_t guest_vcpu_writes[NR_VCPUS];

static void writer(uint64_t idx)
{
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (idx + 1), per = TEST_PAGES / NR_VCPUS;

	for (;;) {
		uint64_t page, *p;

		if (guest_done)
			break;
		if (guest_stop) {
			__atomic_fetch_add(&guest_acked, 1, __ATOMIC_SEQ_CST);
			while (guest_stop)
				cpu_relax();
			continue;
		}
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		page = idx * per + rnd % per;
		p = (uint64_t *)(TEST_GPA + page * 4096 + ((rnd >> 40) % 512) * 8);
		*p = guest_stamp | (rnd & 0xffffffffffffULL);
		__atomic_fetch_add(&guest_writes, 1, __ATOMIC_RELAXED);
		guest_vcpu_writes[idx]++;
	}
	GUEST_DONE();
}

/*
 * FWP_NESTED: vCPU 0 runs the writer as an L2 guest, on nested paging
 * that maps L1's memory at the same addresses, with L1's CR3: KVM runs it
 * on shadow NPT, so its writes go through the shadow MMU's mappings.
 */
static void l2_code(void)
{
	writer(0);
}

static void guest_code(uint64_t idx)
{
	if (!idx && guest_svm)
		l1_run_l2(l2_code);
	writer(idx);
}

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "vCPU %u: unexpected exit %s",
		    vcpu->id, exit_reason_str(vcpu->run->exit_reason));
	return NULL;
}

static int fast_wp(struct kvm_vm *vm, struct kvm_fast_write_protect *fwp)
{
	return __vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, fwp);
}

static void expect_errno(struct kvm_vm *vm, struct kvm_fast_write_protect *fwp,
			 int want, const char *what)
{
	int r = fast_wp(vm, fwp);

	TEST_ASSERT(r == -1 && errno == want, "%s: got %d errno %d, want errno %d",
		    what, r, errno, want);
	ksft_test_result_pass("%s: %s\n", what, strerror(want));
}

static void test_negative(void)
{
	struct kvm_fast_write_protect fwp = { 0 };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_FAST_WRITE_PROTECT };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned int i;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	virt_map(vm, TEST_GPA, TEST_GPA, 1);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
				    1, 0);
	expect_errno(vm, &fwp, EINVAL, "capability not enabled");

	cap.args[0] = 2;
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &cap) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP args[0] = 2");
	cap.args[0] = 0;
	cap.args[3] = 1;
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &cap) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP args[3] = 1");
	cap.flags = 1;
	cap.args[3] = 0;
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &cap) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP flags = 1");
	ksft_test_result_pass("KVM_ENABLE_CAP with args[0] > 1, another argument "
			      "or a flag: EINVAL\n");
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 0);
	expect_errno(vm, &fwp, EINVAL, "enabled, then disabled again");
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);

	fwp.flags = 1;
	expect_errno(vm, &fwp, EINVAL, "flags = 1");
	fwp.flags = 1U << 31;
	expect_errno(vm, &fwp, EINVAL, "flags = 1 << 31");
	fwp.flags = 0;
	fwp.pad = 1;
	expect_errno(vm, &fwp, EINVAL, "pad = 1");
	fwp.pad = 0;
	fwp.generation = 1;
	expect_errno(vm, &fwp, EINVAL, "generation = 1 on input");
	fwp.generation = 0;
	for (i = 0; i < ARRAY_SIZE(fwp.reserved); i++) {
		fwp.reserved[i] = ~0ULL;
		TEST_ASSERT(fast_wp(vm, &fwp) == -1 && errno == EINVAL, "reserved[%u]", i);
		fwp.reserved[i] = 0;
	}
	ksft_test_result_pass("each reserved word non-zero: EINVAL\n");
	expect_errno(vm, &fwp, ENOENT, "no dirty-logged memslot");
	TEST_ASSERT(fast_wp(vm, (struct kvm_fast_write_protect *)8) == -1 &&
		    errno == EFAULT, "a bad address");
	ksft_test_result_pass("a bad argument address: EFAULT\n");

	/* the refusals changed nothing: the vCPU runs to its end */
	guest_var_store(vm, &guest_done, 1);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "the vCPU after the refusals");
	ksft_test_result_pass("the VM runs normally after the refusals\n");
	kvm_vm_free(vm);
}

/* Private memory cannot be write-protected: the VM says so and refuses. */
static void test_private_vm(void)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_FAST_WRITE_PROTECT, .args = { 1 },
	};
	struct kvm_vm *vm;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM))) {
		ksft_test_result_skip("a VM with private memory: no "
				      "KVM_X86_SW_PROTECTED_VM (CONFIG_KVM_SW_PROTECTED_VM)\n");
		return;
	}
	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_FAST_WRITE_PROTECT) == 0,
		    "KVM_CHECK_EXTENSION on a private-memory VM says %d",
		    vm_check_cap(vm, KVM_CAP_FAST_WRITE_PROTECT));
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &cap) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP on a private-memory VM");
	ksft_test_result_pass("a VM with private memory: KVM_CHECK_EXTENSION 0, "
			      "KVM_ENABLE_CAP EINVAL\n");
	kvm_vm_free(vm);
}

/* The dirty ring and fast write-protection exclude each other. */
static void test_ring_excluded(void)
{
	struct kvm_enable_cap fast = {
		.cap = KVM_CAP_FAST_WRITE_PROTECT, .args = { 1 },
	};
	struct kvm_enable_cap ring = {
		.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL, .args = { 4096 * 16 },
	};
	struct kvm_vm *vm;

	if (!kvm_has_cap(KVM_CAP_DIRTY_LOG_RING_ACQ_REL)) {
		ksft_test_result_skip("the dirty ring: not supported\n");
		return;
	}
	vm = vm_create_barebones();
	vm_enable_cap(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, ring.args[0]);
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_FAST_WRITE_PROTECT) == 0,
		    "a VM with rings: KVM_CHECK_EXTENSION says %d",
		    vm_check_cap(vm, KVM_CAP_FAST_WRITE_PROTECT));
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &fast) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP(FAST_WRITE_PROTECT) on a VM with rings");
	kvm_vm_free(vm);

	vm = vm_create_barebones();
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	TEST_ASSERT(__vm_ioctl(vm, KVM_ENABLE_CAP, &ring) == -1 && errno == EINVAL,
		    "KVM_ENABLE_CAP(DIRTY_LOG_RING_ACQ_REL) with fast-wp on");
	/* off again, the ring may come */
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 0);
	TEST_ASSERT(!__vm_ioctl(vm, KVM_ENABLE_CAP, &ring),
		    "the ring after fast-wp was turned off: %s", strerror(errno));
	kvm_vm_free(vm);
	ksft_test_result_pass("the dirty ring and fast-wp: whichever comes "
			      "first, the other is EINVAL\n");
}

/*
 * Fetch, protect (as the variant says), and bring the shadow up to date;
 * returns pages copied.  With the capability on, KVM_GET_DIRTY_LOG
 * protects all of memory itself when it returns a bit: the explicit
 * KVM_FAST_WRITE_PROTECT after it is redundant, and FWP_GET_ONLY leaves
 * it out.
 */
static uint32_t last_seen[TEST_PAGES];
static uint32_t cur_round;

/*
 * How the host re-arms the log, round after round (test_no_lost_write()):
 *   FWP_PLAIN    KVM_GET_DIRTY_LOG, then KVM_FAST_WRITE_PROTECT;
 *   FWP_GET_ONLY KVM_GET_DIRTY_LOG alone, the classic protocol;
 *   FWP_NESTED   the same, with vCPU 0 writing from an L2 guest on shadow
 *                NPT (the shadow MMU's mappings, protected in O(dirty));
 *   FWP_CLEAR    with KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE too: the fetch,
 *                KVM_CLEAR_DIRTY_LOG of what it returned, and every other
 *                round KVM_FAST_WRITE_PROTECT after it;
 *   FWP_TOGGLE   FWP_PLAIN, then the capability disabled halfway: classic
 *                KVM_GET_DIRTY_LOG (which protects what it returns) from
 *                there on, with the markers of the last protection still
 *                in the tables;
 *   FWP_TWO      FWP_PLAIN while another thread protects too, every
 *                millisecond;
 *   FWP_CLASSIC  the capability never enabled: classic KVM_GET_DIRTY_LOG,
 *                the same workload without the feature (--classic, the
 *                control for the emulator's faults, Documentation/kernel.rst);
 *   FWP_HUGE     FWP_PLAIN on a slot the guest wrote before its logging
 *                was enabled (transparent huge pages: KVM mapped it with
 *                2 MiB leaves), the shadow a copy of the whole slot then.
 */
enum fwp_variant {
	FWP_PLAIN, FWP_GET_ONLY, FWP_NESTED, FWP_CLEAR, FWP_TOGGLE, FWP_TWO,
	FWP_HUGE, FWP_CLASSIC
};

static const char *const fwp_variant_name[] = {
	[FWP_PLAIN] = "get + protect",
	[FWP_GET_ONLY] = "get alone, as a VMM unaware of the capability",
	[FWP_NESTED] = "get alone, vCPU 0 writing from a nested guest",
	[FWP_CLEAR] = "get + clear (+ protect), manual protection",
	[FWP_TOGGLE] = "get + protect, then the capability off and classic get",
	[FWP_TWO] = "get + protect, a second caller protecting meanwhile",
	[FWP_HUGE] = "get + protect, huge leaves mapped before logging",
	[FWP_CLASSIC] = "classic get, the capability never enabled",
};

static uint64_t round_trip(struct kvm_vm *vm, enum fwp_variant v,
			   unsigned long *bm, uint8_t *mem, uint8_t *shadow)
{
	struct kvm_fast_write_protect fwp = { 0 };
	bool protect = true;
	uint64_t p, n = 0;

	kvm_vm_get_dirty_log(vm, TEST_SLOT, bm);
	if (v == FWP_CLEAR) {
		kvm_vm_clear_dirty_log(vm, TEST_SLOT, bm, 0, TEST_PAGES);
		protect = cur_round % 2;
	} else if (v == FWP_TOGGLE && cur_round > ROUNDS / 2) {
		protect = false;	/* the classic fetch protected */
	} else if (v == FWP_GET_ONLY || v == FWP_NESTED || v == FWP_CLASSIC) {
		protect = false;	/* the fetch protected */
	}
	if (protect) {
		vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
		TEST_ASSERT(fwp.generation, "generation 0 after a protection");
	}
	for (p = 0; p < TEST_PAGES; p++) {
		if (!test_bit(p, bm))
			continue;
		memcpy(shadow + p * 4096, mem + p * 4096, 4096);
		last_seen[p] = cur_round;
		n++;
	}
	return n;
}

/* FWP_TWO's second caller: protects every millisecond until told to stop. */
static volatile bool second_stop;

static void *second_caller(void *arg)
{
	struct kvm_vm *vm = arg;
	unsigned long calls = 0;

	while (!second_stop) {
		struct kvm_fast_write_protect fwp = { 0 };

		vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
		calls++;
		usleep(1000);
	}
	return (void *)calls;
}

static void test_no_lost_write(enum vm_mem_backing_src_type src,
			       enum fwp_variant v)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	pthread_t threads[NR_VCPUS], second;
	unsigned long *bm = bitmap_zalloc(TEST_PAGES);
	uint8_t *shadow = calloc(TEST_PAGES, 4096), *mem;
	uint64_t copied = 0, checks = 0, p, bad;
	unsigned long second_calls = 0;
	unsigned int i, round;
	int stats_fd[NR_VCPUS];
	struct kvm_vm *vm;
	unsigned long split = 0;
	void *ret;

	/*
	 * FWP_HUGE: with kvm.eager_page_split off, enabling the log leaves the
	 * 2 MiB leaves in place (write-protected) instead of splitting them:
	 * the protection's markers then sit above huge leaves.
	 */
	if (v == FWP_HUGE) {
		split = param_read("eager_page_split");
		param_set("eager_page_split", "N");
	}
	if (v == FWP_NESTED && !kvm_cpu_has(X86_FEATURE_SVM)) {
		ksft_test_result_skip("%s: no nested SVM\n", fwp_variant_name[v]);
		free(shadow);
		free(bm);
		return;
	}
	vm = vm_create_with_vcpus(NR_VCPUS, guest_code, vcpus);
	if (v == FWP_NESTED) {
		nested_prepare(vm, 4);
	} else {
		guest_svm = 0;		/* no L2: every vCPU writes as L1 */
		sync_global_to_guest(vm, guest_svm);
	}
	if (v == FWP_CLEAR)
		vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	vm_userspace_mem_region_add(vm, src, TEST_GPA, TEST_SLOT, TEST_PAGES,
				    v == FWP_HUGE ? 0 : KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, TEST_GPA, TEST_GPA, TEST_PAGES);
	mem = addr_gpa2hva(vm, TEST_GPA);
	if (v != FWP_CLASSIC)
		vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	if (v == FWP_HUGE)
		memset(mem, 0, TEST_PAGES * 4096);	/* the host's huge pages */
	for (i = 0; i < NR_VCPUS; i++) {
		/* a vCPU ioctl: it would wait for KVM_RUN to return */
		stats_fd[i] = vcpu_get_stats_fd(vcpus[i]);
		vcpu_args_set(vcpus[i], 1, i);
		pthread_create(&threads[i], NULL, vcpu_thread, vcpus[i]);
	}
	if (v == FWP_HUGE) {
		struct kvm_fast_write_protect fwp = { 0 };
		uint64_t huge;

		/* every 2 MiB of the slot written, mapped huge, then logging */
		while (guest_var_load(vm, &guest_writes) < 64 * (TEST_PAGES / 512))
			usleep(1000);
		huge = vm_get_stat(vm, "pages_2m");
		TEST_ASSERT(huge > 0, "no 2 MiB mapping before logging started");
		vm_mem_region_set_flags(vm, TEST_SLOT, KVM_MEM_LOG_DIRTY_PAGES);
		kvm_vm_get_dirty_log(vm, TEST_SLOT, bm);
		vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
		memcpy(shadow, mem, TEST_PAGES * 4096);	/* pass 0 */
		ksft_print_msg("huge: %lu 2 MiB mappings before logging started\n",
			       (unsigned long)huge);
	}
	second_stop = false;
	if (v == FWP_TWO)
		pthread_create(&second, NULL, second_caller, vm);

	memset(last_seen, 0, sizeof(last_seen));
	for (round = 1; round <= ROUNDS; round++) {
		uint64_t writes = guest_var_load(vm, &guest_writes), t0 = time(NULL);

		cur_round = round;
		guest_var_store(vm, &guest_stamp, (uint64_t)round << 48);
		/*
		 * Let the vCPUs write ROUND_WRITES stamps, however long that
		 * takes on a busy host (a fixed sleep made a loaded debug
		 * kernel's guest "hardly write").
		 */
		while (guest_var_load(vm, &guest_writes) - writes < ROUND_WRITES) {
			TEST_ASSERT(time(NULL) - t0 < 60, "round %u: the vCPUs wrote "
				    "%lu stamps in 60 s", round,
				    guest_var_load(vm, &guest_writes) - writes);
			usleep(1000);	/* a poll period */
		}
		if (v == FWP_TOGGLE && round == ROUNDS / 2 + 1)
			vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 0);
		copied += round_trip(vm, v, bm, mem, shadow);

		if (round == ROUNDS / 4)	/* slots come and go meanwhile */
			vm_userspace_mem_region_add(vm, src, EXTRA_GPA, EXTRA_SLOT,
						    EXTRA_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
		if (round == ROUNDS / 2)
			vm_mem_region_move(vm, EXTRA_SLOT, EXTRA_GPA + (1ULL << 30));
		if (round == 3 * ROUNDS / 4)
			vm_mem_region_delete(vm, EXTRA_SLOT);

		if (round % 5)
			continue;
		/* stop the vCPUs in the guest, then nothing may differ */
		guest_var_store(vm, &guest_acked, 0);
		guest_var_store(vm, &guest_stop, 1);
		while (guest_var_load(vm, &guest_acked) < NR_VCPUS)
			usleep(100);
		copied += round_trip(vm, v, bm, mem, shadow);
		for (p = 0, bad = 0; p < TEST_PAGES; p++) {
			uint64_t *m = (uint64_t *)(mem + p * 4096);
			uint64_t *sh = (uint64_t *)(shadow + p * 4096);
			unsigned int w;

			if (!memcmp(m, sh, 4096))
				continue;
			for (w = 0; w < 512 && m[w] == sh[w]; w++)
				;
			if (bad++ < 8)
				ksft_print_msg("page %lu word %u: 0x%lx, shadow 0x%lx "
					       "(written in round %lu, last reported in "
					       "round %u)\n", p, w, m[w], sh[w], m[w] >> 48,
					       last_seen[p]);
		}
		TEST_ASSERT(!bad, "%s, %s, round %u: %lu pages were written but "
			    "never reported dirty", vm_mem_backing_src_alias(src)->name,
			    fwp_variant_name[v], round, bad);
		checks++;
		guest_var_store(vm, &guest_stop, 0);
	}
	if (v == FWP_NESTED) {
		uint64_t shadow_pages = vm_get_stat(vm, "mmu_cache_miss");
		uint64_t l2_writes = guest_var_load(vm, &guest_vcpu_writes[0]);

		/* the shadow MMU mapped L2's memory, and L2 wrote through it */
		TEST_ASSERT(shadow_pages > 0, "nested: no shadow page was made");
		TEST_ASSERT(l2_writes >= ROUND_WRITES, "nested: L2 wrote %lu stamps",
			    l2_writes);
		ksft_print_msg("nested: L2 wrote %lu stamps; %lu shadow pages made\n",
			       l2_writes, shadow_pages);
	}
	if (v == FWP_GET_ONLY || v == FWP_NESTED) {
		uint64_t pushed = 0;

		/* the fetches protected at once: the vCPUs met markers */
		for (i = 0; i < NR_VCPUS; i++) {
			pushed += vcpu_stat(stats_fd[i], "fast_wp_push_downs");
		}
		TEST_ASSERT(pushed > ROUNDS, "get alone: %lu push-downs in %u "
			    "rounds: the fetch did not protect at once", pushed,
			    ROUNDS);
		ksft_print_msg("get alone: %lu push-downs\n", pushed);
	}
	second_stop = true;
	if (v == FWP_TWO) {
		pthread_join(second, &ret);
		second_calls = (unsigned long)ret;
		TEST_ASSERT(second_calls > 0, "the second caller never protected");
	}
	guest_var_store(vm, &guest_done, 1);
	for (i = 0; i < NR_VCPUS; i++) {
		pthread_join(threads[i], NULL);
		close(stats_fd[i]);
	}
	TEST_ASSERT(copied > TEST_PAGES / 4, "the guest hardly wrote: %lu pages", copied);
	ksft_test_result_pass("%s, %s: %u rounds with %d vCPUs writing, %lu pages "
			      "logged, %lu full comparisons, no write lost; a slot "
			      "added, moved and deleted meanwhile%s\n",
			      vm_mem_backing_src_alias(src)->name, fwp_variant_name[v],
			      ROUNDS, NR_VCPUS, copied, checks,
			      v == FWP_TWO ? "; the second caller protected too" : "");
	if (v == FWP_TWO)
		ksft_print_msg("the second caller: %lu protections\n", second_calls);
	if (split)
		param_set("eager_page_split", "Y");
	free(shadow);
	free(bm);
	kvm_vm_free(vm);
}

/* ------------------------------------------------------------ one fault a page */

#define WALK_SLOT	12
#define WALK_GPA	(4ULL << 30)
#define WALK_REGIONS	32
#define WALK_PAGES	(WALK_REGIONS * 512)	/* 64 MiB: a page per 2 MiB */
#define WALK_SLACK	4

static volatile uint64_t guest_walk_n = WALK_REGIONS;	/* regions a round */

static void guest_walk(void)
{
	uint64_t round, i;

	for (round = 0;; round++) {
		for (i = 0; i < guest_walk_n; i++)
			*(volatile uint64_t *)(WALK_GPA + (i << 21)) = round;
		GUEST_SYNC(round);
	}
}

static void walk_round(struct kvm_vcpu *vcpu, int fd, uint64_t *pf,
		       uint64_t *pushed)
{
	uint64_t pf0 = vcpu_stat(fd, "pf_taken");
	uint64_t pd0 = vcpu_stat(fd, "fast_wp_push_downs");
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "walk: unexpected exit %s",
		    exit_reason_str(vcpu->run->exit_reason));
	*pf = vcpu_stat(fd, "pf_taken") - pf0;
	*pushed = vcpu_stat(fd, "fast_wp_push_downs") - pd0;
}

/*
 * A write after a protection meets a marker at the top and read-only
 * entries below it; pushing them down one level per fault, each retried,
 * cost a guest entry per level.  Now the fault goes on down its walk: one
 * fault per written page.  Each region's 2 MiB entry is a marker of its
 * own, so the 32 writes push down at least 32 + 2 levels (the 512 GiB and
 * 1 GiB entries above, once).
 *
 * The guest maps the slot with 2 MiB pages: the nested walk accesses the
 * guest's own page tables as writes (AMD's NPT, so that it may set their
 * A/D bits, and QEMU's emulation of it), so a page-table page behind a
 * marker costs a fault of its own; with 4 KiB guest pages each region
 * would bring one (measured: 73 faults for the 32 writes).  With 2 MiB
 * ones the 32 regions share one.  What slot 0 costs after a protection
 * (the ucall, the stack, the guest's page tables) is measured by a
 * protected round that writes no region.
 */
static void test_one_fault_per_page(void)
{
	struct kvm_fast_write_protect fwp = { 0 };
	unsigned long *bm = bitmap_zalloc(WALK_PAGES);
	uint64_t pf_idle, pd_idle, pf_base, pf, pd;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd;

	vm = vm_create_with_one_vcpu(&vcpu, guest_walk);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, WALK_GPA, WALK_SLOT,
				    WALK_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map_level(vm, WALK_GPA, WALK_GPA, (uint64_t)WALK_PAGES * 4096,
		       PG_LEVEL_2M);
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	fd = vcpu_get_stats_fd(vcpu);

	walk_round(vcpu, fd, &pf, &pd);			/* maps the pages */
	walk_round(vcpu, fd, &pf_idle, &pd_idle);	/* nothing protected */
	TEST_ASSERT(pd_idle == 0, "%lu push-downs without a protection", pd_idle);

	guest_var_store(vm, &guest_walk_n, 0);
	kvm_vm_get_dirty_log(vm, WALK_SLOT, bm);
	vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
	walk_round(vcpu, fd, &pf_base, &pd);		/* protected, slot 0 only */

	guest_var_store(vm, &guest_walk_n, WALK_REGIONS);
	kvm_vm_get_dirty_log(vm, WALK_SLOT, bm);
	fwp.generation = 0;
	vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
	walk_round(vcpu, fd, &pf, &pd);
	kvm_vm_get_dirty_log(vm, WALK_SLOT, bm);

	TEST_ASSERT(bitmap_count(bm, WALK_PAGES) == WALK_REGIONS,
		    "walk: %lu pages logged, want %u",
		    bitmap_count(bm, WALK_PAGES), WALK_REGIONS);
	TEST_ASSERT(pf >= WALK_REGIONS && pf <= WALK_REGIONS + pf_base + WALK_SLACK,
		    "%u pages written after a protection took %lu page faults "
		    "(%lu for slot 0 alone, %lu without a protection): want one "
		    "a page", WALK_REGIONS, pf, pf_base, pf_idle);
	TEST_ASSERT(pd >= WALK_REGIONS + 2,
		    "fast_wp_push_downs counted %lu for %u regions", pd, WALK_REGIONS);
	ksft_test_result_pass("one fault a page: %u pages in 2 MiB regions of "
			      "their own, %lu page faults (%lu for slot 0 "
			      "alone), %lu push-downs\n",
			      WALK_REGIONS, pf, pf_base, pd);
	close(fd);
	free(bm);
	kvm_vm_free(vm);
}

/* ------------------------------------------------------------------ SMM */

#define SMRAM_GPA	0x1000000
#define SMRAM_PAGES	16
#define SMM_SLOT	((1 << 16) | TEST_SLOT)	/* address space 1: SMM's */
#define SMM_PAGES	16
#define SMM_PAGE	3			/* the page the handler writes */
#define SYNC_PORT	0xe

/*
 * The SMI handler, at SMBASE + 0x8000, run in SMM's real-address-like mode
 * (16-bit operands, data segments of base 0 and 4 GiB limit): twice,
 * increment a dword of page SMM_PAGE of the SMM address space's test slot
 * and report to the host; then return from SMM.
 */
#define SMM_INC								\
	0x66, 0x67, 0xff, 0x05,		/* incl (TEST_GPA + ...) */	\
	(uint8_t)(TEST_GPA + SMM_PAGE * 4096),				\
	(uint8_t)((TEST_GPA + SMM_PAGE * 4096) >> 8),			\
	(uint8_t)((TEST_GPA + SMM_PAGE * 4096) >> 16),			\
	(uint8_t)((TEST_GPA + SMM_PAGE * 4096) >> 24),			\
	0xe4, SYNC_PORT			/* in $SYNC_PORT, %al */

static const uint8_t smi_handler[] = {
	SMM_INC,
	SMM_INC,
	0x0f, 0xaa,			/* rsm */
};

static void guest_smm(void)
{
	for (;;)
		asm volatile("in $" __stringify(SYNC_PORT) ", %%al" : : : "rax");
}

static bool vcpu_in_smm(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_events events;

	vcpu_events_get(vcpu, &events);
	return events.smi.smm;
}

/*
 * SMM has an address space, and so TDP MMU roots, of its own: a fetch's
 * protection must cover them.  Each round the host injects an SMI; the
 * handler writes the same page of a dirty-logged slot of SMM's address
 * space twice, stopping after each write; each time the host, with the
 * vCPU in SMM, fetches that slot's log (KVM_GET_DIRTY_LOG, which protects
 * all of memory at once) and wants exactly that page.  The second write
 * is reported only if the first fetch write-protected the page in the
 * SMM root the vCPU is running on.
 */
static void test_smm(void)
{
	unsigned long *bm = bitmap_zalloc(SMM_PAGES);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	unsigned int round, w, bad = 0;
	uint32_t *counter;

	if (!kvm_has_cap(KVM_CAP_X86_SMM)) {
		ksft_test_result_skip("SMM: KVM has no KVM_CAP_X86_SMM\n");
		free(bm);
		return;
	}
	vm = vm_create_with_one_vcpu(&vcpu, guest_smm);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SMRAM_GPA,
				    (1 << 16) | 1, SMRAM_PAGES, 0);
	TEST_ASSERT(vm_phy_pages_alloc(vm, SMRAM_PAGES, SMRAM_GPA, (1 << 16) | 1) ==
		    SMRAM_GPA, "SMRAM allocation");
	memset(addr_gpa2hva(vm, SMRAM_GPA), 0, SMRAM_PAGES * 4096);
	memcpy(addr_gpa2hva(vm, SMRAM_GPA) + 0x8000, smi_handler,
	       sizeof(smi_handler));
	vcpu_set_msr(vcpu, MSR_IA32_SMBASE, SMRAM_GPA);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, SMM_SLOT,
				    SMM_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	counter = addr_gpa2hva(vm, TEST_GPA + SMM_PAGE * 4096);
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);

	vcpu_run(vcpu);		/* to the guest's first port read */
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	kvm_vm_get_dirty_log(vm, SMM_SLOT, bm);
	for (round = 1; round <= 10; round++) {
		struct kvm_vcpu_events events;

		vcpu_events_get(vcpu, &events);
		events.smi.pending = 1;
		events.flags |= KVM_VCPUEVENT_VALID_SMM;
		vcpu_events_set(vcpu, &events);
		for (w = 1; w <= 2; w++) {
			vcpu_run(vcpu);	/* the handler's write and port read */
			TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
			TEST_ASSERT(vcpu_in_smm(vcpu) && vcpu->run->io.port == SYNC_PORT,
				    "round %u: not stopped in the SMI handler", round);
			TEST_ASSERT(*counter == 2 * (round - 1) + w,
				    "round %u: the handler wrote %u times", round,
				    *counter);
			kvm_vm_get_dirty_log(vm, SMM_SLOT, bm);
			if (!test_bit(SMM_PAGE, bm) || bitmap_count(bm, 64) != 1) {
				ksft_print_msg("SMM round %u write %u: page %u %sreported, "
					       "%lu pages\n", round, w, SMM_PAGE,
					       test_bit(SMM_PAGE, bm) ? "" : "not ",
					       (unsigned long)bitmap_count(bm, 64));
				bad++;
			}
		}
		vcpu_run(vcpu);	/* rsm, back to the guest's port read */
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		TEST_ASSERT(!vcpu_in_smm(vcpu), "round %u: still in SMM", round);
	}
	TEST_ASSERT(!bad, "SMM: %u of 20 writes from SMM were not reported", bad);
	ksft_test_result_pass("SMM: a page written twice from SMM in each of 10 "
			      "rounds, a fetch after each write: all 20 reported "
			      "(SMM's roots are protected)\n");
	free(bm);
	kvm_vm_free(vm);
}

/* ------------------------------------------------------------ --absent */

static void guest_absent(void)
{
	*(volatile uint64_t *)(TEST_GPA + 7 * 4096) = 1;
	GUEST_DONE();
}

/*
 * --absent, where fast write-protect must not be offered (kvm.tdp_mmu=N,
 * tools/lab/kmod_tdp_off): KVM_CHECK_EXTENSION says 0 on /dev/kvm and on a
 * VM, KVM_ENABLE_CAP and the ioctl fail with EINVAL, and classic dirty
 * logging works (the page the guest wrote is reported).
 */
static int test_absent(void)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_FAST_WRITE_PROTECT, .args = { 1 },
	};
	struct kvm_fast_write_protect fwp = { 0 };
	unsigned long *bm = bitmap_zalloc(64);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int r;

	ksft_print_header();
	ksft_set_plan(4);
	TEST_ASSERT(param_read("tdp_mmu") == 0,
		    "--absent wants kvm.tdp_mmu=N (tools/lab/kmod_tdp_off)");
	ksft_test_result(kvm_check_cap(KVM_CAP_FAST_WRITE_PROTECT) == 0,
			 "kvm.tdp_mmu=N: KVM_CHECK_EXTENSION on /dev/kvm says 0\n");
	vm = vm_create_with_one_vcpu(&vcpu, guest_absent);
	ksft_test_result(vm_check_cap(vm, KVM_CAP_FAST_WRITE_PROTECT) == 0,
			 "kvm.tdp_mmu=N: KVM_CHECK_EXTENSION on a VM says 0\n");
	r = __vm_ioctl(vm, KVM_ENABLE_CAP, &cap);
	ksft_test_result(r == -1 && errno == EINVAL,
			 "kvm.tdp_mmu=N: KVM_ENABLE_CAP is EINVAL\n");
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
				    64, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, TEST_GPA, TEST_GPA, 64);
	r = __vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
	TEST_ASSERT(r == -1 && errno == EINVAL,
		    "kvm.tdp_mmu=N: KVM_FAST_WRITE_PROTECT: %d errno %d", r, errno);
	kvm_vm_get_dirty_log(vm, TEST_SLOT, bm);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "--absent: unexpected exit %s",
		    exit_reason_str(vcpu->run->exit_reason));
	kvm_vm_get_dirty_log(vm, TEST_SLOT, bm);
	ksft_test_result(test_bit(7, bm) && bitmap_count(bm, 64) == 1,
			 "kvm.tdp_mmu=N: the ioctl is EINVAL, classic dirty logging "
			 "reports the page written (%lu logged)\n",
			 (unsigned long)bitmap_count(bm, 64));
	free(bm);
	kvm_vm_free(vm);
	ksft_finished();
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc > 1 && !strcmp(argv[1], "--absent"))
		return test_absent();
	if (argc > 1 && !strcmp(argv[1], "--classic")) {
		/* the workload without the feature: the emulator's control */
		int i, n = argc > 2 ? atoi(argv[2]) : 1;

		TEST_ASSERT(n > 0 && n <= 1000, "--classic N: N from 1 to 1000, not '%s'",
			    argv[2]);
		ksft_print_header();
		ksft_set_plan(2 * n);
		for (i = 0; i < n; i++) {
			test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_CLASSIC);
			test_no_lost_write(VM_MEM_SRC_ANONYMOUS_THP, FWP_CLASSIC);
		}
		ksft_finished();
	}
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_FAST_WRITE_PROTECT));
	ksft_print_header();
	ksft_set_plan(11 + 1 + 1 + 2 + 6 + 1 + 1);
	test_negative();
	test_private_vm();
	test_ring_excluded();
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_PLAIN);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS_THP, FWP_PLAIN);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_GET_ONLY);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_NESTED);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_CLEAR);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_TOGGLE);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS, FWP_TWO);
	test_no_lost_write(VM_MEM_SRC_ANONYMOUS_THP, FWP_HUGE);
	test_one_fault_per_page();
	test_smm();
	ksft_finished();
}
