// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * lz4 pages: one lz4 block per page, no levels, no state.  The decoder
 * takes exactly one block that yields exactly one page.
 */
#include <errno.h>
#include <lz4.h>

#include "codec.h"

static int codec_lz4_encode(void *priv, int level, const uint8_t *page,
			    uint8_t *out, uint32_t limit)
{
	int n;

	(void)priv;
	(void)level;
	/* 0 when the block does not fit below the limit */
	n = LZ4_compress_default((const char *)page, (char *)out,
				 WIRE_PAGE_SIZE, (int)limit - 1);
	return n > 0 ? n : -ENOSPC;
}

static int codec_lz4_decode(void *priv, const uint8_t *in, uint32_t len,
			    uint8_t *page, char *err, size_t errlen)
{
	int n = LZ4_decompress_safe((const char *)in, (char *)page, (int)len,
				    WIRE_PAGE_SIZE);

	(void)priv;
	if (n < 0)
		return codec_err(err, errlen, "lz4: corrupt or truncated block "
				 "of %u bytes", len);
	if (n != WIRE_PAGE_SIZE)
		return codec_err(err, errlen, "lz4: block decodes to %d bytes, "
				 "not a page", n);
	return 0;
}

const struct codec_ops codec_lz4_ops = {
	.name = "lz4", .wire = WIRE_ENC_LZ4,
	.codec = KVMIG_CODEC_LZ4, .codec_name = "lz4",
	/* the auto ladder's first step: the cheapest that still compresses */
	.nr_auto = 1, .auto_levels = { 0 },
	.bounce = true,
	.encode = codec_lz4_encode, .decode = codec_lz4_decode,
};
