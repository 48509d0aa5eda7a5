// SPDX-License-Identifier: GPL-2.0
/*
 * The HTML report of one migration (report.h).  The progress callback
 * hands over the statistics; each time ram.iterations moves, the pass
 * that just ended is recorded as the difference of the counters.  At the
 * end the page is written in one go: a summary, the parameters, a chart
 * per figure (inline SVG, the passes along x, the stop-and-copy last)
 * and the same figures as a table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define MAX_PASSES	10000	/* the rest are counted, not drawn */
#define MAX_VCPUS	64

struct pass_rec {
	uint64_t end_ms;		/* total-time when it ended */
	uint64_t wire_bytes;
	double mbps;
	uint64_t dirty_pps;		/* pages/s dirtied meanwhile */
	uint64_t expected_ms;		/* expected downtime after it */
	uint64_t zero, raw, compressed, xbzrle;	/* pages by encoding */
	double xbzrle_hit;		/* -1: no lookups */
	uint32_t cpu_pct;
	char mech[16];
	char decision[160];
	uint32_t nr_vcpus;
	double vcpu_rate[MAX_VCPUS];	/* bytes/s */
	uint64_t vcpu_limit[MAX_VCPUS];	/* bytes/s, 0 = none */
	bool vcpu_io[MAX_VCPUS];
};

/* The cumulative counters a pass is the difference of. */
struct totals {
	uint64_t wire, zero, raw, compressed, xb_pages, xb_miss, xb_overflow;
};

struct report {
	FILE *f;
	char *path;
	struct pass_rec *rec;
	unsigned int nr, cap;
	uint64_t dropped;		/* passes past MAX_PASSES */
	uint64_t iterations;		/* passes seen so far */
	struct totals last;
	time_t started;
};

static void totals_of(const struct kvmig_migration_stats *st, struct totals *t)
{
	unsigned int c;

	memset(t, 0, sizeof(*t));
	t->wire = st->ram.transferred;
	t->zero = st->ram.duplicate;
	for (c = 0; c < KVMIG_CODEC_NR; c++) {
		t->compressed += st->pipeline.codec[c].compressed;
		t->raw += st->pipeline.codec[c].pages - st->pipeline.codec[c].compressed;
	}
	t->xb_pages = st->xbzrle.pages;
	t->xb_miss = st->xbzrle.cache_miss;
	t->xb_overflow = st->xbzrle.overflow;
}

void downtime_parts_text(const struct kvmig_migration_stats *st, char *buf,
			 size_t len)
{
	snprintf(buf, len, "pause %llu, sync %llu, pages %llu, device %llu, "
		 "verify %llu, commit %llu ms",
		 (unsigned long long)st->downtime_parts.pause,
		 (unsigned long long)st->downtime_parts.sync,
		 (unsigned long long)st->downtime_parts.ram,
		 (unsigned long long)st->downtime_parts.device,
		 (unsigned long long)st->downtime_parts.verify,
		 (unsigned long long)st->downtime_parts.commit);
}

struct report *report_open(const char *path, char *err, size_t len)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r || !(r->path = strdup(path))) {
		snprintf(err, len, "%s", strerror(ENOMEM));
		free(r);
		return NULL;
	}
	r->f = fopen(path, "w");
	if (!r->f) {
		snprintf(err, len, "cannot create %s: %s", path, strerror(errno));
		free(r->path);
		free(r);
		return NULL;
	}
	r->started = time(NULL);
	return r;
}

