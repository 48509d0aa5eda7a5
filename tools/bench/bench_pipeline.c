// SPDX-License-Identifier: GPL-2.0
/*
 * bench_pipeline: the source's page pipeline alone, in one process, on a
 * generated, reproducible corpus of 4 KiB pages that mixes zero,
 * text-like, binary (small integers and pointers) and random pages,
 * against two worker pools built the classic way, in the same run.
 *
 * Three designs hand the pages of a pass from the migration thread (the
 * producer) to N workers:
 *
 *   pipeline    pipeline.c: one SPSC ring of 32-page batches per worker,
 *               futex sleeps, the producer woken once a ring is half empty
 *   pool-batch  one queue of 32-page batches under a mutex, with condition
 *               variables: one lock round trip per batch at each end
 *   pool-page   the same queue fed one page at a time (one round trip per
 *               page); a worker still sends 32 pages per frame
 *
 * Every worker does the same work per page and per frame: page_encode()
 * (hole check, zero test, the codec; auto at its first effort, as the
 * pipeline starts, since nothing here runs its control), one PAGES frame
 * per 32 pages built by wire.c's writer and sent with chan_send() to
 * /dev/null, so the kernel's socket costs stay out.  Each queue holds at
 * most what the pipeline's rings hold: 16 batches of 32 pages per worker.
 *
 * For each codec (none, lz4, zstd, zlib, auto) and 1, 2, ... workers (up
 * to the CPUs, plus one oversubscribed count), interleaved rounds: the
 * three designs one after the other, in ABBA order (pipeline, pool-batch,
 * pool-page, then pool-page, pool-batch, pipeline, ...), so that a machine
 * that speeds up or slows down favours none.  Per design: throughput in
 * GiB/s of guest pages, the migration thread's CPU per GiB, all threads'
 * CPU per GiB, wire/raw, medians of the rounds.  Ratios, pipeline over
 * each pool: the median of the rounds' ratios with their min..max.  The
 * targets of the next step (issue 15) are checked against the batched
 * pool: equal or better throughput with every codec, and at most half of
 * its migration-thread CPU per GiB.
 *
 * Each run goes through a fixed share of the corpus, the same for the
 * three designs: more than the whole for the fast codecs (so that a run
 * lasts more than a scheduler tick), less for zlib (so that a full run
 * stays near a minute).  -m MiB sizes the corpus, -r the rounds (9).
 */
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"
#include "../../user/lib/internal.h"
#include "../../user/lib/simd.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/codec.h"
#include "../../user/lib/memmap.h"
#include "../../user/lib/pipeline.h"
#include "../../user/lib/wire.h"

#define PAGE		4096
#define FRAME_PAGES	32	/* pipeline.c's JOB_MAX_PAGES */
#define QUEUE_BATCHES	16	/* pipeline.c's RING_SLOTS, per worker */
#define FRAME_MAX	(WIRE_PAGES_FIXED + FRAME_PAGES * \
			 (WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE))
#define MAX_WORKERS	64
#define MAX_ROUNDS	99

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
	uint64_t pages;		/* in the corpus */
	uint64_t run_pages;	/* a run's: page i is corpus page i % pages */
};

/* The clocks at the start of a run, and the figures at its end. */
struct clocks {
	uint64_t t, cpu, pcpu;
};

static struct clocks clocks_now(void)
{
	return (struct clocks){
		.t = kvmig_now_ns(), .cpu = thread_cpu_ns(), .pcpu = process_cpu_ns(),
	};
}

static void clocks_result(const struct corpus *c, const struct clocks *c0,
			  struct result *res)
{
	double gib = (double)c->run_pages * PAGE / (1 << 30);

	res->gibs = gib / ((double)(kvmig_now_ns() - c0->t) / 1e9);
	res->main_ms_gib = (double)(thread_cpu_ns() - c0->cpu) / 1e6 / gib;
	res->cpu_ms_gib = (double)(process_cpu_ns() - c0->pcpu) / 1e6 / gib;
}

