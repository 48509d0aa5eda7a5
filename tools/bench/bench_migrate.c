// SPDX-License-Identifier: GPL-2.0
/*
 * bench_migrate: live migrations of one 256 MiB guest over loopback TCP
 * with a bandwidth limit, for an idle guest (the baseline), a lightly
 * dirtying one and a heavy one that dirties faster than the link, in one
 * run.  For each: total time, downtime, bytes on the wire, passes and how
 * the switchover came (converged or forced), with ratios to the idle run.
 * Then the codecs: a guest that dirties text-like pages faster than a
 * 1 Gbit/s link carries them raw, migrated with none, zlib, zstd, lz4 and
 * auto; bytes sent, total time and downtime, with ratios to none.
 * Then XBZRLE: a guest rewriting one word in each page of a 96 MiB
 * working set, more than a 256 Mbit/s link carries as whole pages between
 * two passes, with XBZRLE off and on (128 MiB cache; and on with lz4).
 * Every migration is verified (--verify) and the destination guest's
 * self-check must be clean, or the bench fails.
 */
#include <getopt.h>

#include "../../selftests/user/harness.h"

struct run {
	const char *name;
	const char *workload;
	const char *codec;	/* NULL: none */
	bool xbzrle;
	double total_ms, downtime_ms, mbytes;
	int64_t passes;
	char switchover[16];
};

static void one(struct run *r, const char *bw)
{
	const char *vm[] = {
		"--vcpus", "2", "--mem", "192M", "--slot", "64M,gap=64M",
		"--workload", r->workload, "--workload", "1:io,period=1000", NULL,
	};
	/* the codecs alone: no throttle (bench_converge compares those) */
	const char *extra[] = { "--max-bandwidth", bw, "--converge", "none",
				"--max-iterations", "8", "--codec",
				r->codec ?: "none",
				/* a cache that holds the 96 MiB working set */
				r->xbzrle ? "--xbzrle-cache-size" : NULL, "128M", NULL };
	json_t *st = migrate_bench(r->name, vm, vm, extra);

	r->total_ms = (double)json_path_int(st, "total-time");
	r->downtime_ms = (double)json_path_int(st, "downtime");
	r->mbytes = (double)json_path_int(st, "ram.transferred") / 1048576.0;
	r->passes = json_path_int(st, "ram.iterations");
	snprintf(r->switchover, sizeof(r->switchover), "%s",
		 json_string_value(json_object_get(st, "switchover")) ?: "?");
	json_decref(st);
}

/* Rows with ratios against the first one. */
static void table(const char *title, const char *what, const struct run *runs,
		  unsigned int n, json_t *out)
{
	unsigned int i;

	printf("\n%s\n", title);
	printf("%-6s %10s %10s %10s %7s %10s %9s %9s %9s\n", what, "total ms",
	       "downtime", "MiB sent", "passes", "switch", "total", "downtime",
	       "MiB");
	printf("%-6s %10s %10s %10s %7s %10s %9s %9s %9s\n", "", "", "ms", "", "",
	       "", "vs 1st", "vs 1st", "vs 1st");
	for (i = 0; i < n; i++) {
		const struct run *r = &runs[i];

		printf("%-6s %10.0f %10.0f %10.1f %7lld %10s %9.2f %9.2f %9.2f\n",
		       r->name, r->total_ms, r->downtime_ms, r->mbytes,
		       (long long)r->passes, r->switchover,
		       r->total_ms / (runs[0].total_ms ?: 1),
		       r->downtime_ms / (runs[0].downtime_ms ?: 1),
		       r->mbytes / (runs[0].mbytes ?: 1));
		json_array_append_new(out, json_pack("{ss ss sf sf sf sI ss}",
			"table", what, "run", r->name, "total-time-ms", r->total_ms,
			"downtime-ms", r->downtime_ms, "mib-sent", r->mbytes,
			"passes", (json_int_t)r->passes, "switchover", r->switchover));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ 0 }
	};
	struct run runs[] = {
		{ .name = "idle", .workload = "0:idle" },
		{ .name = "light", .workload =
		  "0:dirty,rate=4M,ws=32M,pattern=random,data=text" },
		{ .name = "heavy", .workload =
		  "0:dirty,rate=0,ws=96M,pattern=random,data=random" },
	};
	struct run codecs[] = {
		{ .name = "none", .codec = "none" }, { .name = "zlib", .codec = "zlib" },
		{ .name = "zstd", .codec = "zstd" }, { .name = "lz4", .codec = "lz4" },
		{ .name = "auto", .codec = "auto" },
	};
	struct run xb[] = {
		{ .name = "off", .codec = "none" },
		{ .name = "on", .codec = "none", .xbzrle = true },
		{ .name = "on+lz4", .codec = "lz4", .xbzrle = true },
	};
	const char *text = "0:dirty,rate=0,ws=96M,pattern=random,data=text";
	const char *json_path = NULL, *bw = "128M";
	json_t *out = json_array();
	unsigned int i;
	int opt;

	while ((opt = getopt_long(argc, argv, "j:b:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'b')
			bw = optarg;
		else
			return 2;
	}
	test_require_kvm();
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		one(&runs[i], bw);

	printf("live migration: 256 MiB guest (2 slots), loopback TCP, 2 channels, "
	       "--verify, max 8 passes\n");
	table("guests over a link limited to 128 MiB/s (heavy = a vCPU writing random "
	      "data over 96 MiB as fast as it can); ratios vs idle", "guest", runs,
	      sizeof(runs) / sizeof(runs[0]), out);
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		codecs[i].workload = text;
		one(&codecs[i], "1Gbit");
	}
	table("codecs: the same guest, a vCPU writing text-like pages over 96 MiB "
	      "as fast as it can, 1 Gbit/s link", "codec", codecs,
	      sizeof(codecs) / sizeof(codecs[0]), out);
	for (i = 0; i < sizeof(xb) / sizeof(xb[0]); i++) {
		xb[i].workload = "0:dirty,rate=0,ws=96M,pattern=seq,data=counter";
		one(&xb[i], "256Mbit");
	}
	table("xbzrle: a vCPU rewriting one word in each page of 96 MiB as fast as "
	      "it can, 256 Mbit/s link", "run", xb, sizeof(xb) / sizeof(xb[0]), out);
	if (json_path && json_dump_file(out, json_path, JSON_INDENT(2)))
		fprintf(stderr, "bench_migrate: cannot write %s\n", json_path);
	json_decref(out);
	return 0;
}
