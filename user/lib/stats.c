// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* Migration statistics as JSON, under QEMU query-migrate's names. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stats.h"

/* The smallest struct a caller may pass: the fields before the pipeline's. */
#define STATS_SZ_MIN	offsetof(struct kvmig_migration_stats, pipeline)
/* Does the caller's struct have @field? */
#define STATS_HAS(st, field)						\
	((st)->sz >= offsetof(struct kvmig_migration_stats, field) +	\
		     sizeof((st)->field))

bool kvmig_stats_sz_ok(const struct kvmig_migration_stats *st)
{
	return st && st->sz >= STATS_SZ_MIN;
}

struct kvmig_migration_stats *kvmig_stats_begin(const struct kvmig_migration_stats *caller)
{
	struct kvmig_migration_stats *full;

	if (!kvmig_stats_sz_ok(caller))
		return err_ptr(-EINVAL);	/* .sz not set: its size is unknown */
	full = calloc(1, sizeof(*full));
	if (!full)
		return err_ptr(-ENOMEM);
	full->sz = sizeof(*full);
	snprintf(full->status, sizeof(full->status), "setup");
	return full;
}

void kvmig_stats_end(struct kvmig_migration_stats *caller,
		     struct kvmig_migration_stats *full)
{
	size_t sz = caller->sz;

	memcpy(caller, full, sz < sizeof(*full) ? sz : sizeof(*full));
	caller->sz = sz;
	free(full);
}

/*
 * QEMU's "compression" object, over every codec: pages sent compressed,
 * busy / busy-rate, their compressed size and the compression rate.
 */
static json_t *compression_json(const struct kvmig_migration_stats *st)
{
	uint64_t pages = 0, raw = 0, wire = 0;
	unsigned int i;

	for (i = KVMIG_CODEC_NONE + 1; i < KVMIG_CODEC_NR; i++) {
		pages += st->pipeline.codec[i].compressed;
		raw += st->pipeline.codec[i].raw_bytes;
		wire += st->pipeline.codec[i].wire_bytes;
	}
	return json_pack("{sI sI sf sI sf}",
			 "pages", (json_int_t)pages,
			 "busy", (json_int_t)st->pipeline.busy,
			 "busy-rate", st->pipeline.busy_rate,
			 "compressed-size", (json_int_t)wire,
			 "compression-rate", wire ? (double)raw / (double)wire : 0.0);
}

/* kvmig's own: per codec, per worker, the migration thread. */
static json_t *pipeline_json(const struct kvmig_migration_stats *st)
{
	json_t *codecs = json_object(), *workers = json_array();
	unsigned int i;

	for (i = 0; i < KVMIG_CODEC_NR; i++) {
		const struct kvmig_codec_stats *c = &st->pipeline.codec[i];

		if (!c->pages)
			continue;
		json_object_set_new(codecs, kvmig_codec_name(i), json_pack(
			"{sI sI sI sI sf sI}",
			"pages", (json_int_t)c->pages,
			"compressed", (json_int_t)c->compressed,
			"raw-bytes", (json_int_t)c->raw_bytes,
			"wire-bytes", (json_int_t)c->wire_bytes,
			"compression-rate", c->wire_bytes ?
				(double)c->raw_bytes / (double)c->wire_bytes : 0.0,
			"busy-ms", (json_int_t)(c->busy_ns / 1000000)));
	}
	for (i = 0; i < st->channels && i < ARRAY_SIZE(st->pipeline.worker); i++) {
		const struct kvmig_worker_stats *w = &st->pipeline.worker[i];

		json_t *o = json_pack(
			"{sI sI sI sI sI sf}",
			"pages", (json_int_t)w->pages,
			"wire-bytes", (json_int_t)w->wire_bytes,
			"busy-ms", (json_int_t)(w->busy_ns / 1000000),
			"wait-ms", (json_int_t)(w->wait_ns / 1000000),
			"cpu-ms", (json_int_t)(w->cpu_ns / 1000000),
			"cpu-util", w->cpu_util);

		if (o && STATS_HAS(st, worker_codec_ns))
			json_object_set_new(o, "codec-ms", json_integer(
				(json_int_t)(st->worker_codec_ns[i] / 1000000)));
		json_array_append_new(workers, o);
	}
	return json_pack("{ss si si si sI sI sI sf sI so so}",
			 "codec", st->pipeline.codec_name,
			 "level", st->pipeline.level,
			 "workers", (int)st->pipeline.workers,
			 "effort", (int)st->pipeline.effort,
			 "zero-pages", (json_int_t)st->pipeline.zero_pages,
			 "dispatches", (json_int_t)st->pipeline.dispatches,
			 "busy", (json_int_t)st->pipeline.busy,
			 "busy-rate", st->pipeline.busy_rate,
			 "migration-thread-cpu-ms",
			 (json_int_t)(st->pipeline.main_cpu_ns / 1000000),
			 "codecs", codecs, "worker", workers);
}

