// SPDX-License-Identifier: GPL-2.0
/*
 * The corpus replayer every fuzz target also builds with (see fuzz.h):
 * each corpus file, then a fixed set of deterministic mutations of it
 * (truncations, bit flips, length-field edits, trailing bytes), through
 * LLVMFuzzerTestOneInput, under the build's sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

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
			memcpy(m + i, &vals[k], 4);	/* little-endian host */
			run(m, n);
		}
	}
	memcpy(m, in, n);				/* trailing bytes */
	memset(m + n, 0xa5, 64);
	run(m, n + 64);
	free(m);
}

int fuzz_replay_main(int argc, char **argv, const char *name,
		      const char *corpus)
{
	const char *dflt[] = { argv[0], corpus };
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
			fprintf(stderr, "%s: %s: cannot open\n", name, argv[i]);
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
				fprintf(stderr, "%s: %s: unreadable\n", name, path);
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
		printf("not ok 1 %s: empty corpus\n", name);
		return 1;
	}
	printf("ok 1 %s: %u corpus files, %lu inputs decoded without a "
	       "sanitizer report\n", name, files, runs);
	return 0;
}
