/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * How a page travels: one table of encodings (codec.c), one row per wire
 * encoding, and the two functions that use it, page_encode() on the
 * source's workers and page_apply() on the destination's receivers;
 * internal to libkvmig.
 *
 * A row says the encoding's name, wire id, the public codec it implements
 * (if any), its levels, the steps the auto codec takes with it, and how to
 * make its per-thread state, encode and decode.  Zero, raw and XBZRLE are
 * rows like the compressors; each external compressor lives in a file of
 * its own (codec_zlib.c, codec_zstd.c, codec_lz4.c).
 *
 * Adding a compressor: its wire id (wire.h, enum wire_encoding), its public
 * value (kvmig.h, enum kvmig_codec), one file codec_NAME.c that defines
 * codec_NAME_ops, and one row in codec.c's table.  The CLI's names and
 * level ranges, the auto ladder and the decode dispatch follow the table.
 *
 * Each thread owns its own struct codec_ctx: no state is shared.
 */
#ifndef KVMIG_CODEC_H
#define KVMIG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmig/kvmig.h"
#include "simd.h"
#include "xbzrle.h"
#include "wire.h"
#include "xcache.h"

/* Worst case of any codec's output we accept to produce: below a page. */
#define CODEC_OUT_MAX	(WIRE_PAGE_SIZE - 1)
/* The auto codec's ladder has at most this many steps (codec_auto_steps()). */
#define CODEC_AUTO_MAX	8

struct codec_ops {
	const char *name;		/* the encoding's, on the wire and in messages */
	uint8_t wire;			/* enum wire_encoding */
	/*
	 * The public codec this row implements (kvmig_codec_name() is
	 * @codec_name), or KVMIG_CODEC_NR for the encodings no one picks by
	 * name: zero (the zero test picks it) and XBZRLE (--xbzrle does).
	 */
	enum kvmig_codec codec;
	const char *codec_name;
	int min_level, max_level, def_level;	/* all 0: it takes no level */
	/* the auto codec's steps with this encoding, cheapest first, by level */
	unsigned int nr_auto;
	int auto_levels[3];
	/* decode() may leave @page half written on error: decode into a
	 * bounce page, so a bad entry never reaches guest memory */
	bool bounce;

	/* per-thread state, made at first use; both NULL if it needs none */
	void *(*ctx_new)(void);
	void (*ctx_free)(void *priv);
	/*
	 * @page into @out (room for @limit bytes), at @level (never 0: the
	 * caller gives def_level): the length, -ENOSPC if the encoding does
	 * not fit in @limit - 1 bytes (the page does not pay off: send it
	 * another way), or another -errno.  NULL for zero and XBZRLE, which
	 * page_encode() runs itself (the zero test, the cached old page).
	 */
	int (*encode)(void *priv, int level, const uint8_t *page, uint8_t *out,
		      uint32_t limit);
	/*
	 * @len bytes into @page, which holds the destination's version (XBZRLE
	 * encodes against it): 0, or -EBADMSG with @err saying what is wrong.
	 * Strict: exactly one page, nothing left over.  @len was checked
	 * against the encoding's lengths by wire_pages_next().
	 */
	int (*decode)(void *priv, const uint8_t *in, uint32_t len, uint8_t *page,
		      char *err, size_t errlen);
};

extern const struct codec_ops codec_zlib_ops;
extern const struct codec_ops codec_zstd_ops;
extern const struct codec_ops codec_lz4_ops;

/* The row of wire encoding @wire, or NULL if there is none. */
const struct codec_ops *codec_by_wire(unsigned int wire);
/* The row of public codec @codec (NONE: raw), or NULL (AUTO, out of range). */
const struct codec_ops *codec_by_codec(enum kvmig_codec codec);

/* The wire encoding of a codec (NONE -> RAW), and back (not a codec: NONE). */
uint8_t codec_encoding(enum kvmig_codec codec);
enum kvmig_codec codec_of_encoding(uint8_t encoding);

/* Default level when 0 is asked; range of valid levels (0 always is). */
int codec_default_level(enum kvmig_codec codec);
bool codec_level_ok(enum kvmig_codec codec, int level);

/*
 * The auto codec's ladder, from the table's auto_levels: the number of
 * steps, and step @effort (1..steps), cheapest first.
 */
unsigned int codec_auto_steps(void);
const struct codec_ops *codec_auto_step(unsigned int effort, int *level);
/* The wire encodings the auto ladder may send, as HELLO's codec bits. */
uint32_t codec_auto_encodings(void);

