// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * ring: per-vCPU dirty rings.  KVM pushes {slot, offset} of each page a
 * vCPU dirties into that vCPU's ring (shared memory); we harvest entries,
 * mark them for reset, and KVM_RESET_DIRTY_RINGS write-protects those pages
 * again.  No bitmap walk: the cost follows the pages dirtied, not RAM size,
 * and we learn which vCPU dirtied what.
 *
 * Threads: sync() runs on the driving thread; ring_full() runs on a vCPU
 * thread whose ring filled up.  Both harvest, reset and publish under one
 * lock.  The lock is not only for the data: a page must not reach a
 * caller's bitmap before KVM_RESET_DIRTY_RINGS has write-protected it
 * again, or a write that lands between the caller's read and the reset
 * leaves no trace (the page is still writable, so no new ring entry).
 * Holding harvest_lock from harvest through reset to the bitmap exchange
 * makes "harvested" and "re-armed" one step as seen by sync().
 *
 * Before harvesting, sync() has the VMM kick every vCPU out of KVM_RUN
 * (kvmig_kvm_desc.kick_vcpus): on Intel hosts with PML, pages dirtied since
 * a vCPU's last exit sit in its PML buffer, which KVM flushes into the ring
 * only when the vCPU exits (QEMU kicks all vCPUs before reaping for the
 * same reason).  The PVM backend of this project's machines pushes entries
 * at fault time; the oracle test passes there with and without the kick.
 *
 * A ring source must live as long as the VM: KVM does not expose where in
 * each ring it writes next, so a new harvester would start at entry 0 and
 * see nothing.  (Found by the oracle: a second dirty-start reported no
 * pages at all until the VMM kept its source across stop/start.)
 *
 * Entry protocol (Documentation/virt/kvm/api.rst, "dirty ring"):
 *   KVM: fill slot/offset, then set flags = DIRTY (release)
 *   us:  load flags (acquire) == DIRTY -> read slot/offset -> store flags =
 *        RESET (release) -> fetch index + 1 ... KVM_RESET_DIRTY_RINGS
 */
#include <fcntl.h>
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "dirty.h"

struct ring {
	struct kvm_dirty_gfn *gfns;	/* set once: the mmap'ed ring */
	uint32_t fetch;			/* harvest_lock: next entry to read */
	uint64_t count;			/* harvest_lock: pages since last sync */
	/*
	 * Entries harvested since the source was created, never reset:
	 * added to under harvest_lock, read without it (relaxed atomics;
	 * a reader only needs a value that grows), by a VMM that charges
	 * each vCPU for what it dirtied as the harvests happen.
	 */
	uint64_t harvested;
};

struct ring_state {
	/* set once */
	uint32_t entries;
	size_t map_len;
	unsigned int nr;
	struct ring *rings;

	pthread_mutex_t harvest_lock;	/* everything below */
	bool active;			/* between start and stop */
	uint64_t *pending;		/* harvested and re-armed, not synced */
	uint64_t *last_counts;		/* per vCPU, the last sync interval */
	uint64_t bad_entries;		/* entries naming no slot we know */
	uint64_t unreset;		/* harvested, not yet reset by KVM */
};

KVMIG_EXPORT int kvmig_dirty_ring_max_entries(int vm_fd)
{
	int bytes = kvmig_vm_check_extension(vm_fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);

	if (!bytes)
		bytes = kvmig_vm_check_extension(vm_fd, KVM_CAP_DIRTY_LOG_RING);
	return bytes / (int)sizeof(struct kvm_dirty_gfn);
}

