// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side check of the guest's stamped pages (the contract is in
 * guest_abi.h).  Run it with the vCPUs stopped: the only page allowed to be
 * half written is the one each vCPU marks in flight.
 */
#include <errno.h>
#include <unistd.h>

#include "vm.h"

const char *verify_state_name(enum guest_page_state s)
{
	switch (s) {
	case GUEST_PAGE_OK:
		return "ok";
	case GUEST_PAGE_NOT_ZERO:
		return "never written but not zero";
	case GUEST_PAGE_BAD_GPA:
		return "stamp names another page";
	case GUEST_PAGE_STALE:
		return "stale generation";
	case GUEST_PAGE_BAD_CSUM:
		return "checksum mismatch";
	}
	return "?";
}

static bool page_in_flight(struct vm *vm, uint64_t n)
{
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++)
		if (vm->cpus[i].block->inflight == n + 1)
			return true;
	return false;
}

/*
 * Is guest page @gpa a hole in its memfd (never touched, so zero)?  Reading
 * a hole through the mapping would allocate it, and a 1 GiB guest would
 * cost 1 GiB of memory and seconds for one verify.  @cache remembers the
 * last data extent [lo, hi) found per slot.
 */
struct extent_cache {
	uint64_t lo[VM_MAX_SLOTS], hi[VM_MAX_SLOTS];
};

static bool page_is_hole(struct vm *vm, uint64_t gpa, struct extent_cache *ec)
{
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++) {
		struct vm_slot *s = &vm->slots[i];
		off_t off, data, hole;

		if (gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		off = (off_t)(gpa - s->gpa);
		if ((uint64_t)off >= ec->lo[i] && (uint64_t)off < ec->hi[i])
			return false;
		data = lseek(s->memfd, off, SEEK_DATA);
		if (data < 0)			/* ENXIO: no data after off */
			return errno == ENXIO;
		if (data > off)
			return true;
		hole = lseek(s->memfd, off, SEEK_HOLE);
		if (hole < 0)
			return false;
		ec->lo[i] = (uint64_t)off;
		ec->hi[i] = (uint64_t)hole;
		return false;
	}
	return false;
}

void verify_pages(struct vm *vm, struct verify_result *res)
{
	struct extent_cache ec = { { 0 }, { 0 } };
	const struct guest_params *p = &vm->layout;
	uint32_t *ledger = vm_ledger(vm);
	uint64_t n;

	res->pages = 0;
	res->bad = 0;
	res->first_bad_gpa = 0;
	res->first_bad_state = GUEST_PAGE_OK;
	for (n = 0; n < p->nr_data_pages; n++) {
		uint64_t gpa = vm_data_page_gpa(vm, n);
		const void *page = vm_gpa_to_hva(vm, gpa, GUEST_PAGE_SIZE);
		enum guest_page_state st;

		if (page_in_flight(vm, n))
			continue;
		res->pages++;
		if (!ledger[n] && page_is_hole(vm, gpa, &ec))
			continue;	/* never written and never touched: zero */
		st = guest_page_check(page, gpa, ledger[n]);
		if (st == GUEST_PAGE_OK)
			continue;
		if (!res->bad++) {
			res->first_bad_gpa = gpa;
			res->first_bad_state = st;
		}
	}
}
