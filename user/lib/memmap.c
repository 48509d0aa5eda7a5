// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The guest memory map: slots sorted by gpa, each mapped into this process,
 * and the page index space (slot order) that dirty bitmaps use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"
#include "log.h"
#include "opts.h"
#include "memmap.h"

struct kvmig_memmap {
	struct kvmig_log log;
	unsigned int nr;
	struct kvmig_slot slots[KVMIG_MAX_SLOTS];	/* sorted by gpa */
	bool mapped[KVMIG_MAX_SLOTS];		/* we own the mapping */
	int fd[KVMIG_MAX_SLOTS];		/* our dup of the memfd, or -1 */
	uint64_t fd_off[KVMIG_MAX_SLOTS];	/* the slot's offset in it */
	uint64_t pages;
};

KVMIG_EXPORT struct kvmig_memmap *
kvmig_memmap_new(const struct kvmig_memmap_opts *opts)
{
	struct kvmig_memmap *m;

	if (OPTS_REFUSED(opts, ""))
		return err_ptr(-EINVAL);
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->log.fn = OPTS_GET(opts, print, NULL);
	m->log.opaque = OPTS_GET(opts, print_opaque, NULL);
	return m;
}

KVMIG_EXPORT void kvmig_memmap_free(struct kvmig_memmap *m)
{
	unsigned int i;

	if (!m)
		return;
	for (i = 0; i < m->nr; i++) {
		if (m->mapped[i])
			munmap(m->slots[i].hva, m->slots[i].size);
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	}
	free(m);
}

/* Is @fd a memfd?  Only memfds (and hugetlbfs/shmem files) take seals. */
static bool fd_is_memfd(int fd)
{
	char path[64], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return fcntl(fd, F_GET_SEALS) >= 0;
	target[n] = 0;
	return !strncmp(target, "/memfd:", 7);
}

static void renumber(struct kvmig_memmap *m)
{
	uint64_t next = 0;
	unsigned int i;

	for (i = 0; i < m->nr; i++) {
		m->slots[i].first_page = next;
		next += m->slots[i].size / KVMIG_PAGE_SIZE;
	}
	m->pages = next;
}

KVMIG_EXPORT int kvmig_memmap_add(struct kvmig_memmap *m,
				  const struct kvmig_slot_desc *d)
{
	int memfd = OPTS_GET(d, memfd, -1);
	uint64_t offset = OPTS_GET(d, offset, 0);
	void *hva = OPTS_GET(d, hva, NULL);
	struct stat st;
	unsigned int i, pos;

	if (!d || !OPTS_HAS(d, size) || OPTS_REFUSED_LOG(d, &m->log, ""))
		return -EINVAL;
	if (!d->size || d->size % KVMIG_PAGE_SIZE || d->gpa % KVMIG_PAGE_SIZE ||
	    offset % KVMIG_PAGE_SIZE || d->gpa + d->size < d->gpa) {
		pr_err(&m->log, "slot %u: gpa 0x%llx size 0x%llx offset 0x%llx: "
		       "must be page aligned and non-empty", d->id,
		       (unsigned long long)d->gpa, (unsigned long long)d->size,
		       (unsigned long long)offset);
		return -EINVAL;
	}
	if (hva)
		memfd = -1;	/* already mapped by the caller */
	else if (memfd < 0) {
		pr_err(&m->log, "slot %u: give a memfd or an address", d->id);
		return -EINVAL;
	}
	if (m->nr == KVMIG_MAX_SLOTS) {
		pr_err(&m->log, "slot %u: more than %d slots", d->id, KVMIG_MAX_SLOTS);
		return -ENOSPC;
	}
	for (i = 0; i < m->nr; i++) {
		const struct kvmig_slot *s = &m->slots[i];

		if (s->id == d->id || (d->gpa < s->gpa + s->size &&
				       s->gpa < d->gpa + d->size)) {
			pr_err(&m->log, "slot %u [0x%llx, 0x%llx) collides with "
			       "slot %u [0x%llx, 0x%llx)", d->id,
			       (unsigned long long)d->gpa,
			       (unsigned long long)(d->gpa + d->size), s->id,
			       (unsigned long long)s->gpa,
			       (unsigned long long)(s->gpa + s->size));
			return -EEXIST;
		}
	}
	if (memfd >= 0) {
		if (fstat(memfd, &st)) {
			pr_err(&m->log, "slot %u: fd %d: %s", d->id, memfd,
			       strerror(errno));
			return -EBADF;
		}
		if (!S_ISREG(st.st_mode) || !fd_is_memfd(memfd)) {
			pr_err(&m->log, "slot %u: fd %d is not a memfd", d->id,
			       memfd);
			return -ENOTSUP;
		}
		if ((uint64_t)st.st_size < offset + d->size) {
			pr_err(&m->log, "slot %u: memfd holds %llu bytes, the slot "
			       "needs %llu from offset %llu", d->id,
			       (unsigned long long)st.st_size,
			       (unsigned long long)d->size,
			       (unsigned long long)offset);
			return -ERANGE;
		}
		hva = mmap(NULL, d->size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_NORESERVE, memfd, (off_t)offset);
		if (hva == MAP_FAILED) {
			int r = -errno;

			pr_err(&m->log, "slot %u: mmap %llu bytes: %s", d->id,
			       (unsigned long long)d->size, strerror(errno));
			return r;
		}
	}
	for (pos = 0; pos < m->nr && m->slots[pos].gpa < d->gpa; pos++)
		;
	memmove(&m->slots[pos + 1], &m->slots[pos],
		(m->nr - pos) * sizeof(m->slots[0]));
	memmove(&m->mapped[pos + 1], &m->mapped[pos],
		(m->nr - pos) * sizeof(m->mapped[0]));
	memmove(&m->fd[pos + 1], &m->fd[pos], (m->nr - pos) * sizeof(m->fd[0]));
	memmove(&m->fd_off[pos + 1], &m->fd_off[pos],
		(m->nr - pos) * sizeof(m->fd_off[0]));
	/* kept to tell holes (never-touched pages) without faulting them in */
	m->fd[pos] = memfd >= 0 ? fcntl(memfd, F_DUPFD_CLOEXEC, 0) : -1;
	m->fd_off[pos] = offset;
	m->slots[pos] = (struct kvmig_slot){
		.id = d->id, .gpa = d->gpa, .size = d->size, .hva = hva,
	};
	m->mapped[pos] = memfd >= 0;
	m->nr++;
	renumber(m);
	return 0;
}

