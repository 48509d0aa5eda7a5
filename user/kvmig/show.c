// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics for a person (show.h): the progress line on stderr, the
 * summary at the end on stdout (or the JSON object, --json), and kvmig
 * query's text.  Documentation/kvmig.rst, "Progress line (stderr)" and
 * "Summary (stdout)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "show.h"

static unsigned int limited_vcpus(const struct kvmig_migration_stats *st)
{
	unsigned int i, n = 0;

	for (i = 0; i < st->converge.nr_vcpus && i < 64; i++)
		n += st->converge.vcpu[i].limit != 0;
	return n;
}

/* A plain progress line every this many ms of a long pass, not only one a pass */
#define PROGRESS_LINE_MS	10000

/*
 * One line: the pass under way and how far it is (pages handed to the
 * workers, so the percentage moves with the bytes walked), its time left,
 * what has gone over the link and how fast, the dirty rate, the downtime
 * a switchover would take now, and the convergence lever in use.
 */
void show_progress(struct cli *c, const struct kvmig_migration_stats *st)
{
	bool active = !strcmp(st->status, "active");
	double pct;
	char line[320];
	size_t n;

	if (c->json || c->quiet)
		return;
	/* a migration that ended before any page moved: the summary says why */
	if (!active && !st->ram.normal && !st->ram.duplicate && !st->ram.iterations &&
	    strcmp(st->status, "completed"))
		return;
	if (!c->source) {
		/* the destination knows what came, not what is to come */
		snprintf(line, sizeof(line), "%-9s pass %-3llu received %8.1f MiB",
			 st->status, (unsigned long long)st->ram.iterations,
			 (double)st->ram.transferred / 1048576.0);
		goto out;
	}
	if (st->pass.pages)
		pct = 100.0 * (double)st->pass.done / (double)st->pass.pages;
	else	/* nothing to send */
		pct = active ? 0 : 100;
	n = (size_t)snprintf(line, sizeof(line), "%-9s pass %-3llu %5.1f%% of %7llu "
			     "pages", st->status,
			     (unsigned long long)st->ram.iterations, pct,
			     (unsigned long long)st->pass.pages);
	if (active && st->pass.eta_ms)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " (%llu s left)",
				      (unsigned long long)(st->pass.eta_ms + 999) / 1000);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      "  sent %8.1f MiB  %7.1f Mbit/s  dirty %7llu pages/s"
			      "  expected downtime %llu ms",
			      (double)st->ram.transferred / 1048576.0, st->ram.mbps,
			      (unsigned long long)st->ram.dirty_pages_rate,
			      (unsigned long long)st->expected_downtime_ms);
	if (st->converge.cpu_throttle_percentage)
		snprintf(line + n, sizeof(line) - n, "  cpu-throttle %u%%",
			 st->converge.cpu_throttle_percentage);
	else if (!strcmp(st->converge.mechanism, "dirty-limit"))
		snprintf(line + n, sizeof(line) - n, "  dirty-limit on %u vCPU(s)",
			 limited_vcpus(st));
out:
	if (c->tty) {
		fprintf(stderr, "\r%s%*s", line,
			c->last_width > (int)strlen(line) ?
			c->last_width - (int)strlen(line) : 0, "");
		c->last_width = (int)strlen(line);
	} else if (st->ram.iterations != c->last_iter || !active ||
		   st->total_time_ms - c->last_line_ms >= PROGRESS_LINE_MS) {
		/* plain lines: one per pass, one every 10 s, one at the end */
		fprintf(stderr, "%s\n", line);
		c->last_iter = st->ram.iterations;
		c->last_line_ms = st->total_time_ms;
	}
}

