// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the migration stream decoders (user/lib/wire.c): one
 * input is one frame, header then payload.  Every parser must either
 * accept or refuse with a message; ASan/UBSan catch anything else.
 *
 * Built two ways (see the Makefile):
 *  - with libFuzzer (make fuzz, clang -fsanitize=fuzzer): explore;
 *  - as a plain program that replays a corpus directory and, for each
 *    file, a fixed set of deterministic mutations (truncations, bit
 *    flips, length-field edits) — this is what make check runs.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/lib/wire.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_hello hello;
	struct wire_pages_iter it;
	struct wire_page pg;
	struct wire_hdr h;
	char err[512];
	uint64_t sum = 0;
	int r;

	if (size < WIRE_HDR_SIZE)
		return 0;
	if (wire_get_hdr(data, &h, err, sizeof(err)))
		return 0;
	if (h.len > size - WIRE_HDR_SIZE)
		return 0;	/* a real reader would wait for more bytes */
	data += WIRE_HDR_SIZE;
	switch (h.type) {
	case WIRE_HELLO:
		wire_get_hello(data, h.len, &hello, err, sizeof(err));
		break;
	case WIRE_PAGES:
		if (wire_pages_begin(&it, data, h.len, err, sizeof(err)))
			break;
		while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0) {
			/* touch the data the parser vouched for */
			if (pg.len)
				sum += pg.data[0] + pg.data[pg.len - 1];
		}
		break;
	default:
		break;
	}
	return (int)(sum & 0);
}

#ifndef KVMIG_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_wire", CORPUS_DIR "/wire");
}
#endif