static void open_null(struct chan *ch, unsigned int i)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	TEST_ASSERT(fd >= 0 && !chan_init(ch, fd, (uint16_t)i, 60000),
		    "/dev/null channel %u", i);
}

/* ---------------------------------------------------------------- kvmig */

static void run_pipeline(const struct corpus *c, enum kvmig_codec codec,
			 unsigned int workers, struct result *res)
{
	struct chan ch[MAX_WORKERS];
	struct pipe_cfg cfg = {
		.map = c->map, .ch = ch, .nr_ch = workers, .workers = workers,
		.codec = codec, .timeout_ms = 60000, .simd = KVMIG_SIMD_NR,
	};
	struct clocks c0;
	uint64_t i, wire = 0;
	struct pipe *p;

	for (i = 0; i < workers; i++)
		open_null(&ch[i], (unsigned int)i);
	p = pipe_new(&cfg);
	TEST_ASSERT(p, "pipe_new: %s", strerror(errno));
	c0 = clocks_now();
	pipe_set_pass(p, 0, false);
	for (i = 0; i < c->run_pages; i++)
		TEST_ASSERT(!PIPE_RETRY(pipe_page(p, i % c->pages)), "pipe_page: %s",
			    pipe_error(p));
	TEST_ASSERT(!PIPE_RETRY(pipe_end_pass(p)), "pipe_end_pass: %s",
		    pipe_error(p));
	clocks_result(c, &c0, res);
	pipe_free(p);
	for (i = 0; i < workers; i++) {
		wire += ch[i].bytes_sent;
		chan_fini(&ch[i]);
	}
	res->wire_ratio = (double)wire / ((double)c->run_pages * PAGE);
}

/* ------------------------------------- the baselines: mutex + condvars */

/*
 * A pool worker's page encoder and frame: what a pipeline worker does per
 * page and per frame (pipeline.c, do_pages()), without the pipeline's
 * statistics.  The worker thread's own.
 */
struct framer {
	const struct corpus *c;
	struct page_policy pol;
	struct page_enc enc;
	struct kvmig_hole_cache holes;
	struct chan ch;
	struct wire_pages_writer fw;
	uint8_t *frame;
	char err[256];
};

static void framer_init(struct framer *f, const struct corpus *c,
			enum kvmig_codec codec, unsigned int id)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->pol = (struct page_policy){ .codec = codec, .effort = 1 };
	codec_ctx_init(&f->enc.ctx);
	f->enc.is_zero = kvmig_zero_impl(kvmig_simd_best());
	f->holes = (struct kvmig_hole_cache)KVMIG_HOLE_CACHE_INIT;
	f->frame = malloc(FRAME_MAX);
	TEST_ASSERT(f->frame, "frame");
	open_null(&f->ch, id);
	wire_pages_start(&f->fw, f->frame, FRAME_MAX);
}

/* Send the frame, if it holds any page. */
static void framer_flush(struct framer *f)
{
	uint32_t len;

	if (!f->fw.count)
		return;
	len = wire_pages_finish(&f->fw, 0);
	TEST_ASSERT(!chan_send(&f->ch, WIRE_PAGES, f->frame, len, NULL, 0),
		    "sending a frame to /dev/null");
	wire_pages_start(&f->fw, f->frame, FRAME_MAX);
}

static void framer_page(struct framer *f, uint64_t idx)
{
	const struct kvmig_memmap *map = f->c->map;
	uint8_t *data = wire_pages_data(&f->fw);
	uint64_t gpa = 0;
	uint32_t plen;
	bool hole;
	int enc;

	kvmig_memmap_index_to_gpa(map, idx, &gpa);
	hole = kvmig_memmap_is_hole(map, idx, &f->holes);
	enc = page_encode(&f->enc, &f->pol, idx, hole ? NULL :
			  kvmig_memmap_index_to_hva(map, idx), data, &plen,
			  f->err, sizeof(f->err));
	TEST_ASSERT(enc >= 0, "page %llu: %s", (unsigned long long)idx, f->err);
	TEST_ASSERT(!wire_pages_add(&f->fw, &(struct wire_page){
		.gpa = gpa, .encoding = (uint8_t)enc, .len = plen, .data = data,
	}), "page %llu does not fit its frame", (unsigned long long)idx);
	if (f->fw.count == FRAME_PAGES)
		framer_flush(f);
}

