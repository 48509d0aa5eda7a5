/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* libkvmig internals shared between its files; not installed. */
#ifndef KVMIG_INTERNAL_H
#define KVMIG_INTERNAL_H

#include <errno.h>
#include <stdarg.h>

#include "kvmig/kvmig.h"

#define KVMIG_PAGE_SIZE		4096ULL
#define KVMIG_PAGE_SHIFT	12
#define KVMIG_MAX_SLOTS		512

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define KVMIG_EXPORT	__attribute__((visibility("default")))

/*
 * Options structs grow at the end; a caller built against an older header
 * passes a smaller .sz.  OPTS_GET reads a field only if the caller's struct
 * has it, else gives the default.
 */
#define OPTS_HAS(opts, field)						\
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) +	\
				 sizeof((opts)->field))
#define OPTS_GET(opts, field, def)					\
	(OPTS_HAS(opts, field) ? (opts)->field : (def))
/*
 * ... and a caller's struct is refused if its .sz does not cover .sz, or if
 * it sets bytes past what this library knows (opts.c): 0 or -EINVAL with
 * @why.  A NULL @opts is valid (every default).
 */
int kvmig_opts_check(const void *opts, size_t known, const char *name,
		     char *why, size_t len);
#define OPTS_CHECK(opts, why, len)					\
	kvmig_opts_check(opts, sizeof(*(opts)), opts_name(opts), why, len)
/*
 * ... or says why through @log, after @prefix, and returns true if @opts
 * is refused; OPTS_REFUSED uses the struct's own print callback.
 */
struct kvmig_log;
bool kvmig_opts_refused(const void *opts, size_t known, const char *name,
			const struct kvmig_log *log, const char *prefix);
#define OPTS_REFUSED_LOG(opts, log, prefix)				\
	kvmig_opts_refused(opts, sizeof(*(opts)), opts_name(opts), log, prefix)
#define OPTS_REFUSED(opts, prefix)					\
	OPTS_REFUSED_LOG(opts, (&(const struct kvmig_log){		\
		OPTS_GET(opts, print, NULL),				\
		OPTS_GET(opts, print_opaque, NULL) }), prefix)
#define opts_name(opts) _Generic((opts),				\
	const struct kvmig_memmap_opts *: "kvmig_memmap_opts",		\
	const struct kvmig_slot_desc *: "kvmig_slot_desc",		\
	const struct kvmig_kvm_desc *: "kvmig_kvm_desc",		\
	const struct kvmig_dirty_opts *: "kvmig_dirty_opts",		\
	const struct kvmig_dirty_limit *: "kvmig_dirty_limit",		\
	const struct kvmig_vmm_opts *: "kvmig_vmm_opts",		\
	const struct kvmig_migrate_opts *: "kvmig_migrate_opts",	\
	const struct kvmig_incoming_opts *: "kvmig_incoming_opts")

/* Where an object's messages go. */
struct kvmig_log {
	kvmig_print_fn fn;
	void *opaque;
};

