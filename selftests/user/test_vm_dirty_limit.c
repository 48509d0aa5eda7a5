// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig-vm's per-vCPU dirty-rate limits (set-, cancel-, query-vcpu-dirty-
 * limit; Documentation/control-protocol.rst).
 *
 * Everywhere: every malformed or out-of-range request is refused with an
 * error that names the problem, before any vCPU is touched, and the guest
 * runs on.  On a kernel without KVM_CAP_DIRTY_RATE_LIMIT (this machine's
 * own /dev/kvm), this VM, which has no dirty rings, has no mechanism for a
 * limit at all: a limit is refused naming both missing pieces, the "vmm"
 * mechanism naming the rings, and a cancel is a no-op.  The "vmm"
 * mechanism itself and the CPU throttle: test_vm_throttle.c.
 *
 * With the kvmig KVM patch (the kernel lab, tools/lab/user): with dirty
 * logging on (the bitmap, synced every 50 ms as a migration would), a limit
 * of 1/8 of the vCPU's unlimited rate holds (the pages the syncs report,
 * not the kernel's own counter), the IO vCPU's round trips go on, the
 * kernel's stall counters show in query-stats, a cancel lifts the limit,
 * and limits set by a client that disconnects are removed.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define SYNC_MS		50

static bool is_error(json_t *r, const char *desc)
{
	const char *d = json_string_value(json_object_get(
		json_object_get(r, "error"), "desc"));

	ksft_print_msg("  -> %s\n", json_text(r));
	return d && strstr(d, desc) && !json_object_get(r, "return");
}

static const struct {
	const char *args, *desc;
} bad[] = {
	{ "{\"cpu-index\": 9, \"bytes-per-sec\": 65536}", "no vCPU 9 (the VM has 2)" },
	{ "{\"cpu-index\": -1, \"bytes-per-sec\": 65536}", "'cpu-index' must be an integer >= 0" },
	{ "{\"bytes-per-sec\": \"fast\"}", "'bytes-per-sec' must be an integer >= 0" },
	{ "{\"burst-bytes\": 65536}", "'bytes-per-sec' is required" },
	{ "{\"bytes-per-sec\": 100}", "rate 100 bytes/s: want 4096" },
	{ "{\"bytes-per-sec\": 65536, \"burst-bytes\": 10}", "burst 10 bytes" },
	{ "{\"bytes-per-sec\": 65536, \"io-stall-us\": 2000000}", "IO stall bound 2000000 us" },
	{ "{\"bytes-per-sec\": 0, \"burst-bytes\": 8192}", "a removed limit is all zeroes" },
	{ "{\"bytes-per-sec\": 65536, \"speed\": 1}", "has no argument 'speed'" },
};

/* Logged bytes per second over @ms: dirty-sync every SYNC_MS. */
static double logged_rate(struct test_vm *vm, unsigned int ms)
{
	uint64_t start, end, pages = 0;
	json_t *r;

	json_decref(test_vm_cmd(vm, "dirty-sync"));
	start = test_now_ns();
	do {
		msleep(SYNC_MS);	/* the sync period: pacing, not waiting */
		r = test_vm_cmd(vm, "dirty-sync");
		pages += (uint64_t)json_path_int(r, "pages");
		json_decref(r);
		end = test_now_ns();
	} while (end - start < ms * 1000000ULL);
	return pages * 4096.0 * 1e9 / (double)(end - start);
}

static void test_kernel_limit(struct test_vm *vm)
{
	struct test_vm other;
	uint64_t limit;
	double r0, r;
	int64_t trips;
	json_t *q;

	json_decref(test_vm_cmdf(vm, "{\"execute\": \"dirty-start\", \"arguments\": "
			 "{\"backend\": \"bitmap\"}}"));
	logged_rate(vm, 300);				/* warm up */
	r0 = logged_rate(vm, 1500);
	ksft_print_msg("unlimited: %.1f MiB/s logged\n", r0 / (1 << 20));
	TEST_ASSERT(r0 >= 8 * 64 * 4096.0, "the guest dirties only %.0f B/s", r0);

	limit = (uint64_t)(r0 / 8) & ~4095ULL;
	q = test_vm_cmdf(vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
		 "{\"cpu-index\": 0, \"bytes-per-sec\": %llu, \"io-stall-us\": 2000}}",
		 (unsigned long long)limit);
	TEST_ASSERT(json_path_int(q, "return.vcpus.0.bytes-per-sec") == (int64_t)limit &&
		    json_path_int(q, "return.vcpus.0.io-stall-us") == 2000 &&
		    json_path_int(q, "return.vcpus.1.bytes-per-sec") == 0,
		    "set-vcpu-dirty-limit answered %s", json_text(q));
	json_decref(q);
	trips = test_vm_stat(vm, "vcpus.1.io-round-trips");
	logged_rate(vm, 300);				/* the first bucket */
	r = logged_rate(vm, 1500);
	ksft_print_msg("limit %llu B/s: %.0f B/s logged (%.3fx)\n",
		       (unsigned long long)limit, r, r / limit);
	ksft_test_result(r >= 0.5 * limit && r <= 1.15 * limit,
			 "a limit of 1/8 holds: %.3fx", r / limit);
	ksft_test_result(test_vm_stat(vm, "vcpus.0.dirty-limit.stalls") > 0 &&
			 test_vm_stat(vm, "vcpus.0.dirty-limit.stall-ns") > 0 &&
			 test_vm_stat(vm, "vcpus.1.dirty-limit.stalls") == 0 &&
			 test_vm_stat(vm, "vcpus.1.io-round-trips") > trips,
			 "query-stats shows the stalls of vCPU 0 only; vCPU 1's IO goes on");

	json_decref(test_vm_cmdf(vm, "{\"execute\": \"cancel-vcpu-dirty-limit\"}"));
	r = logged_rate(vm, 1000);
	ksft_test_result(r >= 4.0 * limit, "cancelled: %.0f B/s logged", r);

	/* a client that sets limits and goes away takes them with it */
	test_vm_connect_again(vm, &other);
	q = test_vm_cmdf(&other, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
		 "{\"bytes-per-sec\": %llu}}", (unsigned long long)limit);
	TEST_ASSERT(json_object_get(q, "return"), "second client: %s", json_text(q));
	json_decref(q);
	fclose(other.rx);
	close(other.ctl);
	ksft_test_result(TEST_POLL(test_vm_stat(vm, "vcpus.0.dirty-limit.bytes-per-sec") == 0 &&
				   test_vm_stat(vm, "vcpus.1.dirty-limit.bytes-per-sec") == 0,
				   TEST_DEADLINE_S),
			 "the limits of a client that disconnected are removed");
	json_decref(test_vm_cmd(vm, "dirty-stop"));
}