/* Returns the bytes it sent. */
static uint64_t framer_fini(struct framer *f)
{
	uint64_t wire;

	framer_flush(f);
	wire = f->ch.bytes_sent;
	chan_fini(&f->ch);
	codec_ctx_fini(&f->enc.ctx);
	free(f->frame);
	return wire;
}

/* What changes owner at a hand-off: one page, or a batch of 32. */
struct job {
	unsigned int count;
	uint64_t index[FRAME_PAGES];
};

struct pool {
	/* set before the workers start */
	const struct corpus *c;
	enum kvmig_codec codec;
	unsigned int cap;		/* jobs the queue holds */

	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full, idle;
	/* under lock */
	struct job *queue;		/* a ring of cap jobs */
	unsigned int head, count;
	unsigned int pending;		/* queued or being worked on */
	bool quit;
	uint64_t wire;			/* the workers' bytes, added as they quit */
};

struct pool_worker {
	struct pool *pool;
	pthread_t thread;
	unsigned int id;
};

/*
 * Take a job under the lock, work on it outside, and count it done under
 * the lock that takes the next one: one lock round trip per job.  A page
 * job adds its page to the worker's frame, which goes out every 32 pages;
 * a batch is a frame of its own, as in the pipeline.
 */
static void *pool_main(void *arg)
{
	struct pool_worker *pw = arg;
	struct pool *pool = pw->pool;
	struct framer f;
	struct job job;
	bool done = false;
	uint64_t wire;
	unsigned int i;

	framer_init(&f, pool->c, pool->codec, pw->id);
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		if (done && !--pool->pending)
			pthread_cond_signal(&pool->idle);
		while (!pool->count && !pool->quit)
			pthread_cond_wait(&pool->not_empty, &pool->lock);
		if (!pool->count)
			break;	/* quit, and nothing left */
		job = pool->queue[pool->head];
		pool->head = (pool->head + 1) % pool->cap;
		pool->count--;
		pthread_cond_signal(&pool->not_full);
		pthread_mutex_unlock(&pool->lock);

		for (i = 0; i < job.count; i++)
			framer_page(&f, job.index[i]);
		if (job.count == FRAME_PAGES)
			framer_flush(&f);
		done = true;
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	wire = framer_fini(&f);
	pthread_mutex_lock(&pool->lock);
	pool->wire += wire;
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void pool_push(struct pool *pool, const struct job *job)
{
	pthread_mutex_lock(&pool->lock);
	while (pool->count == pool->cap)
		pthread_cond_wait(&pool->not_full, &pool->lock);
	pool->queue[(pool->head + pool->count) % pool->cap] = *job;
	pool->count++;
	pool->pending++;
	pthread_cond_signal(&pool->not_empty);
	pthread_mutex_unlock(&pool->lock);
}

/* A pool whose producer hands over @per_job pages at a time (1 or 32). */
static void run_pool(const struct corpus *c, enum kvmig_codec codec,
		     unsigned int workers, unsigned int per_job,
		     struct result *res)
{
	struct pool pool = {
		.c = c, .codec = codec,
		/* as many pages as the pipeline's rings hold */
		.cap = QUEUE_BATCHES * workers * (FRAME_PAGES / per_job),
	};
	struct pool_worker pw[MAX_WORKERS];
	struct job job = { 0 };
	struct clocks c0;
	uint64_t i;

	pool.queue = calloc(pool.cap, sizeof(*pool.queue));
	TEST_ASSERT(pool.queue, "queue");
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.not_empty, NULL);
	pthread_cond_init(&pool.not_full, NULL);
	pthread_cond_init(&pool.idle, NULL);
	for (i = 0; i < workers; i++) {
		pw[i].pool = &pool;
		pw[i].id = (unsigned int)i;
		TEST_ASSERT(!pthread_create(&pw[i].thread, NULL, pool_main, &pw[i]),
			    "thread");
	}
	c0 = clocks_now();
	for (i = 0; i < c->run_pages; i++) {
		job.index[job.count++] = i % c->pages;
		if (job.count == per_job) {
			pool_push(&pool, &job);
			job.count = 0;
		}
	}
	if (job.count)
		pool_push(&pool, &job);
	/* the end of the pass: every job done (pipe_end_pass() waits too) */
	pthread_mutex_lock(&pool.lock);
	while (pool.pending)
		pthread_cond_wait(&pool.idle, &pool.lock);
	pool.quit = true;
	pthread_cond_broadcast(&pool.not_empty);
	pthread_mutex_unlock(&pool.lock);
	clocks_result(c, &c0, res);
	for (i = 0; i < workers; i++)
		pthread_join(pw[i].thread, NULL);
	res->wire_ratio = (double)pool.wire / ((double)c->run_pages * PAGE);
	pthread_cond_destroy(&pool.idle);
	pthread_cond_destroy(&pool.not_full);
	pthread_cond_destroy(&pool.not_empty);
	pthread_mutex_destroy(&pool.lock);
	free(pool.queue);
}

