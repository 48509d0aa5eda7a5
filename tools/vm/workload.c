// SPDX-License-Identifier: GPL-2.0
/*
 * Workload specs: "idle", "io[,period=US]", "fault" and
 * "dirty[,rate=R][,ws=SIZE][,pattern=seq|random|zipf:S][,data=zero|text|counter|random]"
 * parsed from the command line and laid out in each vCPU's guest block.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vm.h"

const char *workload_name(enum guest_workload w)
{
	switch (w) {
	case GUEST_WL_IDLE:
		return "idle";
	case GUEST_WL_DIRTY:
		return "dirty";
	case GUEST_WL_IO:
		return "io";
	case GUEST_WL_FAULT:
		return "fault";
	}
	return "?";
}

/* "123", "4K", "16M", "2G" (binary units); returns -EINVAL if malformed. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	if (*s == '-' || !*s)
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10; end++; break;
	case 'm': case 'M':
		shift = 20; end++; break;
	case 'g': case 'G':
		shift = 30; end++; break;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_dirty_opt(const char *key, const char *val,
			   struct workload_spec *spec, char *err, size_t errlen)
{
	uint64_t v;

	if (!strcmp(key, "rate")) {
		size_t n = strlen(val);

		/* "1000p" is pages/s; anything else is bytes/s */
		if (n > 1 && val[n - 1] == 'p') {
			char num[64];

			if (n >= sizeof(num))
				goto bad;
			memcpy(num, val, n - 1);
			num[n - 1] = 0;
			if (parse_size(num, &v))
				goto bad;
			spec->rate_pages = v;
		} else {
			if (parse_size(val, &v))
				goto bad;
			if (v && v < GUEST_PAGE_SIZE) {
				snprintf(err, errlen, "rate=%s: below one page "
					 "per second", val);
				return -EINVAL;
			}
			spec->rate_pages = v / GUEST_PAGE_SIZE;
		}
		return 0;
	}
	if (!strcmp(key, "ws")) {
		if (parse_size(val, &v) || !v || v % GUEST_PAGE_SIZE) {
			snprintf(err, errlen, "ws=%s: must be a non-zero multiple "
				 "of 4K", val);
			return -EINVAL;
		}
		spec->ws_bytes = v;
		return 0;
	}
	if (!strcmp(key, "pattern")) {
		if (!strcmp(val, "seq")) {
			spec->pattern = GUEST_PAT_SEQ;
		} else if (!strcmp(val, "random")) {
			spec->pattern = GUEST_PAT_RANDOM;
		} else if (!strncmp(val, "zipf:", 5)) {
			char *end;

			spec->pattern = GUEST_PAT_ZIPF;
			errno = 0;
			spec->zipf_s = strtod(val + 5, &end);
			if (errno || end == val + 5 || *end ||
			    !(spec->zipf_s > 0.0 && spec->zipf_s <= 10.0)) {
				snprintf(err, errlen, "pattern=%s: zipf exponent "
					 "must be in (0, 10]", val);
				return -EINVAL;
			}
		} else {
			goto bad;
		}
		return 0;
	}
	if (!strcmp(key, "data")) {
		if (!strcmp(val, "zero"))
			spec->data = GUEST_DATA_ZERO;
		else if (!strcmp(val, "text"))
			spec->data = GUEST_DATA_TEXT;
		else if (!strcmp(val, "counter"))
			spec->data = GUEST_DATA_COUNTER;
		else if (!strcmp(val, "random"))
			spec->data = GUEST_DATA_RANDOM;
		else
			goto bad;
		return 0;
	}
	snprintf(err, errlen, "dirty: unknown option '%s' (rate, ws, pattern, data)",
		 key);
	return -EINVAL;
bad:
	snprintf(err, errlen, "dirty: bad value '%s' for %s", val, key);
	return -EINVAL;
}

