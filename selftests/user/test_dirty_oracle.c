// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty-log oracle, in the spirit of KVM's dirty_log_test: for every
 * backend, guests write memory (several vCPUs, random and sequential
 * patterns, two memslots with a hole) while we sync over and over, and
 * every page whose content changed between two syncs must be reported by
 * the second one.  A miss fails; false positives are counted.
 *
 * Why the oracle is sound: after sync k returns and we re-armed the pages
 * it reported (clear-log re-arms on request, the others in sync), we copy
 * all of guest RAM (A); later, just before sync k+1, we copy it again (B).
 * A page that differs between A and B was written after its tracking was
 * re-armed and before sync k+1 started, so sync k+1 must report it.
 *
 * Also: tracking turned on while the guests are already writing, and
 * stop/start cycles of the same backend.
 *
 * usage: test_dirty_oracle [BACKEND...]
 * Without arguments: bitmap, clear, ring, and fastwp where the kernel has
 * KVM_CAP_FAST_WRITE_PROTECT (the kvmig KVM patch; reported as a SKIP
 * elsewhere).  Named backends run alone and must be there: the kernel lab
 * runs "test_dirty_oracle fastwp" on the patched kernel.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"

#define ITERATIONS	25

struct oracle {
	struct kvmig_vmm *vmm;
	struct kvmig_memmap *map;
	uint64_t pages;
	uint8_t *a, *b;			/* snapshots of all guest RAM */
	uint64_t *bm;
	uint64_t changed, reported, false_pos, misses, syncs;
};

static void snapshot(struct oracle *o, uint8_t *dst)
{
	unsigned int i;

	for (i = 0; i < kvmig_memmap_nr_slots(o->map); i++) {
		const struct kvmig_slot *s = kvmig_memmap_slot(o->map, i);

		memcpy(dst + s->first_page * 4096, s->hva, s->size);
	}
}

static void print_quiet(enum kvmig_log_level l, const char *msg, void *opaque)
{
	(void)opaque;
	if (l <= KVMIG_LOG_WARN)
		ksft_print_msg("libkvmig: %s\n", msg);
}

/* Run @iters oracle rounds on a started source; returns misses. */
static uint64_t rounds(struct oracle *o, struct kvmig_dirty *d, int iters)
{
	uint64_t words = kvmig_bitmap_words(o->pages), p;
	int i, n;

	memset(o->bm, 0, words * 8);
	n = kvmig_dirty_sync(d, o->bm);
	TEST_ASSERT(n >= 0, "first sync: %d", n);
	for (i = 0; i < iters; i++) {
		/* re-arm what the last sync reported, as a sender would */
		TEST_ASSERT(!kvmig_dirty_rearm(d, o->bm, 0, o->pages), "rearm");
		snapshot(o, o->a);
		/* a random window between syncs: the workload, not a wait */
		msleep((unsigned int)(rand() % 20));
		snapshot(o, o->b);
		memset(o->bm, 0, words * 8);
		n = kvmig_dirty_sync(d, o->bm);
		TEST_ASSERT(n >= 0, "sync %d: %d", i, n);
		TEST_ASSERT((uint64_t)n == kvmig_bitmap_count(o->bm, o->pages),
			    "sync returned %d but set %llu bits", n,
			    (unsigned long long)kvmig_bitmap_count(o->bm, o->pages));
		o->syncs++;
		o->reported += (uint64_t)n;
		for (p = 0; p < o->pages; p++) {
			bool diff = memcmp(o->a + p * 4096, o->b + p * 4096, 4096);
			bool rep = kvmig_bitmap_test(o->bm, p);

			o->changed += diff;
			if (diff && !rep) {
				uint64_t gpa = 0;

				kvmig_memmap_index_to_gpa(o->map, p, &gpa);
				if (o->misses++ < 5)
					ksft_print_msg("MISS: page %llu (gpa 0x%llx) changed "
						       "but was not reported\n",
						       (unsigned long long)p,
						       (unsigned long long)gpa);
			}
			if (rep && !diff)
				o->false_pos++;
		}
	}
	return o->misses;
}

