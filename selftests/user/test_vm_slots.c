// SPDX-License-Identifier: GPL-2.0
/*
 * Two memslots with a hole between them: the layout is reported as asked,
 * the dirty workload writes pages in both slots, and every page verifies,
 * as seen through the memfds of both slots.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "../../tools/vm/guest_abi.h"

#define SLOT0	(16ULL << 20)
#define GAP	(64ULL << 20)
#define SLOT1	(32ULL << 20)

int main(void)
{
	const char *const args[] = {
		"--mem", "16M", "--slot", "32M,gap=64M",
		"--workload", "dirty,rate=0,pattern=seq,data=random", NULL,
	};
	struct test_vm vm;
	json_t *r, *st;
	int fds[4];
	unsigned int nr, n, stamped = 0, bad = 0;
	uint8_t *s0, *s1;
	uint64_t inflight_gpa;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(4);

	test_vm_start(&vm, args);
	r = test_vm_cmd(&vm, "query-memory");
	ksft_test_result(json_array_size(json_object_get(r, "slots")) == 2 &&
			 json_path_int(r, "slots.0.gpa") == 0 &&
			 json_path_int(r, "slots.0.size") == (int64_t)SLOT0 &&
			 json_path_int(r, "slots.1.gpa") == (int64_t)(SLOT0 + GAP) &&
			 json_path_int(r, "slots.1.size") == (int64_t)SLOT1 &&
			 json_path_int(r, "ram-bytes") == (int64_t)(SLOT0 + SLOT1),
			 "two slots with a 64 MiB hole: %s", json_text(r));
	json_decref(r);

	/* one sequential sweep covers both slots in well under a second */
	TEST_WAIT((st = test_vm_cmd(&vm, "query-stats"),
		   n = (unsigned int)json_path_int(st, "pages-written"),
		   json_decref(st), n >= (SLOT0 + SLOT1) / GUEST_PAGE_SIZE),
		  TEST_DEADLINE_S, "one sweep over both slots: %u pages written", n);
	json_decref(test_vm_cmd(&vm, "stop"));

	r = test_vm_cmd_fds(&vm, "get-fds", fds, 4, &nr);
	TEST_ASSERT(nr == 3, "get-fds: %u fds, want 2 memfds + VM fd", nr);
	s1 = mmap(NULL, SLOT1, PROT_READ, MAP_SHARED,
		  fds[json_path_int(r, "slots.1.fd-index")], 0);
	TEST_ASSERT(s1 != MAP_FAILED, "mmap slot 1");
	s0 = mmap(NULL, SLOT0, PROT_READ, MAP_SHARED,
		  fds[json_path_int(r, "slots.0.fd-index")], 0);
	TEST_ASSERT(s0 != MAP_FAILED, "mmap slot 0");
	{
		/* the page in flight at the stop may be half written */
		const struct guest_vcpu *v =
			(const struct guest_vcpu *)(s0 + GUEST_VCPU_GPA);
		const struct guest_params *p =
			(const struct guest_params *)(s0 + GUEST_PARAMS_GPA);
		uint64_t dn = v->inflight - 1;

		inflight_gpa = ~0ULL;
		if (v->inflight && dn >= p->ranges[0].pages)
			inflight_gpa = p->ranges[1].gpa +
				(dn - p->ranges[0].pages) * GUEST_PAGE_SIZE;
	}
	for (n = 0; n < SLOT1 / GUEST_PAGE_SIZE; n++) {
		const struct guest_stamp *s =
			(const struct guest_stamp *)(s1 + n * GUEST_PAGE_SIZE);

		if (!s->gen || SLOT0 + GAP + n * GUEST_PAGE_SIZE == inflight_gpa)
			continue;
		stamped++;
		if (s->gpa != SLOT0 + GAP + n * GUEST_PAGE_SIZE ||
		    s->csum != guest_page_csum(s))
			bad++;
	}
	ksft_test_result(stamped >= SLOT1 / GUEST_PAGE_SIZE - 1 && !bad,
			 "every page of slot 1 was written at its own gpa (%u stamped, %u bad)",
			 stamped, bad);
	munmap(s1, SLOT1);
	munmap(s0, SLOT0);
	for (n = 0; n < nr; n++)
		close(fds[n]);
	json_decref(r);

	r = test_vm_cmd(&vm, "verify");
	ksft_test_result(json_path_int(r, "bad") == 0 &&
			 json_path_int(r, "pages") > (int64_t)(SLOT1 / GUEST_PAGE_SIZE),
			 "host verify over both slots: %lld pages, 0 bad",
			 (long long)json_path_int(r, "pages"));
	json_decref(r);
	r = test_vm_cmd(&vm, "guest-check");
	ksft_test_result(json_path_int(r, "bad") == 0, "guest self-check over both slots");
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
