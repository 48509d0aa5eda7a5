// SPDX-License-Identifier: GPL-2.0
/*
 * bench_migrate: live migrations of one 256 MiB guest over loopback TCP
 * with a bandwidth limit, in rounds, three tables:
 *
 *  - guests, 64 MiB/s link: an idle guest (the baseline), a lightly
 *    dirtying one, and a heavy one that dirties faster than the link;
 *    ratios to idle;
 *  - codecs, 128 Mbit/s link: a guest writing text-like pages over 48 MiB
 *    faster than the link carries them raw, migrated with none, zlib,
 *    zstd, lz4 and auto; ratios to none;
 *  - XBZRLE, 256 Mbit/s link: a guest rewriting one word in each page of
 *    96 MiB faster than the link carries whole pages, with XBZRLE off and
 *    on (128 MiB cache; and on with lz4); ratios to off.
 *
 * Per row: total time, downtime, bytes on the wire, passes, how the
 * switchover came (converged or forced), and the link's rate beside the
 * guest's dirty rate during the migration: the pages the guest wrote per
 * second while it ran (kvmig-vm's pages-written, read by a second client
 * of the source VMM at the first sight of the migration and at the end of
 * each pass), and the migration's own figure, the dirty pages the last
 * pass left over the pass's time (ram.dirty-pages-rate).  The latter
 * cannot show a guest outrunning the link: once the guest dirties its
 * whole working set again during every pass, it is the working set over
 * the time the link takes to send it, the link's rate.  So a row that
 * stands for a guest dirtying faster than the link (heavy, and every row
 * of the codec and XBZRLE tables) is shown only if the former was above
 * the link's rate in every round; otherwise the row says so instead of
 * its figures ("not shown: ..."), and its JSON row has "shown": false.
 *
 * Rounds: every row of every table once per round, the rows in ABBA order
 * across rounds (forward, backward, forward, ...), so that a machine that
 * speeds up or slows down favours no row.  Figures are the medians of the
 * rounds; each ratio is the median of the rounds' ratios, with their
 * min..max.  Three rounds by default (--rounds): a run takes about four
 * minutes on this project's 2-CPU machine, and more rounds would pass five.
 *
 * Every migration is verified (--verify) and the destination guest's
 * self-check must be clean, or the bench fails.
 */
#include <getopt.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"

#define MAX_ROUNDS	15
#define MAX_PASSES	64

/* One migration, one round. */
struct sample {
	double total_ms, downtime_ms, mbytes;
	int64_t passes;
	bool converged;
	double link;		/* max-bandwidth, MiB/s */
	double dirtied;		/* MiB/s of pages the guest wrote while it ran;
				 * < 0: not measured */
	double logged;		/* ram.dirty-pages-rate, MiB/s */
};

struct run {
	const char *name;
	const char *workload;
	const char *codec;	/* NULL: none */
	bool xbzrle;
	bool outruns;		/* stands for a guest dirtying faster than the link */
	struct sample s[MAX_ROUNDS];
};

struct table {
	const char *what;	/* the rows' kind: "guest", "codec", "run" */
	const char *title;
	const char *bw;		/* kvmig migrate --max-bandwidth */
	struct run *runs;
	unsigned int n;
};

/*
 * The guest's pages written at the first sight of the migration active
 * and at the end of each pass (when ram.iterations moves), read by a
 * thread through a connection of its own to the source VMM while the main
 * thread waits for kvmig migrate.
 */
struct watch {
	struct test_vm vm;
	pthread_t thread;
	int stop;			/* atomic: kvmig migrate has exited */
	uint64_t t0;			/* 0: the migration never seen active */
	int64_t pages0;
	int64_t seen;			/* passes whose end was recorded */
	uint64_t t_end[MAX_PASSES];
	int64_t pages_end[MAX_PASSES];
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		json_t *q = test_vm_cmd(&w->vm, "query-migrate");
		const char *st = json_string_value(json_object_get(q, "status"));
		json_t *ram = json_object_get(q, "ram");
		int64_t it = json_integer_value(json_object_get(ram, "iterations"));

		if (st && !strcmp(st, "active")) {
			uint64_t now = test_now_ns();
			int64_t pages = -1;

			if (!w->t0 || it > w->seen)
				pages = test_vm_stat(&w->vm, "pages-written");
			if (!w->t0) {
				w->t0 = now;
				w->pages0 = pages;
			}
			/* passes may end between two looks: the same figures */
			for (; w->seen < it && w->seen < MAX_PASSES; w->seen++) {
				w->t_end[w->seen] = now;
				w->pages_end[w->seen] = pages;
			}
		}
		json_decref(q);
		msleep(10);	/* short beside any pass that outruns the link */
	}
	return NULL;
}

