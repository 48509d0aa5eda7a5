// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * clear: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2.  KVM_GET_DIRTY_LOG only reads
 * the log; KVM_CLEAR_DIRTY_LOG write-protects again the pages we name, in
 * chunks, just before we read them.  So a page is re-armed only when it is
 * about to be sent: a page dirtied twice before it is sent goes once, and
 * the mmu_lock hold time is bounded by the chunk size, not by guest RAM.
 * With KVM_DIRTY_LOG_INITIALLY_SET, enabling logging does not walk memory
 * at all: every bit starts set and pages are protected as they are cleared.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"
#include "log.h"
#include "dirty.h"

static int clear_probe(const struct kvmig_kvm_desc *kvm, char *why, size_t len)
{
	if (kvm->ring_entries) {
		snprintf(why, len, "the VM uses dirty rings, which exclude "
			 "KVM_GET_DIRTY_LOG");
		return -EOPNOTSUPP;
	}
	if (!kvmig_vm_check_extension(kvm->vm_fd,
				      KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)) {
		snprintf(why, len, "the kernel lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int clear_start(struct kvmig_dirty *d)
{
	int caps = kvmig_vm_check_extension(d->kvm.vm_fd,
					    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			  (caps & KVM_DIRTY_LOG_INITIALLY_SET) },
	};

	if (ioctl(d->kvm.vm_fd, KVM_ENABLE_CAP, &cap)) {
		int r = -errno;

		pr_err(&d->log, "KVM_ENABLE_CAP MANUAL_DIRTY_LOG_PROTECT2 0x%llx: %s",
		       (unsigned long long)cap.args[0], strerror(errno));
		return r;
	}
	return kvmig_dirty_set_logging(d, true);
}

/*
 * KVM_CLEAR_DIRTY_LOG wants first_page a multiple of 64 and num_pages a
 * multiple of 64 unless the range ends at the end of the slot; round the
 * range out to that and let the mask (only the caller's pages) do the rest.
 */
static int clear_rearm(struct kvmig_dirty *d, const uint64_t *bitmap,
		       uint64_t first, uint64_t count)
{
	uint64_t *mask = d->priv;
	unsigned int i;

	for (i = 0; i < kvmig_memmap_nr_slots(d->mem); i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(d->mem, i);
		uint64_t pages = s->size / KVMIG_PAGE_SIZE;
		uint64_t lo, hi, pos;

		if (first >= s->first_page + pages || first + count <= s->first_page)
			continue;
		lo = (first > s->first_page ? first - s->first_page : 0) & ~63ULL;
		hi = first + count - s->first_page;
		if (hi > pages)
			hi = pages;
		for (pos = lo; pos < hi; pos += d->clear_chunk_pages) {
			uint64_t n = hi - pos < d->clear_chunk_pages ?
				     hi - pos : d->clear_chunk_pages;
			struct kvm_clear_dirty_log c = {
				.slot = s->id,
				.first_page = pos,
				.dirty_bitmap = mask,
			};
			uint64_t k, base, keep_lo, keep_hi;

			/* 64-page granules; a tail only at the slot's end */
			if (n % 64 && pos + n != pages)
				n = (n + 63) & ~63ULL;
			if (pos + n > pages)
				n = pages - pos;
			kvmig_bitmap_extract(mask, bitmap, s->first_page + pos, n);
			/*
			 * Keep only [first, first + count) of the caller's bits.
			 * The rounding above strays at most 63 pages past either
			 * end, so only those edge bits need clearing.
			 */
			base = s->first_page + pos;
			keep_lo = first > base ? first - base : 0;
			keep_hi = first + count - base < n ? first + count - base : n;
			for (k = 0; k < keep_lo && k < n; k++)
				mask[k / 64] &= ~(1ULL << (k % 64));
			for (k = keep_hi; k < n; k++)
				mask[k / 64] &= ~(1ULL << (k % 64));
			c.num_pages = (uint32_t)n;
			if (ioctl(d->kvm.vm_fd, KVM_CLEAR_DIRTY_LOG, &c)) {
				int r = -errno;

				pr_err(&d->log, "KVM_CLEAR_DIRTY_LOG slot %u pages "
				       "[%llu, +%llu): %s", s->id,
				       (unsigned long long)pos,
				       (unsigned long long)n, strerror(errno));
				return r;
			}
		}
	}
	return 0;
}

static int clear_stop(struct kvmig_dirty *d)
{
	return kvmig_dirty_set_logging(d, false);
}

/* auto: which kind of manual protection */
static void clear_offers(const struct kvmig_kvm_desc *kvm, char *buf, size_t len)
{
	snprintf(buf, len, "%s", kvmig_vm_check_extension(kvm->vm_fd,
		 KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) & KVM_DIRTY_LOG_INITIALLY_SET ?
		 "manual protect with initially-set bitmaps" : "manual protect");
}

const struct kvmig_dirty_ops kvmig_dirty_clear_ops = {
	.backend = KVMIG_DIRTY_CLEAR,
	.name = "clear",
	.probe = clear_probe,
	.offers = clear_offers,
	.init = kvmig_dirty_log_init,
	.fini = kvmig_dirty_log_fini,
	.start = clear_start,
	.sync = kvmig_dirty_log_sync,
	.rearm = clear_rearm,
	.stop = clear_stop,
};
