// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The page codecs: zlib, zstd and lz4 behind one table.  Every decoder is
 * strict: the input must be exactly one stream or frame or block of the
 * codec that yields exactly one page, with nothing left over; anything
 * else is refused with a message, never half-applied silently.
 */
#include <errno.h>
#include <lz4.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "codec.h"

#include <zstd_errors.h>

struct codec_info {
	const char *name;
	uint8_t encoding;
	int min_level, max_level, def_level;
};

static const struct codec_info codecs[KVMIG_CODEC_NR] = {
	[KVMIG_CODEC_NONE] = { "none", WIRE_ENC_RAW, 0, 0, 0 },
	[KVMIG_CODEC_ZLIB] = { "zlib", WIRE_ENC_ZLIB, 1, 9, 1 },
	[KVMIG_CODEC_ZSTD] = { "zstd", WIRE_ENC_ZSTD, 1, 19, 1 },
	[KVMIG_CODEC_LZ4] = { "lz4", WIRE_ENC_LZ4, 0, 0, 0 },
	/* its level caps the effort ladder (pipeline.c) */
	[KVMIG_CODEC_AUTO] = { "auto", WIRE_ENC_RAW, 1, 4, 4 },
};

KVMIG_EXPORT const char *kvmig_codec_name(enum kvmig_codec codec)
{
	return (unsigned int)codec < KVMIG_CODEC_NR ? codecs[codec].name : NULL;
}

KVMIG_EXPORT int kvmig_codec_from_name(const char *name)
{
	unsigned int i;

	for (i = 0; name && i < KVMIG_CODEC_NR; i++)
		if (!strcmp(name, codecs[i].name))
			return (int)i;
	return -EINVAL;
}

uint8_t codec_encoding(enum kvmig_codec codec)
{
	return codecs[codec].encoding;
}

enum kvmig_codec codec_of_encoding(uint8_t encoding)
{
	switch (encoding) {
	case WIRE_ENC_ZLIB:
		return KVMIG_CODEC_ZLIB;
	case WIRE_ENC_ZSTD:
		return KVMIG_CODEC_ZSTD;
	case WIRE_ENC_LZ4:
		return KVMIG_CODEC_LZ4;
	default:
		return KVMIG_CODEC_NONE;
	}
}

int codec_default_level(enum kvmig_codec codec)
{
	return codecs[codec].def_level;
}

bool codec_level_ok(enum kvmig_codec codec, int level)
{
	if ((unsigned int)codec >= KVMIG_CODEC_NR)
		return false;
	return !level || (level >= codecs[codec].min_level &&
			  level <= codecs[codec].max_level);
}

void codec_ctx_init(struct codec_ctx *c)
{
	memset(c, 0, sizeof(*c));
}

void codec_ctx_fini(struct codec_ctx *c)
{
	if (c->def_level)
		deflateEnd(&c->def);
	if (c->inf_ready)
		inflateEnd(&c->inf);
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	memset(c, 0, sizeof(*c));
}