/* QEMU's names where it has them (cpu-throttle-percentage, ...) */
static json_t *converge_json(const struct kvmig_migration_stats *st)
{
	json_t *vcpus = json_array();
	unsigned int i;

	for (i = 0; i < st->converge.nr_vcpus && i < 64; i++) {
		const struct kvmig_vcpu_converge *v = &st->converge.vcpu[i];

		json_array_append_new(vcpus, json_pack("{sI sf sI sf sb}",
			"cpu-index", (json_int_t)i,
			"dirty-rate", v->dirty_rate,
			"limit", (json_int_t)v->limit,
			"io-rate", v->io_rate,
			"serves-io", v->io));
	}
	return json_pack("{ss ss ss sI sI sI so}",
		"policy", st->converge.policy,
		"mechanism", st->converge.mechanism,
		"decision", st->converge.decision,
		"cpu-throttle-percentage",
		(json_int_t)st->converge.cpu_throttle_percentage,
		"dirty-limit-throttle-time-per-round",
		(json_int_t)st->converge.dirty_limit_throttle_time_per_round,
		"passes-without-progress",
		(json_int_t)st->converge.passes_without_progress,
		"vcpus", vcpus);
}

KVMIG_EXPORT char *kvmig_migration_stats_json(const struct kvmig_migration_stats *st)
{
	json_t *o;
	char *text;

	if (!kvmig_stats_sz_ok(st))
		return err_ptr(-EINVAL);
	o = json_pack(
		"{ss sI sI sI sI ss sI"
		" s{sI sI sI sI sI sI sI sf sI sI sI sI sI}}",
		"status", st->status,
		"total-time", (json_int_t)st->total_time_ms,
		"setup-time", (json_int_t)st->setup_time_ms,
		"downtime", (json_int_t)st->downtime_ms,
		"expected-downtime", (json_int_t)st->expected_downtime_ms,
		"dirty-log", st->dirty_backend,
		"channels", (json_int_t)st->channels,
		"ram",
		"transferred", (json_int_t)st->ram.transferred,
		"remaining", (json_int_t)st->ram.remaining,
		"total", (json_int_t)st->ram.total,
		"duplicate", (json_int_t)st->ram.duplicate,
		"normal", (json_int_t)st->ram.normal,
		"normal-bytes", (json_int_t)st->ram.normal_bytes,
		"dirty-pages-rate", (json_int_t)st->ram.dirty_pages_rate,
		"mbps", st->ram.mbps,
		"dirty-sync-count", (json_int_t)st->ram.dirty_sync_count,
		"pages-per-second", (json_int_t)st->ram.pages_per_second,
		"precopy-bytes", (json_int_t)st->ram.precopy_bytes,
		"downtime-bytes", (json_int_t)st->ram.downtime_bytes,
		"iterations", (json_int_t)st->ram.iterations);
	if (!o)
		return NULL;
	if (st->verify.done)
		json_object_set_new(o, "verify", json_pack("{sI sI}",
			"pages", (json_int_t)st->verify.pages,
			"mismatches", (json_int_t)st->verify.mismatches));
	if (STATS_HAS(st, pipeline)) {
		json_object_set_new(o, "compression", compression_json(st));
		json_object_set_new(o, "pipeline", pipeline_json(st));
	}
	if (STATS_HAS(st, xbzrle) && (st->xbzrle.cache_size || st->xbzrle.pages))
		json_object_set_new(o, "xbzrle-cache", json_pack(
			"{sI sI sI sI sf sf sI}",
			"cache-size", (json_int_t)st->xbzrle.cache_size,
			"bytes", (json_int_t)st->xbzrle.bytes,
			"pages", (json_int_t)st->xbzrle.pages,
			"cache-miss", (json_int_t)st->xbzrle.cache_miss,
			"cache-miss-rate", st->xbzrle.cache_miss_rate,
			"encoding-rate", st->xbzrle.encoding_rate,
			"overflow", (json_int_t)st->xbzrle.overflow));
	if (st->switchover[0])
		json_object_set_new(o, "switchover", json_string(st->switchover));
	if (STATS_HAS(st, converge) && st->converge.policy[0])
		json_object_set_new(o, "converge", converge_json(st));
	if (STATS_HAS(st, downtime_parts) && st->switchover[0])
		json_object_set_new(o, "downtime-parts", json_pack(
			"{sI sI sI sI sI sI}",
			"pause", (json_int_t)st->downtime_parts.pause,
			"sync", (json_int_t)st->downtime_parts.sync,
			"ram", (json_int_t)st->downtime_parts.ram,
			"device", (json_int_t)st->downtime_parts.device,
			"verify", (json_int_t)st->downtime_parts.verify,
			"commit", (json_int_t)st->downtime_parts.commit));
	if (STATS_HAS(st, params) && st->params.downtime_limit_ms)
		json_object_set_new(o, "parameters", json_pack(
			"{sI sI sI sI sI sI sb sI}",
			"max-bandwidth", (json_int_t)st->params.max_bandwidth,
			"downtime-limit", (json_int_t)st->params.downtime_limit_ms,
			"max-iterations", (json_int_t)st->params.max_iterations,
			"cpu-throttle-initial", (json_int_t)st->params.throttle_initial,
			"cpu-throttle-increment",
			(json_int_t)st->params.throttle_increment,
			"max-cpu-throttle", (json_int_t)st->params.throttle_max,
			"io-aware", st->params.io_aware,
			"io-stall", (json_int_t)st->params.io_stall_us));
	if (STATS_HAS(st, pass) && st->pass.pages)
		json_object_set_new(o, "pass", json_pack(
			"{sI sI sI sI}",
			"pages", (json_int_t)st->pass.pages,
			"done", (json_int_t)st->pass.done,
			"elapsed-time", (json_int_t)st->pass.elapsed_ms,
			"time-left", (json_int_t)st->pass.eta_ms));
	if (st->error[0])
		json_object_set_new(o, "error-desc", json_string(st->error));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}
