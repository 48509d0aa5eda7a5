// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * A vCPU's KVM binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/
 * api.rst "KVM_GET_STATS_FD"): the header and descriptors are read once when
 * the fd is opened, a value by name with one pread.  Everything read from
 * the kernel is checked against the fd's own header before use.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

struct kvmig_vcpu_stats {
	int fd;
	struct kvm_stats_header hdr;
	char *descs;			/* hdr.num_desc descriptors */
	size_t desc_size;		/* one, with its name */
};

KVMIG_EXPORT struct kvmig_vcpu_stats *kvmig_vcpu_stats_open(int vcpu_fd)
{
	struct kvmig_vcpu_stats *s;
	size_t total;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return err_ptr(-ENOMEM);
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = -EIO;
	if (pread(s->fd, &s->hdr, sizeof(s->hdr), 0) != sizeof(s->hdr))
		goto err_close;
	/* a descriptor is its fixed part and a name of hdr.name_size bytes */
	if (!s->hdr.name_size || s->hdr.name_size > 4096 ||
	    s->hdr.num_desc > 65536)
		goto err_close;
	s->desc_size = sizeof(struct kvm_stats_desc) + s->hdr.name_size;
	total = s->desc_size * s->hdr.num_desc;
	s->descs = calloc(1, total + 1);
	r = -ENOMEM;
	if (!s->descs)
		goto err_close;
	r = -EIO;
	if (pread(s->fd, s->descs, total, s->hdr.desc_offset) != (ssize_t)total)
		goto err_descs;
	return s;

err_descs:
	free(s->descs);
err_close:
	close(s->fd);
err_free:
	free(s);
	return err_ptr(r);
}

KVMIG_EXPORT void kvmig_vcpu_stats_free(struct kvmig_vcpu_stats *s)
{
	if (!s)
		return;
	free(s->descs);
	close(s->fd);
	free(s);
}

KVMIG_EXPORT int kvmig_vcpu_stats_read(struct kvmig_vcpu_stats *s, const char *name,
				       uint64_t *value)
{
	uint32_t i;

	for (i = 0; i < s->hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(s->descs + i * s->desc_size);

		if (strnlen(d->name, s->hdr.name_size) == s->hdr.name_size ||
		    strcmp(d->name, name))
			continue;
		if (d->size < 1)
			return -EIO;
		/* the first element; a histogram's is its first bucket */
		if (pread(s->fd, value, sizeof(*value),
			  (off_t)s->hdr.data_offset + d->offset) != sizeof(*value))
			return -EIO;
		return 0;
	}
	return -ENOENT;
}

KVMIG_EXPORT int kvmig_vcpu_dirty_stats(struct kvmig_vcpu_stats *s,
					struct kvmig_vcpu_dirty_stats *st)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "dirty_bytes", offsetof(struct kvmig_vcpu_dirty_stats, dirty_bytes) },
		{ "dirty_limit_stalls", offsetof(struct kvmig_vcpu_dirty_stats, stalls) },
		{ "dirty_limit_stall_ns", offsetof(struct kvmig_vcpu_dirty_stats, stall_ns) },
		{ "dirty_limit_stall_max_ns",
		  offsetof(struct kvmig_vcpu_dirty_stats, stall_max_ns) },
		{ "dirty_limit_io_shortened",
		  offsetof(struct kvmig_vcpu_dirty_stats, io_shortened) },
	};
	unsigned int i;
	uint64_t v;
	int r;

	if (!st || st->sz < sizeof(size_t))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(map); i++) {
		if (st->sz < map[i].off + sizeof(uint64_t))
			continue;
		r = kvmig_vcpu_stats_read(s, map[i].name, &v);
		if (r == -ENOENT)
			v = 0;
		else if (r)
			return r;
		memcpy((char *)st + map[i].off, &v, sizeof(v));
	}
	return 0;
}
