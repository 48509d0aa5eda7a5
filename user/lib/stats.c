// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* Migration statistics as JSON, under QEMU query-migrate's names. */
#include <jansson.h>
#include <stdlib.h>

#include "internal.h"

KVMIG_EXPORT char *kvmig_migration_stats_json(const struct kvmig_migration_stats *st)
{
	json_t *o = json_pack(
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
	char *text;

	if (!o)
		return NULL;
	if (st->verify.done)
		json_object_set_new(o, "verify", json_pack("{sI sI}",
			"pages", (json_int_t)st->verify.pages,
			"mismatches", (json_int_t)st->verify.mismatches));
	if (st->switchover[0])
		json_object_set_new(o, "switchover", json_string(st->switchover));
	if (st->error[0])
		json_object_set_new(o, "error-desc", json_string(st->error));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}
