// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kvm, the capabilities we need, the VM, its RAM (one memfd per
 * memslot, so that a helper process can map it) and the long-mode
 * environment the guest code starts in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm.h"

/* Emitted by guest_image.S from the flat guest binary. */
extern const unsigned char guest_image_start[], guest_image_end[];

struct kvm_cap_req {
	int cap;
	const char *name;
};

#define CAP(x) { KVM_CAP_##x, "KVM_CAP_" #x }
/* What kvmig-vm cannot run without; a missing one is reported by name. */
static const struct kvm_cap_req required_caps[] = {
	CAP(USER_MEMORY),
	CAP(GET_TSC_KHZ),
	CAP(IMMEDIATE_EXIT),
	CAP(EXT_CPUID),
	CAP(NR_MEMSLOTS),
};
#undef CAP

static int check_caps(int kvm_fd)
{
	size_t i;

	for (i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		int r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap);

		if (r <= 0) {
			fprintf(stderr,
				"kvmig-vm: the kernel lacks %s, which kvmig-vm needs\n",
				required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int slot_create(struct vm *vm, uint32_t id, uint64_t gpa, uint64_t size)
{
	struct vm_slot *s = &vm->slots[id];
	struct kvm_userspace_memory_region r;
	char name[32];

	snprintf(name, sizeof(name), "kvmig-ram-slot%u", id);
	s->id = id;
	s->gpa = gpa;
	s->size = size;
	s->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->memfd < 0) {
		fprintf(stderr, "kvmig-vm: memfd_create for slot %u: %s\n", id,
			strerror(errno));
		return -errno;
	}
	/* sealed at its size: a peer we hand it to cannot shrink it under us */
	if (ftruncate(s->memfd, (off_t)size) ||
	    fcntl(s->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int r = -errno;

		fprintf(stderr, "kvmig-vm: cannot size slot %u to %llu bytes: %s\n",
			id, (unsigned long long)size, strerror(errno));
		return r;
	}
	s->hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_NORESERVE, s->memfd, 0);
	if (s->hva == MAP_FAILED) {
		s->hva = NULL;
		fprintf(stderr, "kvmig-vm: cannot map slot %u (%llu bytes): %s\n",
			id, (unsigned long long)size, strerror(errno));
		return -errno;
	}
	r = (struct kvm_userspace_memory_region) {
		.slot = id,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)s->hva,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r)) {
		fprintf(stderr, "kvmig-vm: KVM_SET_USER_MEMORY_REGION slot %u "
			"gpa 0x%llx size 0x%llx: %s\n", id,
			(unsigned long long)gpa, (unsigned long long)size,
			strerror(errno));
		return -errno;
	}
	vm->nr_slots = id + 1;
	vm->ram_bytes += size;
	return 0;
}

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++) {
		struct vm_slot *s = &vm->slots[i];

		if (gpa >= s->gpa && gpa - s->gpa < s->size &&
		    len <= s->size - (gpa - s->gpa))
			return (char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

struct guest_params *vm_params(struct vm *vm)
{
	return vm_gpa_to_hva(vm, GUEST_PARAMS_GPA, sizeof(struct guest_params));
}

uint32_t *vm_ledger(struct vm *vm)
{
	return vm_gpa_to_hva(vm, vm->layout.ledger_gpa,
			     vm->layout.nr_data_pages * 4);
}

uint64_t vm_data_page_gpa(struct vm *vm, uint64_t n)
{
	const struct guest_params *p = &vm->layout;
	uint64_t i;

	for (i = 0; i < p->nr_ranges; i++) {
		if (n < p->ranges[i].pages)
			return p->ranges[i].gpa + n * GUEST_PAGE_SIZE;
		n -= p->ranges[i].pages;
	}
	return ~0ULL;
}

/*
 * Identity map [0, top) with 2 MiB pages, GDT with flat 64-bit segments
 * and a TSS per vCPU, whose rsp0 is the bottom GUEST_EXC_STACK of the
 * vCPU's stack: the guest's exception stubs run there (the guest fills its
 * IDT itself).  Everything is user-accessible because the guest runs at
 * CPL 3 (see cpu_setup_regs()).
 */
static void build_page_tables(struct vm *vm, uint64_t top)
{
	uint64_t *pml4 = vm_gpa_to_hva(vm, GUEST_PML4_GPA, GUEST_PAGE_SIZE);
	uint64_t *pdpt = vm_gpa_to_hva(vm, GUEST_PDPT_GPA, GUEST_PAGE_SIZE);
	uint64_t *gdt = vm_gpa_to_hva(vm, GUEST_GDT_GPA, GUEST_PAGE_SIZE);
	uint64_t nr_pd = (top + (1ULL << 30) - 1) >> 30;
	uint64_t i, j;

	/* present | writable | user */
	pml4[0] = GUEST_PDPT_GPA | 0x7;
	for (i = 0; i < nr_pd; i++) {
		uint64_t *pd = vm_gpa_to_hva(vm, GUEST_PD_GPA + i * GUEST_PAGE_SIZE,
					     GUEST_PAGE_SIZE);

		pdpt[i] = (GUEST_PD_GPA + i * GUEST_PAGE_SIZE) | 0x7;
		/* present | writable | user | page size (2 MiB) */
		for (j = 0; j < 512; j++)
			pd[j] = ((i << 30) + (j << 21)) | 0x87;
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL;	/* 0x08: code, 64-bit, DPL 0 */
	gdt[2] = 0x00cf92000000ffffULL;	/* 0x10: data, flat */
	gdt[3] = 0x00affa000000ffffULL;	/* 0x18: code, 64-bit, DPL 3 */
	gdt[4] = 0x00cff2000000ffffULL;	/* 0x20: data, flat, DPL 3 */
	for (i = 0; i < GUEST_MAX_VCPUS; i++) {
		uint64_t base = GUEST_TSS_GPA + i * GUEST_TSS_SIZE;
		uint8_t *tss = vm_gpa_to_hva(vm, base, GUEST_TSS_SIZE);
		uint64_t rsp0 = GUEST_STACK_GPA + i * GUEST_STACK_SIZE + GUEST_EXC_STACK;

		/* 64-bit TSS, busy (type 0xb), present, limit GUEST_TSS_SIZE - 1 */
		gdt[5 + 2 * i] = (GUEST_TSS_SIZE - 1) | (base & 0xffffff) << 16 |
				 0x8bULL << 40 | (base >> 24 & 0xff) << 56;
		gdt[6 + 2 * i] = base >> 32;
		memset(tss, 0, GUEST_TSS_SIZE);
		memcpy(tss + 4, &rsp0, sizeof(rsp0));		/* rsp0 */
		/*
		 * An I/O permission bitmap after the 0x68 bytes of the TSS,
		 * all ports allowed, ended by 0xff: backends that do not honour
		 * IOPL 3 at CPL 3 (PVM) then still let the guest's port IO
		 * through.
		 */
		tss[102] = 0x68;
		tss[GUEST_TSS_SIZE - 1] = 0xff;
	}
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t gpa = 0, top, ledger_pages, data_first;
	struct guest_params *p;
	size_t image_len = (size_t)(guest_image_end - guest_image_start);
	unsigned int i;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->dirty_bm_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_rwlock_init(&vm->dirty_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	for (i = 0; i < VM_MAX_SLOTS; i++)
		vm->slots[i].memfd = -1;

	if (!cfg->nr_cpus || cfg->nr_cpus > GUEST_MAX_VCPUS) {
		fprintf(stderr, "kvmig-vm: --vcpus must be 1..%d, not %u\n",
			GUEST_MAX_VCPUS, cfg->nr_cpus);
		return -EINVAL;
	}
	if (!cfg->nr_slots || cfg->nr_slots > VM_MAX_SLOTS) {
		fprintf(stderr, "kvmig-vm: 1..%d memslots, not %u\n",
			VM_MAX_SLOTS, cfg->nr_slots);
		return -EINVAL;
	}
	for (i = 0; i < cfg->nr_slots; i++) {
		if (!cfg->slot_size[i] || cfg->slot_size[i] % (2ULL << 20) ||
		    cfg->slot_gap[i] % (2ULL << 20)) {
			fprintf(stderr, "kvmig-vm: slot %u: size and gap must be "
				"non-zero multiples of 2 MiB\n", i);
			return -EINVAL;
		}
		gpa += cfg->slot_gap[i] + cfg->slot_size[i];
	}
	top = gpa;
	if (cfg->slot_size[0] < 4 * GUEST_SYSTEM_SIZE) {
		fprintf(stderr, "kvmig-vm: slot 0 needs at least %llu MiB\n",
			(unsigned long long)(4 * GUEST_SYSTEM_SIZE >> 20));
		return -EINVAL;
	}
	if (top > (uint64_t)GUEST_MAX_PD << 30) {
		fprintf(stderr, "kvmig-vm: guest memory ends at %llu MiB, "
			"the limit is %d GiB\n",
			(unsigned long long)(top >> 20), GUEST_MAX_PD);
		return -EINVAL;
	}

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		fprintf(stderr, "kvmig-vm: cannot open /dev/kvm: %s%s\n",
			strerror(errno), errno == ENOENT ?
			" (no KVM on this machine: load kvm_intel/kvm_amd)" : "");
		return r;
	}
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		fprintf(stderr, "kvmig-vm: KVM API version %d, expected %d\n",
			r, KVM_API_VERSION);
		return -ENOTSUP;
	}
	r = check_caps(vm->kvm_fd);
	if (r)
		return r;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) <
	    (int)cfg->nr_slots) {
		fprintf(stderr, "kvmig-vm: the kernel offers fewer than %u memslots\n",
			cfg->nr_slots);
		return -ENOTSUP;
	}
	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r <= 0) {
		fprintf(stderr, "kvmig-vm: KVM_GET_VCPU_MMAP_SIZE: %s\n",
			strerror(errno));
		return -errno;
	}
	vm->run_size = (unsigned int)r;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		fprintf(stderr, "kvmig-vm: KVM_CREATE_VM: %s\n", strerror(errno));
		return r;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	/* dirty rings must exist before the first vCPU does */
	if (cfg->ring_entries) {
		int max = kvmig_dirty_ring_max_entries(vm->vm_fd);

		r = kvmig_enable_dirty_ring(vm->vm_fd, cfg->ring_entries);
		if (r == -EOPNOTSUPP) {
			fprintf(stderr, "kvmig-vm: --dirty-ring: the kernel lacks "
				"KVM_CAP_DIRTY_LOG_RING\n");
			return r;
		}
		if (r) {
			fprintf(stderr, "kvmig-vm: --dirty-ring %u: must be a power "
				"of two from %zu to %d entries (%s)\n",
				cfg->ring_entries, (size_t)getpagesize() /
				sizeof(struct kvm_dirty_gfn), max, strerror(-r));
			return r;
		}
		vm->ring_entries = cfg->ring_entries;
	}
	vm->mem = kvmig_memmap_new(NULL);
	if (!vm->mem)
		return -ENOMEM;

	gpa = 0;
	for (i = 0; i < cfg->nr_slots; i++) {
		gpa += cfg->slot_gap[i];
		r = slot_create(vm, i, gpa, cfg->slot_size[i]);
		if (!r) {
			struct kvmig_slot_desc d = {
				.sz = sizeof(d), .id = i, .gpa = gpa,
				.size = cfg->slot_size[i], .hva = vm->slots[i].hva,
			};

			r = kvmig_memmap_add(vm->mem, &d);
		}
		if (r)
			return r;
		gpa += cfg->slot_size[i];
	}

	if (image_len > GUEST_CODE_MAX) {
		fprintf(stderr, "kvmig-vm: guest image too large (%zu bytes)\n",
			image_len);
		return -E2BIG;
	}
	memcpy(vm_gpa_to_hva(vm, GUEST_CODE_GPA, image_len), guest_image_start,
	       image_len);
	build_page_tables(vm, top);

	/*
	 * Data pages: the rest of slot 0 after the ledger, then every other
	 * slot whole.  The ledger needs 4 bytes per data page; size it for
	 * all pages after the system area, which is a slight overestimate.
	 */
	ledger_pages = ((vm->ram_bytes - GUEST_SYSTEM_SIZE) / GUEST_PAGE_SIZE *
			4 + GUEST_PAGE_SIZE - 1) / GUEST_PAGE_SIZE;
	data_first = GUEST_SYSTEM_SIZE + ledger_pages * GUEST_PAGE_SIZE;
	p = vm_params(vm);
	p->magic = GUEST_PARAMS_MAGIC;
	p->nr_vcpus = cfg->nr_cpus;
	p->seed = cfg->seed;
	p->ledger_gpa = GUEST_SYSTEM_SIZE;
	p->ranges[0].gpa = data_first;
	p->ranges[0].pages = (cfg->slot_size[0] - data_first) / GUEST_PAGE_SIZE;
	p->nr_data_pages = p->ranges[0].pages;
	for (i = 1; i < cfg->nr_slots; i++) {
		p->ranges[i].gpa = vm->slots[i].gpa;
		p->ranges[i].pages = vm->slots[i].size / GUEST_PAGE_SIZE;
		p->nr_data_pages += p->ranges[i].pages;
	}
	p->nr_ranges = cfg->nr_slots;
	vm->layout = *p;
	vm->nr_cpus = cfg->nr_cpus;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	kvmig_memmap_free(vm->mem);
	vm->mem = NULL;
	for (i = 0; i < vm->nr_slots; i++) {
		if (vm->slots[i].hva)
			munmap(vm->slots[i].hva, vm->slots[i].size);
		if (vm->slots[i].memfd >= 0)
			close(vm->slots[i].memfd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->cpus);
	free(vm->failure);
	vm->cpus = NULL;
	vm->failure = NULL;
	vm->nr_slots = 0;
}
