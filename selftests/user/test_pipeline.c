// SPDX-License-Identifier: GPL-2.0
/*
 * The page pipeline end to end, between two kvmig-vm processes:
 *
 *  - a migration with each codec (zlib, zstd, lz4, auto) of a guest
 *    writing text-like pages completes with every proof of migrate_ok()
 *    (switchover hashes, every page compared, the guest runs on), and the
 *    statistics show the codec compressed pages at a real rate on both
 *    sides; with fewer workers than channels, the idle channel's worker
 *    carried no pages;
 *  - auto raises its effort when the link is the bottleneck;
 *  - "kvmig set" changes the codec and the worker count of a running
 *    migration; a value the helper cannot use is refused and the
 *    migration goes on; without a migration, "kvmig set" fails;
 *  - XBZRLE: a guest rewriting one word of each page migrates with every
 *    proof and most re-sent pages go as XBZRLE; and while the number of
 *    workers changes under it (pages change owners, caches are dropped),
 *    every page still arrives intact;
 *  - a destination refuses compressed entries it cannot trust, before
 *    the guest ever runs: a damaged zstd frame, a truncated lz4 block, a
 *    zlib stream with trailing bytes, and an encoding HELLO did not
 *    announce; the message names the entry and the codec.
 */
#include <pthread.h>
#include <signal.h>

#include "harness.h"
#include "../../user/lib/chan.h"
#include "../../user/lib/codec.h"

static const char *const text_args[] = {
	"--vcpus", "3", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=3000p,ws=8M,pattern=random,data=text",
	"--workload", "1:dirty,rate=2000p,ws=4M,pattern=seq,data=counter",
	"--workload", "2:io,period=500", NULL,
};

static json_t *path(json_t *o, const char *p)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", p);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(tok)) :
				       json_object_get(o, tok);
	return o;
}

static double num(json_t *o, const char *p)
{
	return json_number_value(path(o, p));
}

static void with_codec(const char *codec, const char *level, const char *channels,
		       const char *workers)
{
	const char *extra[16] = { "--verify", "--keep-vm", "--codec", codec };
	unsigned int n = 4;
	char name[96], key[64];
	double rate, compressed;
	json_t *st;

	if (level) {
		extra[n++] = "--level";
		extra[n++] = level;
	}
	extra[n++] = "--channels";
	extra[n++] = channels;
	extra[n++] = "--workers";
	extra[n++] = workers;
	snprintf(name, sizeof(name), "%s%s%s, %s channels, %s workers", codec,
		 level ? " level " : "", level ?: "", channels, workers);
	st = migrate_ok(name, text_args, text_args, extra, "converged");

	/* auto picks lz4 or zstd per page, by its effort: count both */
	if (!strcmp(codec, "auto")) {
		compressed = num(st, "pipeline.codecs.lz4.compressed") +
			     num(st, "pipeline.codecs.zstd.compressed");
	} else {
		snprintf(key, sizeof(key), "pipeline.codecs.%s.compressed", codec);
		compressed = num(st, key);
	}
	rate = num(st, "compression.compression-rate");
	if (atoi(workers) < atoi(channels)) {
		char w[64];

		snprintf(w, sizeof(w), "pipeline.worker.%d.pages", atoi(workers));
		TEST_ASSERT(json_path_int(st, w) == 0, "%s: an inactive worker "
			    "carried pages: %s", name, json_text(path(st, "pipeline")));
		TEST_ASSERT(json_path_int(st, "pipeline.worker.0.pages") > 0,
			    "%s: worker 0 idle", name);
	}
	ksft_test_result(compressed > 100 && rate > 1.5 &&
			 !strcmp(json_string_value(path(st, "pipeline.codec")), codec),
			 "%s: %.0f pages compressed, compression rate %.2f", name,
			 compressed, rate);
	if (compressed <= 100)
		ksft_print_msg("%s\n", json_text(path(st, "pipeline")));
	json_decref(st);
}

static const char *const counter_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=0,ws=12M,pattern=random,data=counter",
	"--workload", "1:io,period=1000", NULL,
};

