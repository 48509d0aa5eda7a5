// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * fastwp: the kvmig KVM patch's O(1) write-protection
 * (KVM_CAP_FAST_WRITE_PROTECT, kernel/patches/).  With the capability on,
 * KVM_GET_DIRTY_LOG fetches and clears a slot's bitmap and then, if a bit
 * was set, write-protects all of memory at once, at a cost that does not
 * depend on the guest's size (KVM pushes the protection down lazily, on
 * the guest's write faults), instead of walking the pages it returns.
 * Its contract is the classic one, so sync() is the bitmap source's:
 * fetch every slot; pages are read after sync() returns, which is how
 * every source uses it, so there is nothing to re-arm per chunk.  (A page
 * written after its bit was fetched and before the protection was
 * writable then, so it is in this fetch; one written after faults and is
 * logged for the next.)
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmig/kvmig.h"
#include "log.h"
#include "dirty.h"

/*
 * The patch's uapi, for building against headers without it; the values
 * are those of kernel/patches/ (an out-of-tree block).
 */
#ifndef KVM_CAP_FAST_WRITE_PROTECT
#define KVM_CAP_FAST_WRITE_PROTECT 0x10000
#endif

static int fastwp_probe(const struct kvmig_kvm_desc *kvm, char *why, size_t len)
{
	if (kvm->ring_entries) {
		snprintf(why, len, "the VM uses dirty rings, which exclude "
			 "KVM_GET_DIRTY_LOG");
		return -EOPNOTSUPP;
	}
	if (kvmig_vm_check_extension(kvm->vm_fd, KVM_CAP_FAST_WRITE_PROTECT) <= 0) {
		snprintf(why, len, "the kernel has no KVM_CAP_FAST_WRITE_PROTECT "
			 "(the kvmig KVM patch, or the TDP MMU is off)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* KVM_CAP_FAST_WRITE_PROTECT: args[0] 1 = on, 0 = off. */
static int fastwp_enable(struct kvmig_dirty *d, bool on)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_FAST_WRITE_PROTECT, .args = { on },
	};

	if (ioctl(d->kvm.vm_fd, KVM_ENABLE_CAP, &cap)) {
		int r = -errno;

		pr_err(&d->log, "turning fast write-protection %s: %s",
		       on ? "on" : "off", strerror(errno));
		return r;
	}
	return 0;
}

static int fastwp_start(struct kvmig_dirty *d)
{
	int r;

	/* a clear-log session before us may have left manual mode on */
	if (kvmig_vm_check_extension(d->kvm.vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		};

		if (ioctl(d->kvm.vm_fd, KVM_ENABLE_CAP, &cap)) {
			r = -errno;
			pr_err(&d->log, "turning manual dirty-log protect off: %s",
			       strerror(errno));
			return r;
		}
	}
	r = fastwp_enable(d, true);
	if (!r)
		r = kvmig_dirty_set_logging(d, true);
	return r;
}

static int fastwp_stop(struct kvmig_dirty *d)
{
	int r = kvmig_dirty_set_logging(d, false);

	/* off again: KVM_GET_DIRTY_LOG protects page by page, as usual */
	if (!r)
		r = fastwp_enable(d, false);
	return r;
}

/* auto: what fast write-protection brings */
static void fastwp_offers(const struct kvmig_kvm_desc *kvm, char *buf,
			  size_t len)
{
	(void)kvm;
	snprintf(buf, len, "the kernel write-protects all memory in O(1)");
}

const struct kvmig_dirty_ops kvmig_dirty_fastwp_ops = {
	.backend = KVMIG_DIRTY_FASTWP,
	.name = "fastwp",
	.probe = fastwp_probe,
	.offers = fastwp_offers,
	.init = kvmig_dirty_log_init,
	.fini = kvmig_dirty_log_fini,
	.start = fastwp_start,
	/* each KVM_GET_DIRTY_LOG that returns a page protects all memory */
	.sync = kvmig_dirty_log_sync,
	.stop = fastwp_stop,
};
