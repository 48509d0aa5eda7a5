// SPDX-License-Identifier: GPL-2.0
/*
 * bench_idle: an idle guest's migration costs what the guest touched, not
 * its RAM size.  Guests of 256 MiB, 1 GiB, 4 GiB and 16 GiB (kvmig-vm
 * --workload idle: RAM the guest never wrote is holes of the memfd, sent as
 * zero runs and verified as zero ranges) migrate over loopback TCP with
 * --verify, in rounds that each run every size once, in a different order
 * each round: the rows of a Williams square, so that over 4 rounds each
 * size runs once in each position and after each other size once, and a
 * machine that speeds up or slows down during the run favours none.
 *
 * For each size: the median over the rounds of the total time, the
 * downtime and the bytes on the wire (kvmig migrate's total-time,
 * downtime and ram.transferred) with their min..max, and the median of the
 * rounds' ratios to the 256 MiB guest of the same round, with their
 * min..max.  Then a verdict per size against the target: bytes and total
 * time within 2x of the 256 MiB guest's.  Every migration is verified
 * (every page, none differing) and the destination guest must run on with
 * a clean self-check, or the bench fails.
 *
 * --bin DIR runs another build's kvmig and kvmig-vm (an older commit's, to
 * compare); --rounds N (default 16: four squares); --json FILE.
 */
#include <getopt.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"

#define NR_SIZES	4
#define MAX_ROUNDS	64
/* the target: an idle guest's bytes and time within 2x of 256 MiB's */
#define TARGET		2.0

struct size {
	const char *mem;		/* kvmig-vm --mem */
	/* per round, in round order */
	double total_ms[MAX_ROUNDS], downtime_ms[MAX_ROUNDS], kib[MAX_ROUNDS];
	char dirty_log[16];		/* the backend, "mixed" if rounds differ */
};

