// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The dirty-source front end: picks a backend, validates arguments, keeps
 * statistics, and calls the backend's ops (one file per backend).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "dirty.h"

/*
 * Every backend, one row each, in the order auto prefers them: the first
 * whose probe passes wins.  remote has no probe: it runs in the VMM, made
 * by kvmig_dirty_remote_new(), never chosen here.
 */
static const struct kvmig_dirty_ops *const backends[] = {
	&kvmig_dirty_ring_ops,
	&kvmig_dirty_fastwp_ops,
	&kvmig_dirty_clear_ops,
	&kvmig_dirty_bitmap_ops,
	&kvmig_dirty_remote_ops,
};
_Static_assert(ARRAY_SIZE(backends) == KVMIG_DIRTY_NR_BACKENDS - 1,
	       "a row per backend but auto");

static const struct kvmig_dirty_ops *backend_ops(enum kvmig_dirty_backend b)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i]->backend == b)
			return backends[i];
	return NULL;
}

KVMIG_EXPORT const char *kvmig_dirty_backend_name(enum kvmig_dirty_backend b)
{
	const struct kvmig_dirty_ops *ops = backend_ops(b);

	if (b == KVMIG_DIRTY_AUTO)
		return "auto";
	return ops ? ops->name : "?";
}

KVMIG_EXPORT int kvmig_dirty_backend_parse(const char *name,
					   enum kvmig_dirty_backend *b)
{
	unsigned int i;