static int zlib_encode(struct codec_ctx *c, int level, const uint8_t *page,
		       uint8_t *out, uint32_t limit)
{
	int r;

	if (c->def_level != level) {
		if (c->def_level)
			deflateEnd(&c->def);
		c->def_level = 0;
		memset(&c->def, 0, sizeof(c->def));
		/* a 4 KiB window is all a page needs; zlib header + adler32 */
		if (deflateInit2(&c->def, level, Z_DEFLATED, 12, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		c->def_level = level;
	} else if (deflateReset(&c->def) != Z_OK) {
		return -EIO;
	}
	c->def.next_in = (uint8_t *)page;
	c->def.avail_in = WIRE_PAGE_SIZE;
	c->def.next_out = out;
	c->def.avail_out = limit - 1;
	r = deflate(&c->def, Z_FINISH);
	if (r != Z_STREAM_END)
		return 0;	/* did not fit below the limit */
	return (int)(limit - 1 - c->def.avail_out);
}

static int zstd_encode(struct codec_ctx *c, int level, const uint8_t *page,
		       uint8_t *out, uint32_t limit)
{
	size_t n;

	if (!c->zc) {
		c->zc = ZSTD_createCCtx();
		if (!c->zc)
			return -ENOMEM;
	}
	n = ZSTD_compressCCtx(c->zc, out, limit - 1, page, WIRE_PAGE_SIZE, level);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
	return (int)n;
}

int codec_encode(struct codec_ctx *c, enum kvmig_codec codec, int level,
		 const uint8_t *page, uint8_t *out, uint32_t limit)
{
	if (limit > CODEC_OUT_MAX + 1)
		limit = CODEC_OUT_MAX + 1;
	if (limit < 2)
		return 0;
	if (!level)
		level = codecs[codec].def_level;
	switch (codec) {
	case KVMIG_CODEC_ZLIB:
		return zlib_encode(c, level, page, out, limit);
	case KVMIG_CODEC_ZSTD:
		return zstd_encode(c, level, page, out, limit);
	case KVMIG_CODEC_LZ4:
		/* 0 when the block does not fit below the limit */
		return LZ4_compress_default((const char *)page, (char *)out,
					    WIRE_PAGE_SIZE, (int)limit - 1);
	default:
		return 0;
	}
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int zlib_decode(struct codec_ctx *c, const uint8_t *in, uint32_t len,
		       uint8_t *page, char *err, size_t errlen)
{
	int r;

	if (!c->inf_ready) {
		if (inflateInit(&c->inf) != Z_OK)
			return bad(err, errlen, "zlib: out of memory");
		c->inf_ready = true;
	} else {
		inflateReset(&c->inf);
	}
	c->inf.next_in = (uint8_t *)in;
	c->inf.avail_in = len;
	c->inf.next_out = page;
	c->inf.avail_out = WIRE_PAGE_SIZE;
	r = inflate(&c->inf, Z_FINISH);
	if (r != Z_STREAM_END) {
		if (r == Z_BUF_ERROR && !c->inf.avail_out)
			return bad(err, errlen, "zlib: stream inflates to more "
				   "than a page");
		if (r == Z_BUF_ERROR)
			return bad(err, errlen, "zlib: stream truncated after %u "
				   "bytes (%u of %u page bytes)", len,
				   WIRE_PAGE_SIZE - c->inf.avail_out, WIRE_PAGE_SIZE);
		return bad(err, errlen, "zlib: %s", c->inf.msg ? c->inf.msg :
			   "corrupt stream");
	}
	if (c->inf.avail_out)
		return bad(err, errlen, "zlib: stream inflates to %u bytes, not "
			   "a page", WIRE_PAGE_SIZE - c->inf.avail_out);
	if (c->inf.avail_in)
		return bad(err, errlen, "zlib: %u bytes after the end of the "
			   "stream", c->inf.avail_in);
	return 0;
}

static int zstd_decode(struct codec_ctx *c, const uint8_t *in, uint32_t len,
		       uint8_t *page, char *err, size_t errlen)
{
	unsigned long long size;
	size_t n;

	n = ZSTD_findFrameCompressedSize(in, len);
	if (ZSTD_isError(n))
		return bad(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
	if (n != len)
		return bad(err, errlen, "zstd: %llu bytes after the frame",
			   (unsigned long long)(len - n));
	size = ZSTD_getFrameContentSize(in, len);
	if (size != WIRE_PAGE_SIZE)
		return bad(err, errlen, "zstd: frame content size %s%llu, not a page",
			   size == ZSTD_CONTENTSIZE_UNKNOWN ? "unknown " : "",
			   size >= ZSTD_CONTENTSIZE_ERROR ? 0 : size);
	if (!c->zd) {
		c->zd = ZSTD_createDCtx();
		if (!c->zd)
			return bad(err, errlen, "zstd: out of memory");
	}
	n = ZSTD_decompressDCtx(c->zd, page, WIRE_PAGE_SIZE, in, len);
	if (ZSTD_isError(n))
		return bad(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
	if (n != WIRE_PAGE_SIZE)
		return bad(err, errlen, "zstd: frame decodes to %zu bytes, not a "
			   "page", n);
	return 0;
}

static int lz4_decode(const uint8_t *in, uint32_t len, uint8_t *page,
		      char *err, size_t errlen)
{
	int n = LZ4_decompress_safe((const char *)in, (char *)page, (int)len,
				    WIRE_PAGE_SIZE);

	if (n < 0)
		return bad(err, errlen, "lz4: corrupt or truncated block of %u "
			   "bytes", len);
	if (n != WIRE_PAGE_SIZE)
		return bad(err, errlen, "lz4: block decodes to %d bytes, not a "
			   "page", n);
	return 0;
}

int codec_decode(struct codec_ctx *c, uint8_t encoding, const uint8_t *in,
		 uint32_t len, uint8_t *page, char *err, size_t errlen)
{
	if (!len || len > CODEC_OUT_MAX)
		return bad(err, errlen, "%u bytes: a compressed page is 1..%u",
			   len, CODEC_OUT_MAX);
	switch (encoding) {
	case WIRE_ENC_ZLIB:
		return zlib_decode(c, in, len, page, err, errlen);
	case WIRE_ENC_ZSTD:
		return zstd_decode(c, in, len, page, err, errlen);
	case WIRE_ENC_LZ4:
		return lz4_decode(in, len, page, err, errlen);
	default:
		return bad(err, errlen, "encoding %u is not a codec", encoding);
	}
}

unsigned int codec_distinct_bytes(const uint8_t *page)
{
	uint64_t seen[4] = { 0 };
	unsigned int i;

	for (i = 0; i < WIRE_PAGE_SIZE; i += 8)
		seen[page[i] >> 6] |= 1ULL << (page[i] & 63);
	return (unsigned int)(__builtin_popcountll(seen[0]) +
			      __builtin_popcountll(seen[1]) +
			      __builtin_popcountll(seen[2]) +
			      __builtin_popcountll(seen[3]));
}