KVMIG_EXPORT int kvmig_enable_dirty_ring(int vm_fd, uint32_t entries)
{
	struct kvm_enable_cap cap = { 0 };
	uint64_t bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	int max_bytes;

	max_bytes = kvmig_vm_check_extension(vm_fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	cap.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	if (!max_bytes) {
		max_bytes = kvmig_vm_check_extension(vm_fd, KVM_CAP_DIRTY_LOG_RING);
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
	}
	if (!max_bytes)
		return -EOPNOTSUPP;
	if (!entries || entries & (entries - 1) ||
	    bytes < (uint64_t)getpagesize() || bytes > (uint64_t)max_bytes)
		return -EINVAL;
	cap.args[0] = bytes;
	return ioctl(vm_fd, KVM_ENABLE_CAP, &cap) ? -errno : 0;
}

static int ring_probe(const struct kvmig_kvm_desc *kvm, char *why, size_t len)
{
	if (!kvm->ring_entries) {
		snprintf(why, len, "the VM has no dirty rings (a VMM enables "
			 "them before creating vCPUs; kvmig-vm: --dirty-ring)");
		return -EOPNOTSUPP;
	}
	if (!kvm->nr_vcpus) {
		snprintf(why, len, "no vCPU fds to map the rings from");
		return -EINVAL;
	}
	if (!kvm->kick_vcpus) {
		snprintf(why, len, "the VMM gave no way to kick its vCPUs, "
			 "without which recent writes can be missed");
		return -EINVAL;
	}
	return 0;
}

/*
 * KVM does not say how large the rings are, and mmap of a vCPU fd takes any
 * length: a page past the ring only faults (SIGBUS) when touched.  A wrong
 * size would crash a harvest or wrap at the wrong entry, so probe: the
 * ring's last page must be readable and the page after it must not be.
 * A write from it into a pipe reports EFAULT instead of raising SIGBUS
 * (process_vm_readv would too, but kernels without CROSS_MEMORY_ATTACH
 * lack it).
 */
static bool page_readable(const void *p)
{
	int fds[2];
	bool ok;

	if (pipe2(fds, O_CLOEXEC))
		return false;
	ok = write(fds[1], p, 1) == 1;
	close(fds[0]);
	close(fds[1]);
	return ok;
}

static bool ring_size_ok(const void *map, size_t len)
{
	const char *p = map;

	return page_readable(p + len - 1) && !page_readable(p + len);
}

static void ring_fini(struct kvmig_dirty *d)
{
	struct ring_state *rs = d->priv;
	unsigned int i;

	if (!rs)
		return;
	for (i = 0; i < rs->nr; i++)
		if (rs->rings[i].gfns)
			munmap(rs->rings[i].gfns, rs->map_len + (size_t)getpagesize());
	pthread_mutex_destroy(&rs->harvest_lock);
	free(rs->rings);
	free(rs->pending);
	free(rs->last_counts);
	free(rs);
	d->priv = NULL;
}

static int ring_init(struct kvmig_dirty *d)
{
	uint32_t entries = d->kvm.ring_entries;
	struct ring_state *rs;
	unsigned int i;
	int r = -ENOMEM;

	if (entries & (entries - 1)) {
		pr_err(&d->log, "dirty ring of %u entries: must be a power of two",
		       entries);
		return -EINVAL;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	d->priv = rs;
	pthread_mutex_init(&rs->harvest_lock, NULL);
	rs->entries = entries;
	rs->map_len = (size_t)entries * sizeof(struct kvm_dirty_gfn);
	rs->nr = d->kvm.nr_vcpus;
	rs->rings = calloc(rs->nr, sizeof(*rs->rings));
	rs->pending = calloc(kvmig_bitmap_words(kvmig_memmap_pages(d->mem)),
			     sizeof(uint64_t));
	rs->last_counts = calloc(rs->nr, sizeof(uint64_t));
	if (!rs->rings || !rs->pending || !rs->last_counts)
		goto err;
	for (i = 0; i < rs->nr; i++) {
		struct ring *rg = &rs->rings[i];

		/* one page more than the ring, for ring_size_ok()'s probe */
		rg->gfns = mmap(NULL, rs->map_len + (size_t)getpagesize(),
				PROT_READ | PROT_WRITE,
				MAP_SHARED, d->kvm.vcpu_fds[i],
				(off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
		if (rg->gfns == MAP_FAILED) {
			r = -errno;
			rg->gfns = NULL;
			pr_err(&d->log, "vCPU %u: cannot map its dirty ring: %s", i,
			       strerror(errno));
			goto err;
		}
		if (!ring_size_ok(rg->gfns, rs->map_len)) {
			pr_err(&d->log, "vCPU %u: a dirty ring of %u entries is not "
			       "the size the VM was given", i, entries);
			r = -EINVAL;
			goto err;
		}
	}
	return 0;
err:
	ring_fini(d);
	return r;
}

/* Harvest one ring into the pending bitmap; harvest_lock held. */
static void ring_harvest(struct kvmig_dirty *d, struct ring *rg)
{
	struct ring_state *rs = d->priv;
	uint32_t first = rg->fetch;

	for (;;) {
		struct kvm_dirty_gfn *e = &rg->gfns[rg->fetch & (rs->entries - 1)];
		uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		const struct kvmig_slot *s;
		uint64_t idx;

		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		/* slot is (address space << 16) | id; we run address space 0 */
		s = (e->slot >> 16) ? NULL :
		    kvmig_memmap_slot_by_id(d->mem, e->slot & 0xffff);
		if (!s || e->offset >= s->size / KVMIG_PAGE_SIZE) {
			if (!rs->bad_entries++)
				pr_warn(&d->log, "dirty ring entry names slot 0x%x "
					"offset %llu, which is not guest RAM we know",
					e->slot, (unsigned long long)e->offset);
		} else {
			idx = s->first_page + e->offset;
			rs->pending[idx / 64] |= 1ULL << (idx % 64);
		}
		/* the entry is consumed: hand it back to KVM */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		rg->fetch++;
		rg->count++;
		rs->unreset++;
	}
	__atomic_fetch_add(&rg->harvested, (uint32_t)(rg->fetch - first),
			   __ATOMIC_RELAXED);
}

/*
 * KVM_RESET_DIRTY_RINGS; harvest_lock held.  KVM answers how many entries
 * it reset, and that must come to every entry harvested since the last
 * reset: a page may go to a caller only once it is write-protected again.
 *
 * Signals are blocked for the call.  Since Linux 6.16 the reset gives up
 * when the calling thread has a signal pending (a vCPU thread that is
 * being kicked, typically), and entries it has already consumed may then
 * be left writable.  The oracle test caught it: after ring-full exits,
 * about one miss in a few hundred syncs, with KVM's count short of our
 * harvest.  A blocked signal does not count as pending, so the reset runs
 * to the end; its length is bounded by the ring sizes.
 */
static int ring_reset(struct kvmig_dirty *d)
{
	struct ring_state *rs = d->priv;
	sigset_t all, old;
	int n, r = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	do {
		n = ioctl(d->kvm.vm_fd, KVM_RESET_DIRTY_RINGS, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		pr_err(&d->log, "KVM_RESET_DIRTY_RINGS: %s", strerror(errno));
	} else if ((uint64_t)n != rs->unreset) {
		pr_err(&d->log, "KVM_RESET_DIRTY_RINGS reset %d entries, we "
		       "harvested %llu", n, (unsigned long long)rs->unreset);
		r = -EPROTO;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	rs->unreset = 0;
	return r;
}

static int ring_start(struct kvmig_dirty *d)
{
	struct ring_state *rs = d->priv;
	unsigned int i;

	pthread_mutex_lock(&rs->harvest_lock);
	for (i = 0; i < rs->nr; i++)
		rs->rings[i].count = 0;
	rs->active = true;
	pthread_mutex_unlock(&rs->harvest_lock);
	return kvmig_dirty_set_logging(d, true);
}

static int ring_sync(struct kvmig_dirty *d, uint64_t *bitmap)
{
	struct ring_state *rs = d->priv;
	uint64_t i, words = kvmig_bitmap_words(kvmig_memmap_pages(d->mem)), n = 0;
	int r;

	/* flush every vCPU's pending log into its ring; not under the lock */
	r = d->kvm.kick_vcpus(d->kvm.kick_opaque);
	if (r) {
		pr_err(&d->log, "kicking the vCPUs before a ring harvest: %s",
		       strerror(-r));
		return r;
	}
	pthread_mutex_lock(&rs->harvest_lock);
	for (i = 0; i < rs->nr; i++)
		ring_harvest(d, &rs->rings[i]);
	/* re-protect what we harvested before anyone reads those pages */
	r = ring_reset(d);
	if (r)
		goto out;
	for (i = 0; i < words; i++) {
		uint64_t w = rs->pending[i];

		if (w) {
			rs->pending[i] = 0;
			bitmap[i] |= w;
			n += (uint64_t)__builtin_popcountll(w);
		}
	}
	for (i = 0; i < rs->nr; i++) {
		rs->last_counts[i] = rs->rings[i].count;
		rs->rings[i].count = 0;
	}
	r = n > INT32_MAX ? INT32_MAX : (int)n;
out:
	pthread_mutex_unlock(&rs->harvest_lock);
	return r;
}

static int ring_stop(struct kvmig_dirty *d)
{
	struct ring_state *rs = d->priv;
	uint64_t i, words = kvmig_bitmap_words(kvmig_memmap_pages(d->mem));
	int r = kvmig_dirty_set_logging(d, false);

	/* drop what is left so a later start begins clean */
	pthread_mutex_lock(&rs->harvest_lock);
	for (i = 0; i < rs->nr; i++)
		ring_harvest(d, &rs->rings[i]);
	if (!r)
		r = ring_reset(d);
	memset(rs->pending, 0, words * sizeof(uint64_t));
	rs->active = false;
	pthread_mutex_unlock(&rs->harvest_lock);
	return r;
}

static int ring_vcpu_counts(struct kvmig_dirty *d, uint64_t *counts,
			    unsigned int nr)
{
	struct ring_state *rs = d->priv;
	unsigned int i;

	pthread_mutex_lock(&rs->harvest_lock);
	for (i = 0; i < nr; i++)
		counts[i] = i < rs->nr ? rs->last_counts[i] : 0;
	pthread_mutex_unlock(&rs->harvest_lock);
	return (int)rs->nr;
}

/*
 * A vCPU thread whose ring is full: harvest and reset it, then go on.  A
 * ring can also fill up just as logging stops; then its pages are dropped.
 */
static int ring_full(struct kvmig_dirty *d, unsigned int vcpu)
{
	struct ring_state *rs = d->priv;
	uint64_t words = kvmig_bitmap_words(kvmig_memmap_pages(d->mem));
	int r;

	if (vcpu >= rs->nr)
		return -EINVAL;
	__atomic_fetch_add(&d->stats.ring_full, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&rs->harvest_lock);
	ring_harvest(d, &rs->rings[vcpu]);
	r = ring_reset(d);
	if (!rs->active)
		memset(rs->pending, 0, words * sizeof(uint64_t));
	pthread_mutex_unlock(&rs->harvest_lock);
	return r;
}

static int ring_vcpu_harvested(const struct kvmig_dirty *d, unsigned int vcpu,
			       uint64_t *total)
{
	const struct ring_state *rs = d->priv;

	if (vcpu >= rs->nr)
		return -EINVAL;
	*total = __atomic_load_n(&rs->rings[vcpu].harvested, __ATOMIC_RELAXED);
	return 0;
}

/* auto: what the rings bring */
static void ring_offers(const struct kvmig_kvm_desc *kvm, char *buf, size_t len)
{
	snprintf(buf, len, "the VM has per-vCPU dirty rings (%u entries): no "
		 "bitmap scans, per-vCPU rates", kvm->ring_entries);
}

const struct kvmig_dirty_ops kvmig_dirty_ring_ops = {
	.backend = KVMIG_DIRTY_RING,
	.name = "ring",
	.probe = ring_probe,
	.offers = ring_offers,
	.init = ring_init,
	.fini = ring_fini,
	.start = ring_start,
	.sync = ring_sync,
	.stop = ring_stop,
	.vcpu_counts = ring_vcpu_counts,
	.ring_full = ring_full,
	.vcpu_harvested = ring_vcpu_harvested,
};
