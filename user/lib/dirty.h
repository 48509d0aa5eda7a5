/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The dirty-page sources behind struct kvmig_dirty: the interface every
 * backend implements; internal to libkvmig.
 *
 * dirty.c is the front end: it picks a backend, validates arguments, keeps
 * statistics and calls the backend's ops.  Each backend is one file
 * dirty_NAME.c that defines kvmig_dirty_NAME_ops: bitmap, clear, ring,
 * fastwp (in-process, on the VM's fds) and remote (in the VMM, over its
 * control socket).  The helpers at the end are dirty.c's, but for the
 * KVM_GET_DIRTY_LOG ones; kvmig_vm_check_extension() serves dirty_limit.c
 * too.
 *
 * Adding a dirty-log backend: its public value (kvmig.h, enum
 * kvmig_dirty_backend), one file dirty_NAME.c defining kvmig_dirty_NAME_ops
 * (extern below), and one row in dirty.c's backends[], whose order is
 * auto's preference (ring, fastwp, clear, bitmap).  The remote backend has
 * no probe: kvmig_dirty_remote_new() (dirty_remote.c) makes its struct
 * kvmig_dirty, auto never picks it.
 */
#ifndef KVMIG_DIRTY_H
#define KVMIG_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmig/kvmig.h"
#include "log.h"

struct kvmig_dirty_ops {
	enum kvmig_dirty_backend backend;
	const char *name;		/* kvmig_dirty_backend_name() */
	/*
	 * may the backend run on this VM?  0, or -errno with *why filled;
	 * NULL: it does not run in-process (remote)
	 */
	int (*probe)(const struct kvmig_kvm_desc *kvm, char *why, size_t len);
	/* what it offers on this VM, for auto's reason; may be NULL */
	void (*offers)(const struct kvmig_kvm_desc *kvm, char *buf, size_t len);
	int (*init)(struct kvmig_dirty *d);
	void (*fini)(struct kvmig_dirty *d);
	int (*start)(struct kvmig_dirty *d);
	int (*sync)(struct kvmig_dirty *d, uint64_t *bitmap);
	int (*rearm)(struct kvmig_dirty *d, const uint64_t *bitmap,
		     uint64_t first, uint64_t count);
	int (*stop)(struct kvmig_dirty *d);
	int (*vcpu_counts)(struct kvmig_dirty *d, uint64_t *counts,
			   unsigned int nr);
	int (*ring_full)(struct kvmig_dirty *d, unsigned int vcpu);
	/* entries harvested from @vcpu's ring since creation; any thread */
	int (*vcpu_harvested)(const struct kvmig_dirty *d, unsigned int vcpu,
			      uint64_t *total);
};

struct kvmig_dirty {
	/* set once at creation */
	const struct kvmig_dirty_ops *ops;
	struct kvmig_kvm_desc kvm;	/* in-process backends */
	int *vcpu_fds;			/* our copy of kvm.vcpu_fds */
	const struct kvmig_memmap *mem;
	uint64_t clear_chunk_pages;
	struct kvmig_log log;
	char reason[512];

	/* owned by the thread that drives start/sync/rearm/stop */
	bool started;
	struct kvmig_dirty_stats stats;
	void *priv;			/* the backend's state */
};

extern const struct kvmig_dirty_ops kvmig_dirty_bitmap_ops;
extern const struct kvmig_dirty_ops kvmig_dirty_clear_ops;
extern const struct kvmig_dirty_ops kvmig_dirty_ring_ops;
extern const struct kvmig_dirty_ops kvmig_dirty_fastwp_ops;
extern const struct kvmig_dirty_ops kvmig_dirty_remote_ops;

/* OR @nbits bits of @src (from bit 0) into @dst at bit @off; returns the
 * number of bits set in @src. */
uint64_t kvmig_bitmap_or_at(uint64_t *dst, uint64_t off, const uint64_t *src,
			    uint64_t nbits);
/* Copy bits [@off, @off + @nbits) of @src to @dst from bit 0. */
void kvmig_bitmap_extract(uint64_t *dst, const uint64_t *src, uint64_t off,
			  uint64_t nbits);

/* KVM_GET_DIRTY_LOG helpers (dirty_bitmap.c) shared by the bitmap, clear and
 * fastwp backends. */
int kvmig_dirty_log_init(struct kvmig_dirty *d);
void kvmig_dirty_log_fini(struct kvmig_dirty *d);
int kvmig_dirty_log_fetch(struct kvmig_dirty *d, uint64_t *buf,
			  uint64_t *bitmap);
/* sync(): KVM_GET_DIRTY_LOG on every slot, into the backend's buffer */
int kvmig_dirty_log_sync(struct kvmig_dirty *d, uint64_t *bitmap);

/* Turn KVM_MEM_LOG_DIRTY_PAGES on or off on every slot of the VM. */
int kvmig_dirty_set_logging(struct kvmig_dirty *d, bool on);
/* KVM_CHECK_EXTENSION on the VM fd: > 0 if present. */
int kvmig_vm_check_extension(int vm_fd, long cap);

#endif /* KVMIG_DIRTY_H */