static void test_xbzrle(void)
{
	const char *const extra[] = {
		"--verify", "--keep-vm", "--xbzrle", "--xbzrle-cache-size", "16M",
		"--codec", "lz4", "--channels", "3", "--max-bandwidth", "32M",
		"--max-iterations", "5", NULL,
	};
	json_t *st = migrate_ok("xbzrle + lz4, 3 channels", counter_args, counter_args,
				extra, "converged");

	ksft_print_msg("xbzrle: %s, ram.normal %lld\n",
		       json_text(json_object_get(st, "xbzrle-cache")),
		       (long long)json_path_int(st, "ram.normal"));
	/*
	 * How many pages go again depends on how fast the guest ran during
	 * pass 0; that they were found in the cache does not: a page misses
	 * the first time it goes with data, and the 12 MiB working set (3072
	 * pages, plus the guest's own code, stacks and tables, in its 2 MiB
	 * system area: 512 at most, 79 seen) fits the 16 MiB cache, so none
	 * misses twice.  A cache that lost the pages it holds would miss
	 * every one sent again: thousands more.
	 */
	ksft_test_result(json_path_int(st, "xbzrle-cache.pages") > 100 &&
			 json_path_int(st, "xbzrle-cache.cache-miss") <= 3072 + 512 &&
			 json_number_value(json_object_get(json_object_get(st,
				"xbzrle-cache"), "encoding-rate")) > 4 &&
			 json_path_int(st, "xbzrle-cache.cache-size") > 15 << 20 &&
			 json_path_int(st, "xbzrle-cache.cache-size") <= 16 << 20,
			 "xbzrle: %lld pages sent as XBZRLE, %lld misses (no page "
			 "missed twice), encoding rate > 4, cache of 16 MiB in whole "
			 "sets", (long long)json_path_int(st, "xbzrle-cache.pages"),
			 (long long)json_path_int(st, "xbzrle-cache.cache-miss"));
	json_decref(st);
}

struct bg {
	struct mig *m;
	const char *const *extra;
	json_t *st;
	int rc;
};

static void *bg_migrate(void *arg)
{
	struct bg *b = arg;

	b->rc = migrate(b->m, b->extra, &b->st);
	return NULL;
}

/*
 * auto over a slow link: the workers spend most of their time waiting for
 * it, so the effort must climb above lz4 (1) while the migration runs.
 * It is sampled while the pages flow: at the end, with the link idle and
 * a busy machine's CPU the scarcer resource, auto may rightly have come
 * down again.
 */
static void test_auto_effort(void)
{
	const char *const extra[] = {
		"--verify", "--keep-vm", "--codec", "auto", "--max-bandwidth", "2M",
		"--max-iterations", "6", NULL,
	};
	static const char *const light[] = {
		"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
		"--workload", "0:dirty,rate=500p,ws=4M,pattern=random,data=text",
		"--workload", "1:idle", NULL,
	};
	struct bg b = { .extra = extra };
	int64_t effort, peak = 0;
	uint64_t pages, diff;
	struct mig m;
	pthread_t t;

	start_vms(&m, light, light);
	b.m = &m;
	start_incoming(&m, true);
	TEST_ASSERT(!pthread_create(&t, NULL, bg_migrate, &b), "thread");
	TEST_WAIT(test_migration_moved(&m.src, "ram.transferred"), TEST_DEADLINE_S,
		  "auto: the migration never started: %s", test_slurp(m.mig_log));
	/* until it is no longer active: -1 */
	TEST_POLL((effort = test_migration_int(&m.src, "pipeline.effort"),
		   peak = effort > peak ? effort : peak, effort < 0), 120);
	pthread_join(t, NULL);
	TEST_ASSERT(b.st, "no JSON from kvmig migrate: %s", test_slurp(m.mig_log));
	ksft_test_result(b.rc == 0 &&
			 !strcmp(json_string_value(path(b.st, "status")) ?: "", "completed") &&
			 json_path_int(b.st, "verify.mismatches") == 0,
			 "auto over a 2 MiB/s link: completed, switchover hashes of all "
			 "pages match");
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "incoming: %s", test_slurp(m.inc_log));
	diff = test_compare_ram(&m.src, &m.dst, &pages);
	ksft_test_result(diff == 0, "auto over a 2 MiB/s link: all %llu pages equal "
			 "on both sides (%llu differ)", (unsigned long long)pages,
			 (unsigned long long)diff);
	ksft_test_result(peak > 1 && num(b.st, "pipeline.codecs.zstd.compressed") > 0,
			 "auto raised its effort while the link was the bottleneck: "
			 "effort up to %lld (%lld at the end), %.0f zstd pages",
			 (long long)peak, (long long)json_path_int(b.st, "pipeline.effort"),
			 num(b.st, "pipeline.codecs.zstd.compressed"));
	json_decref(b.st);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static int kvmig_set(struct mig *m, const char *a1, const char *v1, const char *a2,
		     const char *v2, char *out, size_t outlen)
{
	const char *argv[] = {
		test_bin("kvmig"), "set", "--vm", m->src.sock, a1, v1, a2, v2, NULL,
	};
	int rc;

	argv[0] = strdup(argv[0]);
	rc = test_run(argv, out, outlen);
	free((void *)argv[0]);
	return rc;
}

