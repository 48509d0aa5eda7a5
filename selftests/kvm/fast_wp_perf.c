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
 *   fast-wp        KVM_FAST_WRITE_PROTECT after a fetch.
 *
 * Each runs after the guest has written every page of the slot once, so
 * every page is mapped writable and must be protected.  Each takes
 * mmu_lock for write for its protecting part, so the call's time is an
 * upper bound on how long a vCPU that faults meanwhile stalls (the calls
 * also copy to or from userspace outside the lock).
 * Then the price of laziness: the time of the guest's next pass over the
 * slot (one write per page) after each kind of protection.
 *
 * Output: one line per size, prefixed "fastwp-perf:" so that the lab's
 * console log can be searched for the table.
 */
#include <linux/bitmap.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define SLOT		10
#define GPA		(1ULL << 32)

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
	double get_ms, clear_ms, fastwp_ms;
	double pass_after_clear_ms, pass_after_fastwp_ms;
};

static void measure(uint64_t mib, struct row *r)
{
	uint64_t pages = mib << 8;
	unsigned long *bm = bitmap_zalloc(pages);
	struct kvm_fast_write_protect fwp = { 0 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	double t;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, GPA, SLOT, pages,
				    KVM_MEM_LOG_DIRTY_PAGES);
	/* 2 MiB guest pages: few page tables (KVM still maps it 4 KiB) */
	virt_map_level(vm, GPA, GPA, pages * 4096, PG_LEVEL_2M);
	guest_pages = pages;
	sync_global_to_guest(vm, guest_pages);
	r->mib = mib;

	/* get-dirty-log: fetch + write-protect every reported page */
	guest_pass(vcpu);
	guest_pass(vcpu);
	t = now_ms();
	kvm_vm_get_dirty_log(vm, SLOT, bm);
	r->get_ms = now_ms() - t;

	/* clear-log: a fetch, then CLEAR over the whole slot */
	vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	guest_pass(vcpu);
	kvm_vm_get_dirty_log(vm, SLOT, bm);
	t = now_ms();
	kvm_vm_clear_dirty_log(vm, SLOT, bm, 0, pages);
	r->clear_ms = now_ms() - t;
	r->pass_after_clear_ms = guest_pass(vcpu);
	vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0);

	/* fast-wp: a fetch, then one protection */
	vm_enable_cap(vm, KVM_CAP_FAST_WRITE_PROTECT, 1);
	guest_pass(vcpu);
	kvm_vm_get_dirty_log(vm, SLOT, bm);
	t = now_ms();
	vm_ioctl(vm, KVM_FAST_WRITE_PROTECT, &fwp);
	r->fastwp_ms = now_ms() - t;
	r->pass_after_fastwp_ms = guest_pass(vcpu);
	/* and the pass logged every page it wrote */
	kvm_vm_get_dirty_log(vm, SLOT, bm);
	TEST_ASSERT(count_bits(bm, pages) == pages,
		    "%lu of %lu pages logged after fast-wp", count_bits(bm, pages),
		    pages);
	free(bm);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	static const uint64_t sizes[] = { 128, 256, 512 };
	struct row rows[3];
	unsigned int i;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_FAST_WRITE_PROTECT));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		measure(sizes[i], &rows[i]);

	printf("fastwp-perf: write-protecting all of a dirty-logged slot that the "
	       "guest wrote in full (ms; mmu_lock held for write throughout)\n");
	printf("fastwp-perf: %6s %14s %12s %10s %10s %10s %14s\n", "MiB",
	       "get-dirty-log", "clear-log", "fast-wp", "vs clear", "vs get",
	       "next pass x");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct row *r = &rows[i];

		printf("fastwp-perf: %6lu %14.3f %12.3f %10.3f %9.4fx %9.4fx %13.2fx\n",
		       r->mib, r->get_ms, r->clear_ms, r->fastwp_ms,
		       r->fastwp_ms / r->clear_ms, r->fastwp_ms / r->get_ms,
		       r->pass_after_fastwp_ms / r->pass_after_clear_ms);
	}
	printf("fastwp-perf: fast-wp grows %.2fx from %lu to %lu MiB, clear-log "
	       "%.2fx; next pass x = the guest's next pass over the slot after "
	       "fast-wp / after clear-log (the lazy push-down's faults)\n",
	       rows[2].fastwp_ms / rows[0].fastwp_ms, rows[0].mib, rows[2].mib,
	       rows[2].clear_ms / rows[0].clear_ms);
	return 0;
}