static void print_pipeline(const struct kvmig_migration_stats *st, bool source)
{
	unsigned int i;

	if (st->xbzrle.cache_size || st->xbzrle.pages)
		printf("xbzrle: %llu pages in %.1f MiB (encoding rate %.1f), cache "
		       "%llu MiB, %llu misses (%.1f%%), %llu overflows\n",
		       (unsigned long long)st->xbzrle.pages,
		       (double)st->xbzrle.bytes / 1048576.0, st->xbzrle.encoding_rate,
		       (unsigned long long)(st->xbzrle.cache_size >> 20),
		       (unsigned long long)st->xbzrle.cache_miss,
		       st->xbzrle.cache_miss_rate * 100,
		       (unsigned long long)st->xbzrle.overflow);

	printf("pipeline: codec %s", st->pipeline.codec_name[0] ?
	       st->pipeline.codec_name : "-");
	if (st->pipeline.level)
		printf(" level %d", st->pipeline.level);
	if (!strcmp(st->pipeline.codec_name, "auto"))
		printf(" (effort %u)", st->pipeline.effort);
	printf(", %u workers, %llu zero pages found, busy %llu of %llu batches "
	       "(%.1f%%), migration thread CPU %.1f ms\n", st->pipeline.workers,
	       (unsigned long long)st->pipeline.zero_pages,
	       (unsigned long long)st->pipeline.busy,
	       (unsigned long long)st->pipeline.dispatches,
	       st->pipeline.busy_rate * 100,
	       (double)st->pipeline.main_cpu_ns / 1e6);
	for (i = 0; i < KVMIG_CODEC_NR; i++) {
		const struct kvmig_codec_stats *cs = &st->pipeline.codec[i];

		if (!cs->pages)
			continue;
		printf("  %-5s %9llu pages, %9llu compressed, %8.1f MiB -> %8.1f "
		       "MiB (rate %.2f), %.1f ms\n", kvmig_codec_name(i),
		       (unsigned long long)cs->pages,
		       (unsigned long long)cs->compressed,
		       (double)cs->raw_bytes / 1048576.0,
		       (double)cs->wire_bytes / 1048576.0,
		       cs->wire_bytes ? (double)cs->raw_bytes / (double)cs->wire_bytes : 0,
		       (double)cs->busy_ns / 1e6);
	}
	for (i = 0; i < st->channels && i < 64; i++) {
		const struct kvmig_worker_stats *w = &st->pipeline.worker[i];

		double busy = (double)w->busy_ns / 1e6, wait = (double)w->wait_ns / 1e6;
		double codec = (double)st->worker_codec_ns[i] / 1e6;

		printf("  worker %-2u %9llu pages, %8.1f MiB, ", i,
		       (unsigned long long)w->pages, (double)w->wire_bytes / 1048576.0);
		if (source)	/* the link's waits are part of the work */
			printf("busy %.1f ms = compressing %.1f + waiting for the "
			       "link %.1f + the rest %.1f", busy, codec, wait,
			       busy > codec + wait ? busy - codec - wait : 0);
		else
			printf("busy %.1f ms = decompressing %.1f + the rest %.1f, "
			       "waiting for data %.1f", busy, codec,
			       busy > codec ? busy - codec : 0, wait);
		printf(" ms, CPU %.1f ms (%.0f%%)\n", (double)w->cpu_ns / 1e6,
		       w->cpu_util * 100);
	}
}

/* Convergence and the downtime's parts, when there was a switchover. */
static void print_converge(const struct kvmig_migration_stats *st)
{
	unsigned int i;

	if (!st->converge.policy[0])
		return;
	printf("converge: policy %s, %s; last decision: %s\n", st->converge.policy,
	       st->converge.mechanism, st->converge.decision);
	for (i = 0; i < st->converge.nr_vcpus && i < 64; i++) {
		const struct kvmig_vcpu_converge *v = &st->converge.vcpu[i];

		char limit[32] = "none";

		if (!v->limit && !v->io && v->dirty_rate < 1)
			continue;
		if (v->limit)
			snprintf(limit, sizeof(limit), "%.1f MiB/s",
				 (double)v->limit / 1048576.0);
		printf("  vcpu %-3u dirty %8.1f MiB/s  limit %-12s  io %7.0f exits/s%s\n",
		       i, v->dirty_rate / 1048576.0, limit, v->io_rate,
		       v->io ? " (serves IO)" : "");
	}
	if (st->switchover[0]) {
		char parts[160];

		downtime_parts_text(st, parts, sizeof(parts));
		printf("downtime: %llu ms against %llu ms expected: %s\n",
		       (unsigned long long)st->downtime_ms,
		       (unsigned long long)st->expected_downtime_ms, parts);
	}
}

void show_final(struct cli *c, const struct kvmig_migration_stats *st)
{
	char *text = kvmig_migration_stats_json(st);

	if (c->tty && c->last_width)
		fputc('\n', stderr);
	if (c->json) {
		json_t *o = json_loads(text, 0, NULL);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("status: %s%s%s\n", st->status, st->error[0] ? " — " : "",
		       st->error);
		/* no page moved (a handshake is a few bytes): all zeros */
		if (!st->ram.normal && !st->ram.duplicate && !st->ram.iterations &&
		    strcmp(st->status, "completed"))
			goto out;
		printf("total-time: %llu ms, setup-time: %llu ms, downtime: %llu ms%s%s\n",
		       (unsigned long long)st->total_time_ms,
		       (unsigned long long)st->setup_time_ms,
		       (unsigned long long)st->downtime_ms,
		       st->switchover[0] ? ", switchover: " : "", st->switchover);
		printf("ram: total %llu MiB, transferred %.1f MiB, %llu pages with "
		       "data, %llu zero pages, %llu passes, %llu syncs (%s)\n",
		       (unsigned long long)(st->ram.total >> 20),
		       (double)st->ram.transferred / 1048576.0,
		       (unsigned long long)st->ram.normal,
		       (unsigned long long)st->ram.duplicate,
		       (unsigned long long)st->ram.iterations,
		       (unsigned long long)st->ram.dirty_sync_count,
		       st->dirty_backend[0] ? st->dirty_backend : "-");
		if (st->verify.done)
			printf("verify: %llu pages compared, %llu mismatches\n",
			       (unsigned long long)st->verify.pages,
			       (unsigned long long)st->verify.mismatches);
		print_converge(st);
		print_pipeline(st, c->source);
	}
out:
	free(text);
}