void kvmig_log(const struct kvmig_log *log, enum kvmig_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define pr_err(log, ...)	kvmig_log(log, KVMIG_LOG_ERROR, __VA_ARGS__)
#define pr_warn(log, ...)	kvmig_log(log, KVMIG_LOG_WARN, __VA_ARGS__)
#define pr_info(log, ...)	kvmig_log(log, KVMIG_LOG_INFO, __VA_ARGS__)
#define pr_debug(log, ...)	kvmig_log(log, KVMIG_LOG_DEBUG, __VA_ARGS__)

uint64_t kvmig_now_ns(void);

/* Set errno from a negative error code and return NULL (pointer APIs). */
static inline void *err_ptr(int err)
{
	errno = -err;
	return NULL;
}

/* ---- dirty sources: one ops table per backend (dirty_*.c) ---- */

struct kvmig_dirty_ops {
	enum kvmig_dirty_backend backend;
	/* may the backend run on this VM?  0, or -errno with *why filled */
	int (*probe)(const struct kvmig_kvm_desc *kvm, char *why, size_t len);
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

/* memmap.c: holes of the memfds behind the slots */
struct kvmig_hole_cache {
	unsigned int slot;
	uint64_t lo, hi;	/* memfd offsets of the cached extent */
	bool is_hole;
};
#define KVMIG_HOLE_CACHE_INIT	{ .slot = ~0U }
bool kvmig_memmap_is_hole(const struct kvmig_memmap *m, uint64_t index,
			  struct kvmig_hole_cache *hc);
/* XXH3-64 of page @index for VERIFY; holes hash as a zero page, unread */
uint64_t kvmig_page_hash(const struct kvmig_memmap *m, uint64_t index,
			 struct kvmig_hole_cache *hc, uint64_t zero_hash);

/*
 * vmm_client.c: the VMM's run state, query-status's "status" ("running",
 * "paused", "inmigrate": waiting for an incoming migration, its guest
 * never ran), into @buf; 0 or a negative errno, kvmig_vmm_last_error()
 * saying why.
 */
int kvmig_vmm_status(struct kvmig_vmm *v, char *buf, size_t len);
/* The socket path @v was connected to, for messages. */
const char *kvmig_vmm_path(const struct kvmig_vmm *v);

/* KVM_GET_DIRTY_LOG helpers shared by the bitmap and clear backends. */
int kvmig_dirty_log_init(struct kvmig_dirty *d);
void kvmig_dirty_log_fini(struct kvmig_dirty *d);
int kvmig_dirty_log_fetch(struct kvmig_dirty *d, uint64_t *buf,
			  uint64_t *bitmap);

/* Turn KVM_MEM_LOG_DIRTY_PAGES on or off on every slot of the VM. */
int kvmig_dirty_set_logging(struct kvmig_dirty *d, bool on);
/* KVM_CHECK_EXTENSION on the VM fd: > 0 if present. */
int kvmig_vm_check_extension(int vm_fd, long cap);

/* simd.c: the CPU's vector extensions and zero-page detection */
enum kvmig_simd {
	KVMIG_SIMD_SCALAR,
	KVMIG_SIMD_AVX2,
	KVMIG_SIMD_AVX512,	/* AVX-512F + BW */
	KVMIG_SIMD_NR,
};
typedef bool (*kvmig_zero_fn)(const void *page);
bool kvmig_cpu_has(enum kvmig_simd level);
enum kvmig_simd kvmig_simd_best(void);
const char *kvmig_simd_name(enum kvmig_simd level);
/* The zero test of @level, or NULL if this CPU lacks it. */
kvmig_zero_fn kvmig_zero_impl(enum kvmig_simd level);

/*
 * stats.c: the public entry points run on a complete statistics struct of
 * their own and copy what fits into the caller's (.sz) at the end.
 */
bool kvmig_stats_sz_ok(const struct kvmig_migration_stats *st);
/* The library's own copy for @caller's run (status "setup"), or NULL with
 * errno (EINVAL: the caller's .sz is too small to know); then ... */
struct kvmig_migration_stats *kvmig_stats_begin(const struct kvmig_migration_stats *caller);
/* ... what fits into the caller's, and the copy freed. */
void kvmig_stats_end(struct kvmig_migration_stats *caller,
		     struct kvmig_migration_stats *full);

/* xbzrle.c: the encoder of @level, or NULL if this CPU lacks it */
typedef int (*kvmig_xbzrle_fn)(const uint8_t *old_page, const uint8_t *new_page,
			       uint8_t *out, size_t limit);
kvmig_xbzrle_fn kvmig_xbzrle_impl(enum kvmig_simd level);

/* Relaxed loads and stores of counters one thread writes, others read. */
#define STAT_ADD(var, n)						\
	__atomic_store_n(&(var), __atomic_load_n(&(var), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)
#define STAT_GET(var)	__atomic_load_n(&(var), __ATOMIC_RELAXED)

#endif /* KVMIG_INTERNAL_H */
