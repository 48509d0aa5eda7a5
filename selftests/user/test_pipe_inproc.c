// SPDX-License-Identifier: GPL-2.0
/*
 * The source pipeline in one process, deterministically (no VM, no
 * timing): a region of "guest" pages goes through the real pipeline
 * (pipeline.c) over socketpairs to receiver threads that apply every
 * entry to a mirror, as the destination does.  Between passes the test
 * rewrites pages (one word, a few bytes, all of it, zeroes it) and sends
 * exactly the pages it changed; it changes the number of active workers
 * between passes and in the middle of them.  After every pass the mirror
 * must equal the region byte for byte.
 *
 * Run with XBZRLE (both cache policies, with a threshold that makes some
 * pages overflow into lz4) and without: checks that pages change owners
 * safely (stale cache entries would corrupt the mirror), that XBZRLE is
 * really used, and that ITER_END reaches every channel once per pass.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/codec.h"
#include "../../user/lib/pipeline.h"

#define PAGES	2048
#define PAGE	4096
#define NR_CH	3

static uint64_t rng = 0xdeadbeefcafef00dULL;

static uint64_t next(void)
{
	return test_xorshift(&rng);
}

struct rx {
	struct chan c;
	pthread_t thread;
	uint8_t *mirror;
	uint64_t mirror_size;
	uint32_t passes;	/* ITER_ENDs seen (atomic) */
	uint64_t xbzrle, bad;
	char err[256];
};

static void *rx_main(void *arg)
{
	struct rx *rx = arg;
	struct page_dec *dec = aligned_alloc(64, sizeof(*dec));
	char err[256];

	TEST_ASSERT(dec, "allocating a decoder");
	memset(dec, 0, sizeof(*dec));
	codec_ctx_init(&dec->ctx);
	for (;;) {
		struct wire_pages_iter it;
		struct wire_page pg;
		struct wire_hdr h;
		int r;

		if (chan_recv(&rx->c, &h, err, sizeof(err)))
			break;	/* closed: the test is over */
		if (h.type == WIRE_ITER_END) {
			__atomic_add_fetch(&rx->passes, 1, __ATOMIC_RELEASE);
			continue;
		}
		if (h.type != WIRE_PAGES ||
		    wire_pages_begin(&it, rx->c.rx, h.len, err, sizeof(err))) {
			rx->bad++;
			continue;
		}
		while ((r = wire_pages_next(&it, &pg, err, sizeof(err))) > 0) {
			uint8_t *dst = rx->mirror + pg.gpa;

			if (pg.encoding == WIRE_ENC_XBZRLE)
				rx->xbzrle++;
			if (pg.encoding == WIRE_ENC_ZERO_RUN) {
				/* the destination punches it; here: zeroes */
				if (pg.gpa + pg.pages * PAGE > rx->mirror_size)
					rx->bad++;
				else
					memset(dst, 0, pg.pages * PAGE);
				continue;
			}
			/* the destination's own decoder, on the mirror */
			if (page_apply(dec, &pg, dst, err, sizeof(err))) {
				rx->bad++;
				snprintf(rx->err, sizeof(rx->err), "%s", err);
			}
		}
		if (r)
			rx->bad++;
	}
	codec_ctx_fini(&dec->ctx);
	free(dec);
	return NULL;
}

/* Change page @i the way a guest might. */
static void mutate(uint8_t *mem, uint64_t i)
{
	uint8_t *p = mem + i * PAGE;
	unsigned int k;
	uint64_t v = next();

	switch (next() % 8) {
	case 0:		/* zero it */
		memset(p, 0, PAGE);
		break;
	case 1:		/* all new */
		test_fill_random(p, PAGE, &rng);
		break;
	case 2:		/* half new: overflows a 2 KiB XBZRLE threshold */
		for (k = 0; k < PAGE; k += 2)
			p[k] ^= (uint8_t)(next() | 1);
		break;
	default:	/* a word or a few bytes */
		memcpy(p + (next() % (PAGE / 8)) * 8, &v, 8);
		for (k = 0; k < next() % 4; k++)
			p[next() % PAGE] ^= 0x5a;
		break;
	}
}

static void run(const char *name, bool xbzrle, enum xcache_policy policy,
		enum kvmig_codec codec)
{
	uint8_t *mem = aligned_alloc(PAGE, PAGES * PAGE);
	uint8_t *mirror = calloc(PAGES, PAGE);
	struct kvmig_slot_desc sd = {
		.sz = sizeof(sd), .hva = mem, .size = PAGES * PAGE,
	};
	struct kvmig_memmap *map = kvmig_memmap_new(NULL);
	struct chan tx[NR_CH];
	struct rx rx[NR_CH];
	struct pipe_cfg cfg = {
		.map = map, .ch = tx, .nr_ch = NR_CH, .workers = NR_CH,
		.codec = codec, .timeout_ms = 20000, .simd = KVMIG_SIMD_NR,
		.xbzrle = xbzrle, .xbzrle_cache_size = 3 * 1024 * PAGE,
		.xbzrle_threshold = 2048, .xbzrle_policy = policy,
	};
	struct kvmig_migration_stats *st = calloc(1, sizeof(*st));
	unsigned int pass, i, bad_passes = 0, changes = 0;
	uint64_t *dirty = calloc(PAGES, sizeof(uint64_t)), xb = 0, bad = 0;
	struct pipe *p;

