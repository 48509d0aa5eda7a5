// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig_migration_stats_json() (user/lib/stats.c): a struct with its own
 * value in every field gives, key for key and in order, the text the
 * hand-written json_pack() code gave (captured below as FULL), and every
 * variant gives FULL with what that code changed for it:
 *
 *  - each object under its condition: verify when done, xbzrle-cache when
 *    cache_size or pages is not 0, downtime-parts with a switchover,
 *    converge with a policy, parameters with a downtime limit, pass with
 *    pages, error-desc and switchover when set;
 *  - a caller's struct of every size: each part's objects only when .sz
 *    covers that part (worker codec-ms only with worker_codec_ns), none
 *    below the part before the pipeline (EINVAL), a larger struct like
 *    ours;
 *  - values jansson refuses (NaN, infinity, a string that is not UTF-8)
 *    leave out the object they are in, or the whole text if that object
 *    is the top level or ram.
 */
#include <math.h>
#include <stddef.h>

#include <kvmig/kvmig.h>

#include "harness.h"

/* The struct fill() makes, as the hand-written code wrote it ('' for "") */
static const char FULL[] =
	"{'status': 'active', 'total-time': 1, 'setup-time': 2,"
	" 'downtime': 3, 'expected-downtime': 4,"
	" 'dirty-log': 'dirty-backend', 'channels': 3,"
	" 'ram': {'transferred': 5, 'remaining': -7, 'total': 7,"
	"  'duplicate': 8, 'normal': 9, 'normal-bytes': 10,"
	"  'dirty-pages-rate': 11, 'mbps': 12.5, 'dirty-sync-count': 13,"
	"  'pages-per-second': 14, 'precopy-bytes': 15,"
	"  'downtime-bytes': 16, 'iterations': 17},"
	" 'verify': {'pages': 18, 'mismatches': 19},"
	" 'compression': {'pages': 165, 'busy': 25, 'busy-rate': 26.25,"
	"  'compressed-size': 173, 'compression-rate': 4001.2947976878613},"
	" 'pipeline': {'codec': 'codec', 'level': -20, 'workers': 21,"
	"  'effort': 22, 'zero-pages': 23, 'dispatches': 24, 'busy': 25,"
	"  'busy-rate': 26.25, 'migration-thread-cpu-ms': 27,"
	"  'codecs': {"
	"   'none': {'pages': 28, 'compressed': 29, 'raw-bytes': 122880,"
	"    'wire-bytes': 31, 'compression-rate': 3963.8709677419356,"
	"    'busy-ms': 32},"
	"   'zlib': {'pages': 33, 'compressed': 34, 'raw-bytes': 143360,"
	"    'wire-bytes': 36, 'compression-rate': 3982.2222222222222,"
	"    'busy-ms': 37},"
	"   'zstd': {'pages': 38, 'compressed': 39, 'raw-bytes': 163840,"
	"    'wire-bytes': 41, 'compression-rate': 3996.0975609756097,"
	"    'busy-ms': 42},"
	"   'lz4': {'pages': 43, 'compressed': 44, 'raw-bytes': 184320,"
	"    'wire-bytes': 46, 'compression-rate': 4006.9565217391305,"
	"    'busy-ms': 47}},"
	"  'worker': ["
	"   {'pages': 52, 'wire-bytes': 53, 'busy-ms': 54, 'wait-ms': 55,"
	"    'cpu-ms': 56, 'cpu-util': 57.75, 'codec-ms': 648},"
	"   {'pages': 58, 'wire-bytes': 59, 'busy-ms': 60, 'wait-ms': 61,"
	"    'cpu-ms': 62, 'cpu-util': 63.75, 'codec-ms': 649},"
	"   {'pages': 64, 'wire-bytes': 65, 'busy-ms': 66, 'wait-ms': 67,"
	"    'cpu-ms': 68, 'cpu-util': 69.75, 'codec-ms': 650}]},"
	" 'xbzrle-cache': {'cache-size': 436, 'bytes': 437, 'pages': 438,"
	"  'cache-miss': 439, 'cache-miss-rate': 440.5,"
	"  'encoding-rate': 441.25, 'overflow': 442},"
	" 'switchover': 'switchover',"
	" 'converge': {'policy': 'policy', 'mechanism': 'mechanism',"
	"  'decision': 'decision', 'cpu-throttle-percentage': 443,"
	"  'dirty-limit-throttle-time-per-round': 444,"
	"  'passes-without-progress': 445,"
	"  'vcpus': ["
	"   {'cpu-index': 0, 'dirty-rate': 446.5, 'limit': 447,"
	"    'io-rate': 448.25, 'serves-io': false},"
	"   {'cpu-index': 1, 'dirty-rate': 449.5, 'limit': 450,"
	"    'io-rate': 451.25, 'serves-io': true},"
	"   {'cpu-index': 2, 'dirty-rate': 452.5, 'limit': 453,"
	"    'io-rate': 454.25, 'serves-io': false}]},"
	" 'downtime-parts': {'pause': 638, 'sync': 639, 'ram': 640,"
	"  'device': 641, 'verify': 642, 'commit': 643},"
	" 'parameters': {'max-bandwidth': 712, 'downtime-limit': 713,"
	"  'max-iterations': 714, 'cpu-throttle-initial': 715,"
	"  'cpu-throttle-increment': 716, 'max-cpu-throttle': 717,"
	"  'io-aware': true, 'io-stall': 4294966577},"
	" 'pass': {'pages': 644, 'done': 645, 'elapsed-time': 646,"
	"  'time-left': 647},"
	" 'error-desc': 'error'}";