KVMIG_EXPORT unsigned int kvmig_memmap_nr_slots(const struct kvmig_memmap *m)
{
	return m->nr;
}

KVMIG_EXPORT const struct kvmig_slot *
kvmig_memmap_slot(const struct kvmig_memmap *m, unsigned int i)
{
	return i < m->nr ? &m->slots[i] : NULL;
}

KVMIG_EXPORT const struct kvmig_slot *
kvmig_memmap_slot_by_id(const struct kvmig_memmap *m, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < m->nr; i++)
		if (m->slots[i].id == id)
			return &m->slots[i];
	return NULL;
}

KVMIG_EXPORT uint64_t kvmig_memmap_pages(const struct kvmig_memmap *m)
{
	return m->pages;
}

KVMIG_EXPORT uint64_t kvmig_memmap_bytes(const struct kvmig_memmap *m)
{
	return m->pages * KVMIG_PAGE_SIZE;
}

static const struct kvmig_slot *slot_of_index(const struct kvmig_memmap *m,
					      uint64_t index)
{
	unsigned int lo = 0, hi = m->nr;

	if (index >= m->pages)
		return NULL;
	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;

		if (m->slots[mid].first_page <= index)
			lo = mid;
		else
			hi = mid;
	}
	return &m->slots[lo];
}

