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
#define STATS_OFF(field)	offsetof(struct kvmig_migration_stats, field)
#define STATS_SIZEOF(field)	sizeof(((struct kvmig_migration_stats *)0)->field)
/* The size a caller's struct needs to have @field */
#define STATS_END(field)	(STATS_OFF(field) + STATS_SIZEOF(field))
/* Does the caller's struct have @field? */
#define STATS_HAS(st, field)	((st)->sz >= STATS_END(field))

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
 * What is computed rather than read, and so not rows of fields: each is
 * one STAT_FN() row in the tables below.  "compression" is sums over the
 * codecs and a ratio (its busy and busy-rate repeat the pipeline's, as
 * QEMU has them); the per-codec objects are keyed by the codec's name,
 * only for codecs that had pages, each with a ratio; the per-worker and
 * per-vCPU arrays are as long as channels and nr_vcpus say, a worker's
 * codec-ms comes from worker_codec_ns (a part of its own) and a vCPU's
 * cpu-index is its index.
 */

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

/* kvmig's own: per codec that had pages */
static json_t *codecs_json(const struct kvmig_migration_stats *st)
{
	json_t *codecs = json_object();
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
	return codecs;
}

/* kvmig's own: per worker */
static json_t *workers_json(const struct kvmig_migration_stats *st)
{
	json_t *workers = json_array();
	unsigned int i;

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
	return workers;
}

/* per vCPU, under QEMU's names where it has them */
static json_t *vcpus_json(const struct kvmig_migration_stats *st)
{
	json_t *vcpus = json_array();
	unsigned int i;

	for (i = 0; i < st->converge.nr_vcpus &&
		    i < ARRAY_SIZE(st->converge.vcpu); i++) {
		const struct kvmig_vcpu_converge *v = &st->converge.vcpu[i];

		json_array_append_new(vcpus, json_pack("{sI sf sI sf sb}",
			"cpu-index", (json_int_t)i,
			"dirty-rate", v->dirty_rate,
			"limit", (json_int_t)v->limit,
			"io-rate", v->io_rate,
			"serves-io", v->io));
	}
	return vcpus;
}

/* How a row's value is written; STAT() takes it from the field's type. */
enum stats_type {
	STATS_U64,	/* as json_int_t: above INT64_MAX it is negative */
	STATS_U32,
	STATS_INT,
	STATS_DOUBLE,	/* NaN and infinity have no JSON */
	STATS_BOOL,
	STATS_STR,	/* char[], NUL-terminated UTF-8 */
	STATS_NS_MS,	/* uint64_t nanoseconds, as whole milliseconds */
	STATS_OBJECT,	/* the object of .rows */
	STATS_COMPUTED,	/* what .fn returns */
};

/*
 * A member of a JSON object: @key, from the field at @off of the struct.
 * It is present only if the caller's struct reaches @part_end (0: always)
 * and, if @when names fields, one of them (an integer, a bool or a
 * string's first char) is not 0.
 */
struct stats_row {
	const char *key;
	enum stats_type type;
	size_t off;
	const struct stats_row *rows;				/* STATS_OBJECT */
	json_t *(*fn)(const struct kvmig_migration_stats *st);	/* STATS_COMPUTED */
	size_t part_end;
	struct {
		size_t off, len;
	} when[2];
};

/*
 * The member @k: @field, written as its C type says, so that a row cannot
 * disagree with its field (a type not listed does not compile).  The
 * optional arguments are the conditions below.
 */
#define STAT(k, field, ...)						\
	{ .key = (k), .off = STATS_OFF(field),				\
	  .type = _Generic(((struct kvmig_migration_stats *)0)->field,	\
			   uint64_t: STATS_U64, uint32_t: STATS_U32,	\
			   int: STATS_INT, double: STATS_DOUBLE,	\
			   bool: STATS_BOOL, char *: STATS_STR),	\
	  __VA_ARGS__ }
/* uint64_t nanoseconds @field as milliseconds */
#define STAT_MS(k, field, ...)						\
	{ .key = (k), .off = STATS_OFF(field),				\
	  .type = _Generic(((struct kvmig_migration_stats *)0)->field,	\
			   uint64_t: STATS_NS_MS),			\
	  __VA_ARGS__ }
/* the object of the rows @r */
#define STAT_OBJ(k, r, ...)						\
	{ .key = (k), .type = STATS_OBJECT, .rows = (r), __VA_ARGS__ }