int main(void)
{
	const char *const args[] = {
		"--vcpus", "2", "--mem", "64M",
		"--workload", "0:dirty,rate=0,ws=16M",
		"--workload", "1:io,period=1000", NULL,
	};
	struct test_vm vm;
	bool kernel, ok;
	int64_t before;
	size_t i;
	json_t *r;

	ksft_print_header();
	test_require_kvm();
	test_vm_start(&vm, args);
	r = test_vm_cmd(&vm, "query-vcpu-dirty-limit");
	kernel = json_is_true(json_object_get(r, "kernel"));
	json_decref(r);
	ksft_set_plan(sizeof(bad) / sizeof(bad[0]) + 2 + (kernel ? 4 : 1));
	ksft_print_msg("the kernel %s KVM_CAP_DIRTY_RATE_LIMIT\n",
		       kernel ? "has" : "has no");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = test_pages_written(&vm);
		r = test_vm_cmdf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", "
			 "\"arguments\": %s}", bad[i].args);
		ok = is_error(r, bad[i].desc);
		json_decref(r);
		r = test_vm_cmd(&vm, "query-vcpu-dirty-limit");
		ok &= json_path_int(r, "vcpus.0.bytes-per-sec") == 0 &&
		      json_path_int(r, "vcpus.1.bytes-per-sec") == 0;
		json_decref(r);
		ok &= test_vm_progresses(&vm, before);
		ksft_test_result(ok, "%s refused: '%s'; no limit set, the guest runs on",
				 bad[i].args, bad[i].desc);
	}
	r = test_vm_cmdf(&vm, "{\"execute\": \"cancel-vcpu-dirty-limit\", \"arguments\": "
		 "{\"cpu-index\": 2}}");
	ksft_test_result(is_error(r, "no vCPU 2"), "cancel on a vCPU that does not exist");
	json_decref(r);
	r = test_vm_cmdf(&vm, "{\"execute\": \"cancel-vcpu-dirty-limit\", \"arguments\": "
		 "{\"bytes-per-sec\": 1}}");
	ksft_test_result(is_error(r, "has no argument 'bytes-per-sec'"),
			 "cancel takes only cpu-index");
	json_decref(r);

	if (kernel) {
		test_kernel_limit(&vm);
	} else {
		r = test_vm_cmdf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
			 "{\"bytes-per-sec\": 1048576}}");
		ok = is_error(r, "no per-vCPU dirty-rate limit here: the kernel has "
			      "none (no KVM_CAP_DIRTY_RATE_LIMIT) and the VM has no "
			      "dirty rings");
		json_decref(r);
		r = test_vm_cmdf(&vm, "{\"execute\": \"set-vcpu-dirty-limit\", \"arguments\": "
			 "{\"bytes-per-sec\": 1048576, \"mechanism\": \"vmm\"}}");
		ok &= is_error(r, "mechanism 'vmm': the VM has no dirty rings");
		json_decref(r);
		r = test_vm_cmdf(&vm, "{\"execute\": \"cancel-vcpu-dirty-limit\"}");
		ok &= json_object_get(r, "return") != NULL;
		json_decref(r);
		ksft_test_result(ok, "without the kernel's limit or dirty rings: set "
				 "refused naming what is missing, cancel a no-op");
	}
	r = test_vm_cmd(&vm, "verify");
	TEST_ASSERT(json_path_int(r, "bad") == 0, "guest memory: %s", json_text(r));
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