/* Every field its own value (nanoseconds just short of the next ms). */
static void fill(struct kvmig_migration_stats *st)
{
	uint64_t v = 1;
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	strcpy(st->status, "active");
	strcpy(st->error, "error");
	st->total_time_ms = v++;
	st->setup_time_ms = v++;
	st->downtime_ms = v++;
	st->expected_downtime_ms = v++;
	st->ram.transferred = v++;
	st->ram.remaining = UINT64_MAX - v++;	/* beyond json_int_t */
	st->ram.total = v++;
	st->ram.duplicate = v++;
	st->ram.normal = v++;
	st->ram.normal_bytes = v++;
	st->ram.dirty_pages_rate = v++;
	st->ram.mbps = v++ + 0.5;
	st->ram.dirty_sync_count = v++;
	st->ram.pages_per_second = v++;
	st->ram.precopy_bytes = v++;
	st->ram.downtime_bytes = v++;
	st->ram.iterations = v++;
	st->verify.done = true;
	st->verify.pages = v++;
	st->verify.mismatches = v++;
	strcpy(st->dirty_backend, "dirty-backend");
	st->channels = 3;
	strcpy(st->switchover, "switchover");

	strcpy(st->pipeline.codec_name, "codec");
	st->pipeline.level = -(int)v++;
	st->pipeline.workers = (uint32_t)v++;
	st->pipeline.effort = (uint32_t)v++;
	st->pipeline.zero_pages = v++;
	st->pipeline.dispatches = v++;
	st->pipeline.busy = v++;
	st->pipeline.busy_rate = v++ + 0.25;
	st->pipeline.main_cpu_ns = v++ * 1000000 + 999999;
	for (i = 0; i < KVMIG_CODEC_NR; i++) {
		struct kvmig_codec_stats *c = &st->pipeline.codec[i];

		/* auto has no pages (no object) but its counts are summed */
		c->pages = i == KVMIG_CODEC_AUTO ? 0 : v++;
		c->compressed = v++;
		c->raw_bytes = v++ * 4096;
		c->wire_bytes = v++;
		c->busy_ns = v++ * 1000000 + 999999;
	}
	for (i = 0; i < 64; i++) {
		struct kvmig_worker_stats *w = &st->pipeline.worker[i];

		w->pages = v++;
		w->wire_bytes = v++;
		w->busy_ns = v++ * 1000000 + 999999;
		w->wait_ns = v++ * 1000000 + 999999;
		w->cpu_ns = v++ * 1000000 + 999999;
		w->cpu_util = v++ + 0.75;
	}

	st->xbzrle.cache_size = v++;
	st->xbzrle.bytes = v++;
	st->xbzrle.pages = v++;
	st->xbzrle.cache_miss = v++;
	st->xbzrle.cache_miss_rate = v++ + 0.5;
	st->xbzrle.encoding_rate = v++ + 0.25;
	st->xbzrle.overflow = v++;

	strcpy(st->converge.policy, "policy");
	strcpy(st->converge.mechanism, "mechanism");
	strcpy(st->converge.decision, "decision");
	st->converge.cpu_throttle_percentage = (uint32_t)v++;
	st->converge.dirty_limit_throttle_time_per_round = v++;
	st->converge.passes_without_progress = (uint32_t)v++;
	st->converge.nr_vcpus = 3;
	for (i = 0; i < 64; i++) {
		struct kvmig_vcpu_converge *c = &st->converge.vcpu[i];

		c->dirty_rate = v++ + 0.5;
		c->limit = v++;
		c->io_rate = v++ + 0.25;
		c->io = i & 1;
	}

	st->downtime_parts.pause = v++;
	st->downtime_parts.sync = v++;
	st->downtime_parts.ram = v++;
	st->downtime_parts.device = v++;
	st->downtime_parts.verify = v++;
	st->downtime_parts.commit = v++;

	st->pass.pages = v++;
	st->pass.done = v++;
	st->pass.elapsed_ms = v++;
	st->pass.eta_ms = v++;

	for (i = 0; i < 64; i++)
		st->worker_codec_ns[i] = v++ * 1000000 + 999999;

	st->params.max_bandwidth = v++;
	st->params.downtime_limit_ms = (uint32_t)v++;
	st->params.max_iterations = (uint32_t)v++;
	st->params.throttle_initial = (uint32_t)v++;
	st->params.throttle_increment = (uint32_t)v++;
	st->params.throttle_max = (uint32_t)v++;
	st->params.io_aware = true;
	/* above INT_MAX: an integer of json_int_t, not of int */
	st->params.io_stall_us = UINT32_MAX - (uint32_t)v++;
}