/* what @f(st) returns */
#define STAT_FN(k, f, ...)						\
	{ .key = (k), .type = STATS_COMPUTED, .fn = (f), __VA_ARGS__ }
/* the conditions: the caller's struct has @part; @field is not 0 */
#define IF_HAS(part)	.part_end = STATS_END(part)
#define WHEN(field)	{ STATS_OFF(field), STATS_SIZEOF(field) }
#define IF_SET(field)	.when = { WHEN(field) }
#define IF_EITHER(a, b)	.when = { WHEN(a), WHEN(b) }

/*
 * The statistics as JSON, under QEMU query-migrate's names where it has
 * them: one table per object, in the order its members are written.
 *
 * add a statistic: its field at the end of its part of struct
 * kvmig_migration_stats (kvmig.h), one row here; where it is counted is
 * the only other place.
 *
 * Only the last part grows in place (the ABI: a caller's older struct is
 * a prefix of ours); a statistic for an earlier part's object goes into
 * a new part at the struct's end, and its row says IF_HAS(that part).
 */
static const struct stats_row stats_ram[] = {
	STAT("transferred",		ram.transferred),
	STAT("remaining",		ram.remaining),
	STAT("total",			ram.total),
	STAT("duplicate",		ram.duplicate),
	STAT("normal",			ram.normal),
	STAT("normal-bytes",		ram.normal_bytes),
	STAT("dirty-pages-rate",	ram.dirty_pages_rate),
	STAT("mbps",			ram.mbps),
	STAT("dirty-sync-count",	ram.dirty_sync_count),
	STAT("pages-per-second",	ram.pages_per_second),
	STAT("precopy-bytes",		ram.precopy_bytes),
	STAT("downtime-bytes",		ram.downtime_bytes),
	STAT("iterations",		ram.iterations),
	{}
};

static const struct stats_row stats_verify[] = {
	STAT("pages",			verify.pages),
	STAT("mismatches",		verify.mismatches),
	{}
};

static const struct stats_row stats_pipeline[] = {
	STAT("codec",			pipeline.codec_name),
	STAT("level",			pipeline.level),
	STAT("workers",			pipeline.workers),
	STAT("effort",			pipeline.effort),
	STAT("zero-pages",		pipeline.zero_pages),
	STAT("dispatches",		pipeline.dispatches),
	STAT("busy",			pipeline.busy),
	STAT("busy-rate",		pipeline.busy_rate),
	STAT_MS("migration-thread-cpu-ms", pipeline.main_cpu_ns),
	STAT_FN("codecs",		codecs_json),
	STAT_FN("worker",		workers_json),
	{}
};

static const struct stats_row stats_xbzrle[] = {
	STAT("cache-size",		xbzrle.cache_size),
	STAT("bytes",			xbzrle.bytes),
	STAT("pages",			xbzrle.pages),
	STAT("cache-miss",		xbzrle.cache_miss),
	STAT("cache-miss-rate",		xbzrle.cache_miss_rate),
	STAT("encoding-rate",		xbzrle.encoding_rate),
	STAT("overflow",		xbzrle.overflow),
	{}
};

static const struct stats_row stats_converge[] = {
	STAT("policy",			converge.policy),
	STAT("mechanism",		converge.mechanism),
	STAT("decision",		converge.decision),
	STAT("cpu-throttle-percentage",	converge.cpu_throttle_percentage),
	STAT("dirty-limit-throttle-time-per-round",
	     converge.dirty_limit_throttle_time_per_round),
	STAT("passes-without-progress",	converge.passes_without_progress),
	STAT_FN("vcpus",		vcpus_json),
	{}
};

static const struct stats_row stats_downtime_parts[] = {
	STAT("pause",			downtime_parts.pause),
	STAT("sync",			downtime_parts.sync),
	STAT("ram",			downtime_parts.ram),
	STAT("device",			downtime_parts.device),
	STAT("verify",			downtime_parts.verify),
	STAT("commit",			downtime_parts.commit),
	{}
};

static const struct stats_row stats_params[] = {
	STAT("max-bandwidth",		params.max_bandwidth),
	STAT("downtime-limit",		params.downtime_limit_ms),
	STAT("max-iterations",		params.max_iterations),
	STAT("cpu-throttle-initial",	params.throttle_initial),
	STAT("cpu-throttle-increment",	params.throttle_increment),
	STAT("max-cpu-throttle",	params.throttle_max),
	STAT("io-aware",		params.io_aware),
	STAT("io-stall",		params.io_stall_us),
	{}
};

