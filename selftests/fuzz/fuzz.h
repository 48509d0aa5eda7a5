/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz targets are built two ways (see the Makefile):
 *  - with libFuzzer (make fuzz, clang -fsanitize=fuzzer): explore;
 *  - as a plain program whose main() calls fuzz_replay_main() (replay.c)
 *    to replay a corpus directory with deterministic mutations: this is
 *    what make check runs.
 */
#ifndef KVMIG_FUZZ_H
#define KVMIG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay the directories in argv (default @corpus); prints TAP, returns
 * the exit code. */
int fuzz_replay_main(int argc, char **argv, const char *name,
		     const char *corpus);

#endif /* KVMIG_FUZZ_H */
