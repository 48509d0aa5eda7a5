// SPDX-License-Identifier: GPL-2.0
/*
 * bench_dirty: the dirty-log backends side by side, on the same guest and
 * workload, in one run.  For each backend:
 *
 *   start     time of dirty-start (enabling logging), per GiB of guest RAM
 *   sync      time of one sync, per GiB of guest RAM (measured in the VMM)
 *   rearm     time to re-arm the reported pages (clear-log only)
 *   reported / changed
 *             pages a sync reported vs data pages the guest really wrote in
 *             that interval (from the guest's generation ledger); the excess
 *             is false positives (plus the guest's own bookkeeping pages)
 *   tracked throughput
 *             the guest's page writes per second while tracked, as a ratio
 *             of the same guest's untracked rate measured just before
 *
 * Ratios are against the bitmap backend and against the untracked run in
 * this same process; absolute times depend on the machine (here, a PV KVM
 * backend whose write faults are slow).  Output: a table and --json FILE.
 */
#include <getopt.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../selftests/user/harness.h"
#include "../../tools/vm/guest_abi.h"
#include "kvmig/kvmig.h"

#define SYNCS		20
#define INTERVAL_MS	100

struct result {
	const char *backend;
	double start_ms_gib;
	double sync_ms_gib;
	double rearm_ms_gib;
	double reported;	/* per sync, average */
	double changed;		/* per sync, average */
	double untracked_pps;
	double tracked_pps;
};

static double pages_per_sec(struct test_vm *vm, unsigned int ms)
{
	json_t *a = test_vm_cmd(vm, "query-stats"), *b;
	uint64_t t0 = test_now_ns(), t1;
	double r;

	msleep(ms);
	b = test_vm_cmd(vm, "query-stats");
	t1 = test_now_ns();
	r = (double)(json_path_int(b, "pages-written") -
		     json_path_int(a, "pages-written")) / ((double)(t1 - t0) / 1e9);
	json_decref(a);
	json_decref(b);
	return r;
}

static bool faulted_in(struct test_vm *vm)
{
	json_t *st = test_vm_cmd(vm, "query-stats");
	bool done = json_path_int(st, "vcpus.0.pages-written") >=
		    4 * json_path_int(st, "vcpus.0.working-set-pages");

	json_decref(st);
	return done;
}