static void run_pool_batch(const struct corpus *c, enum kvmig_codec codec,
			   unsigned int workers, struct result *res)
{
	run_pool(c, codec, workers, FRAME_PAGES, res);
}

static void run_pool_page(const struct corpus *c, enum kvmig_codec codec,
			  unsigned int workers, struct result *res)
{
	run_pool(c, codec, workers, 1, res);
}

/* ------------------------------------------------------------- rounds */

enum design { PIPELINE, POOL_BATCH, POOL_PAGE, NR_DESIGNS };

static const struct {
	const char *name;
	void (*run)(const struct corpus *c, enum kvmig_codec codec,
		    unsigned int workers, struct result *res);
} designs[NR_DESIGNS] = {
	[PIPELINE] = { "pipeline", run_pipeline },
	[POOL_BATCH] = { "pool-batch", run_pool_batch },
	[POOL_PAGE] = { "pool-page", run_pool_page },
};

/* The share of the corpus a run goes through, per codec: num/den. */
static const struct {
	enum kvmig_codec codec;
	unsigned int num, den;
} codecs[] = {
	{ KVMIG_CODEC_NONE, 4, 1 }, { KVMIG_CODEC_LZ4, 1, 1 },
	{ KVMIG_CODEC_ZSTD, 1, 1 }, { KVMIG_CODEC_ZLIB, 1, 8 },
	{ KVMIG_CODEC_AUTO, 1, 1 },
};

/* One codec and worker count: every design, every round. */
struct cell {
	struct result r[NR_DESIGNS][MAX_ROUNDS];
	struct result med[NR_DESIGNS];		/* figure by figure */
	struct test_spread gibs[NR_DESIGNS];
	/* pipeline / design, round by round */
	struct test_spread thr[NR_DESIGNS], main[NR_DESIGNS];
};

struct bench {
	struct corpus c;
	unsigned int mib, cpus, rounds;
	unsigned int counts[8], nr_counts;	/* of workers */
	struct cell (*cells)[8];		/* [codec][worker count] */
};

