// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The kvmig KVM patch's per-vCPU dirty-rate limit (KVM_CAP_DIRTY_RATE_LIMIT,
 * kernel/patches/0003): thin, checked wrappers for the VMM, which owns the
 * vCPU fds.  KVM counts the pages each vCPU dirties in dirty-logged memory
 * and makes a vCPU in debt sleep before it enters the guest.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"
#include "opts.h"
#include "dirty.h"

/*
 * The patch's uapi, for building against headers without it; the values
 * are those of kernel/patches/ (an out-of-tree block).
 */
#ifndef KVM_CAP_DIRTY_RATE_LIMIT
#define KVM_CAP_DIRTY_RATE_LIMIT 0x10001
#define KVM_DIRTY_RATE_LIMIT_IO_AWARE	(1U << 0)
struct kvm_dirty_rate_limit {
	__u32 flags;
	__u32 io_stall_max_us;
	__u64 bytes_per_sec;
	__u64 burst_bytes;
	__u64 reserved[5];
};
#define KVM_SET_DIRTY_RATE_LIMIT _IOW(KVMIO, 0xf1, struct kvm_dirty_rate_limit)
#define KVM_GET_DIRTY_RATE_LIMIT _IOR(KVMIO, 0xf2, struct kvm_dirty_rate_limit)
#endif

/* the kernel's ranges (Documentation/kernel.rst) */
#define LIMIT_MAX_BYTES		(1ULL << 40)
#define LIMIT_MAX_IO_STALL_US	1000000U

KVMIG_EXPORT int kvmig_dirty_limit_probe(int vm_fd)
{
	return kvmig_vm_check_extension(vm_fd, KVM_CAP_DIRTY_RATE_LIMIT);
}

KVMIG_EXPORT int kvmig_dirty_limit_check(const struct kvmig_dirty_limit *l,
					 char *why, size_t len)
{
	uint64_t rate = OPTS_GET(l, bytes_per_sec, 0);
	uint64_t burst = OPTS_GET(l, burst_bytes, 0);
	uint32_t io = OPTS_GET(l, io_stall_max_us, 0);

	if (!l || l->sz < offsetof(struct kvmig_dirty_limit, bytes_per_sec) +
			  sizeof(l->bytes_per_sec)) {
		snprintf(why, len, "no limit given");
		return -EINVAL;
	}
	if (OPTS_CHECK(l, why, len))
		return -EINVAL;
	if (!rate) {
		if (!burst && !io)
			return 0;
		snprintf(why, len, "no rate, but a burst or an IO stall bound: "
			 "a removed limit is all zeroes");
		return -EINVAL;
	}
	if (rate < KVMIG_PAGE_SIZE || rate > LIMIT_MAX_BYTES) {
		snprintf(why, len, "rate %llu bytes/s: want %llu to %llu",
			 (unsigned long long)rate, KVMIG_PAGE_SIZE, LIMIT_MAX_BYTES);
		return -EINVAL;
	}
	if (burst && (burst < KVMIG_PAGE_SIZE || burst > LIMIT_MAX_BYTES)) {
		snprintf(why, len, "burst %llu bytes: want 0 (default) or %llu to %llu",
			 (unsigned long long)burst, KVMIG_PAGE_SIZE, LIMIT_MAX_BYTES);
		return -EINVAL;
	}
	if (io > LIMIT_MAX_IO_STALL_US) {
		snprintf(why, len, "IO stall bound %u us: want 0 (not IO-aware) "
			 "or 1 to %u", io, LIMIT_MAX_IO_STALL_US);
		return -EINVAL;
	}
	return 0;
}

KVMIG_EXPORT int kvmig_dirty_limit_set(int vcpu_fd, const struct kvmig_dirty_limit *l)
{
	struct kvm_dirty_rate_limit k;
	char why[128];
	int r;

	r = kvmig_dirty_limit_check(l, why, sizeof(why));
	if (r)
		return r;
	memset(&k, 0, sizeof(k));
	k.bytes_per_sec = l->bytes_per_sec;
	k.burst_bytes = OPTS_GET(l, burst_bytes, 0);
	k.io_stall_max_us = OPTS_GET(l, io_stall_max_us, 0);
	if (k.io_stall_max_us)
		k.flags = KVM_DIRTY_RATE_LIMIT_IO_AWARE;
	if (ioctl(vcpu_fd, KVM_SET_DIRTY_RATE_LIMIT, &k))
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	return 0;
}

KVMIG_EXPORT int kvmig_dirty_limit_get(int vcpu_fd, struct kvmig_dirty_limit *l)
{
	struct kvm_dirty_rate_limit k;

	if (!l || !l->sz)
		return -EINVAL;
	if (ioctl(vcpu_fd, KVM_GET_DIRTY_RATE_LIMIT, &k))
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	if (OPTS_HAS(l, bytes_per_sec))
		l->bytes_per_sec = k.bytes_per_sec;
	if (OPTS_HAS(l, burst_bytes))
		l->burst_bytes = k.burst_bytes;
	if (OPTS_HAS(l, io_stall_max_us))
		l->io_stall_max_us = k.flags & KVM_DIRTY_RATE_LIMIT_IO_AWARE ?
				     k.io_stall_max_us : 0;
	return 0;
}