/*
 * MiB/s the guest wrote from the first sight of the migration to the end
 * of its last live pass (@passes - 1: the last one is the stop-and-copy),
 * -1 if either was not seen (a migration over in a few ms).
 */
static double watch_rate(const struct watch *w, int64_t passes)
{
	int64_t last = passes - 2;

	if (!w->t0 || last < 0 || last >= w->seen || w->t_end[last] <= w->t0)
		return -1;
	return (double)(w->pages_end[last] - w->pages0) * 4096 / 1048576.0 /
	       ((double)(w->t_end[last] - w->t0) / 1e9);
}

/* migrate_bench()'s hooks: watch the source VMM while kvmig migrate runs */
static void watch_start(struct mig *m, void *opaque)
{
	struct watch *w = opaque;

	test_vm_connect_again(&m->src, &w->vm);
	TEST_ASSERT(!pthread_create(&w->thread, NULL, watch_main, w),
		    "the watching thread");
}

static void watch_stop(struct mig *m, void *opaque)
{
	struct watch *w = opaque;

	(void)m;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	fclose(w->vm.rx);
	close(w->vm.ctl);
}

/* The codecs' guest, and XBZRLE's */
#define TEXT	"0:dirty,rate=0,ws=48M,pattern=random,data=text"
#define COUNTER	"0:dirty,rate=0,ws=96M,pattern=seq,data=counter"

static void one(const struct run *r, const char *bw, struct sample *s)
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
	struct watch *w = calloc(1, sizeof(*w));
	const struct bench_watch hook = { watch_start, watch_stop, w };
	const char *sw;
	json_t *st;

	TEST_ASSERT(w, "calloc");
	st = migrate_bench(r->name, vm, vm, extra, &hook);
	s->total_ms = (double)json_path_int(st, "total-time");
	s->downtime_ms = (double)json_path_int(st, "downtime");
	s->mbytes = (double)json_path_int(st, "ram.transferred") / 1048576.0;
	s->passes = json_path_int(st, "ram.iterations");
	sw = json_string_value(json_object_get(st, "switchover"));
	TEST_ASSERT(sw && (!strcmp(sw, "converged") || !strcmp(sw, "forced")),
		    "%s: switchover '%s'", r->name, sw ?: "?");
	s->converged = !strcmp(sw, "converged");
	s->link = (double)json_path_int(st, "parameters.max-bandwidth") / 1048576.0;
	s->logged = (double)json_path_int(st, "ram.dirty-pages-rate") * 4096 /
		    1048576.0;
	s->dirtied = watch_rate(w, s->passes);
	free(w);
	json_decref(st);
}

/* The median over the rounds of the figure at @off in struct sample. */
static double median_of(const struct run *r, unsigned int rounds, size_t off)
{
	double v[MAX_ROUNDS];
	unsigned int k;

	for (k = 0; k < rounds; k++)
		v[k] = *(const double *)((const char *)&r->s[k] + off);
	return test_spread(v, rounds).med;
}

#define MEDIAN(r, rounds, field) median_of(r, rounds, offsetof(struct sample, field))

/* The rounds' ratios of @r's figure at @off to @base's, each in its round. */
static struct test_spread ratio_of(const struct run *r, const struct run *base,
			      unsigned int rounds, size_t off)
{
	double v[MAX_ROUNDS];
	unsigned int k;

	for (k = 0; k < rounds; k++) {
		double a = *(const double *)((const char *)&r->s[k] + off);
		double b = *(const double *)((const char *)&base->s[k] + off);

		v[k] = a / (b ?: 1);
	}
	return test_spread(v, rounds);
}

#define RATIO(r, base, rounds, field) \
	ratio_of(r, base, rounds, offsetof(struct sample, field))

/*
 * Whether @r may be shown: a row that stands for a guest dirtying faster
 * than the link is, only if the guest dirtied faster than the link in every
 * round.  If not, *@bad is the round that says why.
 */
static bool shown(const struct run *r, unsigned int rounds, unsigned int *bad)
{
	unsigned int k;

	if (!r->outruns)
		return true;
	for (k = 0; k < rounds; k++) {
		if (!(r->s[k].dirtied > r->s[k].link)) {
			*bad = k;
			return false;
		}
	}
	return true;
}