static void cell_run(struct cell *cl, const struct corpus *c,
		     enum kvmig_codec codec, unsigned int workers,
		     unsigned int rounds)
{
	double v[4][MAX_ROUNDS];
	unsigned int k, i, d;

	for (k = 0; k < rounds; k++) {
		/* ABBA: every other round backwards */
		for (i = 0; i < NR_DESIGNS; i++) {
			d = k % 2 ? NR_DESIGNS - 1 - i : i;
			designs[d].run(c, codec, workers, &cl->r[d][k]);
		}
	}
	for (d = 0; d < NR_DESIGNS; d++) {
		for (k = 0; k < rounds; k++) {
			const struct result *x = &cl->r[d][k];

			v[0][k] = x->gibs;
			v[1][k] = x->main_ms_gib;
			v[2][k] = x->cpu_ms_gib;
			v[3][k] = x->wire_ratio;
		}
		cl->gibs[d] = test_spread(v[0], rounds);
		cl->med[d] = (struct result){
			.gibs = cl->gibs[d].med,
			.main_ms_gib = test_spread(v[1], rounds).med,
			.cpu_ms_gib = test_spread(v[2], rounds).med,
			.wire_ratio = test_spread(v[3], rounds).med,
		};
		for (k = 0; k < rounds; k++) {
			const struct result *x = &cl->r[d][k], *p = &cl->r[PIPELINE][k];

			v[0][k] = p->gibs / x->gibs;
			v[1][k] = x->main_ms_gib > 0 ? p->main_ms_gib / x->main_ms_gib : 0;
		}
		cl->thr[d] = test_spread(v[0], rounds);
		cl->main[d] = test_spread(v[1], rounds);
	}
}

/* Throughput against one worker's, over the CPUs used. */
static double scaling(const struct bench *b, unsigned int ci, unsigned int wi,
		      enum design d)
{
	unsigned int n = b->counts[wi] < b->cpus ? b->counts[wi] : b->cpus;

	return b->cells[ci][wi].med[d].gibs / (b->cells[ci][0].med[d].gibs * n);
}

/* Each design's figures, medians of the rounds. */
static void print_figures(const struct bench *b, json_t *out)
{
	unsigned int ci, wi, d;

	printf("%-5s %7s | %-28s %7s %10s %10s %8s | %-21s | %s\n", "", "",
	       "pipeline", "", "", "", "", "pool-batch", "pool-page");
	printf("%-5s %7s | %7s %20s %7s %10s %10s %8s | %10s %10s | %10s %10s\n",
	       "codec", "workers", "GiB/s", "(min..max)", "scaling", "main ms",
	       "CPU ms", "wire/raw", "GiB/s", "main ms", "GiB/s", "main ms");
	printf("%-5s %7s | %7s %20s %7s %10s %10s %8s | %10s %10s | %10s %10s\n",
	       "", "", "", "", "", "per GiB", "per GiB", "", "", "per GiB", "",
	       "per GiB");
	for (ci = 0; ci < ARRAY_SIZE(codecs); ci++) {
		const char *name = kvmig_codec_name(codecs[ci].codec);

		for (wi = 0; wi < b->nr_counts; wi++) {
			const struct cell *cl = &b->cells[ci][wi];
			const struct result *p = &cl->med[PIPELINE];
			char mm[48];

			snprintf(mm, sizeof(mm), "(%.3f..%.3f)", cl->gibs[PIPELINE].min,
				 cl->gibs[PIPELINE].max);
			printf("%-5s %7u | %7.3f %20s %6.0f%% %10.1f %10.1f %8.3f | "
			       "%10.3f %10.1f | %10.3f %10.1f\n", name, b->counts[wi],
			       p->gibs, mm, scaling(b, ci, wi, PIPELINE) * 100,
			       p->main_ms_gib, p->cpu_ms_gib, p->wire_ratio,
			       cl->med[POOL_BATCH].gibs, cl->med[POOL_BATCH].main_ms_gib,
			       cl->med[POOL_PAGE].gibs, cl->med[POOL_PAGE].main_ms_gib);
			for (d = 0; d < NR_DESIGNS; d++) {
				const struct result *m = &cl->med[d];

				json_array_append_new(out, json_pack(
					"{ss ss si sf sf sf sf sf sf sf si}",
					"design", designs[d].name, "codec", name,
					"workers", (int)b->counts[wi], "gib_per_s", m->gibs,
					"gib_per_s_min", cl->gibs[d].min,
					"gib_per_s_max", cl->gibs[d].max,
					"scaling", scaling(b, ci, wi, d),
					"main_ms_per_gib", m->main_ms_gib,
					"cpu_ms_per_gib", m->cpu_ms_gib,
					"wire_ratio", m->wire_ratio,
					"rounds", (int)b->rounds));
			}
		}
	}
}