/* Record the pass that ended with @st (also the stop-and-copy, at the end). */
static void record(struct report *r, const struct kvmig_migration_stats *st,
		   bool stop)
{
	struct pass_rec *p;
	struct totals t;
	uint64_t lookups;
	unsigned int i;

	if (r->nr == MAX_PASSES) {
		r->dropped++;
		return;
	}
	if (r->nr == r->cap) {
		unsigned int cap = r->cap ? r->cap * 2 : 32;
		struct pass_rec *n = realloc(r->rec, cap * sizeof(*n));

		if (!n) {
			r->dropped++;
			return;
		}
		r->rec = n;
		r->cap = cap;
	}
	p = &r->rec[r->nr++];
	memset(p, 0, sizeof(*p));
	totals_of(st, &t);
	p->end_ms = st->total_time_ms;
	p->wire_bytes = t.wire - r->last.wire;
	/* the stop-and-copy's rate: its bytes over the downtime */
	p->mbps = !stop ? st->ram.mbps : st->downtime_ms ?
		  (double)p->wire_bytes * 8 / ((double)st->downtime_ms * 1e3) : 0;
	p->dirty_pps = stop ? 0 : st->ram.dirty_pages_rate;
	p->expected_ms = stop ? st->downtime_ms : st->expected_downtime_ms;
	p->zero = t.zero - r->last.zero;
	p->raw = t.raw - r->last.raw;
	p->compressed = t.compressed - r->last.compressed;
	p->xbzrle = t.xb_pages - r->last.xb_pages;
	lookups = p->xbzrle + (t.xb_miss - r->last.xb_miss) +
		  (t.xb_overflow - r->last.xb_overflow);
	p->xbzrle_hit = lookups ? 100.0 * (double)p->xbzrle / (double)lookups : -1;
	p->cpu_pct = st->converge.cpu_throttle_percentage;
	snprintf(p->mech, sizeof(p->mech), "%s", st->converge.mechanism);
	snprintf(p->decision, sizeof(p->decision), "%s", stop ?
		 "stop-and-copy" : st->converge.decision);
	p->nr_vcpus = st->converge.nr_vcpus < MAX_VCPUS ? st->converge.nr_vcpus :
		      MAX_VCPUS;
	for (i = 0; i < p->nr_vcpus; i++) {
		p->vcpu_rate[i] = st->converge.vcpu[i].dirty_rate;
		p->vcpu_limit[i] = st->converge.vcpu[i].limit;
		p->vcpu_io[i] = st->converge.vcpu[i].io;
	}
	r->last = t;
}

void report_progress(struct report *r, const struct kvmig_migration_stats *st)
{
	/* the stop-and-copy is recorded by report_close() */
	if (!r || st->switchover[0])
		return;
	/* the statistics at a pass's end are those the callback gets once
	 * ram.iterations has moved; a callback may see several passes end
	 * at once only if they were empty */
	while (r->iterations < st->ram.iterations) {
		record(r, st, false);
		r->iterations++;
	}
}

/* Text into HTML: the five characters that matter. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *const palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

struct series {
	char name[48];
	double *v;			/* one per pass; NAN-free */
	bool dashed;
	int color;			/* index in palette[], -1: by position */
};

static const char *color_of(const struct series *s, unsigned int k)
{
	unsigned int n = sizeof(palette) / sizeof(*palette);

	return palette[(s->color >= 0 ? (unsigned int)s->color : k) % n];
}

/* A round step for an axis from 0 to about @max, 4-6 gridlines. */
static double nice_step(double max)
{
	double s = 1, m;

	if (max <= 0)
		return 1;
	while (s * 10 <= max / 4)
		s *= 10;
	while (s > max / 4 && s > 1e-9)
		s /= 10;
	m = max / s;
	if (m > 20)
		return s * 5;
	if (m > 8)
		return s * 2;
	return s;
}

enum chart_kind { CHART_LINES, CHART_STACKED };

#define W 720
#define H 240
#define ML 64
#define MR 16
#define MT 28
#define MB 40

/*
 * One chart: @ns series over the r->nr passes (the last one labelled
 * "stop" when @stop), lines or stacked bars, optionally a horizontal
 * line at @hline (a limit).
 */