struct codec_ctx {
	void *priv[WIRE_ENC_NR];	/* each row's state, made at first use */
};

void codec_ctx_init(struct codec_ctx *c);
void codec_ctx_fini(struct codec_ctx *c);

/*
 * Compress @page with @codec (not AUTO) at @level (0: its default) into
 * @out (CODEC_OUT_MAX bytes).  Returns the length (1..CODEC_OUT_MAX), 0
 * when it does not pay off (output not below @limit bytes: send the page
 * raw), or -errno.
 */
int codec_encode(struct codec_ctx *c, enum kvmig_codec codec, int level,
		 const uint8_t *page, uint8_t *out, uint32_t limit);

/*
 * Decode @len bytes of a compressed @encoding (zlib, zstd, lz4) into
 * @page, which receives exactly WIRE_PAGE_SIZE bytes or is left with
 * undefined content on error.  Returns 0 or -EBADMSG with @err saying
 * what is wrong.
 */
int codec_decode(struct codec_ctx *c, uint8_t encoding, const uint8_t *in,
		 uint32_t len, uint8_t *page, char *err, size_t errlen);

/* Format @err (if non-NULL) and return -EBADMSG: the decoders' refusal. */
int codec_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A cheap compressibility estimate for the auto codec: distinct byte
 * values among 512 sampled bytes.  Text is well below 100, code and data
 * between, random data near 256 x (1 - e^-2) = 221.
 */
unsigned int codec_distinct_bytes(const uint8_t *page);

/* ---- per page: what both ends count, what the source sends, what the
 * destination applies ---- */

/*
 * The counters of one thread's pages, a source worker's or a destination
 * receiver's: written by that thread only, read by others with STAT_GET
 * (page_stats_add()).
 */
struct page_counters {
	uint64_t zero;		/* zero entries (the source's holes too) */
	uint64_t zero_found;	/* source: of them, found by the zero test */
	uint64_t normal;	/* pages with data */
	struct kvmig_codec_stats codec[KVMIG_CODEC_NR];
	/* XBZRLE: sent or applied, their bytes; source: no cached page,
	 * a difference too big */
	uint64_t xb_pages, xb_bytes, xb_miss, xb_overflow;
};

/* Zero what page_stats_add() sums in @st; then add each thread's ... */
void page_stats_begin(struct kvmig_migration_stats *st);
/* ... counters @c, thread @i's (its codec time in worker_codec_ns[@i]) ... */
void page_stats_add(struct kvmig_migration_stats *st,
		    const struct page_counters *c, unsigned int i);
/* ... and derive the sizes and rates. */
void page_stats_end(struct kvmig_migration_stats *st);

/* What the source sends a page as: set by the migration, read per job. */
struct page_policy {
	enum kvmig_codec codec;
	int level;
	unsigned int effort;	/* auto: the ladder's step, 1..steps */
};

/* A source worker's encoder. */
struct page_enc {
	struct codec_ctx ctx;
	struct page_counters st;
	kvmig_zero_fn is_zero;
	/* XBZRLE, if @xc: the encoder, a difference must stay below @xb_limit
	 * bytes, and @snap holds the page as sent */
	struct xcache *xc;
	kvmig_xbzrle_fn xbzrle;
	uint32_t xb_limit;
	uint8_t *snap;
};

/*
 * Encode page @index at @page (NULL: a hole, which reads as zero) into
 * @out (room for a page) by @pol: returns its wire encoding with *@len,
 * or -errno with @err saying why.  With XBZRLE the page is copied first
 * (the guest may write it meanwhile) and the copy, exactly what goes out,
 * becomes the cached version.
 */
int page_encode(struct page_enc *e, const struct page_policy *pol,
		uint64_t index, const uint8_t *page, uint8_t *out,
		uint32_t *len, char *err, size_t errlen);

/* A destination receiver's decoder. */
struct page_dec {
	struct codec_ctx ctx;
	struct page_counters st;
	uint8_t bounce[WIRE_PAGE_SIZE] __attribute__((aligned(64)));
};

/*
 * Apply one PAGES entry to @page, the guest's page: 0, or -EBADMSG with
 * @err saying why, and @page untouched (decoders that may fail half way
 * decode into the bounce page first).
 */
int page_apply(struct page_dec *d, const struct wire_page *pg, uint8_t *page,
	       char *err, size_t errlen);

#endif /* KVMIG_CODEC_H */
