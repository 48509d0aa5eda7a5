// SPDX-License-Identifier: GPL-2.0
/*
 * The VM's statistics: per vCPU and in all, its exits by reason, the pages
 * its workloads wrote, their IO round trips and its dirty-rate limits.
 * query-stats answers with them; main.c prints them at the end of a run.
 */
#include <stdlib.h>

#include "control.h"

static json_t *hist_json(const struct hist *h)
{
	return json_pack("{sI sI sI sI sI}",
			 "count", (json_int_t)h->count,
			 "p50", (json_int_t)hist_percentile(h, 50),
			 "p99", (json_int_t)hist_percentile(h, 99),
			 "max", (json_int_t)h->max,
			 "mean", (json_int_t)(h->count ? h->sum / h->count : 0));
}

static const char *const exit_names[CPU_EXIT_NR] = {
	[CPU_EXIT_IO] = "io",
	[CPU_EXIT_HLT] = "hlt",
	[CPU_EXIT_SLEEP] = "sleep",
	[CPU_EXIT_INTR] = "intr",
	[CPU_EXIT_MMIO] = "mmio",
	[CPU_EXIT_DIRTY_RING_FULL] = "dirty-ring-full",
	[CPU_EXIT_OTHER] = "other",
};

json_t *control_stats_json(struct vm *vm)
{
	json_t *cpus = json_array(), *o;
	struct hist *all = calloc(1, sizeof(*all));
	uint64_t total_pages = 0;
	unsigned int i, k;

	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];
		struct guest_vcpu *g = c->block;
		struct hist *h = calloc(1, sizeof(*h));
		json_t *exits = json_object();

		for (k = 0; k < CPU_EXIT_NR; k++)
			json_object_set_new(exits, exit_names[k], json_integer(
				(json_int_t)__atomic_load_n(&c->exits[k],
							    __ATOMIC_RELAXED)));
		if (h) {
			pthread_mutex_lock(&c->hist_lock);
			*h = c->io_hist;
			pthread_mutex_unlock(&c->hist_lock);
			if (all)
				hist_merge(all, h);
		}
		total_pages += g->pages_written;
		json_array_append_new(cpus, json_pack(
			"{sI ss so sI sI sI sI sI so}",
			"id", (json_int_t)i,
			"workload", workload_name(vm->specs[i].kind),
			"exits", exits,
			"pages-written", (json_int_t)g->pages_written,
			"bytes-written", (json_int_t)(g->pages_written *
						      GUEST_PAGE_SIZE),
			"io-round-trips", (json_int_t)g->io_round_trips,
			"loops", (json_int_t)g->loops,
			"working-set-pages", (json_int_t)g->ws_pages,
			"io-latency-ns", h ? hist_json(h) : json_null()));
		json_object_set_new(json_array_get(cpus, i), "dirty-limit",
				    throttle_cpu_json(c));
		free(h);
	}
	o = json_pack("{sI sI sI so so}",
		      "uptime-ms", (json_int_t)((now_ns() - vm->start_ns) / 1000000),
		      "tsc-khz", (json_int_t)vm->tsc_khz,
		      "pages-written", (json_int_t)total_pages,
		      "io-latency-ns", all ? hist_json(all) : json_null(),
		      "vcpus", cpus);
	free(all);
	return o;
}

void control_stats_query(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	r->ret = control_stats_json(vm);
}
