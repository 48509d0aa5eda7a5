// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the XBZRLE decoder (user/lib/xbzrle.c): an input is one
 * encoding, applied to a fixed page.  The decoder must accept it or refuse
 * it with -EBADMSG and a message, leaving the page untouched; it must never
 * write past the page (ASan) or misbehave (UBSan).  When it accepts, the
 * library's encoder, given the old and the decoded page, must produce an
 * encoding that decodes to the same page (the input need not be canonical,
 * so the bytes may differ).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/include/kvmig/kvmig.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *page = malloc(4096), *before = malloc(4096);
	char err[256] = "";
	unsigned int i;
	int r;

	if (!page || !before)
		abort();
	for (i = 0; i < 4096; i++)
		page[i] = (uint8_t)(i * 7);
	memcpy(before, page, 4096);
	r = kvmig_xbzrle_decode(data, size, page, err, sizeof(err));
	if (r && (r != -EBADMSG || !err[0] || memcmp(page, before, 4096)))
		abort();	/* a refusal names the fault, touches nothing */
	if (!r) {
		uint8_t *again = malloc(4096), *enc = malloc(8192);
		int n = enc && again ? kvmig_xbzrle_encode(before, page, enc, 8192) : -1;

		if (n < 0)
			abort();
		memcpy(again, before, 4096);
		if (kvmig_xbzrle_decode(enc, (size_t)n, again, NULL, 0) ||
		    memcmp(again, page, 4096))
			abort();
		free(again);
		free(enc);
	}
	free(page);
	free(before);
	return 0;
}

#ifndef KVMIG_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_xbzrle", CORPUS_DIR "/xbzrle");
}
#endif
