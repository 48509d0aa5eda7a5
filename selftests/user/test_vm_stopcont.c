// SPDX-License-Identifier: GPL-2.0
/*
 * "stop" really stops every vCPU (no page written, no IO done, no exit
 * taken while stopped) and "cont" really resumes them; many quick
 * stop/cont cycles leave the guest intact.
 */
#include "harness.h"

struct counters {
	int64_t pages, trips, loops, exits;
};

static void read_counters(struct test_vm *vm, struct counters *c)
{
	json_t *st = test_vm_cmd(vm, "query-stats");

	c->pages = json_path_int(st, "vcpus.0.pages-written");
	c->trips = json_path_int(st, "vcpus.1.io-round-trips");
	c->loops = json_path_int(st, "vcpus.2.loops");
	c->exits = json_path_int(st, "vcpus.0.exits.sleep") +
		   json_path_int(st, "vcpus.1.exits.io") +
		   json_path_int(st, "vcpus.2.exits.sleep");
	json_decref(st);
}

static const char *status(struct test_vm *vm)
{
	static char buf[32];
	json_t *r = test_vm_cmd(vm, "query-status");

	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_object_get(r, "status")));
	json_decref(r);
	return buf;
}

int main(void)
{
	const char *const args[] = {
		"--vcpus", "3", "--workload", "0:dirty,rate=2000p,ws=4M",
		"--workload", "1:io,period=500", "--workload", "2:idle", NULL,
	};
	struct test_vm vm;
	struct counters a, b, c;
	bool moved;
	json_t *r;
	int i;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(8);

	test_vm_start(&vm, args);
	ksft_test_result(!strcmp(status(&vm), "running") && test_vm_progresses(&vm, 0),
			 "starts running");

	json_decref(test_vm_cmd(&vm, "stop"));
	ksft_test_result(!strcmp(status(&vm), "paused"), "stop: status paused");
	read_counters(&vm, &a);
	/*
	 * Not a wait for an event but the observation window of "nothing
	 * happens": a busier machine can only make it catch less, never fail.
	 */
	msleep(500);
	read_counters(&vm, &b);
	ksft_test_result(a.pages == b.pages && a.trips == b.trips &&
			 a.loops == b.loops && a.exits == b.exits,
			 "nothing moves while stopped (pages %lld->%lld, trips %lld->%lld)",
			 (long long)a.pages, (long long)b.pages,
			 (long long)a.trips, (long long)b.trips);

	json_decref(test_vm_cmd(&vm, "cont"));
	moved = TEST_POLL((read_counters(&vm, &c), c.pages > b.pages &&
			   c.trips > b.trips && c.loops > b.loops), TEST_DEADLINE_S);
	ksft_test_result(!strcmp(status(&vm), "running") && moved,
			 "cont: every vCPU moves again (pages +%lld, trips +%lld)",
			 (long long)(c.pages - b.pages), (long long)(c.trips - b.trips));

	for (i = 0; i < 50; i++) {
		json_decref(test_vm_cmd(&vm, "stop"));
		json_decref(test_vm_cmd(&vm, i & 1 ? "cont" : "stop"));
		json_decref(test_vm_cmd(&vm, "cont"));
	}
	r = test_vm_cmd(&vm, "guest-check");
	ksft_test_result(json_path_int(r, "bad") == 0, "50 stop/cont cycles: guest self-check clean");
	json_decref(r);

	/* checking a paused guest lets it finish the page in flight, no more */
	json_decref(test_vm_cmd(&vm, "stop"));
	read_counters(&vm, &a);
	json_decref(test_vm_cmd(&vm, "guest-check"));
	read_counters(&vm, &b);
	ksft_test_result(b.pages - a.pages <= 1 && !strcmp(status(&vm), "paused"),
			 "guest-check of a paused VM: %lld pages written meanwhile, still paused",
			 (long long)(b.pages - a.pages));
	json_decref(test_vm_cmd(&vm, "cont"));
	moved = TEST_POLL((read_counters(&vm, &c), c.pages > b.pages), TEST_DEADLINE_S);
	ksft_test_result(moved, "the guest writes again after cont");
	r = test_vm_cmd(&vm, "verify");
	ksft_test_result(json_path_int(r, "bad") == 0, "50 stop/cont cycles: host verify clean");
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