static void chart(FILE *f, const struct report *r, bool stop, const char *id,
		  const char *title, const char *unit, const struct series *s,
		  unsigned int ns, enum chart_kind kind, double hline,
		  const char *hline_name)
{
	unsigned int n = r->nr, i, k;
	double max = hline > 0 ? hline : 0, step, slot, y;

	for (i = 0; i < n; i++) {
		double sum = 0;

		for (k = 0; k < ns; k++) {
			if (kind == CHART_STACKED)
				sum += s[k].v[i];
			else if (s[k].v[i] > max)
				max = s[k].v[i];
		}
		if (sum > max)
			max = sum;
	}
	step = nice_step(max);
	max = step * (double)((int)(max / step) + 1);
	slot = n ? (double)(W - ML - MR) / n : 1;

	fprintf(f, "<figure id=\"%s\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
		"viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
		"aria-label=\"", id, W, H, W, H);
	esc(f, title);
	fprintf(f, "\">\n<text x=\"%d\" y=\"18\" class=\"t\">", ML);
	esc(f, title);
	fprintf(f, " (%s)</text>\n", unit);
	for (y = 0; y <= max + step / 2; y += step) {
		double py = MT + (H - MT - MB) * (1 - y / max);

		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
			"class=\"g\"/><text x=\"%d\" y=\"%.1f\" class=\"a\" "
			"text-anchor=\"end\">%g</text>\n", ML, W - MR, py, py,
			ML - 6, py + 4, y);
	}
	for (i = 0; i < n; i++) {
		/* at most about 24 labels along x */
		if (n > 24 && i % ((n + 23) / 24) && i != n - 1)
			continue;
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"a\" text-anchor=\""
			"middle\">", ML + slot * (i + 0.5), H - MB + 16);
		if (stop && i == n - 1)
			fputs("stop", f);
		else
			fprintf(f, "%u", i);
		fputs("</text>\n", f);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"middle\">"
		"pass</text>\n", (ML + W - MR) / 2, H - 6);
	for (k = 0; k < ns; k++) {
		const char *col = color_of(&s[k], k);

		if (kind == CHART_STACKED) {
			for (i = 0; i < n; i++) {
				double below = 0, h;
				unsigned int j;

				for (j = 0; j < k; j++)
					below += s[j].v[i];
				h = (H - MT - MB) * s[k].v[i] / max;
				if (h <= 0)
					continue;
				fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
					"height=\"%.1f\" fill=\"%s\"><title>",
					ML + slot * i + slot * 0.1,
					MT + (H - MT - MB) * (1 - below / max) - h,
					slot * 0.8, h, col);
				esc(f, s[k].name);
				fprintf(f, ": %g</title></rect>\n", s[k].v[i]);
			}
		} else {
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s "
				"points=\"", col, s[k].dashed ?
				" stroke-dasharray=\"6 4\"" : "");
			for (i = 0; i < n; i++)
				fprintf(f, "%.1f,%.1f ", ML + slot * (i + 0.5),
					MT + (H - MT - MB) * (1 - s[k].v[i] / max));
			fputs("\"/>\n", f);
			for (i = 0; i < n; i++) {
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
					"fill=\"%s\"><title>", ML + slot * (i + 0.5),
					MT + (H - MT - MB) * (1 - s[k].v[i] / max), col);
				esc(f, s[k].name);
				fprintf(f, ", pass %u: %g</title></circle>\n", i, s[k].v[i]);
			}
		}
	}
	if (hline > 0) {
		double py = MT + (H - MT - MB) * (1 - hline / max);

		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
			"class=\"h\"/><text x=\"%d\" y=\"%.1f\" class=\"a\" "
			"text-anchor=\"end\">", ML, W - MR, py, py, W - MR, py - 4);
		esc(f, hline_name);
		fputs("</text>\n", f);
	}
	fputs("</svg><figcaption>", f);
	for (k = 0; k < ns; k++) {
		fprintf(f, "<span class=\"k\" style=\"background:%s\"></span>",
			color_of(&s[k], k));
		esc(f, s[k].name);
		fputs(k + 1 < ns ? " &nbsp; " : "", f);
	}
	fputs("</figcaption></figure>\n", f);
}