static const struct stats_row stats_pass[] = {
	STAT("pages",			pass.pages),
	STAT("done",			pass.done),
	STAT("elapsed-time",		pass.elapsed_ms),
	STAT("time-left",		pass.eta_ms),
	{}
};

static const struct stats_row stats_top[] = {
	STAT("status",			status),
	STAT("total-time",		total_time_ms),
	STAT("setup-time",		setup_time_ms),
	STAT("downtime",		downtime_ms),
	STAT("expected-downtime",	expected_downtime_ms),
	STAT("dirty-log",		dirty_backend),
	STAT("channels",		channels),
	STAT_OBJ("ram",			stats_ram),
	STAT_OBJ("verify",		stats_verify, IF_SET(verify.done)),
	STAT_FN("compression",		compression_json, IF_HAS(pipeline)),
	STAT_OBJ("pipeline",		stats_pipeline, IF_HAS(pipeline)),
	STAT_OBJ("xbzrle-cache",	stats_xbzrle, IF_HAS(xbzrle),
		 IF_EITHER(xbzrle.cache_size, xbzrle.pages)),
	STAT("switchover",		switchover, IF_SET(switchover[0])),
	STAT_OBJ("converge",		stats_converge, IF_HAS(converge),
		 IF_SET(converge.policy[0])),
	STAT_OBJ("downtime-parts",	stats_downtime_parts,
		 IF_HAS(downtime_parts), IF_SET(switchover[0])),
	STAT_OBJ("parameters",		stats_params, IF_HAS(params),
		 IF_SET(params.downtime_limit_ms)),
	STAT_OBJ("pass",		stats_pass, IF_HAS(pass),
		 IF_SET(pass.pages)),
	STAT("error-desc",		error, IF_SET(error[0])),
	{}
};

static bool stats_row_is_conditional(const struct stats_row *r)
{
	return r->part_end || r->when[0].len;
}

static bool stats_row_is_shown(const struct kvmig_migration_stats *st,
			       const struct stats_row *r)
{
	unsigned int i;
	size_t j;

	if (st->sz < r->part_end)
		return false;
	for (i = 0; i < ARRAY_SIZE(r->when) && r->when[i].len; i++)
		for (j = 0; j < r->when[i].len; j++)
			if (((const unsigned char *)st)[r->when[i].off + j])
				return true;
	return i == 0;		/* no fields to ask */
}

static json_t *stats_object(const struct kvmig_migration_stats *st,
			    const struct stats_row *rows);

static json_t *stats_value(const struct kvmig_migration_stats *st,
			   const struct stats_row *r)
{
	const void *p = (const char *)st + r->off;

	switch (r->type) {
	case STATS_U64:
		return json_integer((json_int_t)*(const uint64_t *)p);
	case STATS_U32:
		return json_integer(*(const uint32_t *)p);
	case STATS_INT:
		return json_integer(*(const int *)p);
	case STATS_DOUBLE:
		return json_real(*(const double *)p);
	case STATS_BOOL:
		return json_boolean(*(const bool *)p);
	case STATS_STR:
		return json_string(p);
	case STATS_NS_MS:
		return json_integer((json_int_t)(*(const uint64_t *)p / 1000000));
	case STATS_OBJECT:
		return stats_object(st, r->rows);
	case STATS_COMPUTED:
		return r->fn(st);
	}
	return NULL;
}

/*
 * The object of @rows, NULL if it cannot be written.  A member under a
 * condition that has no JSON (NaN, infinity, a string that is not UTF-8,
 * no memory) is left out; any other member without one fails the whole
 * object, as json_pack() does for what its format lists.
 */
static json_t *stats_object(const struct kvmig_migration_stats *st,
			    const struct stats_row *rows)
{
	const struct stats_row *r;
	json_t *o = json_object();

	for (r = rows; o && r->key; r++) {
		if (stats_row_is_conditional(r)) {
			if (stats_row_is_shown(st, r))
				json_object_set_new(o, r->key, stats_value(st, r));
		} else if (json_object_set_new(o, r->key, stats_value(st, r))) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

KVMIG_EXPORT char *kvmig_migration_stats_json(const struct kvmig_migration_stats *st)
{
	json_t *o;
	char *text;

	if (!kvmig_stats_sz_ok(st))
		return err_ptr(-EINVAL);
	o = stats_object(st, stats_top);
	if (!o)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}