static const char *const busy_text_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=0,ws=24M,pattern=random,data=text",
	"--workload", "1:io,period=1000", NULL,
};

static void test_tune(void)
{
	const char *const extra[] = {
		"--verify", "--keep-vm", "--channels", "2", "--codec", "none",
		"--max-bandwidth", "12M", "--max-iterations", "6", NULL,
	};
	struct bg b = { .extra = extra };
	struct mig m;
	pthread_t t;
	char out[1024];
	uint64_t pages, diff;
	int rc;

	start_vms(&m, busy_text_args, busy_text_args);
	b.m = &m;
	rc = kvmig_set(&m, "--codec", "lz4", "--workers", "1", out, sizeof(out));
	ksft_test_result(rc == 1 && strstr(out, "no migration is running"),
			 "kvmig set without a migration fails: %s", out);
	start_incoming(&m, true);
	TEST_ASSERT(!pthread_create(&t, NULL, bg_migrate, &b), "thread");
	/* pages went uncompressed before the switch */
	TEST_WAIT(test_migration_moved(&m.src, "pipeline.codecs.none.pages"),
		  TEST_DEADLINE_S, "tune: the migration never sent a page: %s",
		  test_slurp(m.mig_log));
	rc = kvmig_set(&m, "--workers", "9", "--level", "1", out, sizeof(out));
	TEST_ASSERT(rc == 0, "kvmig set --workers 9: %s", out);
	/*
	 * The VMM merges the parameters it holds for the helper: the next
	 * set must wait until the helper took (and refused) this one.
	 */
	TEST_WAIT(strstr(test_slurp(m.mig_log), "workers 9 (1..2)"), TEST_DEADLINE_S,
		  "tune: the helper never refused 9 workers: %s", test_slurp(m.mig_log));
	rc = kvmig_set(&m, "--codec", "lz4", "--workers", "1", out, sizeof(out));
	TEST_ASSERT(rc == 0, "kvmig set --codec lz4: %s", out);
	pthread_join(t, NULL);
	TEST_ASSERT(b.st, "no JSON from kvmig migrate: %s", test_slurp(m.mig_log));
	ksft_print_msg("tune: %s\n", json_text(path(b.st, "pipeline")));
	ksft_test_result(strstr(test_slurp(m.mig_log), "workers 9 (1..2)") &&
			 strstr(test_slurp(m.mig_log), "refused"),
			 "a knob the helper cannot use (9 workers of 2) is refused with "
			 "a warning");
	ksft_test_result(b.rc == 0 && num(b.st, "pipeline.codecs.none.pages") > 0 &&
			 num(b.st, "pipeline.codecs.lz4.compressed") > 0 &&
			 json_path_int(b.st, "pipeline.workers") == 1 &&
			 !strcmp(json_string_value(path(b.st, "pipeline.codec")), "lz4") &&
			 json_path_int(b.st, "verify.mismatches") == 0,
			 "kvmig set switched a running migration from none to lz4 "
			 "and to 1 worker; it completed, verified");
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "incoming: %s", test_slurp(m.inc_log));
	diff = test_compare_ram(&m.src, &m.dst, &pages);
	ksft_test_result(diff == 0, "... all %llu pages equal on both sides",
			 (unsigned long long)pages);
	json_decref(b.st);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/*
 * Speak kvmig to a destination: HELLO with its own layout and @codecs,
 * then one PAGES frame whose single entry is @enc with @data.  Returns the
 * kvmig incoming log.
 */