static const struct kvmig_slot *slot_of_gpa(const struct kvmig_memmap *m,
					    uint64_t gpa)
{
	unsigned int lo = 0, hi = m->nr;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct kvmig_slot *s = &m->slots[mid];

		if (gpa < s->gpa)
			hi = mid;
		else if (gpa - s->gpa >= s->size)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

KVMIG_EXPORT int kvmig_memmap_index_to_gpa(const struct kvmig_memmap *m,
					   uint64_t index, uint64_t *gpa)
{
	const struct kvmig_slot *s = slot_of_index(m, index);

	if (!s)
		return -ERANGE;
	*gpa = s->gpa + (index - s->first_page) * KVMIG_PAGE_SIZE;
	return 0;
}

KVMIG_EXPORT int kvmig_memmap_gpa_to_index(const struct kvmig_memmap *m,
					   uint64_t gpa, uint64_t *index)
{
	const struct kvmig_slot *s = slot_of_gpa(m, gpa);

	if (!s)
		return -EFAULT;
	*index = s->first_page + (gpa - s->gpa) / KVMIG_PAGE_SIZE;
	return 0;
}

KVMIG_EXPORT void *kvmig_memmap_gpa_to_hva(const struct kvmig_memmap *m,
					   uint64_t gpa, uint64_t len)
{
	const struct kvmig_slot *s = slot_of_gpa(m, gpa);

	if (!s || len > s->size - (gpa - s->gpa))
		return NULL;
	return (char *)s->hva + (gpa - s->gpa);
}

KVMIG_EXPORT void *kvmig_memmap_index_to_hva(const struct kvmig_memmap *m,
					     uint64_t index)
{
	const struct kvmig_slot *s = slot_of_index(m, index);

	if (!s)
		return NULL;
	return (char *)s->hva + (index - s->first_page) * KVMIG_PAGE_SIZE;
}

/*
 * Is page @index a hole of its memfd, i.e. never written, so zero?  Reading
 * it through the shared mapping would allocate it (shmem has no zero page
 * for shared mappings): pass 0 over a mostly untouched guest would fault
 * in all of its RAM.  @hc caches the last data extent found.
 */
bool kvmig_memmap_is_hole(const struct kvmig_memmap *m, uint64_t index,
			  struct kvmig_hole_cache *hc)
{
	const struct kvmig_slot *s = slot_of_index(m, index);
	unsigned int i;
	off_t off, data, hole;

	if (!s)
		return false;
	i = (unsigned int)(s - m->slots);
	if (m->fd[i] < 0)
		return false;
	off = (off_t)(m->fd_off[i] + (index - s->first_page) * KVMIG_PAGE_SIZE);
	if (hc->slot == i && (uint64_t)off >= hc->lo && (uint64_t)off < hc->hi)
		return hc->is_hole;
	data = lseek(m->fd[i], off, SEEK_DATA);
	hc->slot = i;
	if (data < 0 || data > off) {
		/* a hole up to the next data (or the end) */
		hc->lo = (uint64_t)off;
		hc->hi = data < 0 ? ~0ULL : (uint64_t)data;
		hc->is_hole = data >= 0 || errno == ENXIO;
		return hc->is_hole;
	}
	hole = lseek(m->fd[i], off, SEEK_HOLE);
	hc->lo = (uint64_t)off;
	hc->hi = hole < 0 ? (uint64_t)off + KVMIG_PAGE_SIZE : (uint64_t)hole;
	hc->is_hole = false;
	return false;
}

uint64_t kvmig_memmap_hole_run(const struct kvmig_memmap *m, uint64_t index,
			       uint64_t max, struct kvmig_hole_cache *hc)
{
	const struct kvmig_slot *s;
	uint64_t off, n, left;

	if (!max || !kvmig_memmap_is_hole(m, index, hc))
		return 0;
	/* is_hole() cached the hole's extent, [hc->lo, hc->hi) of the memfd */
	s = slot_of_index(m, index);
	off = m->fd_off[s - m->slots] + (index - s->first_page) * KVMIG_PAGE_SIZE;
	n = (hc->hi - off) / KVMIG_PAGE_SIZE;
	left = s->size / KVMIG_PAGE_SIZE - (index - s->first_page);
	if (n > left)
		n = left;
	if (n > max)
		n = max;
	return n ? n : 1;
}

uint64_t kvmig_zero_page_hash(void)
{
	static const uint8_t zero[KVMIG_PAGE_SIZE];

	return XXH3_64bits(zero, sizeof(zero));
}

uint64_t kvmig_page_hash(const struct kvmig_memmap *m, uint64_t index,
			 struct kvmig_hole_cache *hc, uint64_t zero_hash)
{
	if (kvmig_memmap_is_hole(m, index, hc))
		return zero_hash;
	return XXH3_64bits(kvmig_memmap_index_to_hva(m, index), KVMIG_PAGE_SIZE);
}

KVMIG_EXPORT uint64_t kvmig_bitmap_count(const uint64_t *bm, uint64_t pages)
{
	uint64_t n = 0, i, words = kvmig_bitmap_words(pages);

	for (i = 0; i < words; i++) {
		uint64_t w = bm[i];

		if (i == words - 1 && pages % 64)
			w &= (1ULL << (pages % 64)) - 1;
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}