static void run_backend(const char *backend, const char *const *vm_args,
			bool expect_ring_full)
{
	struct kvmig_vmm_opts vo = { .sz = sizeof(vo), .print = print_quiet };
	struct kvmig_dirty_opts dopts = { .sz = sizeof(dopts), .print = print_quiet };
	struct oracle o = { 0 };
	struct kvmig_dirty *d;
	struct test_vm vm;
	uint64_t counts[4] = { 0 };
	json_t *st;
	int cycle, r;

	test_vm_start(&vm, vm_args);
	/* the guests are writing before tracking starts */
	TEST_ASSERT(test_vm_progresses(&vm, 0), "%s: the guest never ran", backend);
	o.vmm = kvmig_vmm_connect(vm.sock, &vo);
	TEST_ASSERT(o.vmm, "connect to %s", vm.sock);
	o.map = kvmig_vmm_map_memory(o.vmm);
	TEST_ASSERT(o.map, "map guest memory");
	TEST_ASSERT(kvmig_memmap_nr_slots(o.map) == 2, "two slots");
	o.pages = kvmig_memmap_pages(o.map);
	o.a = malloc(o.pages * 4096);
	o.b = malloc(o.pages * 4096);
	o.bm = calloc(kvmig_bitmap_words(o.pages), 8);
	TEST_ASSERT(o.a && o.b && o.bm, "malloc");

	TEST_ASSERT(!kvmig_dirty_backend_parse(backend, &dopts.backend), "backend");
	for (cycle = 0; cycle < 3; cycle++) {
		d = kvmig_dirty_remote_new(o.vmm, o.map, &dopts);
		TEST_ASSERT(d, "remote dirty source");
		r = kvmig_dirty_start(d);
		TEST_ASSERT(!r, "dirty-start %s: %s", backend,
			    kvmig_vmm_last_error(o.vmm));
		TEST_ASSERT(kvmig_dirty_remote_backend(d) == dopts.backend,
			    "the VMM runs %s",
			    kvmig_dirty_backend_name(kvmig_dirty_remote_backend(d)));
		if (!cycle)
			ksft_print_msg("%s: %s\n", backend, kvmig_dirty_reason(d));
		rounds(&o, d, cycle ? ITERATIONS / 3 : ITERATIONS);
		if (!strcmp(backend, "ring")) {
			r = kvmig_dirty_vcpu_counts(d, counts, 4);
			TEST_ASSERT(r == 4, "ring gives per-vCPU counts (%d)", r);
		} else {
			TEST_ASSERT(kvmig_dirty_vcpu_counts(d, counts, 4) == -EOPNOTSUPP,
				    "%s has no per-vCPU counts", backend);
		}
		TEST_ASSERT(!kvmig_dirty_stop(d), "dirty-stop");
		kvmig_dirty_free(d);
	}

	ksft_print_msg("%s: %llu syncs, %llu pages changed between syncs, %llu "
		       "reported, %llu false positives, %llu missed\n", backend,
		       (unsigned long long)o.syncs, (unsigned long long)o.changed,
		       (unsigned long long)o.reported,
		       (unsigned long long)o.false_pos, (unsigned long long)o.misses);
	ksft_test_result(o.misses == 0 && o.changed > 1000,
			 "%s: every changed page reported (%llu changed, 0 missed), "
			 "over 3 start/stop cycles", backend,
			 (unsigned long long)o.changed);
	if (!strcmp(backend, "ring")) {
		st = test_vm_cmd(&vm, "query-stats");
		ksft_print_msg("ring: last interval per vCPU %llu %llu %llu %llu, "
			       "ring-full exits %lld\n",
			       (unsigned long long)counts[0], (unsigned long long)counts[1],
			       (unsigned long long)counts[2], (unsigned long long)counts[3],
			       (long long)json_path_int(st, "vcpus.0.exits.dirty-ring-full"));
		/* vCPUs 0-2 write, 3 idles (its counter page only) */
		ksft_test_result(counts[0] > 0 && counts[1] > 0 && counts[2] > 0 &&
				 counts[3] < counts[0],
				 "ring: per-vCPU dirty counts follow the writers");
		ksft_test_result(!expect_ring_full ||
				 json_path_int(st, "vcpus.0.exits.dirty-ring-full") > 0,
				 "ring: ring-full exits were harvested and the vCPU ran on");
		json_decref(st);
	}
	st = test_vm_cmd(&vm, "verify");
	TEST_ASSERT(json_path_int(st, "bad") == 0, "guest pages intact");
	json_decref(st);
	kvmig_memmap_free(o.map);
	kvmig_vmm_close(o.vmm);
	free(o.a);
	free(o.b);
	free(o.bm);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
}

int main(int argc, char **argv)
{
	const char *const plain[] = {
		"--vcpus", "4", "--mem", "24M", "--slot", "16M,gap=32M",
		"--workload", "0:dirty,rate=0,pattern=random,data=random",
		"--workload", "1:dirty,rate=20000p,pattern=seq,data=counter",
		"--workload", "2:dirty,rate=5000p,pattern=zipf:1.1,data=text",
		"--workload", "3:idle", NULL,
	};
	const char *const ring[] = {
		"--vcpus", "4", "--mem", "24M", "--slot", "16M,gap=32M",
		"--dirty-ring", "1024",
		"--workload", "0:dirty,rate=0,pattern=random,data=random",
		"--workload", "1:dirty,rate=20000p,pattern=seq,data=counter",
		"--workload", "2:dirty,rate=5000p,pattern=zipf:1.1,data=text",
		"--workload", "3:idle", NULL,
	};

	static const char *const all[] = { "bitmap", "clear", "ring", "fastwp" };
	const char *const *names = argc > 1 ? (const char *const *)argv + 1 : all;
	int i, n = argc > 1 ? argc - 1 : 4, plan = 0;
	bool fastwp;

	ksft_print_header();
	test_require_kvm();
	fastwp = test_kvm_has_fastwp();
	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], "ring"))
			plan += 3;
		else if (!strcmp(names[i], "bitmap") || !strcmp(names[i], "clear") ||
			 !strcmp(names[i], "fastwp"))
			plan += 1;
		else
			TEST_ASSERT(0, "unknown backend '%s' (bitmap, clear, ring, "
				    "fastwp)", names[i]);
		if (argc > 1 && !strcmp(names[i], "fastwp") && !fastwp)
			ksft_exit_skip("fastwp: this kernel has no "
				       "KVM_CAP_FAST_WRITE_PROTECT (kernel/patches/)");
	}
	ksft_set_plan(plan);
	srand(1);
	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], "fastwp") && !fastwp)
			ksft_test_result_skip("fastwp: this kernel has no "
					      "KVM_CAP_FAST_WRITE_PROTECT (kernel/patches/; "
					      "the kernel lab runs it)");
		else
			run_backend(names[i], strcmp(names[i], "ring") ? plain : ring,
				    !strcmp(names[i], "ring"));
	}
	ksft_finished();
}