static const char *send_bad_entry(uint32_t codecs, uint8_t enc, const uint8_t *data,
				  uint32_t len, bool *refused_frame)
{
	static char log[64 << 10];
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	struct wire_hello *h = calloc(1, sizeof(*h));
	uint8_t *buf, frame[WIRE_PAGES_FIXED + WIRE_PAGE_ENTRY_HDR + WIRE_PAGE_SIZE];
	struct wire_hdr hdr;
	char err[512];
	struct chan c;
	struct mig m;
	unsigned int i;
	int fd, rc;

	start_vms(&m, text_args, text_args);
	start_incoming(&m, false);
	vmm = kvmig_vmm_connect(m.dst.sock, NULL);
	TEST_ASSERT(vmm, "connect to the destination VMM");
	map = kvmig_vmm_map_memory(vmm);
	TEST_ASSERT(map && h, "map its memory");
	h->page_size = WIRE_PAGE_SIZE;
	h->nr_slots = (uint16_t)kvmig_memmap_nr_slots(map);
	h->nr_channels = 1;
	h->session = 42;
	h->codecs = codecs;
	h->ram_bytes = kvmig_memmap_bytes(map);
	for (i = 0; i < h->nr_slots; i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(map, i);

		h->slots[i] = (struct wire_slot){ s->id, s->gpa, s->size };
	}
	fd = tcp_connect("127.0.0.1", m.port, 5000, err, sizeof(err));
	TEST_ASSERT(fd >= 0 && !chan_init(&c, fd, 0, 10000), "connect: %s", err);
	buf = malloc(wire_hello_size(h));
	wire_put_hello(buf, h);
	TEST_ASSERT(!chan_send(&c, WIRE_HELLO, buf, (uint32_t)wire_hello_size(h), NULL, 0),
		    "send HELLO");
	TEST_ASSERT(!chan_recv(&c, &hdr, err, sizeof(err)) && hdr.type == WIRE_HELLO_ACK,
		    "HELLO_ACK: %s", err);
	put_u32(frame, 1);
	put_u32(frame + 4, 0);
	put_u64(frame + 8, kvmig_memmap_slot(map, 0)->gpa + 5 * WIRE_PAGE_SIZE);
	frame[16] = enc;
	frame[17] = 0;
	put_u16(frame + 18, 0);
	put_u32(frame + 20, len);
	memcpy(frame + 24, data, len);
	TEST_ASSERT(!chan_send(&c, WIRE_PAGES, frame, 24 + len, NULL, 0), "send PAGES");
	*refused_frame = !chan_recv(&c, &hdr, err, sizeof(err)) && hdr.type == WIRE_ERROR;
	rc = test_wait(m.inc, 30);
	snprintf(log, sizeof(log), "%s", test_slurp(m.inc_log));
	TEST_ASSERT(rc == 1, "kvmig incoming exit %d: %s", rc, log);
	TEST_ASSERT(test_vm_waits_incoming(&m.dst) && test_vm_quit(&m.dst) == 3,
		    "the destination guest never runs; its VMM waits on");
	chan_fini(&c);
	free(buf);
	free(h);
	kvmig_memmap_free(map);
	kvmig_vmm_close(vmm);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
	return log;
}

static void test_refusals(void)
{
	struct codec_ctx c;
	uint8_t page[WIRE_PAGE_SIZE], out[WIRE_PAGE_SIZE];
	const char *log;
	bool err_frame;
	int n;
	unsigned int i;

	codec_ctx_init(&c);
	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)"a page of text for the codecs "[i % 30];

	n = codec_encode(&c, KVMIG_CODEC_ZSTD, 3, page, out, sizeof(out));
	TEST_ASSERT(n > 8, "zstd");
	out[0] ^= 0xff;		/* the frame magic */
	log = send_bad_entry(WIRE_CODECS_ALL, WIRE_ENC_ZSTD, out, (uint32_t)n, &err_frame);
	ksft_test_result(err_frame && strstr(log, "entry 0") && strstr(log, "zstd:"),
			 "a damaged zstd frame is refused: %s", strstr(log, "refused") ?: log);

	n = codec_encode(&c, KVMIG_CODEC_LZ4, 0, page, out, sizeof(out));
	TEST_ASSERT(n > 8, "lz4");
	log = send_bad_entry(WIRE_CODECS_ALL, WIRE_ENC_LZ4, out, (uint32_t)n - 3, &err_frame);
	ksft_test_result(err_frame && strstr(log, "entry 0") && strstr(log, "lz4:"),
			 "a truncated lz4 block is refused: %s", strstr(log, "refused") ?: log);

	n = codec_encode(&c, KVMIG_CODEC_ZLIB, 6, page, out, sizeof(out));
	TEST_ASSERT(n > 8, "zlib");
	memcpy(out + n, "junk", 4);
	log = send_bad_entry(WIRE_CODECS_ALL, WIRE_ENC_ZLIB, out, (uint32_t)n + 4, &err_frame);
	ksft_test_result(err_frame && strstr(log, "entry 0") &&
			 strstr(log, "4 bytes after the end"),
			 "a zlib stream with trailing bytes is refused: %s",
			 strstr(log, "refused") ?: log);

	n = codec_encode(&c, KVMIG_CODEC_LZ4, 0, page, out, sizeof(out));
	log = send_bad_entry(WIRE_CODECS_V1, WIRE_ENC_LZ4, out, (uint32_t)n, &err_frame);
	ksft_test_result(err_frame && strstr(log, "lz4 was not announced in HELLO"),
			 "an lz4 entry after a HELLO without lz4 is refused: %s",
			 strstr(log, "refused") ?: log);
	codec_ctx_fini(&c);
}

