// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * bitmap: KVM_GET_DIRTY_LOG in its original mode, where KVM write-protects
 * again every page it reports, atomically with the read.  sync() re-arms
 * the whole of guest RAM; the cost is a walk of every dirty page under
 * mmu_lock per sync, and a page written between the sync and the moment
 * it is sent is sent in this round and again in the next.
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

static int bitmap_probe(const struct kvmig_kvm_desc *kvm, char *why, size_t len)
{
	if (kvm->ring_entries) {
		snprintf(why, len, "the VM uses dirty rings, which exclude "
			 "KVM_GET_DIRTY_LOG");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* d->priv: a buffer for the largest slot's bitmap (bitmap and clear). */
int kvmig_dirty_log_init(struct kvmig_dirty *d)
{
	uint64_t max = 0;
	unsigned int i;

	for (i = 0; i < kvmig_memmap_nr_slots(d->mem); i++) {
		uint64_t p = kvmig_memmap_slot(d->mem, i)->size / KVMIG_PAGE_SIZE;

		if (p > max)
			max = p;
	}
	d->priv = calloc(kvmig_bitmap_words(max) + 1, sizeof(uint64_t));
	return d->priv ? 0 : -ENOMEM;
}

void kvmig_dirty_log_fini(struct kvmig_dirty *d)
{
	free(d->priv);
	d->priv = NULL;
}

/* KVM_GET_DIRTY_LOG every slot and OR it into @bitmap at the slot's pages. */
int kvmig_dirty_log_fetch(struct kvmig_dirty *d, uint64_t *buf,
			  uint64_t *bitmap)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < kvmig_memmap_nr_slots(d->mem); i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(d->mem, i);
		uint64_t pages = s->size / KVMIG_PAGE_SIZE;
		struct kvm_dirty_log log = { .slot = s->id, .dirty_bitmap = buf };

		memset(buf, 0, kvmig_bitmap_words(pages) * sizeof(uint64_t));
		if (ioctl(d->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log)) {
			int r = -errno;

			pr_err(&d->log, "KVM_GET_DIRTY_LOG slot %u: %s", s->id,
			       strerror(errno));
			return r;
		}
		n += kvmig_bitmap_or_at(bitmap, s->first_page, buf, pages);
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int bitmap_start(struct kvmig_dirty *d)
{
	/* a clear-log session before us may have left manual mode on */
	if (kvmig_vm_check_extension(d->kvm.vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = { 0 },
		};

		if (ioctl(d->kvm.vm_fd, KVM_ENABLE_CAP, &cap)) {
			int r = -errno;

			pr_err(&d->log, "turning manual dirty-log protect off: %s",
			       strerror(errno));
			return r;
		}
	}
	return kvmig_dirty_set_logging(d, true);
}

int kvmig_dirty_log_sync(struct kvmig_dirty *d, uint64_t *bitmap)
{
	return kvmig_dirty_log_fetch(d, d->priv, bitmap);
}

static int bitmap_stop(struct kvmig_dirty *d)
{
	return kvmig_dirty_set_logging(d, false);
}

const struct kvmig_dirty_ops kvmig_dirty_bitmap_ops = {
	.backend = KVMIG_DIRTY_BITMAP,
	.name = "bitmap",
	.probe = bitmap_probe,
	.init = kvmig_dirty_log_init,
	.fini = kvmig_dirty_log_fini,
	.start = bitmap_start,
	.sync = kvmig_dirty_log_sync,
	.stop = bitmap_stop,
};
