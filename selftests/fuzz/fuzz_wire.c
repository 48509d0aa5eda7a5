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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
static unsigned long runs;

static void run(const uint8_t *p, size_t n)
{
	LLVMFuzzerTestOneInput(p, n);
	runs++;
}

/* Deterministic mutations of one input. */
static void mutate_all(const uint8_t *in, size_t n)
{
	uint8_t *m = malloc(n + 64);
	size_t i;
	unsigned int bit;

	if (!m)
		abort();
	run(in, n);
	for (i = 0; i <= n; i += (n / 64) + 1)		/* truncations */
		run(in, i);
	for (i = 0; i < n; i++) {			/* bit flips */
		for (bit = 0; bit < 8; bit += (i < 64 ? 1 : 7)) {
			memcpy(m, in, n);
			m[i] ^= (uint8_t)(1u << bit);
			run(m, n);
		}
	}
	for (i = 8; i + 4 <= n && i < 96; i += 4) {	/* length-ish fields */
		static const uint32_t vals[] = { 0, 1, 0xffffffffU, 0x7fffffffU,
						 4096, 4095, 4097, 16 };
		unsigned int k;

		for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			memcpy(m, in, n);
			put_u32(m + i, vals[k]);
			run(m, n);
		}
	}
	memcpy(m, in, n);				/* trailing bytes */
	memset(m + n, 0xa5, 64);
	run(m, n + 64);
	free(m);
}

int main(int argc, char **argv)
{
	const char *dflt[] = { argv[0], CORPUS_DIR "/wire" };
	unsigned int files = 0;
	int i;

	if (argc < 2) {		/* make check: the corpus in the tree */
		argc = 2;
		argv = (char **)dflt;
	}
	for (i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (!d) {
			fprintf(stderr, "fuzz_wire: %s: cannot open\n", argv[i]);
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];
			FILE *f;
			uint8_t *buf;
			long len;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			f = fopen(path, "rb");
			if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0) {
				fprintf(stderr, "fuzz_wire: %s: unreadable\n", path);
				return 1;
			}
			rewind(f);
			buf = malloc((size_t)len + 1);
			if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
				return 1;
			fclose(f);
			mutate_all(buf, (size_t)len);
			free(buf);
			files++;
		}
		closedir(d);
	}
	printf("TAP version 13\n1..1\n");
	if (!files) {
		printf("not ok 1 fuzz_wire: empty corpus\n");
		return 1;
	}
	printf("ok 1 fuzz_wire: %u corpus files, %lu inputs decoded without a "
	       "sanitizer report\n", files, runs);
	return 0;
}
#endif