/* .sz up to, not including, @part */
#define SZ_BEFORE(part)	offsetof(struct kvmig_migration_stats, part)

/* A change to fill()'s struct @st */
#define CHANGE(name, stmt)						\
	static void name(struct kvmig_migration_stats *st)		\
	{								\
		stmt;							\
	}

CHANGE(none, (void)st)
CHANGE(no_verify, st->verify.done = false)
CHANGE(no_xbzrle, st->xbzrle.cache_size = st->xbzrle.pages = 0)
CHANGE(xbzrle_pages, st->xbzrle.cache_size = 0)
CHANGE(xbzrle_cache, st->xbzrle.pages = 0)
CHANGE(no_error, st->error[0] = 0)
CHANGE(no_switchover, st->switchover[0] = 0)
CHANGE(no_policy, st->converge.policy[0] = 0)
CHANGE(no_limit, st->params.downtime_limit_ms = 0)
CHANGE(no_pass, st->pass.pages = 0)
CHANGE(one_channel, st->channels = 1)
CHANGE(no_vcpus, st->converge.nr_vcpus = 0)
CHANGE(no_lz4, st->pipeline.codec[KVMIG_CODEC_LZ4].pages = 0)

static void quiet(struct kvmig_migration_stats *st)
{
	no_verify(st);
	no_xbzrle(st);
	no_error(st);
	no_switchover(st);
	no_policy(st);
	no_limit(st);
	no_pass(st);
}

