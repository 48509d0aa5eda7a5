// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * zstd pages: one zstd frame per page, its content size 4096.  The
 * decoder takes exactly one frame that says and yields exactly one page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"

struct codec_zstd {
	ZSTD_CCtx *zc;		/* each made at its first use */
	ZSTD_DCtx *zd;
};

static void *codec_zstd_new(void)
{
	return calloc(1, sizeof(struct codec_zstd));
}

static void codec_zstd_free(void *priv)
{
	struct codec_zstd *z = priv;

	ZSTD_freeCCtx(z->zc);
	ZSTD_freeDCtx(z->zd);
	free(z);
}

static int codec_zstd_encode(void *priv, int level, const uint8_t *page,
			     uint8_t *out, uint32_t limit)
{
	struct codec_zstd *z = priv;
	size_t n;

	if (!z->zc) {
		z->zc = ZSTD_createCCtx();
		if (!z->zc)
			return -ENOMEM;
	}
	n = ZSTD_compressCCtx(z->zc, out, limit - 1, page, WIRE_PAGE_SIZE, level);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ?
		       -ENOSPC : -EIO;
	return (int)n;
}

static int codec_zstd_decode(void *priv, const uint8_t *in, uint32_t len,
			     uint8_t *page, char *err, size_t errlen)
{
	struct codec_zstd *z = priv;
	unsigned long long size;
	size_t n;

	n = ZSTD_findFrameCompressedSize(in, len);
	if (ZSTD_isError(n))
		return codec_err(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
	if (n != len)
		return codec_err(err, errlen, "zstd: %llu bytes after the "
				 "frame", (unsigned long long)(len - n));
	size = ZSTD_getFrameContentSize(in, len);
	if (size != WIRE_PAGE_SIZE)
		return codec_err(err, errlen, "zstd: frame content size "
				 "%s%llu, not a page",
				 size == ZSTD_CONTENTSIZE_UNKNOWN ? "unknown " : "",
				 size >= ZSTD_CONTENTSIZE_ERROR ? 0 : size);
	if (!z->zd) {
		z->zd = ZSTD_createDCtx();
		if (!z->zd)
			return codec_err(err, errlen, "zstd: out of memory");
	}
	n = ZSTD_decompressDCtx(z->zd, page, WIRE_PAGE_SIZE, in, len);
	if (ZSTD_isError(n))
		return codec_err(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
	if (n != WIRE_PAGE_SIZE)
		return codec_err(err, errlen, "zstd: frame decodes to %zu "
				 "bytes, not a page", n);
	return 0;
}

const struct codec_ops codec_zstd_ops = {
	.name = "zstd", .wire = WIRE_ENC_ZSTD,
	.codec = KVMIG_CODEC_ZSTD, .codec_name = "zstd",
	.min_level = 1, .max_level = 19, .def_level = 1,
	/* the auto ladder's upper steps: more effort while the link is short */
	.nr_auto = 3, .auto_levels = { 1, 3, 6 },
	.bounce = true,
	.ctx_new = codec_zstd_new, .ctx_free = codec_zstd_free,
	.encode = codec_zstd_encode, .decode = codec_zstd_decode,
};