	TEST_ASSERT(mem && mirror && map && dirty && st, "memory");
	TEST_ASSERT(!kvmig_memmap_add(map, &sd), "memmap");
	for (i = 0; i < PAGES; i++)	/* a mix to start with */
		if (i % 5)
			mutate(mem, i);
	for (i = 0; i < NR_CH; i++) {
		int sv[2];

		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			    "socketpair");
		TEST_ASSERT(!chan_init(&tx[i], sv[0], (uint16_t)i, 20000) &&
			    !chan_init(&rx[i].c, sv[1], (uint16_t)i, 20000), "chan");
		rx[i].mirror = mirror;
		rx[i].mirror_size = PAGES * PAGE;
		rx[i].passes = 0;
		rx[i].xbzrle = rx[i].bad = 0;
		rx[i].err[0] = 0;
		TEST_ASSERT(!pthread_create(&rx[i].thread, NULL, rx_main, &rx[i]),
			    "thread");
	}
	p = pipe_new(&cfg);
	TEST_ASSERT(p, "pipe_new: %s", strerror(errno));

	for (pass = 0; pass < 12; pass++) {
		uint64_t n = 0;

		if (!pass) {
			for (i = 0; i < PAGES; i++)
				dirty[n++] = i;
		} else {
			/* a working set that keeps coming back, and strays */
			for (i = 0; i < PAGES; i++) {
				if ((i < 600 && next() % 3) || !(next() % 50)) {
					mutate(mem, i);
					dirty[n++] = i;
				}
			}
		}
		pipe_set_pass(p, pass, false);
		for (i = 0; i < n; i++) {
			/* owners change between passes and mid-pass */
			if ((i == 0 && pass % 3 == 1) || (i == n / 2 && pass % 4 == 2)) {
				pipe_tune(p, 1 + (unsigned int)(next() % NR_CH), codec, 0, 0);
				changes++;
			}
			TEST_ASSERT(!PIPE_RETRY(pipe_page(p, dirty[i])), "pipe_page: %s",
				    pipe_error(p));
		}
		TEST_ASSERT(!PIPE_RETRY(pipe_end_pass(p)), "pipe_end_pass: %s",
			    pipe_error(p));
		/* every receiver has seen this pass's ITER_END: all applied */
		for (i = 0; i < NR_CH; i++)
			TEST_WAIT(__atomic_load_n(&rx[i].passes, __ATOMIC_ACQUIRE) >= pass + 1,
				  TEST_DEADLINE_S, "%s: receiver %u never saw pass %u's ITER_END",
				  name, i, pass);
		bad_passes += memcmp(mem, mirror, PAGES * PAGE) != 0;
	}
	pipe_stats(p, st);
	pipe_free(p);
	for (i = 0; i < NR_CH; i++) {
		chan_fini(&tx[i]);	/* the receiver sees the close */
		pthread_join(rx[i].thread, NULL);
		chan_fini(&rx[i].c);
		xb += rx[i].xbzrle;
		bad += rx[i].bad;
		if (rx[i].err[0])
			ksft_print_msg("%s: channel %u: %s\n", name, i, rx[i].err);
	}
	ksft_print_msg("%s: %u worker changes, %llu XBZRLE pages received, "
		       "%llu overflows, %llu misses\n", name, changes,
		       (unsigned long long)xb, (unsigned long long)st->xbzrle.overflow,
		       (unsigned long long)st->xbzrle.cache_miss);
	ksft_test_result(!bad_passes && !bad && (!xbzrle ||
			 (xb > 1000 && xb == st->xbzrle.pages && st->xbzrle.overflow > 0)),
			 "%s: the mirror equals the source after each of 12 passes "
			 "(%u differ, %llu bad entries)", name, bad_passes,
			 (unsigned long long)bad);
	kvmig_memmap_free(map);
	free(mem);
	free(mirror);
	free(dirty);
	free(st);
}

/*
 * Guest RAM in a memfd whose pages are mostly holes: pass 0 sends pages
 * one by one and a run of holes as one zero run.  Then the "guest" writes
 * a page its worker last saw as a hole, the producer re-arms and says so
 * (pipe_rearmed()), and pass 1 sends that page: it must go with its data.
 * A worker that trusted the hole it had seen would send a zero page, a
 * write no later pass would send again.
 */
