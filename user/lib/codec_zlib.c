// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * zlib pages: one zlib stream (RFC 1950) per page, a 4 KiB window.  The
 * decoder takes exactly one stream that inflates to exactly one page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec.h"

struct codec_zlib {
	z_stream def;		/* deflate, at def_level */
	int def_level;		/* 0: not initialised */
	z_stream inf;
	bool inf_ready;
};

static void *codec_zlib_new(void)
{
	return calloc(1, sizeof(struct codec_zlib));
}

static void codec_zlib_free(void *priv)
{
	struct codec_zlib *z = priv;

	if (z->def_level)
		deflateEnd(&z->def);
	if (z->inf_ready)
		inflateEnd(&z->inf);
	free(z);
}

static int codec_zlib_encode(void *priv, int level, const uint8_t *page,
			     uint8_t *out, uint32_t limit)
{
	struct codec_zlib *z = priv;

	if (z->def_level != level) {
		if (z->def_level)
			deflateEnd(&z->def);
		z->def_level = 0;
		memset(&z->def, 0, sizeof(z->def));
		/* a 4 KiB window is all a page needs; zlib header + adler32 */
		if (deflateInit2(&z->def, level, Z_DEFLATED, 12, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		z->def_level = level;
	} else if (deflateReset(&z->def) != Z_OK) {
		return -EIO;
	}
	z->def.next_in = (uint8_t *)page;
	z->def.avail_in = WIRE_PAGE_SIZE;
	z->def.next_out = out;
	z->def.avail_out = limit - 1;
	if (deflate(&z->def, Z_FINISH) != Z_STREAM_END)
		return -ENOSPC;		/* did not fit below the limit */
	return (int)(limit - 1 - z->def.avail_out);
}

static int codec_zlib_decode(void *priv, const uint8_t *in, uint32_t len,
			     uint8_t *page, char *err, size_t errlen)
{
	struct codec_zlib *z = priv;
	int r;

	if (!z->inf_ready) {
		if (inflateInit(&z->inf) != Z_OK)
			return codec_err(err, errlen, "zlib: out of memory");
		z->inf_ready = true;
	} else {
		inflateReset(&z->inf);
	}
	z->inf.next_in = (uint8_t *)in;
	z->inf.avail_in = len;
	z->inf.next_out = page;
	z->inf.avail_out = WIRE_PAGE_SIZE;
	r = inflate(&z->inf, Z_FINISH);
	if (r != Z_STREAM_END) {
		if (r == Z_BUF_ERROR && !z->inf.avail_out)
			return codec_err(err, errlen, "zlib: stream inflates "
					 "to more than a page");
		if (r == Z_BUF_ERROR)
			return codec_err(err, errlen, "zlib: stream truncated "
					 "after %u bytes (%u of %u page bytes)",
					 len, WIRE_PAGE_SIZE - z->inf.avail_out,
					 WIRE_PAGE_SIZE);
		return codec_err(err, errlen, "zlib: %s",
				 z->inf.msg ? z->inf.msg : "corrupt stream");
	}
	if (z->inf.avail_out)
		return codec_err(err, errlen, "zlib: stream inflates to %u "
				 "bytes, not a page",
				 WIRE_PAGE_SIZE - z->inf.avail_out);
	if (z->inf.avail_in)
		return codec_err(err, errlen, "zlib: %u bytes after the end "
				 "of the stream", z->inf.avail_in);
	return 0;
}

const struct codec_ops codec_zlib_ops = {
	.name = "zlib", .wire = WIRE_ENC_ZLIB,
	.codec = KVMIG_CODEC_ZLIB, .codec_name = "zlib",
	.min_level = 1, .max_level = 9, .def_level = 1,
	/* none on the auto ladder: zstd compresses better, faster */
	.bounce = true,
	.ctx_new = codec_zlib_new, .ctx_free = codec_zlib_free,
	.encode = codec_zlib_encode, .decode = codec_zlib_decode,
};
