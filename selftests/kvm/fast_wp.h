/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the repo's KVM selftests share: the patch's uapi where the headers
 * lack it, the host's side of the variables through which it talks to
 * running guest code, a vCPU statistic, kvm's module parameters, and an L2
 * guest on nested paging (nested SVM).
 */
#ifndef KVMIG_SELFTESTS_FAST_WP_H
#define KVMIG_SELFTESTS_FAST_WP_H

#include <fcntl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "svm_util.h"

/*
 * The patch's uapi, for a tree without the series (lab.sh --unpatched,
 * where fast_wp_test --classic runs); the values of kernel/patches/, an
 * out-of-tree block, as in user/lib/dirty_fastwp.c.
 */
#ifndef KVM_CAP_FAST_WRITE_PROTECT
#define KVM_CAP_FAST_WRITE_PROTECT	0x10000
struct kvm_fast_write_protect {
	__u32 flags;
	__u32 pad;
	__u64 generation;
	__u64 reserved[4];
};

#define KVM_FAST_WRITE_PROTECT	_IOWR(KVMIO, 0xf0, struct kvm_fast_write_protect)
#endif

/* Store to / load from guest global @var while its vCPUs run (seq_cst). */
static inline void guest_var_store(struct kvm_vm *vm, volatile uint64_t *var,
				   uint64_t v)
{
	__atomic_store_n((uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)var), v,
			 __ATOMIC_SEQ_CST);
}

static inline uint64_t guest_var_load(struct kvm_vm *vm, volatile uint64_t *var)
{
	return __atomic_load_n((uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)var),
			       __ATOMIC_SEQ_CST);
}

/*
 * The bits set in the first @bits (a multiple of 64) of bitmap @b: the
 * selftests' tools/include has bitmap_weight() but does not link its
 * __bitmap_weight().
 */
static inline uint64_t bitmap_count(const unsigned long *b, unsigned int bits)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < bits / 64; i++)
		n += __builtin_popcountll(b[i]);
	return n;
}

/* The vCPU binary statistic @name, from the vCPU's stats fd @fd. */
static inline uint64_t vcpu_stat(int fd, const char *name)
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

/* kvm's module parameter @name (Y/N as 1/0); writing returns the errno */
#define PARAM_DIR	"/sys/module/kvm/parameters/"

static inline int param_write(const char *name, const char *val)
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

static inline void param_set(const char *name, const char *val)
{
	int err = param_write(name, val);

	TEST_ASSERT(!err, "writing %s to %s: %s", val, name, strerror(err));
}

static inline unsigned long param_read(const char *name)
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

/*
 * Nested paging tables for an L2 guest under nested SVM: an identity map
 * of the first @gib GiB of guest-physical memory (at most 512), with 2 MiB
 * pages, built in memslot 0; returns the root's guest-physical address,
 * for the VMCB's nested_cr3.  An L2 that uses its L1's CR3 then sees L1's
 * memory at the same addresses, and KVM runs it on shadow NPT: the shadow
 * MMU, with rmaps.  NPT entries are user entries (P, RW, US).
 */
#define NPT_RWX		0x7ULL
#define NPT_HUGE	0x80ULL

static inline vm_paddr_t npt_identity_map(struct kvm_vm *vm, unsigned int gib)
{
	vm_paddr_t root = vm_phy_pages_alloc(vm, 2 + gib, KVM_GUEST_PAGE_TABLE_MIN_PADDR, 0);
	uint64_t *pml4 = addr_gpa2hva(vm, root);
	uint64_t *pdpt = addr_gpa2hva(vm, root + 4096);
	unsigned int g, i;

	TEST_ASSERT(gib >= 1 && gib <= 512, "npt_identity_map: %u GiB", gib);
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = (root + 4096) | NPT_RWX;
	for (g = 0; g < gib; g++) {
		vm_paddr_t pd_gpa = root + (2 + g) * 4096ULL;
		uint64_t *pd = addr_gpa2hva(vm, pd_gpa);

		pdpt[g] = pd_gpa | NPT_RWX;
		for (i = 0; i < 512; i++)
			pd[i] = ((uint64_t)g << 30 | (uint64_t)i << 21) | NPT_RWX | NPT_HUGE;
	}
	return root;
}

/*
 * An L2 guest under nested SVM on those tables: the vCPU's SVM data (a GVA)
 * and the tables' root, set on the host by nested_prepare() for the first
 * @gib GiB; in the guest, l1_run_l2() runs @l2 as the L2 guest, with L1's
 * CR3, on a stack of its own.  It never returns: L2's ucalls are port IO,
 * which L1 does not intercept, so they reach the host.  One L2 at a time.
 */
static uint64_t guest_svm, guest_npt_root;
static uint64_t l2_stack[512] __aligned(16);

static inline void nested_prepare(struct kvm_vm *vm, unsigned int gib)
{
	vm_vaddr_t svm_gva;

	vcpu_alloc_svm(vm, &svm_gva);
	guest_svm = svm_gva;
	guest_npt_root = npt_identity_map(vm, gib);
	sync_global_to_guest(vm, guest_svm);
	sync_global_to_guest(vm, guest_npt_root);
}

static inline void l1_run_l2(void (*l2)(void))
{
	struct svm_test_data *svm = (struct svm_test_data *)guest_svm;

	/* rsp + 8 16-byte aligned, as at a function's entry */
	generic_svm_setup(svm, l2, &l2_stack[511]);
	svm->vmcb->control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	svm->vmcb->control.nested_cr3 = guest_npt_root;
	run_guest(svm->vmcb, svm->vmcb_gpa);
	GUEST_FAIL("L2 exited to L1: exit code 0x%lx",
		   (unsigned long)svm->vmcb->control.exit_code);
}

#endif /* KVMIG_SELFTESTS_FAST_WP_H */