/* a median and the min..max around it */
struct spread {
	double med, lo, hi;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct spread spread_of(const double *v, unsigned int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return (struct spread){
		.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2,
		.lo = s[0], .hi = s[n - 1],
	};
}

/*
 * The rounds' ratios of @v to @base.  Times are whole milliseconds: a
 * 0 ms base counts as 1 ms, the statistic's resolution.
 */
static struct spread ratio_of(const double *v, const double *base,
			      unsigned int n)
{
	double r[MAX_ROUNDS];
	unsigned int i;

	for (i = 0; i < n; i++)
		r[i] = v[i] / (base[i] ?: 1);
	return spread_of(r, n);
}

/*
 * The size run at position @j of @round: row @round of a Williams square
 * of order NR_SIZES (even), whose first row is 0, 1, n-1, 2, n-2, ...
 * and each next row that one plus 1 (mod n).
 */
static unsigned int order(unsigned int round, unsigned int j)
{
	unsigned int w = j % 2 ? (j + 1) / 2 : (NR_SIZES - j / 2) % NR_SIZES;

	return (round + w) % NR_SIZES;
}

static void one(struct size *s, unsigned int round)
{
	const char *vm[] = { "--mem", s->mem, "--workload", "idle", NULL };
	char name[32];
	const char *backend;
	json_t *st;

	snprintf(name, sizeof(name), "%s, round %u", s->mem, round + 1);
	st = migrate_bench(name, vm, vm, NULL, NULL);
	s->total_ms[round] = (double)json_path_int(st, "total-time");
	s->downtime_ms[round] = (double)json_path_int(st, "downtime");
	s->kib[round] = (double)json_path_int(st, "ram.transferred") / 1024.0;
	backend = json_string_value(json_object_get(st, "dirty-log")) ?: "?";
	if (!s->dirty_log[0])
		snprintf(s->dirty_log, sizeof(s->dirty_log), "%s", backend);
	else if (strcmp(s->dirty_log, backend))
		strcpy(s->dirty_log, "mixed");
	json_decref(st);
	printf("# round %u: %s: %.0f ms, downtime %.0f ms, %.1f KiB\n", round + 1,
	       s->mem, s->total_ms[round], s->downtime_ms[round], s->kib[round]);
	fflush(stdout);
}

/* the table: mem, dirty-log, then 3 figures and their 3 ratios */
#define NR_COLS		8
#define CELL		48

/* "12.3 (10.1..15.0)" with @prec decimals and @unit after the median */
static void cell(char *buf, struct spread s, int prec, const char *unit)
{
	snprintf(buf, CELL, "%.*f%s (%.*f..%.*f)", prec, s.med, unit, prec, s.lo,
		 prec, s.hi);
}

/* @rows rows of cells, each column as wide as its widest cell */
static void print_table(char (*cells)[NR_COLS][CELL], unsigned int rows)
{
	size_t w[NR_COLS] = { 0 };
	unsigned int i, j;

	for (i = 0; i < rows; i++)
		for (j = 0; j < NR_COLS; j++)
			if (strlen(cells[i][j]) > w[j])
				w[j] = strlen(cells[i][j]);
	for (i = 0; i < rows; i++)
		for (j = 0; j < NR_COLS; j++)
			printf("%-*s%s", j + 1 < NR_COLS ? (int)w[j] : 0,
			       cells[i][j], j + 1 < NR_COLS ? "  " : "\n");
}

static json_t *row(const struct size *s, unsigned int rounds, struct spread t,
		   struct spread d, struct spread b, struct spread tr,
		   struct spread dr, struct spread br, const char *target)
{
	return json_pack("{ss ss sI ss sf sf sf sf sf sf sf sf sf"
			 " sf sf sf sf sf sf sf sf sf ss}",
		"table", "idle", "mem", s->mem, "rounds", (json_int_t)rounds,
		"dirty-log", s->dirty_log,
		"total-time-ms", t.med, "total-time-ms-min", t.lo,
		"total-time-ms-max", t.hi,
		"downtime-ms", d.med, "downtime-ms-min", d.lo, "downtime-ms-max", d.hi,
		"kib-sent", b.med, "kib-sent-min", b.lo, "kib-sent-max", b.hi,
		"time-ratio", tr.med, "time-ratio-min", tr.lo, "time-ratio-max", tr.hi,
		"downtime-ratio", dr.med, "downtime-ratio-min", dr.lo,
		"downtime-ratio-max", dr.hi,
		"kib-ratio", br.med, "kib-ratio-min", br.lo, "kib-ratio-max", br.hi,
		"target", target);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "bin", required_argument, NULL, 'B' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 }
	};
	struct size sizes[NR_SIZES] = {
		{ .mem = "256M" }, { .mem = "1G" }, { .mem = "4G" }, { .mem = "16G" },
	};
	const struct size *base = &sizes[0];
	const char *json_path = NULL;
	unsigned int rounds = 16, i, j;
	static const char *const heads[NR_COLS] = {
		"mem", "dirty-log", "total ms", "downtime ms", "KiB sent",
		"total x256M", "downtime x256M", "KiB x256M",
	};
	char cells[NR_SIZES + 1][NR_COLS][CELL];
	char verdicts[NR_SIZES][160];
	json_t *out = json_array();
	int opt;

	while ((opt = getopt_long(argc, argv, "j:B:r:", opts, NULL)) != -1) {
		char *end;

		if (opt == 'j') {
			json_path = optarg;
		} else if (opt == 'B') {
			test_bin_dir = optarg;
		} else if (opt == 'r') {
			rounds = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !rounds || rounds > MAX_ROUNDS) {
				fprintf(stderr, "bench_idle: --rounds %s: 1..%d\n",
					optarg, MAX_ROUNDS);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench_idle [--json FILE] [--bin DIR] "
				"[--rounds N]\n");
			return 2;
		}
	}
	test_require_kvm();
	for (i = 0; i < 2; i++) {
		const char *p = test_bin(i ? "kvmig-vm" : "kvmig");

		if (access(p, X_OK)) {
			fprintf(stderr, "bench_idle: %s: %s\n", p, strerror(errno));
			return 2;
		}
	}
	printf("# kvmig and kvmig-vm: %s\n", test_bin_dir ?: "this build's bin/");
	for (i = 0; i < rounds; i++)
		for (j = 0; j < NR_SIZES; j++)
			one(&sizes[order(i, j)], i);

	printf("\nidle guests (kvmig-vm --workload idle, 1 vCPU), loopback TCP, "
	       "2 channels, --verify; %u rounds, the sizes in a different order "
	       "each round\n", rounds);
	printf("medians of the rounds (min..max); x256M: the median of the rounds' "
	       "ratios to that round's 256 MiB guest (min..max)\n");
	for (j = 0; j < NR_COLS; j++)
		snprintf(cells[0][j], sizeof(cells[0][j]), "%s", heads[j]);
	for (i = 0; i < NR_SIZES; i++) {
		const struct size *s = &sizes[i];
		struct spread t = spread_of(s->total_ms, rounds);
		struct spread d = spread_of(s->downtime_ms, rounds);
		struct spread b = spread_of(s->kib, rounds);
		struct spread tr = ratio_of(s->total_ms, base->total_ms, rounds);
		struct spread dr = ratio_of(s->downtime_ms, base->downtime_ms, rounds);
		struct spread br = ratio_of(s->kib, base->kib, rounds);
		bool met = tr.med <= TARGET && br.med <= TARGET;
		char (*c)[CELL] = cells[i + 1];

		snprintf(c[0], CELL, "%s", s->mem);
		snprintf(c[1], CELL, "%s", s->dirty_log);
		cell(c[2], t, 0, "");
		cell(c[3], d, 0, "");
		cell(c[4], b, 0, "");
		cell(c[5], tr, 2, "x");
		cell(c[6], dr, 2, "x");
		cell(c[7], br, 2, "x");
		if (i)
			snprintf(verdicts[i], sizeof(verdicts[i]),
				 "%s: target %s: total time %.2fx%s, bytes %.2fx%s",
				 s->mem, met ? "met" : "missed", tr.med,
				 tr.med <= TARGET ? "" : " (over 2x)", br.med,
				 br.med <= TARGET ? "" : " (over 2x)");
		json_array_append_new(out, row(s, rounds, t, d, b, tr, dr, br,
					       !i ? "reference" : met ? "met" : "missed"));
	}
	print_table(cells, NR_SIZES + 1);
	printf("\ntarget: bytes and total time within %.0fx of the 256 MiB guest's "
	       "(medians of the rounds' ratios)\n", TARGET);
	for (i = 1; i < NR_SIZES; i++)
		printf("%s\n", verdicts[i]);
	if (json_path && json_dump_file(out, json_path, JSON_INDENT(2)))
		fprintf(stderr, "bench_idle: cannot write %s\n", json_path);
	json_decref(out);
	return 0;
}
