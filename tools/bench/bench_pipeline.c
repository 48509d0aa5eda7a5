// SPDX-License-Identifier: GPL-2.0
/*
 * bench_pipeline: the source's page pipeline alone, in one process, on a
 * generated, reproducible corpus of 4 KiB pages that mixes zero,
 * text-like, binary (small integers and pointers) and random pages.
 *
 * For each codec and 1, 2, ... workers (up to the CPUs, plus one
 * oversubscribed count), one pass over the corpus through the real
 * pipeline (pipeline.c: SPSC rings, futex sleeps, zero test, codec,
 * PAGES frames written to /dev/null, so the kernel's socket costs stay
 * out): throughput in GiB/s of guest pages, scaling efficiency against
 * one worker, migration-thread CPU per GiB.
 *
 * The baseline, in the same run: the classic design, a worker pool fed
 * one page at a time through a queue under a mutex with condition
 * variables, doing the same work per page (same zero test, same codec,
 * same 32-page frames to /dev/null).  Ratios: throughput and
 * migration-thread CPU of the pipeline over the baseline.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"
#include "../../user/lib/internal.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/codec.h"
#include "../../user/lib/pipeline.h"

#define PAGE		4096
#define FRAME_PAGES	32

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void)
{
	return test_xorshift(&rng);
}

/* Quarter zero, quarter text, quarter binary, quarter random. */
static void fill_corpus(uint8_t *mem, uint64_t pages)
{
	static const char *const words[] = {
		"migration ", "the ", "of ", "page ", "dirty ", "guest ", "and ",
		"kernel ", "memory ", "to ", "\n", "write ", "log ", "a ",
	};
	uint64_t i;

	for (i = 0; i < pages; i++) {
		uint8_t *p = mem + i * PAGE;
		unsigned int j = 0;

		switch (next() % 4) {
		case 0:
			memset(p, 0, PAGE);
			break;
		case 1:
			while (j < PAGE) {
				const char *w = words[next() % 14];
				size_t n = strlen(w);

				memcpy(p + j, w, j + n <= PAGE ? n : PAGE - j);
				j += (unsigned int)n;
			}
			break;
		case 2:
			for (j = 0; j < PAGE; j += 8) {
				uint64_t v = next() % 4 ? next() % 1000 :
					     0x00007f0000000000ULL | (next() & 0xfffff8);

				memcpy(p + j, &v, 8);
			}
			break;
		default:
			test_fill_random(p, PAGE, &rng);
			break;
		}
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct result {
	double gibs;		/* GiB of guest pages per second */
	double main_ms_gib;	/* migration-thread CPU ms per GiB */
	double cpu_ms_gib;	/* all threads' CPU ms per GiB */
	double wire_ratio;	/* wire bytes / raw bytes */
};

struct corpus {
	struct kvmig_memmap *map;
	uint64_t pages;
};

/* ---------------------------------------------------------------- kvmig */

static void run_pipeline(const struct corpus *c, enum kvmig_codec codec,
			 unsigned int workers, struct result *res)
{
	struct chan ch[64];
	struct pipe_cfg cfg = {
		.map = c->map, .ch = ch, .nr_ch = workers, .workers = workers,
		.codec = codec, .timeout_ms = 60000, .simd = KVMIG_SIMD_NR,
	};
	struct kvmig_migration_stats *st = calloc(1, sizeof(*st));
	uint64_t t0, cpu0, pcpu0, i, wire = 0;
	struct pipe *p;
	double secs, gib = (double)c->pages * PAGE / (1 << 30);

	for (i = 0; i < workers; i++) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		TEST_ASSERT(fd >= 0 && !chan_init(&ch[i], fd, (uint16_t)i, 60000),
			    "/dev/null channel");
	}
	p = pipe_new(&cfg);
	TEST_ASSERT(p, "pipe_new: %s", strerror(errno));
	t0 = kvmig_now_ns();
	cpu0 = thread_cpu_ns();
	pcpu0 = process_cpu_ns();
	pipe_set_pass(p, 0, false);
	for (i = 0; i < c->pages; i++)
		TEST_ASSERT(!PIPE_RETRY(pipe_page(p, i)), "pipe_page: %s",
			    pipe_error(p));
	TEST_ASSERT(!PIPE_RETRY(pipe_end_pass(p)), "pipe_end_pass: %s",
		    pipe_error(p));
	secs = (double)(kvmig_now_ns() - t0) / 1e9;
	res->main_ms_gib = (double)(thread_cpu_ns() - cpu0) / 1e6 / gib;
	res->cpu_ms_gib = (double)(process_cpu_ns() - pcpu0) / 1e6 / gib;
	res->gibs = gib / secs;
	pipe_stats(p, st);
	pipe_free(p);
	for (i = 0; i < workers; i++) {
		wire += ch[i].bytes_sent;
		chan_fini(&ch[i]);
	}
	res->wire_ratio = (double)wire / ((double)c->pages * PAGE);
	free(st);
}

/* ------------------------------------------- baseline: mutex + condvars */

#define QUEUE_LEN	512

struct pool {
	const struct corpus *c;
	enum kvmig_codec codec;
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	uint64_t queue[QUEUE_LEN];	/* page indices; under lock */
	unsigned int head, count;	/* under lock */
	unsigned int pending;		/* queued or being worked; under lock */
	bool quit;			/* under lock */
	pthread_cond_t idle;
	uint64_t wire;			/* under lock */
};

struct pool_worker {
	struct pool *pool;
	pthread_t thread;
	int fd;
};

static void *pool_main(void *arg)
{
	struct pool_worker *pw = arg;
	struct pool *pool = pw->pool;
	struct codec_ctx cc;
	kvmig_zero_fn is_zero = kvmig_zero_impl(kvmig_simd_best());
	uint8_t *frame = malloc(FRAME_PAGES * (PAGE + 16) + 8);
	uint32_t len = 8, n = 0;
	uint64_t wire = 0;

	codec_ctx_init(&cc);
	for (;;) {
		uint64_t idx;
		uint8_t *page, *e;
		int k = 0;

		pthread_mutex_lock(&pool->lock);
		while (!pool->count && !pool->quit)
			pthread_cond_wait(&pool->not_empty, &pool->lock);
		if (!pool->count && pool->quit) {
			pool->wire += wire;
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		idx = pool->queue[pool->head];
		pool->head = (pool->head + 1) % QUEUE_LEN;
		pool->count--;
		pthread_cond_signal(&pool->not_full);
		pthread_mutex_unlock(&pool->lock);

		/* the same work per page as a pipeline worker */
		page = kvmig_memmap_index_to_hva(pool->c->map, idx);
		e = frame + len;
		if (!is_zero(page)) {
			if (pool->codec != KVMIG_CODEC_NONE)
				k = codec_encode(&cc, pool->codec, 0, page, e + 16,
						 PAGE * 7 / 8);
			if (k <= 0) {
				memcpy(e + 16, page, PAGE);
				k = PAGE;
			}
		}
		put_u64(e, idx * PAGE);
		put_u32(e + 12, (uint32_t)k);
		len += 16 + (uint32_t)k;
		if (++n == FRAME_PAGES) {
			wire += len;
			TEST_ASSERT(write(pw->fd, frame, len) == (ssize_t)len, "write");
			len = 8;
			n = 0;
		}
		pthread_mutex_lock(&pool->lock);
		if (!--pool->pending)
			pthread_cond_signal(&pool->idle);
		pthread_mutex_unlock(&pool->lock);
	}
	if (n)
		TEST_ASSERT(write(pw->fd, frame, len) == (ssize_t)len, "write");
	codec_ctx_fini(&cc);
	free(frame);
	return NULL;
}

static void run_pool(const struct corpus *c, enum kvmig_codec codec,
		     unsigned int workers, struct result *res)
{
	struct pool pool = { .c = c, .codec = codec };
	struct pool_worker pw[64];
	uint64_t t0, cpu0, pcpu0, i;
	double secs, gib = (double)c->pages * PAGE / (1 << 30);

	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.not_empty, NULL);
	pthread_cond_init(&pool.not_full, NULL);
	pthread_cond_init(&pool.idle, NULL);
	for (i = 0; i < workers; i++) {
		pw[i].pool = &pool;
		pw[i].fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		TEST_ASSERT(!pthread_create(&pw[i].thread, NULL, pool_main, &pw[i]),
			    "thread");
	}
	t0 = kvmig_now_ns();
	cpu0 = thread_cpu_ns();
	pcpu0 = process_cpu_ns();
	for (i = 0; i < c->pages; i++) {
		pthread_mutex_lock(&pool.lock);
		while (pool.count == QUEUE_LEN)
			pthread_cond_wait(&pool.not_full, &pool.lock);
		pool.queue[(pool.head + pool.count) % QUEUE_LEN] = i;
		pool.count++;
		pool.pending++;
		pthread_cond_signal(&pool.not_empty);
		pthread_mutex_unlock(&pool.lock);
	}
	pthread_mutex_lock(&pool.lock);
	while (pool.pending)
		pthread_cond_wait(&pool.idle, &pool.lock);
	pool.quit = true;
	pthread_cond_broadcast(&pool.not_empty);
	pthread_mutex_unlock(&pool.lock);
	secs = (double)(kvmig_now_ns() - t0) / 1e9;
	res->main_ms_gib = (double)(thread_cpu_ns() - cpu0) / 1e6 / gib;
	res->cpu_ms_gib = (double)(process_cpu_ns() - pcpu0) / 1e6 / gib;
	res->gibs = gib / secs;
	for (i = 0; i < workers; i++) {
		pthread_join(pw[i].thread, NULL);
		close(pw[i].fd);
	}
	res->wire_ratio = (double)pool.wire / ((double)c->pages * PAGE);
}

/* Best of @reps runs (least disturbed by the rest of the machine). */
static void best(void (*fn)(const struct corpus *, enum kvmig_codec, unsigned int,
			     struct result *),
		 const struct corpus *c, enum kvmig_codec codec, unsigned int workers,
		 unsigned int reps, struct result *out)
{
	unsigned int r;

	memset(out, 0, sizeof(*out));
	for (r = 0; r < reps; r++) {
		struct result x;

		fn(c, codec, workers, &x);
		if (x.gibs > out->gibs)
			*out = x;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "mib", required_argument, NULL, 'm' },
		{ 0 }
	};
	static const enum kvmig_codec codecs[] = {
		KVMIG_CODEC_NONE, KVMIG_CODEC_LZ4, KVMIG_CODEC_ZSTD,
		KVMIG_CODEC_ZLIB, KVMIG_CODEC_AUTO,
	};
	const char *json_path = NULL;
	unsigned int mib = 128, cpus = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int counts[8], nr_counts = 0, ci, wi;
	struct kvmig_slot_desc sd = { .sz = sizeof(sd), .id = 0, .gpa = 0 };
	struct corpus c;
	json_t *out = json_array();
	uint8_t *mem;
	int opt;

	while ((opt = getopt_long(argc, argv, "j:m:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'm')
			mib = (unsigned int)atoi(optarg);
	}
	c.pages = (uint64_t)mib << 8;
	mem = aligned_alloc(PAGE, c.pages * PAGE);
	TEST_ASSERT(mem, "corpus");
	fill_corpus(mem, c.pages);
	c.map = kvmig_memmap_new(NULL);
	sd.hva = mem;
	sd.size = c.pages * PAGE;
	TEST_ASSERT(c.map && !kvmig_memmap_add(c.map, &sd), "memmap");
	for (wi = 1; wi <= cpus && nr_counts < 6; wi *= 2)
		counts[nr_counts++] = wi;
	if (counts[nr_counts - 1] != cpus)
		counts[nr_counts++] = cpus;
	counts[nr_counts++] = cpus * 2;	/* oversubscribed */

	printf("bench_pipeline: %u MiB corpus (1/4 zero, text, binary, random), "
	       "%u CPUs, zero test %s, frames to /dev/null, best of 3\n\n", mib,
	       cpus, kvmig_simd_name(kvmig_simd_best()));
	printf("%-5s %7s %9s %10s %13s %12s %10s\n", "codec", "workers", "GiB/s",
	       "scaling", "main ms/GiB", "CPU ms/GiB", "wire/raw");
	for (ci = 0; ci < sizeof(codecs) / sizeof(codecs[0]); ci++) {
		double one = 0;

		for (wi = 0; wi < nr_counts; wi++) {
			struct result r;
			double eff;

			best(run_pipeline, &c, codecs[ci], counts[wi], 3, &r);
			if (wi == 0)
				one = r.gibs;
			/* efficiency against 1 worker, over the CPUs used */
			eff = r.gibs / (one * (counts[wi] < cpus ? counts[wi] : cpus));
			printf("%-5s %7u %9.3f %9.0f%% %13.1f %12.1f %10.3f\n",
			       kvmig_codec_name(codecs[ci]), counts[wi], r.gibs, eff * 100,
			       r.main_ms_gib, r.cpu_ms_gib, r.wire_ratio);
			json_array_append_new(out, json_pack(
				"{ss ss si sf sf sf sf sf}", "design", "pipeline",
				"codec", kvmig_codec_name(codecs[ci]), "workers",
				(int)counts[wi], "gib_per_s", r.gibs, "scaling", eff,
				"main_ms_per_gib", r.main_ms_gib, "cpu_ms_per_gib",
				r.cpu_ms_gib, "wire_ratio", r.wire_ratio));
		}
	}

	printf("\nagainst the baseline (mutex + condition variables, one page per "
	       "hand-off), %u workers:\n", cpus);
	printf("%-5s %12s %12s %11s %16s %16s %11s\n", "codec", "pipe GiB/s",
	       "pool GiB/s", "thr ratio", "pipe main ms/GiB", "pool main ms/GiB",
	       "main ratio");
	for (ci = 0; ci < sizeof(codecs) / sizeof(codecs[0]) - 1; ci++) {
		struct result rp, rb;

		best(run_pipeline, &c, codecs[ci], cpus, 3, &rp);
		best(run_pool, &c, codecs[ci], cpus, 3, &rb);
		printf("%-5s %12.3f %12.3f %10.2fx %16.1f %16.1f %10.2fx\n",
		       kvmig_codec_name(codecs[ci]), rp.gibs, rb.gibs, rp.gibs / rb.gibs,
		       rp.main_ms_gib, rb.main_ms_gib,
		       rb.main_ms_gib ? rp.main_ms_gib / rb.main_ms_gib : 0);
		json_array_append_new(out, json_pack(
			"{ss ss si sf sf sf sf}", "design", "pool-vs-pipeline",
			"codec", kvmig_codec_name(codecs[ci]), "workers", (int)cpus,
			"pipeline_gib_per_s", rp.gibs, "pool_gib_per_s", rb.gibs,
			"pipeline_main_ms_per_gib", rp.main_ms_gib,
			"pool_main_ms_per_gib", rb.main_ms_gib));
	}
	if (json_path)
		json_dump_file(out, json_path, JSON_INDENT(2));
	json_decref(out);
	kvmig_memmap_free(c.map);
	free(mem);
	return 0;
}
