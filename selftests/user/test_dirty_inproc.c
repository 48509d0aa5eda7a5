// SPDX-License-Identifier: GPL-2.0
/*
 * The in-process dirty sources refuse what they cannot do, clearly and
 * before touching the VM: a ring on a VM without rings, a ring of the
 * wrong size, a ring without a way to kick vCPUs, fastwp on a stock
 * kernel, a bad clear chunk, an out-of-range re-arm, sync before start.
 * Also checks auto's choice and reason on a VM with and without rings.
 * (That every write is reported is test_dirty_oracle's job.)
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"

static char last_msg[512];

static void capture(enum kvmig_log_level l, const char *msg, void *opaque)
{
	(void)opaque;
	if (l == KVMIG_LOG_ERROR)
		snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

static int kick_nothing(void *opaque)
{
	(void)opaque;
	return 0;
}

struct kvm_vm {
	int kvm, vm, vcpu;
	struct kvmig_memmap *map;
	void *mem;
};

static void vm_make(struct kvm_vm *v, uint32_t ring_entries)
{
	struct kvm_userspace_memory_region r = { .slot = 0, .memory_size = 4 << 20 };
	struct kvmig_slot_desc d = { .sz = sizeof(d), .id = 0, .size = 4 << 20 };

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	TEST_ASSERT(v->kvm >= 0, "/dev/kvm");
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	TEST_ASSERT(v->vm >= 0, "KVM_CREATE_VM");
	if (ring_entries)
		TEST_ASSERT(!kvmig_enable_dirty_ring(v->vm, ring_entries),
			    "enable ring of %u", ring_entries);
	v->mem = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(v->mem != MAP_FAILED, "mmap");
	r.userspace_addr = (uint64_t)(uintptr_t)v->mem;
	TEST_ASSERT(!ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r), "memslot");
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	TEST_ASSERT(v->vcpu >= 0, "KVM_CREATE_VCPU");
	v->map = kvmig_memmap_new(NULL);
	d.hva = v->mem;
	TEST_ASSERT(v->map && !kvmig_memmap_add(v->map, &d), "memmap");
}

static void vm_free(struct kvm_vm *v)
{
	kvmig_memmap_free(v->map);
	munmap(v->mem, 4 << 20);
	close(v->vcpu);
	close(v->vm);
	close(v->kvm);
}

static struct kvmig_dirty *make(struct kvm_vm *v, enum kvmig_dirty_backend b,
				uint32_t ring, bool kick, uint64_t chunk)
{
	struct kvmig_kvm_desc kd = {
		.sz = sizeof(kd), .vm_fd = v->vm, .mem = v->map, .nr_vcpus = 1,
		.vcpu_fds = &v->vcpu, .ring_entries = ring,
		.kick_vcpus = kick ? kick_nothing : NULL,
	};
	struct kvmig_dirty_opts o = {
		.sz = sizeof(o), .backend = b, .clear_chunk_pages = chunk,
		.print = capture,
	};

	last_msg[0] = 0;
	return kvmig_dirty_new(&kd, &o);
}

static void refused(struct kvmig_dirty *d, int err, const char *msg, const char *what)
{
	ksft_test_result(!d && errno == err && strstr(last_msg, msg),
			 "%s: errno %d, '%s'", what, errno, last_msg);
	kvmig_dirty_free(d);
}

int main(void)
{
	struct kvm_vm plain, ringed;
	struct kvmig_dirty *d;
	uint64_t bm[16] = { 0 };
	bool fastwp;
	int max;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(15);

	vm_make(&plain, 0);
	fastwp = test_kvm_has_fastwp();
	max = kvmig_dirty_ring_max_entries(plain.vm);
	if (max <= 0)
		ksft_exit_skip("no dirty ring in this kernel");
	vm_make(&ringed, 4096);

	refused(make(&plain, KVMIG_DIRTY_RING, 0, true, 0), EOPNOTSUPP,
		"the VM has no dirty rings", "ring on a VM without rings");
	refused(make(&ringed, KVMIG_DIRTY_RING, 8192, true, 0), EINVAL,
		"not the size the VM was given", "ring of the wrong size");
	refused(make(&ringed, KVMIG_DIRTY_RING, 2048, true, 0), EINVAL,
		"not the size the VM was given", "ring smaller than the VM's");
	refused(make(&ringed, KVMIG_DIRTY_RING, 3000, true, 0), EINVAL,
		"must be a power of two", "ring size not a power of two");
	refused(make(&ringed, KVMIG_DIRTY_RING, 4096, false, 0), EINVAL,
		"no way to kick its vCPUs", "ring without a vCPU kick");
	refused(make(&ringed, KVMIG_DIRTY_BITMAP, 4096, true, 0), EOPNOTSUPP,
		"exclude KVM_GET_DIRTY_LOG", "bitmap on a VM with rings");
	refused(make(&ringed, KVMIG_DIRTY_FASTWP, 4096, true, 0), EOPNOTSUPP,
		"exclude KVM_GET_DIRTY_LOG", "fastwp on a VM with rings");
	if (fastwp)
		ksft_test_result_skip("fastwp on a stock kernel: this kernel has "
				      "KVM_CAP_FAST_WRITE_PROTECT");
	else
		refused(make(&plain, KVMIG_DIRTY_FASTWP, 0, true, 0), EOPNOTSUPP,
			"no KVM_CAP_FAST_WRITE_PROTECT", "fastwp on a stock kernel");
	refused(make(&plain, KVMIG_DIRTY_CLEAR, 0, true, 100), EINVAL,
		"multiple of 64", "clear with a chunk of 100 pages");
	refused(make(&plain, KVMIG_DIRTY_REMOTE, 0, true, 0), EINVAL,
		"use kvmig_dirty_remote_new", "remote through kvmig_dirty_new");
	ksft_test_result(kvmig_enable_dirty_ring(plain.vm, 1000) == -EINVAL &&
			 kvmig_enable_dirty_ring(plain.vm, (uint32_t)max * 2) == -EINVAL,
			 "enabling a ring of a bad size is refused");

	d = make(&ringed, KVMIG_DIRTY_AUTO, 4096, true, 0);
	ksft_test_result(d && kvmig_dirty_backend(d) == KVMIG_DIRTY_RING &&
			 strstr(kvmig_dirty_reason(d), "auto: ring"),
			 "auto picks ring on a VM with rings: %s",
			 d ? kvmig_dirty_reason(d) : last_msg);
	kvmig_dirty_free(d);

	/* with the kvmig KVM patch, fastwp comes before clear */
	d = make(&plain, KVMIG_DIRTY_AUTO, 0, true, 0);
	ksft_test_result(d && kvmig_dirty_backend(d) == (fastwp ? KVMIG_DIRTY_FASTWP :
							 KVMIG_DIRTY_CLEAR) &&
			 strstr(kvmig_dirty_reason(d), "not ring"),
			 "auto picks fastwp or else clear, and says why not ring: %s",
			 d ? kvmig_dirty_reason(d) : last_msg);
	ksft_test_result(d && kvmig_dirty_sync(d, bm) == -EINVAL &&
			 kvmig_dirty_rearm(d, bm, 0, 1) == -EINVAL,
			 "sync and rearm before start are refused");
	TEST_ASSERT(d && !kvmig_dirty_start(d), "start clear");
	ksft_test_result(kvmig_dirty_start(d) == -EBUSY &&
			 kvmig_dirty_rearm(d, bm, 1000, 100) == -ERANGE &&
			 kvmig_dirty_sync(d, bm) >= 0 && !kvmig_dirty_stop(d),
			 "double start, a re-arm past guest RAM are refused; sync and stop work");
	kvmig_dirty_free(d);
	vm_free(&ringed);
	vm_free(&plain);
	ksft_finished();
}