int workload_parse(const char *s, struct workload_spec *spec, char *err,
		   size_t errlen)
{
	char *copy, *tok, *save = NULL;
	int r = 0;

	memset(spec, 0, sizeof(*spec));
	spec->pattern = GUEST_PAT_RANDOM;
	spec->data = GUEST_DATA_RANDOM;
	spec->period_us = 1000;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	if (!tok) {
		snprintf(err, errlen, "empty workload");
		r = -EINVAL;
		goto out;
	}
	if (!strcmp(tok, "idle")) {
		spec->kind = GUEST_WL_IDLE;
	} else if (!strcmp(tok, "dirty")) {
		spec->kind = GUEST_WL_DIRTY;
	} else if (!strcmp(tok, "io")) {
		spec->kind = GUEST_WL_IO;
	} else if (!strcmp(tok, "fault")) {
		spec->kind = GUEST_WL_FAULT;
	} else {
		snprintf(err, errlen, "unknown workload '%s' (idle, dirty, io, fault)",
			 tok);
		r = -EINVAL;
		goto out;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(err, errlen, "%s: option '%s' is not key=value",
				 workload_name(spec->kind), tok);
			r = -EINVAL;
			goto out;
		}
		*eq = 0;
		if (spec->kind == GUEST_WL_DIRTY) {
			r = parse_dirty_opt(tok, eq + 1, spec, err, errlen);
		} else if (spec->kind == GUEST_WL_IO && !strcmp(tok, "period")) {
			uint64_t v;

			if (parse_size(eq + 1, &v) || !v || v > 10000000) {
				snprintf(err, errlen, "io: period=%s must be "
					 "1..10000000 µs", eq + 1);
				r = -EINVAL;
			}
			spec->period_us = v;
		} else {
			snprintf(err, errlen, "%s: unknown option '%s'",
				 workload_name(spec->kind), tok);
			r = -EINVAL;
		}
		if (r)
			goto out;
	}
out:
	free(copy);
	return r;
}

/* Inverse CDF of Zipf(s) over @n ranks, sampled at GUEST_ZIPF_STEPS + 1 points. */
static void zipf_table(uint32_t *rank, uint64_t n, double s)
{
	double total = 0.0, acc = 0.0;
	uint64_t r;
	unsigned int q = 0;

	for (r = 0; r < n; r++)
		total += pow((double)(r + 1), -s);
	for (r = 0; r < n && q <= GUEST_ZIPF_STEPS; r++) {
		acc += pow((double)(r + 1), -s) / total;
		while (q <= GUEST_ZIPF_STEPS &&
		       acc >= (double)q / GUEST_ZIPF_STEPS)
			rank[q++] = (uint32_t)r;
	}
	while (q <= GUEST_ZIPF_STEPS)
		rank[q++] = (uint32_t)(n - 1);
	rank[GUEST_ZIPF_STEPS] = (uint32_t)n;	/* upper bound, exclusive */
}

/*
 * Give each dirty vCPU its own window of data pages: explicit ws= first, in
 * vCPU order; the vCPUs without one share what is left equally.
 */
int workload_setup(struct vm *vm, char *err, size_t errlen)
{
	const struct guest_params *p = &vm->layout;
	uint64_t next = 0, left, share, nr_auto = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++) {
		struct workload_spec *w = &vm->specs[i];

		if (w->kind != GUEST_WL_DIRTY)
			continue;
		if (!w->ws_bytes) {
			nr_auto++;
			continue;
		}
		if (w->ws_bytes / GUEST_PAGE_SIZE > p->nr_data_pages - next) {
			snprintf(err, errlen, "vcpu %u: ws=%llu KiB does not fit: "
				 "%llu KiB of data pages are left", i,
				 (unsigned long long)(w->ws_bytes >> 10),
				 (unsigned long long)((p->nr_data_pages - next) *
						      GUEST_PAGE_SIZE >> 10));
			return -ENOSPC;
		}
		next += w->ws_bytes / GUEST_PAGE_SIZE;
	}
	left = p->nr_data_pages - next;
	share = nr_auto ? left / nr_auto : 0;
	if (nr_auto && !share) {
		snprintf(err, errlen, "no data pages left for the dirty vCPUs "
			 "without ws=");
		return -ENOSPC;
	}

	next = 0;
	for (i = 0; i < vm->nr_cpus; i++) {
		struct workload_spec *w = &vm->specs[i];
		struct guest_vcpu *g = vm->cpus[i].block;

		memset(g, 0, sizeof(*g));
		g->workload = w->kind;
		g->seed = p->seed * 0x9e3779b97f4a7c15ULL + i + 1;
		if (w->kind == GUEST_WL_IO)
			g->period_us = w->period_us;
		if (w->kind != GUEST_WL_DIRTY)
			continue;
		g->rate = w->rate_pages;
		g->pattern = w->pattern;
		g->data = w->data;
		g->ws_first = next;
		g->ws_pages = w->ws_bytes ? w->ws_bytes / GUEST_PAGE_SIZE : share;
		if (g->ws_pages > UINT32_MAX) {
			snprintf(err, errlen, "vcpu %u: working set too large", i);
			return -E2BIG;
		}
		next += g->ws_pages;
		if (w->pattern == GUEST_PAT_ZIPF)
			zipf_table(g->zipf_rank, g->ws_pages, w->zipf_s);
	}
	return 0;
}
