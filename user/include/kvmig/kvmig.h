/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libkvmig: live migration of KVM guests, the library.
 *
 * One umbrella header.  Conventions (as in libbpf and zstd):
 *  - every handle is opaque and owned by whoever created it; the _free()
 *    functions accept NULL;
 *  - functions returning int return 0 (or a count >= 0) on success and a
 *    negative errno on failure; functions returning a pointer return NULL
 *    and set errno;
 *  - options structs start with their own size (.sz = sizeof(opts)) so the
 *    ABI can grow; zero-initialise them and set what you need;
 *  - the library never exits, never installs signal handlers, owns no
 *    mutable global state, and prints only through the print callback
 *    given in the options (by default warnings and errors go to stderr).
 *
 * Documentation/libkvmig.rst describes the API in prose.
 */
#ifndef KVMIG_KVMIG_H
#define KVMIG_KVMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KVMIG_VERSION_MAJOR	0
#define KVMIG_VERSION_MINOR	4

const char *kvmig_version(void);

/*
 * Copy up to @inlen bytes of @in (it may stop at a NUL) into @out, escaped
 * for printing: printable ASCII as it is, '\\' as "\\\\", newline and tab as
 * "\\n" and "\\t", any other byte as "\\xNN".  Always NUL-terminates (if
 * @outlen > 0), never cuts an escape in two; returns the length written.
 * libkvmig escapes what a peer or a VMM says before it reaches its own
 * messages; a program printing such text itself should too.  Since 0.3.
 */
size_t kvmig_text_escape(char *out, size_t outlen, const char *in, size_t inlen);

/* ------------------------------------------------------------------ logging */

enum kvmig_log_level {
	KVMIG_LOG_ERROR,
	KVMIG_LOG_WARN,
	KVMIG_LOG_INFO,
	KVMIG_LOG_DEBUG,
};

/* @msg is one line without the trailing newline. */
typedef void (*kvmig_print_fn)(enum kvmig_log_level level, const char *msg,
			       void *opaque);

/* --------------------------------------------------------- guest memory map */

/*
 * The guest's RAM as a list of slots, each a range of guest-physical
 * addresses backed by a memfd (or any shared mapping).  Pages are also
 * numbered 0..kvmig_memmap_pages()-1 in slot order ("page index"), which is
 * how dirty bitmaps address them.
 */
struct kvmig_memmap;

struct kvmig_memmap_opts {
	size_t sz;
	kvmig_print_fn print;
	void *print_opaque;
};

struct kvmig_slot_desc {
	size_t sz;
	uint32_t id;		/* the KVM memslot id */
	uint64_t gpa;		/* page aligned */
	uint64_t size;		/* bytes, page aligned, non-zero */
	/*
	 * Either an address where the caller has the slot mapped (kept
	 * mapped by the caller for the map's lifetime) ...
	 */
	void *hva;
	/*
	 * ... or, with hva NULL, a memfd: the library maps [offset, offset +
	 * size) shared and unmaps it on free; the fd itself is not kept.
	 */
	int memfd;
	uint64_t offset;
};

struct kvmig_memmap *kvmig_memmap_new(const struct kvmig_memmap_opts *opts);
void kvmig_memmap_free(struct kvmig_memmap *map);
/*
 * Add a slot.  Errors: -EINVAL (unaligned or zero size, no hva and a
 * negative memfd), -EEXIST (slot id or gpa range overlaps another slot),
 * -EBADF (memfd is not an open fd), -ENOTSUP (the fd is not a memfd),
 * -ERANGE (offset + size beyond the end of the memfd), -ENOSPC (too many
 * slots), or the errno of mmap.
 */
int kvmig_memmap_add(struct kvmig_memmap *map, const struct kvmig_slot_desc *d);

struct kvmig_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	uint64_t first_page;	/* page index of the slot's first page */
	void *hva;		/* where this process has the slot mapped */
};

unsigned int kvmig_memmap_nr_slots(const struct kvmig_memmap *map);
const struct kvmig_slot *kvmig_memmap_slot(const struct kvmig_memmap *map,
					   unsigned int i);
/* Slot with KVM memslot id @id, or NULL. */
const struct kvmig_slot *kvmig_memmap_slot_by_id(const struct kvmig_memmap *map,
						 uint32_t id);
uint64_t kvmig_memmap_pages(const struct kvmig_memmap *map);
uint64_t kvmig_memmap_bytes(const struct kvmig_memmap *map);
/* Page index <-> gpa; -ERANGE / -EFAULT when outside guest RAM. */
int kvmig_memmap_index_to_gpa(const struct kvmig_memmap *map, uint64_t index,
			      uint64_t *gpa);
int kvmig_memmap_gpa_to_index(const struct kvmig_memmap *map, uint64_t gpa,
			      uint64_t *index);
