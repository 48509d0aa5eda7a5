// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * remote: the dirty source runs in the VMM (KVM refuses VM ioctls from any
 * process but the one that created the VM) and we drive it over the
 * control socket.  The bitmap travels through a memfd the VMM shares at
 * dirty-start: the VMM writes each sync's pages into it, and we write into
 * it the pages to re-arm before dirty-rearm.  Requests are strictly one
 * at a time, so the buffer never has two writers.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "dirty.h"

struct remote {
	struct kvmig_vmm *vmm;			/* not owned */
	enum kvmig_dirty_backend want;
	enum kvmig_dirty_backend backend;	/* what the VMM runs */
	uint64_t *shared;			/* the VMM's bitmap memfd */
	size_t shared_len;
	uint64_t *vcpu_pages;			/* last sync's per-vCPU counts */
	unsigned int nr_vcpus;
	bool has_vcpu_pages;
};

static int remote_err(struct kvmig_dirty *d, const char *what, int r)
{
	struct remote *rm = d->priv;

	pr_err(&d->log, "%s: %s", what, kvmig_vmm_last_error(rm->vmm));
	return r;
}

static int remote_start(struct kvmig_dirty *d)
{
	struct remote *rm = d->priv;
	char args[64], *text = NULL;
	unsigned int nr = 0;
	json_t *ret;
	int fd[2], r;
	uint64_t pages;
	json_int_t len;

	snprintf(args, sizeof(args), "{\"backend\": \"%s\"}",
		 kvmig_dirty_backend_name(rm->want));
	r = kvmig_vmm_request(rm->vmm, "dirty-start", args, &text, fd, 2, &nr);
	if (r)
		return remote_err(d, "dirty-start", r);
	ret = json_loads(text, 0, NULL);
	free(text);
	pages = (uint64_t)json_integer_value(json_object_get(ret, "pages"));
	len = json_integer_value(json_object_get(ret, "bitmap-bytes"));
	r = kvmig_dirty_backend_parse(json_string_value(json_object_get(ret,
						"backend")) ?: "", &rm->backend);
	if (r || nr != 1 || pages != kvmig_memmap_pages(d->mem) ||
	    (uint64_t)len != kvmig_bitmap_words(pages) * sizeof(uint64_t)) {
		pr_err(&d->log, "dirty-start: the VMM answered a layout that does "
		       "not match guest RAM (%llu pages, %lld bitmap bytes, %u fds)",
		       (unsigned long long)pages, (long long)len, nr);
		r = -EPROTO;
		goto out;
	}
	snprintf(d->reason, sizeof(d->reason), "remote: the VMM runs %s",
		 json_string_value(json_object_get(ret, "reason")) ?: "?");
	rm->shared = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED,
			  fd[0], 0);
	if (rm->shared == MAP_FAILED) {
		r = -errno;
		rm->shared = NULL;
		pr_err(&d->log, "mapping the VMM's dirty bitmap: %s", strerror(errno));
		goto out;
	}
	rm->shared_len = (size_t)len;
out:
	if (nr)
		close(fd[0]);
	json_decref(ret);
	if (r && !rm->shared)
		kvmig_vmm_request(rm->vmm, "dirty-stop", NULL, NULL, NULL, 0, NULL);
	return r;
}