	for (i = 0; i < KVMIG_DIRTY_NR_BACKENDS; i++) {
		if (!strcmp(name, kvmig_dirty_backend_name(i))) {
			*b = (enum kvmig_dirty_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

int kvmig_vm_check_extension(int vm_fd, long cap)
{
	int r = ioctl(vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

uint64_t kvmig_bitmap_or_at(uint64_t *dst, uint64_t off, const uint64_t *src,
			    uint64_t nbits)
{
	uint64_t i, n = 0, words = kvmig_bitmap_words(nbits);
	unsigned int sh = off % 64;

	for (i = 0; i < words; i++) {
		uint64_t w = src[i];
		uint64_t *d = &dst[off / 64 + i];

		if (i == words - 1 && nbits % 64)
			w &= (1ULL << (nbits % 64)) - 1;
		if (!w)
			continue;
		n += (uint64_t)__builtin_popcountll(w);
		d[0] |= w << sh;
		if (sh && (w >> (64 - sh)))
			d[1] |= w >> (64 - sh);
	}
	return n;
}

void kvmig_bitmap_extract(uint64_t *dst, const uint64_t *src, uint64_t off,
			  uint64_t nbits)
{
	uint64_t i, words = kvmig_bitmap_words(nbits);
	unsigned int sh = off % 64;

	for (i = 0; i < words; i++) {
		const uint64_t *s = &src[off / 64 + i];
		uint64_t w = s[0] >> sh;

		/* the next source word exists whenever bits from it are wanted */
		if (sh && (i * 64 + 64 - sh) < nbits)
			w |= s[1] << (64 - sh);
		if (i == words - 1 && nbits % 64)
			w &= (1ULL << (nbits % 64)) - 1;
		dst[i] = w;
	}
}

int kvmig_dirty_set_logging(struct kvmig_dirty *d, bool on)
{
	unsigned int i;

	for (i = 0; i < kvmig_memmap_nr_slots(d->mem); i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(d->mem, i);
		struct kvm_userspace_memory_region r = {
			.slot = s->id,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = s->gpa,
			.memory_size = s->size,
			.userspace_addr = (uint64_t)(uintptr_t)s->hva,
		};

		if (ioctl(d->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r)) {
			int err = -errno;

			pr_err(&d->log, "%s dirty logging on slot %u: %s",
			       on ? "enabling" : "disabling", s->id,
			       strerror(errno));
			return err;
		}
	}
	return 0;
}

/*
 * auto: the first backend of the table this VM and kernel allow, with what
 * it offers and why each one before it was passed over ("auto: clear,
 * manual protect; not ring: ...; not fastwp: ..."); if none, NULL and why
 * the first was not possible.
 */
static const struct kvmig_dirty_ops *pick_auto(const struct kvmig_kvm_desc *kvm,
					       char *reason, size_t len)
{
	/* auto: NAME, OFFERS; not A: WHY; not B: WHY; not C: WHY, in 512 */
	char why[112], offers[112], nots[3 * 128] = "";
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(backends); i++) {
		const struct kvmig_dirty_ops *ops = backends[i];

		if (!ops->probe)
			continue;
		if (!ops->probe(kvm, why, sizeof(why))) {
			offers[0] = 0;
			if (ops->offers)
				ops->offers(kvm, offers, sizeof(offers));
			snprintf(reason, len, "auto: %s%s%s%s", ops->name,
				 offers[0] ? ", " : "", offers, nots);
			return ops;
		}
		if (!n)
			snprintf(reason, len, "%s", why);
		if (n < sizeof(nots))
			n += (size_t)snprintf(nots + n, sizeof(nots) - n,
					      "; not %s: %s", ops->name, why);
	}
	return NULL;
}

KVMIG_EXPORT struct kvmig_dirty *
kvmig_dirty_new(const struct kvmig_kvm_desc *kvm,
		const struct kvmig_dirty_opts *opts)
{
	struct kvmig_log log = {
		.fn = OPTS_GET(opts, print, NULL),
		.opaque = OPTS_GET(opts, print_opaque, NULL),
	};
	enum kvmig_dirty_backend want = OPTS_GET(opts, backend, KVMIG_DIRTY_AUTO);
	const struct kvmig_dirty_ops *ops;
	struct kvmig_dirty *d;
	char why[160];
	unsigned int i;
	int r;

	if (!kvm || !OPTS_HAS(kvm, mem) || kvm->vm_fd < 0 || !kvm->mem) {
		pr_err(&log, "dirty source: need a VM fd and its memory map");
		return err_ptr(-EINVAL);
	}
	if (OPTS_REFUSED_LOG(kvm, &log, "dirty source: ") ||
	    OPTS_REFUSED_LOG(opts, &log, "dirty source: "))
		return err_ptr(-EINVAL);
	for (i = 0; i < kvmig_memmap_nr_slots(kvm->mem); i++) {
		if (!kvmig_memmap_slot(kvm->mem, i)->hva)
			return err_ptr(-EINVAL);
	}
	if (OPTS_GET(kvm, nr_vcpus, 0) && !OPTS_GET(kvm, vcpu_fds, NULL)) {
		pr_err(&log, "dirty source: %u vCPUs but no vCPU fds", kvm->nr_vcpus);
		return err_ptr(-EINVAL);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->log = log;
	/* fields after .mem only if the caller's struct has them */
	d->kvm.sz = sizeof(d->kvm);
	d->kvm.vm_fd = kvm->vm_fd;
	d->kvm.mem = kvm->mem;
	d->kvm.nr_vcpus = OPTS_GET(kvm, nr_vcpus, 0);
	d->kvm.vcpu_fds = OPTS_GET(kvm, vcpu_fds, NULL);
	d->kvm.ring_entries = OPTS_GET(kvm, ring_entries, 0);
	d->kvm.kick_vcpus = OPTS_GET(kvm, kick_vcpus, NULL);
	d->kvm.kick_opaque = OPTS_GET(kvm, kick_opaque, NULL);
	d->mem = kvm->mem;
	d->clear_chunk_pages = OPTS_GET(opts, clear_chunk_pages, 0);
	if (!d->clear_chunk_pages)
		d->clear_chunk_pages = 1ULL << 18;
	if (d->clear_chunk_pages % 64) {
		pr_err(&log, "clear_chunk_pages %llu: must be a multiple of 64",
		       (unsigned long long)d->clear_chunk_pages);
		r = -EINVAL;
		goto err_free;
	}
	if (d->kvm.nr_vcpus) {
		d->vcpu_fds = calloc(d->kvm.nr_vcpus, sizeof(int));
		if (!d->vcpu_fds) {
			r = -ENOMEM;
			goto err_free;
		}
		memcpy(d->vcpu_fds, d->kvm.vcpu_fds, d->kvm.nr_vcpus * sizeof(int));
		d->kvm.vcpu_fds = d->vcpu_fds;
	}

	switch (want) {
	case KVMIG_DIRTY_AUTO:
		ops = pick_auto(&d->kvm, d->reason, sizeof(d->reason));
		if (!ops) {
			pr_err(&log, "dirty source auto: nothing usable: %s", d->reason);
			r = -EOPNOTSUPP;
			goto err_free;
		}
		break;
	default:
		ops = backend_ops(want);
		if (!ops || !ops->probe) {
			pr_err(&log, "dirty source: backend %d cannot run in-process%s",
			       want, want == KVMIG_DIRTY_REMOTE ?
			       " (use kvmig_dirty_remote_new)" : "");
			r = -EINVAL;
			goto err_free;
		}
		r = ops->probe(&d->kvm, why, sizeof(why));
		if (r) {
			pr_err(&log, "dirty source %s: %s",
			       kvmig_dirty_backend_name(want), why);
			goto err_free;
		}
		snprintf(d->reason, sizeof(d->reason), "%s: asked for",
			 kvmig_dirty_backend_name(want));
		break;
	}
	d->ops = ops;
	r = ops->init ? ops->init(d) : 0;
	if (r)
		goto err_free;
	pr_info(&log, "dirty source %s", d->reason);
	return d;

err_free:
	free(d->vcpu_fds);
	free(d);
	return err_ptr(r);
}

KVMIG_EXPORT void kvmig_dirty_free(struct kvmig_dirty *d)
{
	if (!d)
		return;
	if (d->started)
		kvmig_dirty_stop(d);
	if (d->ops->fini)
		d->ops->fini(d);
	free(d->vcpu_fds);
	free(d);
}

KVMIG_EXPORT enum kvmig_dirty_backend kvmig_dirty_backend(const struct kvmig_dirty *d)
{
	return d->ops->backend;
}

KVMIG_EXPORT const char *kvmig_dirty_reason(const struct kvmig_dirty *d)
{
	return d->reason;
}

KVMIG_EXPORT int kvmig_dirty_start(struct kvmig_dirty *d)
{
	int r;

	if (d->started)
		return -EBUSY;
	d->stats.syncs = 0;
	d->stats.pages_reported = 0;
	d->stats.sync_ns = 0;
	d->stats.remote_sync_ns = 0;
	d->stats.rearm_ns = 0;
	__atomic_store_n(&d->stats.ring_full, 0, __ATOMIC_RELAXED);
	r = d->ops->start(d);
	if (!r)
		d->started = true;
	return r;
}

KVMIG_EXPORT int kvmig_dirty_sync(struct kvmig_dirty *d, uint64_t *bitmap)
{
	uint64_t t0 = kvmig_now_ns();
	int r;

	if (!d->started)
		return -EINVAL;
	if (!bitmap)
		return -EFAULT;
	r = d->ops->sync(d, bitmap);
	d->stats.sync_ns += kvmig_now_ns() - t0;
	if (r >= 0) {
		d->stats.syncs++;
		d->stats.pages_reported += (uint64_t)r;
	}
	return r;
}

KVMIG_EXPORT int kvmig_dirty_rearm(struct kvmig_dirty *d, const uint64_t *bitmap,
				   uint64_t first, uint64_t count)
{
	uint64_t pages = kvmig_memmap_pages(d->mem), t0;
	int r;

	if (!d->started)
		return -EINVAL;
	if (first > pages || count > pages - first) {
		pr_err(&d->log, "rearm [%llu, +%llu): outside the %llu guest pages",
		       (unsigned long long)first, (unsigned long long)count,
		       (unsigned long long)pages);
		return -ERANGE;
	}
	if (!d->ops->rearm || !count)
		return 0;
	t0 = kvmig_now_ns();
	r = d->ops->rearm(d, bitmap, first, count);
	d->stats.rearm_ns += kvmig_now_ns() - t0;
	return r;
}

KVMIG_EXPORT int kvmig_dirty_stop(struct kvmig_dirty *d)
{
	int r;

	if (!d->started)
		return 0;
	r = d->ops->stop(d);
	d->started = false;
	return r;
}

KVMIG_EXPORT int kvmig_dirty_vcpu_counts(struct kvmig_dirty *d, uint64_t *counts,
					 unsigned int nr)
{
	if (!d->ops->vcpu_counts)
		return -EOPNOTSUPP;
	return d->ops->vcpu_counts(d, counts, nr);
}

KVMIG_EXPORT int kvmig_dirty_ring_full(struct kvmig_dirty *d, unsigned int vcpu)
{
	if (!d->ops->ring_full)
		return -EOPNOTSUPP;
	return d->ops->ring_full(d, vcpu);
}

KVMIG_EXPORT int kvmig_dirty_vcpu_harvested(const struct kvmig_dirty *d,
					    unsigned int vcpu, uint64_t *total)
{
	if (!d->ops->vcpu_harvested)
		return -EOPNOTSUPP;
	return d->ops->vcpu_harvested(d, vcpu, total);
}

KVMIG_EXPORT void kvmig_dirty_get_stats(const struct kvmig_dirty *d,
					struct kvmig_dirty_stats *st)
{
	/* ring_full is counted by vCPU threads: read it on its own */
	st->syncs = d->stats.syncs;
	st->pages_reported = d->stats.pages_reported;
	st->sync_ns = d->stats.sync_ns;
	st->remote_sync_ns = d->stats.remote_sync_ns;
	st->rearm_ns = d->stats.rearm_ns;
	st->ring_full = __atomic_load_n(&d->stats.ring_full, __ATOMIC_RELAXED);
}