/* Host address of @len bytes at @gpa, or NULL if not inside one slot. */
void *kvmig_memmap_gpa_to_hva(const struct kvmig_memmap *map, uint64_t gpa,
			      uint64_t len);
void *kvmig_memmap_index_to_hva(const struct kvmig_memmap *map, uint64_t index);

/* ------------------------------------------------------------- dirty bitmap */

/* A bitmap over page indexes: bit i of word i / 64 is page index i. */
static inline size_t kvmig_bitmap_words(uint64_t pages)
{
	return (size_t)((pages + 63) / 64);
}

static inline bool kvmig_bitmap_test(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static inline void kvmig_bitmap_set(uint64_t *bm, uint64_t i)
{
	bm[i / 64] |= 1ULL << (i % 64);
}

uint64_t kvmig_bitmap_count(const uint64_t *bm, uint64_t pages);

/* ------------------------------------------------------------- dirty source */

/*
 * A dirty source tells which guest pages were written since the last sync.
 *
 *   start ─► sync ─► rearm(pages)* ─► read those pages ─► sync ... ─► stop
 *
 * sync() ORs into the caller's bitmap every page written since the previous
 * sync (or since start) and returns how many pages it reported.  A page
 * written after its tracking was re-armed is always reported by a later
 * sync: never a miss; false positives are possible.  Backends differ in
 * when they re-arm:
 *
 *   bitmap  KVM_GET_DIRTY_LOG, which re-protects the pages it reports, so
 *           sync() itself re-arms everything; rearm() is a no-op.
 *   clear   KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: sync() only fetches the log;
 *           rearm() runs KVM_CLEAR_DIRTY_LOG on exactly the pages about to
 *           be read, so a page written again meanwhile is not lost and is
 *           not sent twice.  With KVM_DIRTY_LOG_INITIALLY_SET the first
 *           sync reports every page and start() is O(1).
 *   ring    per-vCPU dirty rings (KVM_CAP_DIRTY_LOG_RING[_ACQ_REL]): sync()
 *           harvests every ring and resets them; per-vCPU counts for free.
 *           The rings must have been enabled before the vCPUs were created.
 *   fastwp  the kvmig KVM patch (KVM_CAP_FAST_WRITE_PROTECT): sync() fetches
 *           the bitmaps; each fetch then write-protects all of memory at
 *           once, in a time that does not depend on its size, instead of
 *           the pages it returns; the guest's write faults push the
 *           protection down.
 *   remote  the dirty source runs inside the VMM process (KVM binds a VM to
 *           the process that created it: its ioctls fail with EIO
 *           elsewhere) and this process drives it over the control socket.
 *
 * auto picks ring if the VM has rings, else fastwp if the kernel has it,
 * else clear if the kernel offers it, else bitmap; kvmig_dirty_reason()
 * says why.
 */
struct kvmig_dirty;

enum kvmig_dirty_backend {
	KVMIG_DIRTY_AUTO = 0,
	KVMIG_DIRTY_BITMAP,
	KVMIG_DIRTY_CLEAR,
	KVMIG_DIRTY_RING,
	KVMIG_DIRTY_FASTWP,
	KVMIG_DIRTY_REMOTE,
	KVMIG_DIRTY_NR_BACKENDS,
};

const char *kvmig_dirty_backend_name(enum kvmig_dirty_backend b);
/* "auto", "bitmap", ... -> backend; -EINVAL if unknown. */
int kvmig_dirty_backend_parse(const char *name, enum kvmig_dirty_backend *b);

/* The KVM side, for the in-process backends (the VMM's view). */
struct kvmig_kvm_desc {
	size_t sz;
	int vm_fd;
	/*
	 * The memmap's slots must have hva set to the address the VM's
	 * memslots were registered with (KVM_SET_USER_MEMORY_REGION), since
	 * enabling dirty logging re-registers them with
	 * KVM_MEM_LOG_DIRTY_PAGES.  Not owned.
	 */
	struct kvmig_memmap *mem;
	/* ring backend: vCPU fds and the ring size in entries (0 = none) */
	unsigned int nr_vcpus;
	const int *vcpu_fds;
	uint32_t ring_entries;
	/*
	 * ring backend: make every vCPU leave KVM_RUN once and return when
	 * each has (a paused vCPU counts as done).  A page a vCPU dirtied may
	 * sit in a per-CPU hardware log (Intel PML) until that vCPU exits;
	 * only then is it pushed to the ring.  sync() calls this before it
	 * takes the harvest lock, as QEMU kicks before reaping, so waiting
	 * for a vCPU that is inside kvmig_dirty_ring_full() is safe.
	 */
	int (*kick_vcpus)(void *opaque);
	void *kick_opaque;
};

struct kvmig_dirty_opts {
	size_t sz;
	enum kvmig_dirty_backend backend;
	/* clear: pages per KVM_CLEAR_DIRTY_LOG call (default 262144 = 1 GiB) */
	uint64_t clear_chunk_pages;
	kvmig_print_fn print;
	void *print_opaque;
};

struct kvmig_dirty *kvmig_dirty_new(const struct kvmig_kvm_desc *kvm,
				    const struct kvmig_dirty_opts *opts);
void kvmig_dirty_free(struct kvmig_dirty *d);
enum kvmig_dirty_backend kvmig_dirty_backend(const struct kvmig_dirty *d);
/* Why this backend was chosen (a sentence, for logs and operators). */
const char *kvmig_dirty_reason(const struct kvmig_dirty *d);

int kvmig_dirty_start(struct kvmig_dirty *d);
int kvmig_dirty_sync(struct kvmig_dirty *d, uint64_t *bitmap);
/*
 * Re-arm tracking for the pages set in @bitmap within [@first, @first +
 * @count) — exactly the pages the caller is about to read.  Only those: a
 * page re-armed but not read would lose a write made since the last sync.
 * -ERANGE if the range is outside guest RAM.
 */
int kvmig_dirty_rearm(struct kvmig_dirty *d, const uint64_t *bitmap,
		      uint64_t first, uint64_t count);
int kvmig_dirty_stop(struct kvmig_dirty *d);
/*
 * Dirty-page events of each vCPU during the last sync interval (ring
 * entries: a page dirtied again after a re-arm counts again), into
 * @counts (@nr entries).  -EOPNOTSUPP when the backend cannot tell.
 */
int kvmig_dirty_vcpu_counts(struct kvmig_dirty *d, uint64_t *counts,
			    unsigned int nr);
/*
 * ring backend: call from vCPU @vcpu's thread on KVM_EXIT_DIRTY_RING_FULL.
 * Harvests the ring (the pages go to the next sync) and resets it; when it
 * returns the vCPU may re-enter KVM_RUN.  -EOPNOTSUPP on other backends.
 */
int kvmig_dirty_ring_full(struct kvmig_dirty *d, unsigned int vcpu);
/*
 * ring backend: entries harvested from vCPU @vcpu's ring since the source
 * was created (ring-full harvests and syncs alike, never reset), into
 * *@total; callable from any thread, without locks, at any time while @d
 * exists.  A VMM that charges a vCPU for its dirtying as the harvests
 * happen reads it after kvmig_dirty_ring_full() and after each sync.
 * 0, -EINVAL for a vCPU the source does not know, -EOPNOTSUPP on other
 * backends.
 */
int kvmig_dirty_vcpu_harvested(const struct kvmig_dirty *d, unsigned int vcpu,
			       uint64_t *total);
/* Statistics of the source since start. */
struct kvmig_dirty_stats {
	uint64_t syncs;
	uint64_t pages_reported;	/* sum over syncs */
	uint64_t sync_ns;		/* time spent in sync() */
	uint64_t rearm_ns;		/* time spent in rearm() */
	uint64_t ring_full;		/* ring-full exits handled */
	uint64_t remote_sync_ns;	/* remote: of sync_ns, inside the VMM */
};
void kvmig_dirty_get_stats(const struct kvmig_dirty *d,
			   struct kvmig_dirty_stats *st);

/*
 * Ring size (entries) to pass to kvmig_enable_dirty_ring(): the kernel's
 * maximum for the VM, or 0 if it has no dirty ring.
 */
int kvmig_dirty_ring_max_entries(int vm_fd);
/*
 * For VMMs: enable per-vCPU dirty rings of @entries (a power of two) on the
 * VM; must run before the first vCPU is created.  Prefers the ACQ_REL
 * variant.  Returns 0 or -errno (-EOPNOTSUPP if the kernel has no ring).
 */
int kvmig_enable_dirty_ring(int vm_fd, uint32_t entries);

/* ------------------------------------------------------ dirty-rate limit */

/*
 * A per-vCPU dirty-rate limit held by KVM (the kvmig KVM patch,
 * KVM_CAP_DIRTY_RATE_LIMIT, Documentation/kernel.rst): the vCPU may dirty at
 * most @bytes_per_sec (a page costs 4096 bytes however little of it is
 * written) and sleeps before entering the guest when it is in debt.  These
 * are for the VMM, which owns the vCPU fds.
 */
struct kvmig_dirty_limit {
	size_t sz;
	uint64_t bytes_per_sec;		/* 0: no limit */
	uint64_t burst_bytes;		/* 0: the kernel's default (100 ms) */
	/*
	 * > 0: IO-aware, a vCPU that is serving IO (a recent port IO or MMIO
	 * exit, a pending interrupt) sleeps at most this long at a time.
	 */
	uint32_t io_stall_max_us;
};

/*
 * Does the kernel hold dirty-rate limits?  > 0 (the KVM_DIRTY_RATE_LIMIT_*
 * flags it accepts), 0 if not (no patch, or kvm.dirty_rate_limit=N).
 */
int kvmig_dirty_limit_probe(int vm_fd);
/*
 * Set / read the limit of the vCPU behind @vcpu_fd.  Like every vCPU ioctl
 * this waits until the vCPU is out of KVM_RUN: call it from the vCPU's
 * thread, between runs.  0 or -errno: -EINVAL for a value out of range
 * (kvmig_dirty_limit_check()); a kernel without the limit answers as to any
 * unknown vCPU ioctl (-EINVAL on x86), so probe first;
 * -EOPNOTSUPP if it has the limit but kvm.dirty_rate_limit=N.
 */
int kvmig_dirty_limit_set(int vcpu_fd, const struct kvmig_dirty_limit *l);
int kvmig_dirty_limit_get(int vcpu_fd, struct kvmig_dirty_limit *l);
/*
 * The kernel's ranges, checked without a kernel: 0, or -EINVAL with a
 * sentence in @why.
 */
int kvmig_dirty_limit_check(const struct kvmig_dirty_limit *l, char *why,
			    size_t len);

/*
 * A vCPU's KVM binary statistics (KVM_GET_STATS_FD), read by name.  Open it
 * before the vCPU runs (the ioctl waits for KVM_RUN); reads work any time,
 * from any thread.
 */
struct kvmig_vcpu_stats;

struct kvmig_vcpu_stats *kvmig_vcpu_stats_open(int vcpu_fd);
void kvmig_vcpu_stats_free(struct kvmig_vcpu_stats *s);
/* 0, -ENOENT if this kernel has no statistic @name, or -errno. */
int kvmig_vcpu_stats_read(struct kvmig_vcpu_stats *s, const char *name,
			  uint64_t *value);

/* The dirty-rate limit's statistics of a vCPU (0 where the kernel lacks one). */
struct kvmig_vcpu_dirty_stats {
	size_t sz;
	uint64_t dirty_bytes;		/* dirtied in dirty-logged memory */
	uint64_t stalls;		/* sleeps for the limit */
	uint64_t stall_ns;		/* time in them */
	uint64_t stall_max_ns;		/* the longest */
	uint64_t io_shortened;		/* sleeps cut short for IO */
};
int kvmig_vcpu_dirty_stats(struct kvmig_vcpu_stats *s,
			   struct kvmig_vcpu_dirty_stats *st);

/* --------------------------------------------------------- VMM control link */

/*
 * A connection to a VMM's control socket (Documentation/control-protocol.rst).
 */
struct kvmig_vmm;

struct kvmig_vmm_opts {
	size_t sz;
	int timeout_ms;		/* per request; 0 = 60000 */
	kvmig_print_fn print;
	void *print_opaque;
};

struct kvmig_vmm *kvmig_vmm_connect(const char *path,
				    const struct kvmig_vmm_opts *opts);
void kvmig_vmm_close(struct kvmig_vmm *vmm);
/*
 * Send {"execute": @cmd, "arguments": @args_json} (@args_json may be NULL)
 * and wait for the answer.  On success *reply_json (if non-NULL) gets the
 * "return" value as a malloc'd JSON text.  A VMM error is -EREMOTEIO with
 * its description in kvmig_vmm_last_error().  Up to @max_fds fds passed
 * with the reply land in @fds, their count in *nr_fds.
 */
int kvmig_vmm_request(struct kvmig_vmm *vmm, const char *cmd,
		      const char *args_json, char **reply_json,
		      int *fds, unsigned int max_fds, unsigned int *nr_fds);
const char *kvmig_vmm_last_error(const struct kvmig_vmm *vmm);
/*
 * Ask the VMM for its RAM (get-fds) and map every slot into a new memmap.
 */
struct kvmig_memmap *kvmig_vmm_map_memory(struct kvmig_vmm *vmm);

/*
 * A dirty source driven over the control socket: the VMM runs @opts->backend
 * (auto by default) and shares the bitmap through a memfd.  @map must be
 * the VMM's RAM layout (kvmig_vmm_map_memory()).  Neither is owned.
 */
struct kvmig_dirty *kvmig_dirty_remote_new(struct kvmig_vmm *vmm,
					   const struct kvmig_memmap *map,
					   const struct kvmig_dirty_opts *opts);
/* The backend the VMM runs for a remote source. */
enum kvmig_dirty_backend kvmig_dirty_remote_backend(const struct kvmig_dirty *d);

/* -------------------------------------------------------------------- pages */

/* Is this 4 KiB page all zero?  Uses the widest SIMD the CPU has. */
bool kvmig_page_is_zero(const void *page);

/*
 * How pages with data are compressed on the wire
 * (Documentation/migration-stream.rst, "Encodings").  Whatever the codec,
 * zero pages travel as a flag and a page that does not compress below a
 * page goes raw.
 */
enum kvmig_codec {
	KVMIG_CODEC_NONE,	/* raw pages */
	KVMIG_CODEC_ZLIB,	/* level 1..9, default 1 */
	KVMIG_CODEC_ZSTD,	/* level 1..19, default 1 */
	KVMIG_CODEC_LZ4,	/* no levels */
	/*
	 * Per page, from a cheap compressibility estimate: raw, lz4 or zstd
	 * at an effort raised while the link is the bottleneck and lowered
	 * while the CPUs are; a level caps that effort (1..4, default 4).
	 */
	KVMIG_CODEC_AUTO,
	KVMIG_CODEC_NR,
};
/*
 * XBZRLE (Documentation/migration-stream.rst, "XBZRLE"): a page as its
 * difference to a previous version, in the encoding QEMU also uses.
 *
 * kvmig_xbzrle_encode() encodes @new_page against @old_page (4096 bytes
 * each) into @out, which has room for @limit bytes, with the widest SIMD
 * the CPU has.  Returns the length, 0 if the pages are equal, or -ENOSPC
 * if the encoding needs more than @limit bytes (XBZRLE does not pay off:
 * send the page some other way).
 *
 * kvmig_xbzrle_decode() applies @len bytes of encoding to @page (4096
 * bytes, the old version) in place.  Strict: the encoding is checked in
 * full before a byte is written, so on error (-EBADMSG, with a message in
 * @err if non-NULL) @page is unchanged.
 */
int kvmig_xbzrle_encode(const void *old_page, const void *new_page, void *out,
			size_t limit);
int kvmig_xbzrle_decode(const void *in, size_t len, void *page, char *err,
			size_t errlen);

/* "none", "zlib", "zstd", "lz4", "auto"; NULL if out of range */
const char *kvmig_codec_name(enum kvmig_codec codec);
/* "none", "zlib", ... -> *@codec; -EINVAL if unknown.  Since 0.3. */
int kvmig_codec_parse(const char *name, enum kvmig_codec *codec);
/*
 * The levels @codec takes: *@min..*@max, *@def when 0 is asked (each
 * pointer may be NULL); all three 0 if it takes none.  0, or -EINVAL for
 * a value out of range.  Since 0.3.
 */
int kvmig_codec_levels(enum kvmig_codec codec, int *min, int *max, int *def);
/* The codec called @name, or -EINVAL: 0.2's kvmig_codec_parse(). */
int kvmig_codec_from_name(const char *name);

/* ---------------------------------------------------------------- migration */

/*
 * Statistics of a migration, named after QEMU's query-migrate where a name
 * exists (kvmig_migration_stats_json() writes them under those names).
 * Bytes are wire bytes (after zero-page detection and encoding) unless
 * the name says otherwise.
 */
struct kvmig_migration_stats {
	/*
	 * Set by the caller to sizeof(struct kvmig_migration_stats) as it
	 * knows it; the library fills what fits (the struct grows at the
	 * end).  Callbacks get the library's own, complete copy.
	 */
	size_t sz;
	char status[16];		/* setup, active, committing, completed,
					 * failed, cancelled */
	char error[512];		/* why, when failed */
	uint64_t total_time_ms;		/* from start to completion (so far) */
	uint64_t setup_time_ms;		/* connecting, handshake, tracking on */
	uint64_t downtime_ms;		/* vCPUs stopped until the destination acked */
	/*
	 * The downtime a switchover would take now: the last pass's dirty
	 * set at its cost per page and rate, plus the switchover's fixed
	 * costs; during the first pass, the pages that pass has not reached
	 * at its cost and rate so far (0 until it has a rate).
	 */
	uint64_t expected_downtime_ms;
	struct {
		uint64_t transferred;	/* bytes on the wire, all channels */
		uint64_t remaining;	/* dirty bytes not yet sent (raw) */
		uint64_t total;		/* guest RAM bytes */
		uint64_t duplicate;	/* zero pages (sent as a flag) */
		uint64_t normal;	/* pages sent with data */
		uint64_t normal_bytes;	/* their raw size */
		uint64_t dirty_pages_rate;	/* pages/s, last pass */
		double mbps;		/* wire throughput, last pass, Mbit/s */
		uint64_t dirty_sync_count;
		uint64_t pages_per_second;	/* pages sent/s, last pass */
		uint64_t precopy_bytes;	/* wire bytes while the guest ran */
		uint64_t downtime_bytes;	/* wire bytes while it was stopped */
		uint64_t iterations;	/* passes over dirty memory */
	} ram;
	struct {
		bool done;
		uint64_t pages;		/* pages compared at switchover */
		uint64_t mismatches;
	} verify;
	char dirty_backend[16];
	uint32_t channels;
	/* how stop-and-copy was reached: "converged" (expected downtime fit the
	 * limit) or "forced" (max_iterations ran out); empty before */
	char switchover[16];

	/*
	 * The page pipeline (Documentation/libkvmig.rst, "Statistics").  On
	 * the destination, codec[] counts what was decoded and worker[] the
	 * receivers; busy and dispatches stay 0.
	 */
	struct {
		char codec_name[8];	/* as configured: none, zlib, ... auto */
		int level;		/* as configured, 0 = the codec's default */
		uint32_t workers;	/* active workers (<= channels) */
		uint32_t effort;	/* auto: the current effort, 1..4 */
		uint64_t zero_pages;	/* found zero by the SIMD scan */
		uint64_t dispatches;	/* batches handed to workers */
		uint64_t busy;		/* ... that found every ring full */
		double busy_rate;	/* busy / dispatches */
		uint64_t main_cpu_ns;	/* CPU time of the migration thread */
		struct kvmig_codec_stats {
			uint64_t pages;		/* pages given to the codec */
			uint64_t compressed;	/* of them, sent compressed */
			uint64_t raw_bytes;	/* their size, 4 KiB each */
			uint64_t wire_bytes;	/* what they took on the wire
						 * (raw fallbacks included) */
			uint64_t busy_ns;	/* time spent (de)compressing */
		} codec[KVMIG_CODEC_NR];	/* [AUTO] stays 0: its pages
						 * count under the codec used */
		struct kvmig_worker_stats {
			uint64_t pages;		/* pages it carried */
			uint64_t wire_bytes;	/* bytes it wrote (read) */
			uint64_t busy_ns;	/* encoding and sending */
			uint64_t wait_ns;	/* of busy_ns: waiting for the
						 * link (rate limit, full socket) */
			uint64_t cpu_ns;	/* its thread's CPU time */
			double cpu_util;	/* cpu_ns / the migration's time */
		} worker[64];
	} pipeline;
	/* XBZRLE, under QEMU's "xbzrle-cache" names (source side; the
	 * destination counts pages and bytes it applied) */
	struct {
		uint64_t cache_size;	/* bytes of pages the caches hold */
		uint64_t bytes;		/* XBZRLE-encoded bytes sent */
		uint64_t pages;		/* pages sent as XBZRLE */
		uint64_t cache_miss;	/* pages with data not in the cache */
		double cache_miss_rate;	/* cache_miss / pages looked up */
		double encoding_rate;	/* raw bytes of XBZRLE pages / bytes */
		uint64_t overflow;	/* cached, but the encoding was too big */
	} xbzrle;
	/*
	 * Convergence (source side): the policy, what it does now and why,
	 * under QEMU's names where they exist.
	 */
	struct {
		char policy[16];	/* as asked: auto, none, ... */
		char mechanism[16];	/* in use: none, dirty-limit,
					 * cpu-throttle */
		char decision[160];	/* the last pass's, a sentence */
		uint32_t cpu_throttle_percentage;	/* QEMU's name */
		/* QEMU's dirty-limit-throttle-time-per-round: microseconds
		 * the limited vCPUs slept during the last pass, summed */
		uint64_t dirty_limit_throttle_time_per_round;
		uint32_t passes_without_progress;
		uint32_t nr_vcpus;	/* entries of vcpu[] in use */
		struct kvmig_vcpu_converge {
			double dirty_rate;	/* bytes/s in the last pass */
			uint64_t limit;		/* bytes/s in force, 0 = none */
			double io_rate;		/* IO exits/s in the last pass */
			bool io;		/* counted as serving IO */
		} vcpu[64];
	} converge;
	/* The downtime, part by part, milliseconds (source side). */
	struct {
		uint64_t pause;		/* stopping the vCPUs */
		uint64_t sync;		/* the last dirty sync */
		uint64_t ram;		/* sending the remaining pages */
		uint64_t device;	/* the device state */
		uint64_t verify;	/* the page hashes (--verify) */
		uint64_t commit;	/* END .. COMPLETE .. GO .. STARTED */
	} downtime_parts;
	/*
	 * The pass under way (source side), pass ram.iterations: the pages
	 * it goes through, how many it has queued, and when it will end at
	 * its pace so far.  Between passes, the next pass with done = 0.
	 */
	struct {
		uint64_t pages;		/* dirty pages the pass sends */
		uint64_t done;		/* of them, handed to the workers */
		uint64_t elapsed_ms;	/* since the pass began */
		uint64_t eta_ms;	/* to its end at its pace; 0 = unknown */
	} pass;
	/*
	 * Of pipeline.worker[i].busy_ns, the time spent compressing.  On
	 * the source busy_ns = this + wait_ns (the link) + the rest (zero
	 * test, XBZRLE, copying, socket calls).  On the destination, the
	 * time decompressing, of busy_ns (handling frames), and wait_ns
	 * (waiting for data) is apart from busy_ns.
	 */
	uint64_t worker_codec_ns[64];
	/*
	 * The knobs in force (source side): what kvmig_migrate_opts asked,
	 * as the tune callback changed them since.
	 */
	struct {
		uint64_t max_bandwidth;		/* bytes/s, 0 = none */
		uint32_t downtime_limit_ms;
		uint32_t max_iterations;
		uint32_t throttle_initial;	/* percent */
		uint32_t throttle_increment;
		uint32_t throttle_max;
		bool io_aware;
		uint32_t io_stall_us;
	} params;
};

/*
 * Called after each pass and about every 100 ms during one; return
 * non-zero to cancel the migration.
 */
typedef int (*kvmig_progress_fn)(const struct kvmig_migration_stats *st,
				 void *opaque);

/*
 * Knobs that may change while a migration runs: the tune callback gets
 * the current values and may write new ones.  Invalid values (workers
 * outside 1..channels, a level out of range) are refused with a warning
 * and the previous value stays.
 */
struct kvmig_tunables {
	unsigned int workers;
	enum kvmig_codec codec;
	int level;
	uint64_t max_bandwidth;
	uint32_t downtime_limit_ms;	/* 1..3600000 */
	/*
	 * Convergence (struct kvmig_migrate_opts): the CPU throttle's
	 * initial, increment and cap (1 <= initial <= cap <= 99, increment
	 * 1..99; a cap lowered below the initial lowers the initial too,
	 * unless the same call changes it; a throttle in force above a
	 * lowered cap comes down at once), whether vCPUs that serve IO are
	 * spared, and their longest
	 * stall (1..1000000 us).  Added at the end: the library owns the
	 * struct, a callback built against a shorter one leaves these be.
	 */
	uint32_t throttle_initial;
	uint32_t throttle_increment;
	uint32_t throttle_max;
	bool no_io_aware;
	uint32_t io_stall_us;
	/*
	 * TLS 1.3 on every channel (since 0.4; Documentation/libkvmig.rst,
	 * "TLS"): @tls_creds is a directory holding ca-cert.pem,
	 * client-cert.pem and client-key.pem (x509), or keys.psk (PSK:
	 * "username:hexkey" lines, the first one's sent).  The destination's
	 * certificate must carry @tls_hostname (default: @host).  NULL:
	 * plaintext.
	 */
	const char *tls_creds;
	const char *tls_hostname;
};

/*
 * How a migration that does not converge slows the guest
 * (Documentation/design.rst, "Convergence"):
 *   none           never; switch over when the expected downtime fits, or
 *                  force (or fail, no_force) once passes stop shrinking the
 *                  dirty set or max_iterations ran out
 *   auto-converge  QEMU's: throttle every vCPU's CPU time, from
 *                  throttle_initial up by throttle_increment per pass that
 *                  makes no progress, never beyond throttle_max
 *   dirty-limit    per-vCPU byte-rate limits (the kernel's, or the VMM's)
 *                  on only the vCPUs that dirty too fast, so that the total
 *                  falls below what the link carries; IO-aware by default
 *   auto           dirty-limit if the VMM offers it, else auto-converge if
 *                  it offers that, else none
 */
enum kvmig_converge {
	KVMIG_CONVERGE_AUTO = 0,
	KVMIG_CONVERGE_NONE,
	KVMIG_CONVERGE_AUTO_CONVERGE,
	KVMIG_CONVERGE_DIRTY_LIMIT,
	KVMIG_CONVERGE_NR,
};

const char *kvmig_converge_name(enum kvmig_converge c);
/* "auto", "none", "auto-converge", "dirty-limit" -> c; -EINVAL if unknown */
int kvmig_converge_parse(const char *name, enum kvmig_converge *c);

struct kvmig_migrate_opts {
	size_t sz;
	unsigned int channels;		/* TCP connections, default 2 */
	uint64_t max_bandwidth;		/* wire bytes/s, 0 = unlimited */
	uint32_t downtime_limit_ms;	/* default 300 */
	uint32_t max_iterations;	/* passes before forcing, default 30 */
	enum kvmig_dirty_backend dirty_backend;	/* default auto */
	bool verify;			/* hash every page on both sides */
	int timeout_ms;			/* no progress for this long = failure,
					 * default 30000 */
	kvmig_progress_fn progress;
	void *progress_opaque;
	kvmig_print_fn print;
	void *print_opaque;
	bool no_force;			/* not converged after max_iterations:
					 * fail (-ETIME) instead of forcing */
	/*
	 * The page pipeline: @channels worker threads, each with its own TCP
	 * channel; @workers of them get pages (default all; fewer leaves
	 * cores to the guest and can be raised later through @tune).
	 */
	unsigned int workers;
	enum kvmig_codec codec;		/* default none */
	int level;			/* 0 = the codec's default */
	/* called with @progress on the migration thread; may change knobs */
	void (*tune)(struct kvmig_tunables *t, void *opaque);
	void *tune_opaque;
	/*
	 * XBZRLE: send pages that were sent before as their difference to
	 * the previous version, kept in a cache of @xbzrle_cache_size bytes
	 * (default 64 MiB) split between the workers.  An encoding of
	 * @xbzrle_threshold bytes or more (1..4096, default 4096) overflows:
	 * the page goes through @codec instead.
	 */
	bool xbzrle;
	uint64_t xbzrle_cache_size;
	uint32_t xbzrle_threshold;
	/*
	 * Convergence (enum kvmig_converge, default auto).  auto-converge:
	 * throttle_initial % (default 20) + throttle_increment % per pass
	 * without progress (default 10), never above throttle_max % (default
	 * 99).  dirty-limit: vCPUs that serve IO are spared, unless
	 * no_io_aware; if they must be limited, they stall at most
	 * io_stall_us at a time (default 2000).
	 */
	enum kvmig_converge converge;
	uint32_t throttle_initial;
	uint32_t throttle_increment;
	uint32_t throttle_max;
	bool no_io_aware;
	uint32_t io_stall_us;
	/*
	 * TLS 1.3 on every channel (since 0.4; Documentation/libkvmig.rst,
	 * "TLS"): @tls_creds is a directory holding ca-cert.pem,
	 * client-cert.pem and client-key.pem (x509), or keys.psk (PSK:
	 * "username:hexkey" lines, the first one's sent).  The destination's
	 * certificate must carry @tls_hostname (default: @host).  NULL:
	 * plaintext.
	 */
	const char *tls_creds;
	const char *tls_hostname;
};

/*
 * Migrate the VM behind @vmm to the destination listening at @host:@port.
 * On success (0) the source VM is left paused and the destination runs it.
 * On failure before the switchover commits (GO sent), the source VM runs
 * on (resumed if it was paused for the switchover); after it, the outcome
 * may be unknown and the VM stays paused (never two running copies: see
 * *stats->error).  *stats says why, and the return value is a negative
 * errno:
 * -ECONNREFUSED etc. from the network, -EPROTO/-EBADMSG for a stream the
 * destination refused or sent, -ECANCELED when cancelled, -ETIMEDOUT when
 * the peer went silent, -ETIME when it did not converge and no_force.
 */
int kvmig_migrate(struct kvmig_vmm *vmm, const char *host, const char *port,
		  const struct kvmig_migrate_opts *opts,
		  struct kvmig_migration_stats *stats);

/*
 * The destination listens: @host and @port are the listening socket's own
 * address, numeric ("127.0.0.1", "::", "40123"), so port "0" learns the
 * port the kernel chose.  A source may connect from now on.  Return 0, or
 * a negative errno to give up: kvmig_incoming() then fails with it.
 */
typedef int (*kvmig_listening_fn)(const char *host, const char *port,
				  void *opaque);

struct kvmig_incoming_opts {
	size_t sz;
	bool no_start;			/* leave the VM paused after success */
	int timeout_ms;			/* default 30000 */
	kvmig_progress_fn progress;
	void *progress_opaque;
	kvmig_print_fn print;
	void *print_opaque;
	kvmig_listening_fn listening;	/* once, on the calling thread */
	void *listening_opaque;
	/*
	 * TLS 1.3 on every channel (since 0.4): @tls_creds is a directory
	 * holding ca-cert.pem, server-cert.pem and server-key.pem (x509: the
	 * source must present a certificate the CA signed), or keys.psk.
	 * @tls_authz (x509 only, may be NULL: any certificate the CA signed):
	 * the source certificate's distinguished name (RFC 4514, as
	 * "CN=src,O=org"), or a file of such names, one a line.  NULL
	 * @tls_creds: plaintext.
	 */
	const char *tls_creds;
	const char *tls_authz;
};

/*
 * Listen at @host:@port (host may be NULL for any, port "0" for one the
 * kernel picks: see @opts->listening), receive one migration
 * into the (paused) VM behind @vmm, and start it.  On any error the stream
 * is refused with a message naming the frame and field, nothing is
 * started, and a negative errno is returned.
 */
int kvmig_incoming(struct kvmig_vmm *vmm, const char *host, const char *port,
		   const struct kvmig_incoming_opts *opts,
		   struct kvmig_migration_stats *stats);

/* The statistics as a JSON object text (malloc'd), QEMU's names. */
char *kvmig_migration_stats_json(const struct kvmig_migration_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* KVMIG_KVMIG_H */