static int remote_sync(struct kvmig_dirty *d, uint64_t *bitmap)
{
	struct remote *rm = d->priv;
	char *text = NULL;
	json_t *ret, *counts;
	uint64_t i, n = 0, words = rm->shared_len / sizeof(uint64_t);
	int r;

	r = kvmig_vmm_request(rm->vmm, "dirty-sync", NULL, &text, NULL, 0, NULL);
	if (r)
		return remote_err(d, "dirty-sync", r);
	for (i = 0; i < words; i++) {
		uint64_t w = rm->shared[i];

		bitmap[i] |= w;
		n += (uint64_t)__builtin_popcountll(w);
	}
	ret = json_loads(text, 0, NULL);
	free(text);
	d->stats.remote_sync_ns +=
		(uint64_t)json_integer_value(json_object_get(ret, "sync-ns"));
	counts = json_object_get(ret, "vcpu-pages");
	rm->has_vcpu_pages = json_is_array(counts);
	if (rm->has_vcpu_pages) {
		size_t k, nr = json_array_size(counts);

		if (nr != rm->nr_vcpus) {
			free(rm->vcpu_pages);
			rm->vcpu_pages = calloc(nr, sizeof(uint64_t));
			rm->nr_vcpus = rm->vcpu_pages ? (unsigned int)nr : 0;
		}
		for (k = 0; k < rm->nr_vcpus; k++)
			rm->vcpu_pages[k] = (uint64_t)json_integer_value(
				json_array_get(counts, k));
	}
	json_decref(ret);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int remote_rearm(struct kvmig_dirty *d, const uint64_t *bitmap,
			uint64_t first, uint64_t count)
{
	struct remote *rm = d->priv;
	char args[96];
	int r;

	/* only clear-log re-arms on request; the others did it in sync */
	if (rm->backend != KVMIG_DIRTY_CLEAR)
		return 0;
	memcpy(rm->shared, bitmap, rm->shared_len);
	snprintf(args, sizeof(args), "{\"first\": %llu, \"count\": %llu}",
		 (unsigned long long)first, (unsigned long long)count);
	r = kvmig_vmm_request(rm->vmm, "dirty-rearm", args, NULL, NULL, 0, NULL);
	return r ? remote_err(d, "dirty-rearm", r) : 0;
}

static int remote_stop(struct kvmig_dirty *d)
{
	struct remote *rm = d->priv;
	int r;

	if (rm->shared)
		munmap(rm->shared, rm->shared_len);
	rm->shared = NULL;
	r = kvmig_vmm_request(rm->vmm, "dirty-stop", NULL, NULL, NULL, 0, NULL);
	return r ? remote_err(d, "dirty-stop", r) : 0;
}

static int remote_vcpu_counts(struct kvmig_dirty *d, uint64_t *counts,
			      unsigned int nr)
{
	struct remote *rm = d->priv;
	unsigned int i;

	if (!rm->has_vcpu_pages)
		return -EOPNOTSUPP;
	for (i = 0; i < nr; i++)
		counts[i] = i < rm->nr_vcpus ? rm->vcpu_pages[i] : 0;
	return (int)rm->nr_vcpus;
}

static void remote_fini(struct kvmig_dirty *d)
{
	struct remote *rm = d->priv;

	if (rm->shared)
		munmap(rm->shared, rm->shared_len);
	free(rm->vcpu_pages);
	free(rm);
}

const struct kvmig_dirty_ops kvmig_dirty_remote_ops = {
	.backend = KVMIG_DIRTY_REMOTE,
	.name = "remote",
	.fini = remote_fini,
	.start = remote_start,
	.sync = remote_sync,
	.rearm = remote_rearm,
	.stop = remote_stop,
	.vcpu_counts = remote_vcpu_counts,
};

KVMIG_EXPORT struct kvmig_dirty *
kvmig_dirty_remote_new(struct kvmig_vmm *vmm, const struct kvmig_memmap *map,
		       const struct kvmig_dirty_opts *opts)
{
	struct kvmig_dirty *d;
	struct remote *rm;

	if (!vmm || !map || OPTS_REFUSED(opts, "dirty source: "))
		return err_ptr(-EINVAL);
	d = calloc(1, sizeof(*d));
	rm = calloc(1, sizeof(*rm));
	if (!d || !rm) {
		free(d);
		free(rm);
		return NULL;
	}
	d->log.fn = OPTS_GET(opts, print, NULL);
	d->log.opaque = OPTS_GET(opts, print_opaque, NULL);
	d->ops = &kvmig_dirty_remote_ops;
	d->mem = map;
	d->kvm.vm_fd = -1;
	d->priv = rm;
	rm->vmm = vmm;
	rm->want = OPTS_GET(opts, backend, KVMIG_DIRTY_AUTO);
	rm->backend = KVMIG_DIRTY_REMOTE;
	if (rm->want == KVMIG_DIRTY_REMOTE) {
		free(rm);
		free(d);
		return err_ptr(-EINVAL);
	}
	snprintf(d->reason, sizeof(d->reason), "remote: not started");
	return d;
}

KVMIG_EXPORT enum kvmig_dirty_backend
kvmig_dirty_remote_backend(const struct kvmig_dirty *d)
{
	const struct remote *rm = d->priv;

	return d->ops == &kvmig_dirty_remote_ops ? rm->backend : d->ops->backend;
}