CHANGE(sz_min, st->sz = SZ_BEFORE(pipeline))
CHANGE(sz_short, st->sz = SZ_BEFORE(pipeline) - 1)
CHANGE(sz_mid_pipeline, st->sz = SZ_BEFORE(xbzrle) - 1)
CHANGE(sz_xbzrle, st->sz = SZ_BEFORE(xbzrle))
CHANGE(sz_converge, st->sz = SZ_BEFORE(converge))
CHANGE(sz_parts, st->sz = SZ_BEFORE(downtime_parts))
CHANGE(sz_pass, st->sz = SZ_BEFORE(pass))
CHANGE(sz_codec_ns, st->sz = SZ_BEFORE(worker_codec_ns))
CHANGE(sz_params, st->sz = SZ_BEFORE(params))
CHANGE(sz_larger, st->sz = sizeof(*st) + 64)

CHANGE(nan_mbps, st->ram.mbps = NAN)
CHANGE(bad_status, strcpy(st->status, "\xff"))
CHANGE(bad_backend, strcpy(st->dirty_backend, "\xc3"))
CHANGE(inf_busy_rate, st->pipeline.busy_rate = INFINITY)
CHANGE(bad_codec, strcpy(st->pipeline.codec_name, "\xff"))
CHANGE(nan_cpu_util, st->pipeline.worker[1].cpu_util = NAN)
CHANGE(nan_miss_rate, st->xbzrle.cache_miss_rate = NAN)
CHANGE(bad_switchover, strcpy(st->switchover, "\xff"))
CHANGE(bad_decision, strcpy(st->converge.decision, "\xe2\x82"))
CHANGE(nan_vcpu, st->converge.vcpu[0].io_rate = NAN)
CHANGE(bad_error, strcpy(st->error, "\xff"))

#define ALL_PARTS	"-compression -pipeline -xbzrle-cache -converge "\
			"-downtime-parts -parameters -pass"
#define CODEC_MS	"-pipeline.worker.*.codec-ms"

/*
 * @edits turn FULL into what @change gives: "-PATH" leaves out a member,
 * "PATH=JSON" sets it; a PATH is dotted keys and array indices, "*" for
 * every element.  NULL: no text at all.
 */
static const struct variant {
	const char *name;
	void (*change)(struct kvmig_migration_stats *st);
	const char *edits;
} variants[] = {
	{ "every field", none, "" },
	{ "verify not done", no_verify, "-verify" },
	{ "xbzrle not used", no_xbzrle, "-xbzrle-cache" },
	{ "xbzrle pages, no cache", xbzrle_pages, "xbzrle-cache.cache-size=0" },
	{ "xbzrle cache, no pages", xbzrle_cache, "xbzrle-cache.pages=0" },
	{ "no error", no_error, "-error-desc" },
	{ "no switchover", no_switchover, "-switchover -downtime-parts" },
	{ "no converge policy", no_policy, "-converge" },
	{ "no downtime limit", no_limit, "-parameters" },
	{ "no pass", no_pass, "-pass" },
	{ "one channel", one_channel,
	  "channels=1 -pipeline.worker.2 -pipeline.worker.1" },
	{ "no vCPUs", no_vcpus, "converge.vcpus=[]" },
	{ "lz4 without pages", no_lz4, "-pipeline.codecs.lz4" },
	{ "every condition false", quiet,
	  "-verify -xbzrle-cache -error-desc -switchover -downtime-parts "
	  "-converge -parameters -pass" },

	{ ".sz: the part before the pipeline", sz_min, ALL_PARTS },
	{ ".sz: one byte short of that", sz_short, NULL },
	{ ".sz: one byte short of the pipeline", sz_mid_pipeline, ALL_PARTS },
	{ ".sz: up to xbzrle", sz_xbzrle, "-xbzrle-cache -converge "
	  "-downtime-parts -parameters -pass " CODEC_MS },
	{ ".sz: up to converge", sz_converge,
	  "-converge -downtime-parts -parameters -pass " CODEC_MS },
	{ ".sz: up to downtime_parts", sz_parts,
	  "-downtime-parts -parameters -pass " CODEC_MS },
	{ ".sz: up to pass", sz_pass, "-parameters -pass " CODEC_MS },
	{ ".sz: up to worker_codec_ns", sz_codec_ns, "-parameters " CODEC_MS },
	{ ".sz: up to params", sz_params, "-parameters" },
	{ ".sz: a newer, larger struct", sz_larger, "" },

	{ "ram.mbps NaN", nan_mbps, NULL },
	{ "status not UTF-8", bad_status, NULL },
	{ "dirty_backend not UTF-8", bad_backend, NULL },
	{ "pipeline.busy_rate infinite", inf_busy_rate,
	  "-compression -pipeline" },
	{ "pipeline.codec_name not UTF-8", bad_codec, "-pipeline" },
	{ "a worker's cpu_util NaN", nan_cpu_util, "-pipeline.worker.1" },
	{ "xbzrle.cache_miss_rate NaN", nan_miss_rate, "-xbzrle-cache" },
	{ "switchover not UTF-8", bad_switchover, "-switchover" },
	{ "converge.decision not UTF-8", bad_decision, "-converge" },
	{ "a vCPU's io_rate NaN", nan_vcpu, "-converge.vcpus.0" },
	{ "error not UTF-8", bad_error, "-error-desc" },
};