/* kvmig query without --json: QEMU's "info migrate", roughly */
void show_query(json_t *o)
{
	json_t *ram = json_object_get(o, "ram"), *conv = json_object_get(o, "converge");
	json_t *pass = json_object_get(o, "pass"), *params = json_object_get(o, "parameters");
	const char *err = cli_safe(json_string_value(json_object_get(o, "error-desc")));
	const char *sw = cli_safe(json_string_value(json_object_get(o, "switchover")));
	double total = (double)json_integer_value(json_object_get(ram, "total"));
	double left = (double)json_integer_value(json_object_get(ram, "remaining"));

#define INT(obj, key) ((long long)json_integer_value(json_object_get(obj, key)))
	printf("Migration status: %s\n",
	       cli_safe(json_string_value(json_object_get(o, "status"))) ?: "?");
	if (!ram) {
		if (err)
			printf("error: %s\n", err);
		return;
	}
	printf("total time: %lld ms\n", INT(o, "total-time"));
	printf("setup: %lld ms\n", INT(o, "setup-time"));
	if (sw)
		printf("downtime: %lld ms (switchover: %s)\n", INT(o, "downtime"), sw);
	else
		printf("expected downtime: %lld ms\n", INT(o, "expected-downtime"));
	printf("dirty log: %s, channels: %lld\n",
	       cli_safe(json_string_value(json_object_get(o, "dirty-log"))) ?: "-",
	       INT(o, "channels"));
	printf("transferred ram: %.1f MiB\n", INT(ram, "transferred") / 1048576.0);
	printf("remaining ram: %.1f MiB\n", left / 1048576.0);
	printf("total ram: %.1f MiB\n", total / 1048576.0);
	printf("pass: %lld, dirty sync count: %lld\n", INT(ram, "iterations"),
	       INT(ram, "dirty-sync-count"));
	if (pass && INT(pass, "pages")) {
		printf("this pass: %lld of %lld pages (%.1f%%) in %.1f s",
		       INT(pass, "done"), INT(pass, "pages"),
		       100.0 * (double)INT(pass, "done") / (double)INT(pass, "pages"),
		       (double)INT(pass, "elapsed-time") / 1000);
		if (INT(pass, "time-left"))
			printf(", about %.1f s left", (double)INT(pass, "time-left") / 1000);
		putchar('\n');
	}
	printf("zero pages: %lld, pages with data: %lld\n", INT(ram, "duplicate"),
	       INT(ram, "normal"));
	printf("throughput: %.1f Mbit/s\n",
	       json_number_value(json_object_get(ram, "mbps")));
	printf("dirty pages rate: %lld pages/s\n", INT(ram, "dirty-pages-rate"));
	if (conv)
		printf("convergence: %s (policy %s)\n",
		       cli_safe(json_string_value(json_object_get(conv, "mechanism"))) ?: "-",
		       cli_safe(json_string_value(json_object_get(conv, "policy"))) ?: "-");
	if (params) {
		long long bw = INT(params, "max-bandwidth");

		printf("parameters: downtime limit %lld ms, ", INT(params, "downtime-limit"));
		if (bw)
			printf("max bandwidth %.1f Mbit/s, ", (double)bw * 8 / 1e6);
		else
			printf("no bandwidth cap, ");
		printf("max iterations %lld, cpu throttle %lld%% + %lld%% up to %lld%%, "
		       "io-aware %s (stall %lld us)\n", INT(params, "max-iterations"),
		       INT(params, "cpu-throttle-initial"),
		       INT(params, "cpu-throttle-increment"),
		       INT(params, "max-cpu-throttle"),
		       json_is_true(json_object_get(params, "io-aware")) ? "on" : "off",
		       INT(params, "io-stall"));
	}
	if (err)
		printf("error: %s\n", err);
#undef INT
}