/* A ratio in about three digits */
static void put3(char *buf, size_t len, double v)
{
	snprintf(buf, len, v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
}

/* "median (min..max)", or "-" if there is no baseline */
static void ratio_text(char *buf, size_t len, struct test_spread s, bool ok)
{
	char med[16], min[16], max[16];

	if (!ok) {
		snprintf(buf, len, "-");
		return;
	}
	put3(med, sizeof(med), s.med);
	put3(min, sizeof(min), s.min);
	put3(max, sizeof(max), s.max);
	snprintf(buf, len, "%s (%s..%s)", med, min, max);
}

static void table(const struct table *t, unsigned int rounds, json_t *out)
{
	const struct run *base = &t->runs[0];
	unsigned int i, k, bad = 0;
	bool base_ok = shown(base, rounds, &bad);

	printf("\n%s; ratios vs %s%s\n", t->title, base->name,
	       base_ok ? "" : " (not shown: no ratios)");
	printf("%-6s %8s %8s %8s %6s %9s %6s %7s %6s  %-19s %-19s %s\n", t->what,
	       "total", "downtime", "MiB", "passes", "switch", "link", "dirtied",
	       "logged", "total", "downtime", "MiB sent");
	printf("%-6s %8s %8s %8s %6s %9s %6s %7s %6s  %-19s %-19s %s\n", "",
	       "ms", "ms", "sent", "", "", "MiB/s", "MiB/s", "MiB/s", "vs 1st",
	       "vs 1st", "vs 1st");
	for (i = 0; i < t->n; i++) {
		const struct run *r = &t->runs[i];
		struct test_spread rt = RATIO(r, base, rounds, total_ms);
		struct test_spread rd = RATIO(r, base, rounds, downtime_ms);
		struct test_spread rm = RATIO(r, base, rounds, mbytes);
		double passes[MAX_ROUNDS], link = MEDIAN(r, rounds, link);
		double dirtied = MEDIAN(r, rounds, dirtied), logged = MEDIAN(r, rounds, logged);
		char sw[32], a[64], b[64], c[64], dr[16] = "-", why[160] = "";
		unsigned int conv = 0;
		bool ok = shown(r, rounds, &bad);
		json_t *row;

		for (k = 0; k < rounds; k++) {
			passes[k] = (double)r->s[k].passes;
			conv += r->s[k].converged;
		}
		if (conv == rounds || !conv)
			snprintf(sw, sizeof(sw), "%s", conv ? "converged" : "forced");
		else
			snprintf(sw, sizeof(sw), "%uc %uf", conv, rounds - conv);
		if (!ok) {
			if (r->s[bad].dirtied < 0)
				snprintf(why, sizeof(why), "the guest's dirty rate was "
					 "not measured (the migration ended between "
					 "two looks)");
			else
				snprintf(why, sizeof(why), "the guest dirtied %.1f MiB/s, "
					 "below the link's %.1f MiB/s", r->s[bad].dirtied,
					 r->s[bad].link);
			printf("%-6s not shown: %s (round %u of %u)\n", r->name, why,
			       bad + 1, rounds);
		} else {
			ratio_text(a, sizeof(a), rt, base_ok);
			ratio_text(b, sizeof(b), rd, base_ok);
			ratio_text(c, sizeof(c), rm, base_ok);
			if (dirtied >= 0)
				snprintf(dr, sizeof(dr), "%.1f", dirtied);
			printf("%-6s %8.0f %8.0f %8.1f %6.0f %9s %6.1f %7s %6.1f  "
			       "%-19s %-19s %s\n", r->name,
			       MEDIAN(r, rounds, total_ms), MEDIAN(r, rounds, downtime_ms),
			       MEDIAN(r, rounds, mbytes), test_spread(passes, rounds).med,
			       sw, link, dr, logged, a, b, c);
		}
		row = json_pack("{ss ss sf sf sf sI ss sf sf sf si sb sb}",
			"table", t->what, "run", r->name,
			"total-time-ms", MEDIAN(r, rounds, total_ms),
			"downtime-ms", MEDIAN(r, rounds, downtime_ms),
			"mib-sent", MEDIAN(r, rounds, mbytes),
			"passes", (json_int_t)test_spread(passes, rounds).med,
			"switchover", sw, "link-mibps", link,
			"guest-dirty-mibps", dirtied, "logged-dirty-mibps", logged,
			"rounds", (int)rounds, "outruns-link", r->outruns, "shown", ok);
		if (dirtied < 0)	/* a migration too short to see */
			json_object_set_new(row, "guest-dirty-mibps", json_null());
		if (!ok)
			json_object_set_new(row, "not-shown", json_string(why));
		if (ok && base_ok && i)
			json_object_update_new(row, json_pack(
				"{sf sf sf sf sf sf sf sf sf}",
				"total-ratio", rt.med, "total-ratio-min", rt.min,
				"total-ratio-max", rt.max,
				"downtime-ratio", rd.med, "downtime-ratio-min", rd.min,
				"downtime-ratio-max", rd.max,
				"mib-ratio", rm.med, "mib-ratio-min", rm.min,
				"mib-ratio-max", rm.max));
		json_array_append_new(out, row);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct run guests[] = {
		{ .name = "idle", .workload = "0:idle" },
		{ .name = "light", .workload =
		  "0:dirty,rate=4M,ws=32M,pattern=random,data=text" },
		{ .name = "heavy", .outruns = true, .workload =
		  "0:dirty,rate=0,ws=96M,pattern=random,data=random" },
	};
	struct run codecs[] = {
		{ .name = "none", .codec = "none", .workload = TEXT, .outruns = true },
		{ .name = "zlib", .codec = "zlib", .workload = TEXT, .outruns = true },
		{ .name = "zstd", .codec = "zstd", .workload = TEXT, .outruns = true },
		{ .name = "lz4", .codec = "lz4", .workload = TEXT, .outruns = true },
		{ .name = "auto", .codec = "auto", .workload = TEXT, .outruns = true },
	};
	struct run xb[] = {
		{ .name = "off", .codec = "none", .workload = COUNTER, .outruns = true },
		{ .name = "on", .codec = "none", .xbzrle = true, .workload = COUNTER,
		  .outruns = true },
		{ .name = "on+lz4", .codec = "lz4", .xbzrle = true, .workload = COUNTER,
		  .outruns = true },
	};
	struct table tables[] = {
		{ .what = "guest", .bw = "64M", .runs = guests,
		  .n = sizeof(guests) / sizeof(guests[0]) },
		{ .what = "codec", .bw = "128Mbit", .runs = codecs,
		  .n = sizeof(codecs) / sizeof(codecs[0]), .title =
		  "codecs: a vCPU writing text-like pages over 48 MiB as fast as "
		  "it can, 128 Mbit/s link" },
		{ .what = "run", .bw = "256Mbit", .runs = xb,
		  .n = sizeof(xb) / sizeof(xb[0]), .title =
		  "xbzrle: a vCPU rewriting one word in each page of 96 MiB as "
		  "fast as it can, 256 Mbit/s link" },
	};
	const char *json_path = NULL;
	char guest_title[160];
	json_t *out = json_array();
	unsigned int i, k, t, rounds = 3;
	int opt;

	while ((opt = getopt_long(argc, argv, "j:b:r:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'b')
			tables[0].bw = optarg;
		else if (opt == 'r' && atoi(optarg) >= 1 && atoi(optarg) <= MAX_ROUNDS)
			rounds = (unsigned int)atoi(optarg);
		else
			return 2;
	}
	snprintf(guest_title, sizeof(guest_title), "guests, --max-bandwidth %s "
		 "(heavy = a vCPU writing random data over 96 MiB as fast as it "
		 "can)", tables[0].bw);
	tables[0].title = guest_title;
	test_require_kvm();

	for (k = 0; k < rounds; k++) {
		for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
			for (i = 0; i < tables[t].n; i++) {
				/* ABBA: every other round backwards */
				unsigned int j = k % 2 ? tables[t].n - 1 - i : i;

				one(&tables[t].runs[j], tables[t].bw,
				    &tables[t].runs[j].s[k]);
			}
		}
	}

	printf("live migration: 256 MiB guest (2 slots), loopback TCP, 2 channels, "
	       "--verify, max 8 passes; medians of %u round%s (ABBA order), "
	       "ratios: the median of the rounds' ratios (min..max)%s\n", rounds,
	       rounds > 1 ? "s" : "", rounds == 3 ?
	       "; 3 rounds: more would take over 5 minutes" : "");
	printf("link: --max-bandwidth; dirtied: the pages the guest wrote per "
	       "second while it ran during the migration; logged: the last pass's "
	       "ram.dirty-pages-rate, which stays at about the link's once the "
	       "guest dirties its whole working set again during every pass; a "
	       "row for a guest that dirties faster than the link is shown only "
	       "if it did, in every round\n");
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		table(&tables[t], rounds, out);
	if (json_path && json_dump_file(out, json_path, JSON_INDENT(2)))
		fprintf(stderr, "bench_migrate: cannot write %s\n", json_path);
	json_decref(out);
	return 0;
}