static json_t *child(json_t *j, const char *key)
{
	return json_is_array(j) ? json_array_get(j, strtoul(key, NULL, 10)) :
				  json_object_get(j, key);
}

/* Set @path in @j to @val, or leave it out if @val is NULL. */
static void edit(json_t *j, char *path, json_t *val)
{
	char *dot = strchr(path, '.');
	size_t i;

	TEST_ASSERT(j, "no object for '%s'", path);
	if (dot) {
		*dot = 0;
		if (strcmp(path, "*")) {
			edit(child(j, path), dot + 1, val);
			return;
		}
		for (i = 0; i < json_array_size(j); i++)
			edit(json_array_get(j, i), dot + 1, val);
		return;
	}
	if (json_is_array(j))
		TEST_ASSERT(!json_array_remove(j, strtoul(path, NULL, 10)),
			    "no element %s", path);
	else if (val)
		TEST_ASSERT(!json_object_set(j, path, val), "set %s", path);
	else
		TEST_ASSERT(!json_object_del(j, path), "no member %s", path);
}

/* FULL with @edits applied, as compact text (malloc'd) */
static char *expected(const char *edits)
{
	char *full = strdup(FULL), *list = strdup(edits), *tok, *save, *p;
	json_error_t jerr;
	json_t *j;

	for (p = full; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(full, 0, &jerr);
	TEST_ASSERT(j, "FULL: %s at %d", jerr.text, jerr.position);
	for (tok = strtok_r(list, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		json_t *val = NULL;

		if (*tok == '-') {
			tok++;
		} else {
			TEST_ASSERT(eq, "edit '%s'", tok);
			*eq = 0;
			val = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
			TEST_ASSERT(val, "edit %s: %s", tok, jerr.text);
		}
		edit(j, tok, val);
		json_decref(val);
	}
	p = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(list);
	free(full);
	return p;
}

int main(void)
{
	static struct kvmig_migration_stats st;
	unsigned int i;

	ksft_print_header();
	ksft_set_plan(sizeof(variants) / sizeof(variants[0]));

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		char *want = v->edits ? expected(v->edits) : NULL, *got;
		bool ok;

		fill(&st);
		v->change(&st);
		errno = 0;
		got = kvmig_migration_stats_json(&st);
		if (want)
			ok = got && !strcmp(got, want);
		else	/* a short .sz is EINVAL */
			ok = !got && (v->change != sz_short || errno == EINVAL);
		ksft_test_result(ok, "%s", v->name);
		if (!ok)
			ksft_print_msg("got:  %s\nwant: %s\n", got ?: "NULL",
				       want ?: "NULL");
		free(want);
		free(got);
	}
	ksft_finished();
}
