/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Page codecs behind one table (codec.c); internal to libkvmig.
 *
 * A codec turns one 4 KiB page into at most WIRE_PAGE_SIZE - 1 bytes or
 * declines (the page then travels raw), and turns those bytes back into
 * exactly one page or refuses them with a message naming the problem.
 * Each thread owns its own struct codec_ctx: no state is shared.
 */
#ifndef KVMIG_CODEC_H
#define KVMIG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "kvmig/kvmig.h"
#include "wire.h"

/* Worst case of any codec's output we accept to produce: below a page. */
#define CODEC_OUT_MAX	(WIRE_PAGE_SIZE - 1)

struct codec_ctx {
	z_stream def;		/* deflate, at def_level */
	int def_level;		/* 0: not initialised */
	z_stream inf;
	bool inf_ready;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
};

void codec_ctx_init(struct codec_ctx *c);
void codec_ctx_fini(struct codec_ctx *c);

/* The wire encoding of a codec (NONE -> RAW), and back. */
uint8_t codec_encoding(enum kvmig_codec codec);
enum kvmig_codec codec_of_encoding(uint8_t encoding);

/* Default level when 0 is asked; range of valid levels. */
int codec_default_level(enum kvmig_codec codec);
bool codec_level_ok(enum kvmig_codec codec, int level);

/*
 * Compress @page with @codec at @level into @out (CODEC_OUT_MAX bytes).
 * Returns the length (1..CODEC_OUT_MAX), 0 when it does not pay off
 * (output not below @limit bytes: send the page raw), or -errno.
 */
int codec_encode(struct codec_ctx *c, enum kvmig_codec codec, int level,
		 const uint8_t *page, uint8_t *out, uint32_t limit);

/*
 * Decode @len bytes of @encoding (ZLIB, ZSTD or LZ4) into @page, which
 * receives exactly WIRE_PAGE_SIZE bytes or is left with undefined content
 * on error.  Returns 0 or -EBADMSG with @err saying what is wrong.
 */
int codec_decode(struct codec_ctx *c, uint8_t encoding, const uint8_t *in,
		 uint32_t len, uint8_t *page, char *err, size_t errlen);

/*
 * A cheap compressibility estimate for the auto codec: distinct byte
 * values among 512 sampled bytes.  Text is well below 100, code and data
 * between, random data near 256 x (1 - e^-2) = 221.
 */
unsigned int codec_distinct_bytes(const uint8_t *page);

#endif /* KVMIG_CODEC_H */