static const char *const counter_small_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=0,ws=4M,pattern=random,data=counter",
	"--workload", "1:io,period=1000", NULL,
};

/*
 * The number of workers changes (up to three times while the migration
 * runs, 2 MiB of stream apart) under XBZRLE: pages change owners and
 * caches are dropped, and every page must arrive.  Which pages are in
 * flight at a change is timing; test_pipe_inproc checks owner changes
 * deterministically.
 */
static void test_xbzrle_owners(void)
{
	const char *const extra[] = {
		"--verify", "--keep-vm", "--channels", "3", "--xbzrle",
		"--max-bandwidth", "8M", "--downtime-limit", "1",
		"--max-iterations", "10", NULL,
	};
	static const char *const counts[] = { "1", "3", "2" };
	struct bg b = { .extra = extra };
	unsigned int sets = 0, i;
	struct mig m;
	pthread_t t;
	char out[1024];
	uint64_t pages, diff;

	start_vms(&m, counter_small_args, counter_small_args);
	b.m = &m;
	start_incoming(&m, true);
	TEST_ASSERT(!pthread_create(&t, NULL, bg_migrate, &b), "thread");
	TEST_WAIT(test_migration_moved(&m.src, "ram.normal"), TEST_DEADLINE_S,
		  "xbzrle owners: the migration never sent a page: %s",
		  test_slurp(m.mig_log));
	for (i = 0; i < 3; i++) {
		int64_t sent;

		if (kvmig_set(&m, "--workers", counts[i % 3], NULL, NULL, out,
			      sizeof(out)))
			break;	/* the migration is over */
		/*
		 * Count a change once it is in force (the helper reports the
		 * active workers); then let 2 MiB go under it (a quarter of
		 * a second at 8 MiB/s) before the next one.
		 */
		if (!TEST_POLL(test_migration_int(&m.src, "pipeline.workers") ==
			       atoi(counts[i % 3]) ||
			       test_migration_int(&m.src, "pipeline.workers") < 0,
			       TEST_DEADLINE_S))
			break;
		sent = test_migration_int(&m.src, "ram.transferred");
		if (sent < 0)
			break;	/* the migration is over */
		sets++;
		if (!TEST_POLL(test_migration_int(&m.src, "ram.transferred") >
			       sent + (2 << 20) ||
			       test_migration_int(&m.src, "ram.transferred") < 0,
			       TEST_DEADLINE_S))
			break;
	}
	pthread_join(t, NULL);
	TEST_ASSERT(b.st, "no JSON from kvmig migrate: %s", test_slurp(m.mig_log));
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "incoming: %s", test_slurp(m.inc_log));
	diff = test_compare_ram(&m.src, &m.dst, &pages);
	ksft_print_msg("xbzrle owners: %u worker changes, %s\n", sets,
		       json_text(json_object_get(b.st, "xbzrle-cache")));
	ksft_test_result(b.rc == 0 && json_path_int(b.st, "verify.mismatches") == 0 &&
			 diff == 0 && sets >= 1 &&
			 json_path_int(b.st, "xbzrle-cache.pages") > 500,
			 "xbzrle while the worker count changed %u times: completed, "
			 "all %llu pages equal (%llu differ), %lld XBZRLE pages", sets,
			 (unsigned long long)pages, (unsigned long long)diff,
			 (long long)json_path_int(b.st, "xbzrle-cache.pages"));
	json_decref(b.st);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	test_require_kvm();
	/* codecs, auto, tune, refusals, xbzrle, xbzrle owners */
	ksft_set_plan(4 * 4 + 3 + 4 + 4 + 4 + 1);
	with_codec("zlib", "1", "3", "2");
	with_codec("zstd", "3", "2", "2");
	with_codec("lz4", NULL, "4", "3");
	with_codec("auto", NULL, "2", "2");
	test_auto_effort();
	test_tune();
	test_refusals();
	test_xbzrle();
	test_xbzrle_owners();
	ksft_finished();
}
