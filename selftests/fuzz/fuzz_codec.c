// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the page decoders (user/lib/codec.c): the first byte of
 * an input picks the encoding (zlib, zstd, lz4), the rest is the entry's
 * data.  A decoder must refuse with a message or produce exactly one page;
 * it must never write past the page (ASan) or misbehave (UBSan).
 *
 * "test_fuzz_codec --make-corpus DIR" writes the seed corpus: real
 * encodings of text, binary and sparse pages by each codec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/lib/codec.h"
#include "fuzz.h"

static const uint8_t encodings[] = { WIRE_ENC_ZLIB, WIRE_ENC_ZSTD, WIRE_ENC_LZ4 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct codec_ctx c;	/* reused, as a receiver does */
	uint8_t *page;
	char err[256];
	int r;

	if (size < 1 || size - 1 > UINT32_MAX)
		return 0;
	page = malloc(WIRE_PAGE_SIZE);	/* exactly a page: overruns show */
	if (!page)
		abort();
	r = codec_decode(&c, encodings[data[0] % sizeof(encodings)], data + 1,
			 (uint32_t)(size - 1), page, err, sizeof(err));
	if (r && (r != -EBADMSG || !err[0]))
		abort();	/* refusals are -EBADMSG with a message */
	free(page);
	return 0;
}

#ifndef KVMIG_LIBFUZZER
static int make_corpus(const char *dir)
{
	static const enum kvmig_codec codecs[] = {
		KVMIG_CODEC_ZLIB, KVMIG_CODEC_ZSTD, KVMIG_CODEC_LZ4,
	};
	struct codec_ctx c;
	uint8_t page[WIRE_PAGE_SIZE], out[WIRE_PAGE_SIZE + 1];
	unsigned int i, k;

	codec_ctx_init(&c);
	for (i = 0; i < 3; i++) {
		for (k = 0; k < 3; k++) {
			char path[512];
			unsigned int j;
			FILE *f;
			int n;

			for (j = 0; j < WIRE_PAGE_SIZE; j++)
				page[j] = k == 0 ? (uint8_t)("kvmig text page "[j % 16]) :
					  k == 1 ? (uint8_t)(j * 2654435761U >> 24) % 7 :
					  (uint8_t)(j % 511 ? 0 : j);
			n = codec_encode(&c, codecs[i], 0, page, out + 1, WIRE_PAGE_SIZE);
			if (n <= 0)
				return 1;
			out[0] = (uint8_t)i;
			snprintf(path, sizeof(path), "%s/%s_%s", dir,
				 kvmig_codec_name(codecs[i]),
				 k == 0 ? "text" : k == 1 ? "binary" : "sparse");
			f = fopen(path, "wb");
			if (!f || fwrite(out, 1, (size_t)n + 1, f) != (size_t)n + 1 ||
			    fclose(f))
				return 1;
		}
	}
	codec_ctx_fini(&c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--make-corpus"))
		return make_corpus(argv[2]);
	return fuzz_replay_main(argc, argv, "fuzz_codec", CORPUS_DIR "/codec");
}
#endif