static void holes(void)
{
	int fd = memfd_create("test-holes", MFD_CLOEXEC);
	struct kvmig_slot_desc sd = {
		.sz = sizeof(sd), .size = PAGES * PAGE, .memfd = fd,
	};
	struct kvmig_memmap *map = kvmig_memmap_new(NULL);
	uint8_t *mirror = malloc(PAGES * PAGE), *mem;
	struct kvmig_migration_stats *st = calloc(1, sizeof(*st));
	struct pipe_cfg cfg = {
		.map = map, .nr_ch = 1, .workers = 1, .codec = KVMIG_CODEC_NONE,
		.timeout_ms = 20000, .simd = KVMIG_SIMD_NR,
	};
	struct chan tx;
	struct rx rx = { .mirror = mirror, .mirror_size = PAGES * PAGE };
	uint64_t i, duplicate;
	bool pass0, pass1;
	struct pipe *p;
	int sv[2];

	TEST_ASSERT(fd >= 0 && !ftruncate(fd, PAGES * PAGE) && map && mirror && st,
		    "memfd");
	TEST_ASSERT(!kvmig_memmap_add(map, &sd), "memmap");
	close(fd);
	mem = kvmig_memmap_index_to_hva(map, 0);
	memset(mirror, 0xa5, PAGES * PAGE);	/* what a zero entry must undo */
	memset(mem + 10 * PAGE, 0x11, PAGE);	/* the one page with data */
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) &&
		    !chan_init(&tx, sv[0], 0, 20000) &&
		    !chan_init(&rx.c, sv[1], 0, 20000), "channel");
	TEST_ASSERT(!pthread_create(&rx.thread, NULL, rx_main, &rx), "thread");
	cfg.ch = &tx;
	p = pipe_new(&cfg);
	TEST_ASSERT(p, "pipe_new: %s", strerror(errno));

	pipe_rearmed(p);
	pipe_set_pass(p, 0, false);
	for (i = 0; i < PAGES; i++) {
		if (i == 11) {
			TEST_ASSERT(!PIPE_RETRY(pipe_zero_run(p, 11, 1000)),
				    "pipe_zero_run: %s", pipe_error(p));
			i += 999;
			continue;
		}
		TEST_ASSERT(!PIPE_RETRY(pipe_page(p, i)), "pipe_page: %s",
			    pipe_error(p));
	}
	TEST_ASSERT(!PIPE_RETRY(pipe_end_pass(p)), "pipe_end_pass: %s",
		    pipe_error(p));
	TEST_WAIT(__atomic_load_n(&rx.passes, __ATOMIC_ACQUIRE) >= 1,
		  TEST_DEADLINE_S, "holes: pass 0's ITER_END");
	pipe_stats(p, st);
	duplicate = st->ram.duplicate;
	pass0 = !memcmp(mem, mirror, PAGES * PAGE);

	/* the worker last saw pages 1011.. as one hole: write into it */
	memset(mem + 1500 * PAGE, 0x22, PAGE);
	pipe_rearmed(p);
	pipe_set_pass(p, 1, false);
	TEST_ASSERT(!PIPE_RETRY(pipe_page(p, 1500)) &&
		    !PIPE_RETRY(pipe_end_pass(p)), "pass 1: %s", pipe_error(p));
	TEST_WAIT(__atomic_load_n(&rx.passes, __ATOMIC_ACQUIRE) >= 2,
		  TEST_DEADLINE_S, "holes: pass 1's ITER_END");
	pass1 = !memcmp(mem, mirror, PAGES * PAGE);
	pipe_free(p);
	chan_fini(&tx);
	pthread_join(rx.thread, NULL);
	chan_fini(&rx.c);
	ksft_test_result(pass0 && duplicate == PAGES - 1 && !rx.bad,
			 "holes: pass 0 (a zero run of 1000 pages, 1047 zero pages, "
			 "one with data) leaves the mirror equal (%llu zero pages "
			 "counted, %llu bad entries)", (unsigned long long)duplicate,
			 (unsigned long long)rx.bad);
	ksft_test_result(pass1, "holes: a page written where the worker saw a hole "
			 "goes with its data after pipe_rearmed()");
	kvmig_memmap_free(map);
	free(mirror);
	free(st);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(6);
	run("xbzrle (use counts) + lz4", true, XCACHE_FREQ, KVMIG_CODEC_LZ4);
	run("xbzrle (direct-mapped) + none", true, XCACHE_DIRECT, KVMIG_CODEC_NONE);
	run("zstd, no xbzrle", false, XCACHE_FREQ, KVMIG_CODEC_ZSTD);
	run("auto, no xbzrle", false, XCACHE_FREQ, KVMIG_CODEC_AUTO);
	holes();
	ksft_finished();
}