/*
 * The targets against the batched pool, judged on the median
 * ratios as printed (two decimals), so that the table reads the same.
 */
#define TARGET_THR	1.0	/* pipeline/pool-batch throughput, at least */
#define TARGET_MAIN	0.5	/* pipeline/pool-batch main CPU per GiB, at most */

static double printed(double ratio)
{
	return round(ratio * 100) / 100;
}

static const char *met(bool ok)
{
	return ok ? "met" : "missed";
}

/* " codec/workers ratio" at the end of @buf */
static void add_missed(char *buf, size_t len, const char *codec,
		       unsigned int workers, double ratio)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, " %s/%u %.2fx", codec, workers, ratio);
}

/* The pipeline over each pool, round by round, and the targets. */
static void print_ratios(const struct bench *b, json_t *out)
{
	unsigned int ci, wi, d, rows = 0, thr_met = 0, main_met = 0;
	char thr_missed[512] = "", main_missed[512] = "";

	printf("\npipeline / pool: the median of the rounds' ratios (min..max); "
	       "targets against pool-batch: throughput >= %.1fx with every codec, "
	       "main-thread CPU per GiB <= %.1fx\n\n", TARGET_THR, TARGET_MAIN);
	printf("%-5s %7s | %-20s %-20s %-8s %-8s | %s\n", "", "",
	       "vs pool-batch", "", "target", "target", "vs pool-page");
	printf("%-5s %7s | %-20s %-20s %-8s %-8s | %-20s %s\n", "codec",
	       "workers", "throughput", "main CPU/GiB", "thr", "main", "throughput",
	       "main CPU/GiB");
	for (ci = 0; ci < ARRAY_SIZE(codecs); ci++) {
		const char *name = kvmig_codec_name(codecs[ci].codec);

		for (wi = 0; wi < b->nr_counts; wi++) {
			const struct cell *cl = &b->cells[ci][wi];
			bool t_ok = printed(cl->thr[POOL_BATCH].med) >= TARGET_THR;
			bool m_ok = printed(cl->main[POOL_BATCH].med) <= TARGET_MAIN;
			char txt[4][64];

			for (d = POOL_BATCH; d <= POOL_PAGE; d++) {
				const struct test_spread *t = &cl->thr[d], *m = &cl->main[d];
				unsigned int o = (d - POOL_BATCH) * 2;
				json_t *row;

				snprintf(txt[o], sizeof(txt[o]), "%.2fx (%.2f..%.2f)",
					 t->med, t->min, t->max);
				snprintf(txt[o + 1], sizeof(txt[o + 1]), "%.2fx (%.2f..%.2f)",
					 m->med, m->min, m->max);
				row = json_pack("{ss ss ss si sf sf sf sf sf sf si}",
					"design", "pipeline-vs-pool",
					"baseline", designs[d].name, "codec", name,
					"workers", (int)b->counts[wi],
					"throughput_ratio", t->med,
					"throughput_ratio_min", t->min,
					"throughput_ratio_max", t->max,
					"main_cpu_ratio", m->med,
					"main_cpu_ratio_min", m->min,
					"main_cpu_ratio_max", m->max,
					"rounds", (int)b->rounds);
				if (d == POOL_BATCH)
					json_object_update_new(row, json_pack("{ss ss}",
						"target_throughput", met(t_ok),
						"target_main_cpu", met(m_ok)));
				json_array_append_new(out, row);
			}
			printf("%-5s %7u | %-20s %-20s %-8s %-8s | %-20s %s\n", name,
			       b->counts[wi], txt[0], txt[1], met(t_ok), met(m_ok),
			       txt[2], txt[3]);
			rows++;
			thr_met += t_ok;
			main_met += m_ok;
			if (!t_ok)
				add_missed(thr_missed, sizeof(thr_missed), name,
					   b->counts[wi], cl->thr[POOL_BATCH].med);
			if (!m_ok)
				add_missed(main_missed, sizeof(main_missed), name,
					   b->counts[wi], cl->main[POOL_BATCH].med);
		}
	}
	printf("\ntargets against the batched mutex pool:\n"
	       "  equal or better throughput with every codec: %s (%u of %u "
	       "codec/workers rows%s%s)\n", met(thr_met == rows), thr_met, rows,
	       thr_missed[0] ? "; missed:" : "", thr_missed);
	printf("  a main-thread CPU per GiB at most half: %s (%u of %u rows%s%s)\n",
	       met(main_met == rows), main_met, rows,
	       main_missed[0] ? "; missed:" : "", main_missed);
	json_array_append_new(out, json_pack("{ss ss ss sf sf si si si}",
		"design", "targets",
		"target_throughput", met(thr_met == rows),
		"target_main_cpu", met(main_met == rows),
		"throughput_ratio_at_least", TARGET_THR,
		"main_cpu_ratio_at_most", TARGET_MAIN, "rows", (int)rows,
		"throughput_rows_met", (int)thr_met,
		"main_cpu_rows_met", (int)main_met));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "mib", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct bench b = {
		.mib = 128, .rounds = 9,
		.cpus = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN),
	};
	struct kvmig_slot_desc sd = { .sz = sizeof(sd), .id = 0, .gpa = 0 };
	const char *json_path = NULL;
	json_t *out = json_array();
	unsigned int ci, wi;
	uint8_t *mem;
	int opt;

	/* an option it does not know is ignored (scripts/bench-compare.sh) */
	while ((opt = getopt_long(argc, argv, "j:m:r:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'm')
			b.mib = (unsigned int)atoi(optarg);
		else if (opt == 'r')
			b.rounds = (unsigned int)atoi(optarg);
	}
	TEST_ASSERT(b.mib >= 1 && b.rounds >= 1 && b.rounds <= MAX_ROUNDS,
		    "-m MiB (at least 1), -r rounds (1..%d)", MAX_ROUNDS);
	b.c.pages = (uint64_t)b.mib << 8;
	mem = aligned_alloc(PAGE, b.c.pages * PAGE);
	TEST_ASSERT(mem, "corpus");
	fill_corpus(mem, b.c.pages);
	b.c.map = kvmig_memmap_new(NULL);
	sd.hva = mem;
	sd.size = b.c.pages * PAGE;
	TEST_ASSERT(b.c.map && !kvmig_memmap_add(b.c.map, &sd), "memmap");
	for (wi = 1; wi <= b.cpus && b.nr_counts < 6; wi *= 2)
		b.counts[b.nr_counts++] = wi;
	if (b.counts[b.nr_counts - 1] != b.cpus)
		b.counts[b.nr_counts++] = b.cpus;
	b.counts[b.nr_counts++] = b.cpus * 2;	/* oversubscribed */
	b.cells = calloc(ARRAY_SIZE(codecs), sizeof(*b.cells));
	TEST_ASSERT(b.cells, "cells");

	for (ci = 0; ci < ARRAY_SIZE(codecs); ci++) {
		b.c.run_pages = b.c.pages * codecs[ci].num / codecs[ci].den;
		for (wi = 0; wi < b.nr_counts; wi++)
			cell_run(&b.cells[ci][wi], &b.c, codecs[ci].codec,
				 b.counts[wi], b.rounds);
	}

	printf("bench_pipeline: %u MiB corpus (1/4 zero, text, binary, random), "
	       "%u CPUs, zero test %s, frames to /dev/null; medians of %u "
	       "interleaved rounds (ABBA)\n", b.mib, b.cpus,
	       kvmig_simd_name(kvmig_simd_best()), b.rounds);
	printf("a run's share of the corpus: none 4x, lz4 zstd auto 1x, zlib 1/8\n");
	printf("pipeline: SPSC rings of 32-page batches; pool-batch: mutex + "
	       "condvars, 32-page batches; pool-page: the same, one page per "
	       "hand-off\n\n");
	print_figures(&b, out);
	print_ratios(&b, out);
	if (json_path)
		json_dump_file(out, json_path, JSON_INDENT(2));
	json_decref(out);
	free(b.cells);
	kvmig_memmap_free(b.c.map);
	free(mem);
	return 0;
}