static void row(FILE *f, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void row(FILE *f, const char *name, const char *fmt, ...)
{
	char v[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	fputs("<tr><th>", f);
	esc(f, name);
	fputs("</th><td>", f);
	esc(f, v);
	fputs("</td></tr>\n", f);
}

static void params(FILE *f, const struct kvmig_migrate_opts *mo,
		   const struct kvmig_migration_stats *st, const char *vm,
		   const char *to)
{
	fputs("<h2>Parameters</h2>\n<table class=\"kv\">\n", f);
	row(f, "source VMM", "%s", vm);
	row(f, "destination", "%s", to);
	row(f, "channels", "%u", st->channels);
	row(f, "workers", "%u", st->pipeline.workers);
	row(f, "codec", "%s%s", st->pipeline.codec_name[0] ?
	    st->pipeline.codec_name : kvmig_codec_name(mo->codec),
	    mo->level ? "" : " (its default level)");
	if (mo->level)
		row(f, "level", "%d", mo->level);
	if (mo->xbzrle)
		row(f, "XBZRLE", "on, cache %llu MiB, threshold %u bytes",
		    (unsigned long long)((mo->xbzrle_cache_size ?
					  mo->xbzrle_cache_size : 64 << 20) >> 20),
		    mo->xbzrle_threshold ? mo->xbzrle_threshold : 4096);
	else
		row(f, "XBZRLE", "off");
	if (mo->max_bandwidth)
		row(f, "max bandwidth", "%.1f Mbit/s",
		    (double)mo->max_bandwidth * 8 / 1e6);
	else
		row(f, "max bandwidth", "none");
	row(f, "downtime limit", "%u ms", mo->downtime_limit_ms ?
	    mo->downtime_limit_ms : 300);
	row(f, "max iterations", "%u%s", mo->max_iterations ?
	    mo->max_iterations : 30, mo->no_force ? ", then fail" :
	    ", then force the switchover");
	row(f, "convergence", "%s", kvmig_converge_name(mo->converge));
	row(f, "dirty log", "%s", st->dirty_backend[0] ? st->dirty_backend :
	    kvmig_dirty_backend_name(mo->dirty_backend));
	row(f, "verify", "%s", mo->verify ? "every page hashed on both sides" :
	    "off");
	fputs("</table>\n", f);
}

static double *column(const struct report *r)
{
	return calloc(r->nr ? r->nr : 1, sizeof(double));
}

static int charts(FILE *f, const struct report *r,
		  const struct kvmig_migrate_opts *mo, bool stop)
{
	struct series s[1 + 2 * MAX_VCPUS];
	unsigned int i, k, nv = 0, ns, nalloc;
	bool any_xb = false, any_cpu = false;
	int ret = -ENOMEM;

	for (i = 0; i < r->nr; i++) {
		if (r->rec[i].nr_vcpus > nv)
			nv = r->rec[i].nr_vcpus;
		any_xb |= r->rec[i].xbzrle_hit >= 0;
		any_cpu |= r->rec[i].cpu_pct != 0;
	}
	nalloc = 1 + 2 * nv > 4 ? 1 + 2 * nv : 4;
	memset(s, 0, sizeof(s));
	for (k = 0; k < nalloc; k++) {
		s[k].color = -1;
		if (!(s[k].v = column(r)))
			goto out;
	}

	fputs("<h2>Timeline</h2>\n", f);
	snprintf(s[0].name, sizeof(s[0].name), "sent");
	for (i = 0; i < r->nr; i++)
		s[0].v[i] = (double)r->rec[i].wire_bytes / 1048576.0;
	chart(f, r, stop, "sent", "Sent per pass", "MiB", s, 1, CHART_STACKED, 0, NULL);

	snprintf(s[0].name, sizeof(s[0].name), "wire rate");
	for (i = 0; i < r->nr; i++)
		s[0].v[i] = r->rec[i].mbps;
	chart(f, r, stop, "rate", "Wire rate", "Mbit/s", s, 1, CHART_LINES,
	      mo->max_bandwidth ? (double)mo->max_bandwidth * 8 / 1e6 : 0,
	      "max bandwidth");

	snprintf(s[0].name, sizeof(s[0].name), "dirty rate");
	for (i = 0; i < r->nr; i++)
		s[0].v[i] = (double)r->rec[i].dirty_pps * 4096 / 1048576.0;
	ns = 1;
	for (k = 0; k < nv; k++) {
		struct series *d = &s[ns++], *l = &s[ns];
		bool limited = false;

		/* a vCPU's rate and its limit (dashed) in one colour */
		snprintf(d->name, sizeof(d->name), "vCPU %u", k);
		snprintf(l->name, sizeof(l->name), "vCPU %u limit", k);
		d->color = l->color = (int)k + 1;
		d->dashed = false;
		l->dashed = true;
		for (i = 0; i < r->nr; i++) {
			d->v[i] = k < r->rec[i].nr_vcpus ?
				  r->rec[i].vcpu_rate[k] / 1048576.0 : 0;
			l->v[i] = k < r->rec[i].nr_vcpus ?
				  (double)r->rec[i].vcpu_limit[k] / 1048576.0 : 0;
			limited |= l->v[i] > 0;
		}
		if (limited)
			ns++;	/* else the next vCPU takes this slot */
	}
	chart(f, r, stop, "dirty", "Dirty rate, all and per vCPU, with the limits "
	      "in force after the pass", "MiB/s", s, ns, CHART_LINES, 0, NULL);

	snprintf(s[0].name, sizeof(s[0].name), "expected downtime");
	for (i = 0; i < r->nr; i++)
		s[0].v[i] = (double)r->rec[i].expected_ms;
	if (stop)
		snprintf(s[0].name, sizeof(s[0].name),
			 "expected downtime (stop: the real one)");
	chart(f, r, stop, "downtime", "Expected downtime after each pass", "ms",
	      s, 1, CHART_LINES, mo->downtime_limit_ms ? mo->downtime_limit_ms : 300,
	      "downtime limit");

	snprintf(s[0].name, sizeof(s[0].name), "zero");
	snprintf(s[1].name, sizeof(s[1].name), "raw");
	snprintf(s[2].name, sizeof(s[2].name), "compressed");
	snprintf(s[3].name, sizeof(s[3].name), "XBZRLE");
	for (i = 0; i < r->nr; i++) {
		s[0].v[i] = (double)r->rec[i].zero;
		s[1].v[i] = (double)r->rec[i].raw;
		s[2].v[i] = (double)r->rec[i].compressed;
		s[3].v[i] = (double)r->rec[i].xbzrle;
	}
	chart(f, r, stop, "mix", "Pages by encoding", "pages", s, 4, CHART_STACKED,
	      0, NULL);

	if (any_xb) {
		snprintf(s[0].name, sizeof(s[0].name), "XBZRLE hits");
		for (i = 0; i < r->nr; i++)
			s[0].v[i] = r->rec[i].xbzrle_hit > 0 ? r->rec[i].xbzrle_hit : 0;
		chart(f, r, stop, "xbzrle", "XBZRLE hit rate (pages sent as a "
		      "difference, of those looked up)", "%", s, 1, CHART_LINES, 0,
		      NULL);
	}
	if (any_cpu) {
		snprintf(s[0].name, sizeof(s[0].name), "CPU throttle");
		for (i = 0; i < r->nr; i++)
			s[0].v[i] = r->rec[i].cpu_pct;
		chart(f, r, stop, "throttle", "CPU throttle after the pass", "%", s,
		      1, CHART_LINES, 0, NULL);
	}
	ret = 0;
out:
	for (k = 0; k < nalloc; k++)
		free(s[k].v);
	return ret;
}

static void pass_table(FILE *f, const struct report *r, bool stop)
{
	unsigned int i;

	fputs("<h2>Passes</h2>\n<table class=\"passes\"><thead><tr><th>pass</th>"
	      "<th>ended at (s)</th><th>sent (MiB)</th><th>wire rate (Mbit/s)</th>"
	      "<th>dirty (pages/s)</th><th>expected downtime (ms)</th>"
	      "<th>zero</th><th>raw</th><th>compressed</th><th>XBZRLE</th>"
	      "<th>XBZRLE hits</th><th>lever</th><th>decision</th></tr></thead>"
	      "<tbody>\n", f);
	for (i = 0; i < r->nr; i++) {
		const struct pass_rec *p = &r->rec[i];
		char lever[64] = "-";
		unsigned int k, n = 0;

		if (p->cpu_pct)
			snprintf(lever, sizeof(lever), "CPU throttle %u%%", p->cpu_pct);
		else if (!strcmp(p->mech, "dirty-limit")) {
			for (k = 0; k < p->nr_vcpus; k++)
				n += p->vcpu_limit[k] != 0;
			snprintf(lever, sizeof(lever), "dirty-limit on %u vCPU(s)", n);
		}
		fputs("<tr><td>", f);
		if (stop && i == r->nr - 1)
			fputs("stop", f);
		else
			fprintf(f, "%u", i);
		fprintf(f, "</td><td>%.3f</td><td>%.1f</td><td>%.1f</td><td>%llu</td>"
			"<td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu"
			"</td><td>", (double)p->end_ms / 1000,
			(double)p->wire_bytes / 1048576.0, p->mbps,
			(unsigned long long)p->dirty_pps,
			(unsigned long long)p->expected_ms,
			(unsigned long long)p->zero, (unsigned long long)p->raw,
			(unsigned long long)p->compressed,
			(unsigned long long)p->xbzrle);
		if (p->xbzrle_hit >= 0)
			fprintf(f, "%.1f%%", p->xbzrle_hit);
		else
			fputs("-", f);
		fputs("</td><td>", f);
		esc(f, lever);
		fputs("</td><td>", f);
		esc(f, p->decision);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (r->dropped)
		fprintf(f, "<p>%llu later passes are not shown.</p>\n",
			(unsigned long long)r->dropped);
}

static const char css[] =
	"body{font-family:sans-serif;margin:2em;color:#222;max-width:60em}"
	"h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}"
	"table{border-collapse:collapse;font-size:.9em}"
	"th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
	"table.kv th{text-align:left;background:#f4f4f4}"
	"table.kv td{text-align:left}thead th{background:#f4f4f4}"
	"td:last-child{text-align:left}figure{margin:1em 0}"
	".t{font-size:14px;font-weight:bold}.a{font-size:11px;fill:#555}"
	".g{stroke:#e4e4e4}.h{stroke:#d62728;stroke-dasharray:4 3}"
	".k{display:inline-block;width:.8em;height:.8em;margin-right:.3em}"
	"figcaption{font-size:.85em}.failed{color:#b00}";

int report_close(struct report *r, const struct kvmig_migration_stats *st,
		 const struct kvmig_migrate_opts *mo, const char *vm,
		 const char *to, char *err, size_t len)
{
	bool stop = st->switchover[0] != 0;
	char when[64], parts[160];
	struct tm tm;
	FILE *f = r->f;
	int ret;

	/*
	 * The passes the last callback did not see, then the stop-and-copy
	 * (which counts in ram.iterations too).
	 */
	while (r->iterations + stop < st->ram.iterations) {
		record(r, st, false);
		r->iterations++;
	}
	if (stop)
		record(r, st, true);
	localtime_r(&r->started, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<title>kvmig migration %s</title><style>%s</style></head><body>\n",
		st->status, css);
	fputs("<h1>kvmig migration: <span id=\"status\"", f);
	fputs(strcmp(st->status, "completed") ? " class=\"failed\">" : ">", f);
	esc(f, st->status);
	fputs("</span></h1>\n<table class=\"kv\" id=\"summary\">\n", f);
	row(f, "started", "%s", when);
	if (st->error[0])
		row(f, "error", "%s", st->error);
	row(f, "total time", "%llu ms", (unsigned long long)st->total_time_ms);
	row(f, "setup", "%llu ms", (unsigned long long)st->setup_time_ms);
	if (stop) {
		row(f, "switchover", "%s", st->switchover);
		row(f, "downtime", "%llu ms (expected %llu ms)",
		    (unsigned long long)st->downtime_ms,
		    (unsigned long long)st->expected_downtime_ms);
		downtime_parts_text(st, parts, sizeof(parts));
		row(f, "downtime parts", "%s", parts);
	}
	row(f, "passes", "%llu", (unsigned long long)st->ram.iterations);
	row(f, "guest RAM", "%llu MiB", (unsigned long long)(st->ram.total >> 20));
	row(f, "sent", "%.1f MiB (%.1f MiB while the guest ran, %.1f MiB "
	    "stopped)", (double)st->ram.transferred / 1048576.0,
	    (double)st->ram.precopy_bytes / 1048576.0,
	    (double)st->ram.downtime_bytes / 1048576.0);
	row(f, "pages", "%llu with data, %llu zero",
	    (unsigned long long)st->ram.normal, (unsigned long long)st->ram.duplicate);
	if (st->verify.done)
		row(f, "verify", "%llu pages compared, %llu mismatches",
		    (unsigned long long)st->verify.pages,
		    (unsigned long long)st->verify.mismatches);
	if (st->converge.policy[0])
		row(f, "convergence", "%s, %s; last decision: %s",
		    st->converge.policy, st->converge.mechanism,
		    st->converge.decision);
	fputs("</table>\n", f);
	params(f, mo, st, vm, to);
	ret = charts(f, r, mo, stop);
	if (!ret)
		pass_table(f, r, stop);
	fputs("<p>Made by kvmig ", f);
	esc(f, kvmig_version());
	fputs(".</p>\n</body></html>\n", f);
	if (ret)
		snprintf(err, len, "writing %s: %s", r->path, strerror(-ret));
	if (ferror(f) && !ret) {
		ret = -EIO;
		snprintf(err, len, "writing %s: %s", r->path, strerror(EIO));
	}
	if (fclose(f) && !ret) {
		ret = -errno;
		snprintf(err, len, "writing %s: %s", r->path, strerror(errno));
	}
	free(r->rec);
	free(r->path);
	free(r);
	return ret;
}