static void run(struct result *res, const char *backend, const char *mem,
		const char *ring)
{
	const char *args[] = {
		"--mem", mem, "--workload", "dirty,rate=0,ws=256M,pattern=random,data=zero",
		ring ? "--dirty-ring" : NULL, ring, NULL,
	};
	struct kvmig_dirty_opts o = { .sz = sizeof(o) };
	struct kvmig_dirty_stats st = { 0 };
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	struct kvmig_dirty *d;
	struct test_vm vm;
	const struct guest_params *gp;
	uint32_t *ledger, *prev, *cur;
	uint64_t *bm, pages, t0, rearm_ns = 0, start_ns;
	double gib, sum_rep = 0, sum_chg = 0;
	json_t *stats;
	int i;

	test_vm_start(&vm, args);
	/*
	 * Fault the working set in before measuring: four writes per page
	 * of it at random touch all but 2% (e^-4).
	 */
	TEST_WAIT(faulted_in(&vm), TEST_DEADLINE_S * 2,
		  "%s: the guest did not write 4x its working set", backend);
	res->backend = backend;
	res->untracked_pps = pages_per_sec(&vm, 1000);

	vmm = kvmig_vmm_connect(vm.sock, NULL);
	TEST_ASSERT(vmm, "connect");
	map = kvmig_vmm_map_memory(vmm);
	TEST_ASSERT(map, "map memory");
	pages = kvmig_memmap_pages(map);
	gib = (double)kvmig_memmap_bytes(map) / (1 << 30);
	gp = kvmig_memmap_gpa_to_hva(map, GUEST_PARAMS_GPA, sizeof(*gp));
	ledger = kvmig_memmap_gpa_to_hva(map, gp->ledger_gpa, gp->nr_data_pages * 4);
	prev = malloc(gp->nr_data_pages * 4);
	cur = malloc(gp->nr_data_pages * 4);
	bm = calloc(kvmig_bitmap_words(pages), 8);
	TEST_ASSERT(ledger && prev && cur && bm, "ledger");

	TEST_ASSERT(!kvmig_dirty_backend_parse(backend, &o.backend), "backend");
	d = kvmig_dirty_remote_new(vmm, map, &o);
	TEST_ASSERT(d, "remote source");
	t0 = test_now_ns();
	TEST_ASSERT(!kvmig_dirty_start(d), "start %s: %s", backend,
		    kvmig_vmm_last_error(vmm));
	start_ns = test_now_ns() - t0;
	TEST_ASSERT(kvmig_dirty_sync(d, bm) >= 0, "first sync");
	TEST_ASSERT(!kvmig_dirty_rearm(d, bm, 0, pages), "first rearm");

	stats = test_vm_cmd(&vm, "query-stats");
	t0 = test_now_ns();
	for (i = 0; i < SYNCS; i++) {
		uint64_t n, k, changed = 0;

		/*
		 * changed: between just after the last re-arm and just before
		 * this sync, so every such page must be reported (the oracle's
		 * window); what the sync reports beyond it is the excess.
		 */
		memcpy(prev, ledger, gp->nr_data_pages * 4);
		msleep(INTERVAL_MS);
		memcpy(cur, ledger, gp->nr_data_pages * 4);
		memset(bm, 0, kvmig_bitmap_words(pages) * 8);
		n = (uint64_t)kvmig_dirty_sync(d, bm);
		for (k = 0; k < gp->nr_data_pages; k++)
			changed += cur[k] != prev[k];
		sum_rep += (double)n;
		sum_chg += (double)changed;
		{
			uint64_t r0 = test_now_ns();

			TEST_ASSERT(!kvmig_dirty_rearm(d, bm, 0, pages), "rearm");
			rearm_ns += test_now_ns() - r0;
		}
	}
	{
		json_t *after = test_vm_cmd(&vm, "query-stats");
		double secs = (double)(test_now_ns() - t0) / 1e9;

		res->tracked_pps = (double)(json_path_int(after, "pages-written") -
					    json_path_int(stats, "pages-written")) / secs;
		json_decref(after);
	}
	json_decref(stats);
	/* the VMM's own sync time, without the control round trip */
	kvmig_dirty_get_stats(d, &st);
	TEST_ASSERT(!kvmig_dirty_stop(d), "dirty-stop");
	res->start_ms_gib = (double)start_ns / 1e6 / gib;
	res->sync_ms_gib = (double)st.remote_sync_ns / (double)st.syncs / 1e6 / gib;
	res->rearm_ms_gib = (double)rearm_ns / SYNCS / 1e6 / gib;
	res->reported = sum_rep / SYNCS;
	res->changed = sum_chg / SYNCS;
	kvmig_dirty_free(d);
	kvmig_memmap_free(map);
	kvmig_vmm_close(vmm);
	free(prev);
	free(cur);
	free(bm);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "mem", required_argument, NULL, 'm' },
		{ 0 }
	};
	const char *json_path = NULL, *mem = "1G";
	struct result r[3];
	json_t *out = json_array();
	int opt, i;

	while ((opt = getopt_long(argc, argv, "j:m:", opts, NULL)) != -1) {
		if (opt == 'j')
			json_path = optarg;
		else if (opt == 'm')
			mem = optarg;
		else
			return 2;
	}
	test_require_kvm();
	run(&r[0], "bitmap", mem, NULL);
	run(&r[1], "clear", mem, NULL);
	run(&r[2], "ring", mem, "65536");

	printf("dirty-log backends: %s guest, one vCPU writing 256 MiB at random, "
	       "%d syncs %d ms apart\n", mem, SYNCS, INTERVAL_MS);
	printf("%-7s %10s %10s %10s %12s %12s %10s %10s %12s\n", "backend",
	       "start", "sync", "rearm", "reported", "changed", "rep/chg",
	       "sync", "throughput");
	printf("%-7s %10s %10s %10s %12s %12s %10s %10s %12s\n", "",
	       "ms/GiB", "ms/GiB", "ms/GiB", "/sync", "/sync", "", "vs bitmap",
	       "tracked/un");
	for (i = 0; i < 3; i++) {
		printf("%-7s %10.3f %10.3f %10.3f %12.0f %12.0f %10.3f %10.2f %12.3f\n",
		       r[i].backend, r[i].start_ms_gib, r[i].sync_ms_gib,
		       r[i].rearm_ms_gib, r[i].reported, r[i].changed,
		       r[i].changed ? r[i].reported / r[i].changed : 0,
		       r[0].sync_ms_gib ? r[i].sync_ms_gib / r[0].sync_ms_gib : 0,
		       r[i].untracked_pps ? r[i].tracked_pps / r[i].untracked_pps : 0);
		json_array_append_new(out, json_pack(
			"{ss sf sf sf sf sf sf sf sf}", "backend", r[i].backend,
			"start-ms-per-gib", r[i].start_ms_gib,
			"sync-ms-per-gib", r[i].sync_ms_gib,
			"rearm-ms-per-gib", r[i].rearm_ms_gib,
			"reported-per-sync", r[i].reported,
			"changed-per-sync", r[i].changed,
			"untracked-pages-per-sec", r[i].untracked_pps,
			"tracked-pages-per-sec", r[i].tracked_pps,
			"sync-vs-bitmap", r[0].sync_ms_gib ?
				r[i].sync_ms_gib / r[0].sync_ms_gib : 0.0));
	}
	if (json_path && json_dump_file(out, json_path, JSON_INDENT(2)))
		fprintf(stderr, "bench_dirty: cannot write %s\n", json_path);
	json_decref(out);
	return 0;
}
