// SPDX-License-Identifier: GPL-2.0
/*
 * The guest self-check is the oracle every migration test relies on, so it
 * must find what it is meant to find.  Map the guest RAM through the fds
 * kvmig-vm hands out (get-fds), damage pages in each way the check names
 * (a flipped byte, an old version of a page, a write to a page the guest
 * never wrote), and expect both the host verifier and the guest's own check
 * to point at the damaged page.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "../../tools/vm/guest_abi.h"

#define MEM	(64ULL << 20)

struct guest_mem {
	uint8_t *ram;
	const struct guest_params *params;
	uint32_t *ledger;
};

static void map_guest(struct test_vm *vm, struct guest_mem *m)
{
	int fds[8];
	unsigned int nr;
	json_t *r = test_vm_cmd_fds(vm, "get-fds", fds, 8, &nr);

	TEST_ASSERT(nr == 2, "get-fds passed %u fds, want memfd + VM fd", nr);
	TEST_ASSERT(json_path_int(r, "slots.0.size") == (int64_t)MEM &&
		    json_path_int(r, "slots.0.fd-index") == 0 &&
		    json_path_int(r, "vm-fd-index") == 1, "get-fds layout");
	m->ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	TEST_ASSERT(m->ram != MAP_FAILED, "mmap guest memfd");
	close(fds[0]);
	close(fds[1]);
	m->params = (const struct guest_params *)(m->ram + GUEST_PARAMS_GPA);
	TEST_ASSERT(m->params->magic == GUEST_PARAMS_MAGIC, "guest params magic");
	m->ledger = (uint32_t *)(m->ram + m->params->ledger_gpa);
	json_decref(r);
}

static uint64_t page_gpa(const struct guest_mem *m, uint64_t n)
{
	return m->params->ranges[0].gpa + n * GUEST_PAGE_SIZE;
}

static void expect_bad(struct test_vm *vm, uint64_t gpa, const char *reason,
		       const char *what)
{
	json_t *r = test_vm_cmd(vm, "verify");
	const char *got = json_string_value(json_object_get(r, "first-bad-reason"));

	ksft_print_msg("%s: verify says %s\n", what, json_text(r));
	ksft_test_result(json_path_int(r, "bad") == 1 && got &&
			 json_path_int(r, "first-bad-gpa") == (int64_t)gpa &&
			 !strcmp(got, reason), "host verifier finds %s", what);
	json_decref(r);
}

/* On a paused VM the guest takes the request before writing again. */
static void expect_guest_bad(struct test_vm *vm, const char *what)
{
	json_t *r = test_vm_cmd(vm, "guest-check");

	ksft_test_result(json_path_int(r, "bad") == 1,
			 "guest self-check finds %s (%lld bad)", what,
			 (long long)json_path_int(r, "bad"));
	json_decref(r);
}

/* A page of the window that is not in flight: it is complete. */
static uint64_t quiet_page(const struct guest_mem *m)
{
	const struct guest_vcpu *v =
		(const struct guest_vcpu *)(m->ram + GUEST_VCPU_GPA);
	uint64_t inflight = v->inflight ? v->inflight - 1 : 0;

	return v->ws_first + (inflight - v->ws_first + v->ws_pages / 2) %
	       v->ws_pages;
}

static void expect_clean(struct test_vm *vm, const char *what)
{
	json_t *r = test_vm_cmd(vm, "verify");

	ksft_test_result(json_path_int(r, "bad") == 0 &&
			 json_path_int(r, "pages") > 0, "%s", what);
	json_decref(r);
}

int main(void)
{
	/* 256 pages, sequential: each is rewritten many times a second */
	const char *const args[] = {
		"--mem", "64M", "--workload", "dirty,rate=20000p,ws=1M,pattern=seq,data=text",
		NULL,
	};
	struct test_vm vm;
	struct guest_mem m;
	uint8_t *page, old[GUEST_PAGE_SIZE];
	uint64_t n = 17, gpa;
	uint32_t gen;
	json_t *r;
	int rc;
	char out[8192];

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(11);

	test_vm_start(&vm, args);
	TEST_ASSERT(test_vm_dirtied_working_set(&vm), "the guest never wrote its 256 pages");
	r = test_vm_cmd(&vm, "guest-check");
	ksft_test_result(json_path_int(r, "bad") == 0 &&
			 json_path_int(r, "pages") == 256,
			 "guest self-check of a healthy run: 256 pages, 0 bad");
	json_decref(r);
	json_decref(test_vm_cmd(&vm, "stop"));
	expect_clean(&vm, "host verifier of a healthy run: 0 bad");

	map_guest(&vm, &m);
	n = quiet_page(&m);
	gpa = page_gpa(&m, n);
	page = m.ram + gpa;
	TEST_ASSERT(m.ledger[n] > 0, "page %llu was written", (unsigned long long)n);

	/* 1. a flipped byte in the payload */
	page[1000] ^= 0x5a;
	expect_bad(&vm, gpa, "checksum mismatch", "a corrupted byte");
	expect_guest_bad(&vm, "a corrupted byte");
	page[1000] ^= 0x5a;
	expect_clean(&vm, "restoring the byte makes the page good again");

	/* 2. an old version of a page: the guest moved on, we put it back */
	n = quiet_page(&m);
	gpa = page_gpa(&m, n);
	page = m.ram + gpa;
	memcpy(old, page, sizeof(old));
	gen = m.ledger[n];
	do {
		json_decref(test_vm_cmd(&vm, "cont"));
		TEST_WAIT(m.ledger[n] != gen, TEST_DEADLINE_S,
			  "the guest never rewrote page %llu", (unsigned long long)n);
		json_decref(test_vm_cmd(&vm, "stop"));
	} while (((struct guest_vcpu *)(m.ram + GUEST_VCPU_GPA))->inflight == n + 1);
	memcpy(page, old, sizeof(old));
	expect_bad(&vm, gpa, "stale generation", "a stale page");
	expect_guest_bad(&vm, "a stale page");

	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");

	/* 3. a page the guest never wrote, no longer zero; via --verify-after */
	{
		const char *const a2[] = {
			test_bin("kvmig-vm"), "--mem", "64M", "--duration", "1",
			"--workload", "dirty,rate=1000p,ws=64K", "--verify-after",
			NULL,
		};

		rc = test_run(a2, out, sizeof(out));
		ksft_print_msg("--verify-after, healthy: exit %d\n", rc);
		ksft_test_result(rc == 0 && strstr(out, "host checked") &&
				 strstr(out, ", 0 bad; host"),
				 "--verify-after passes a healthy run");
	}

	test_vm_start(&vm, args);
	TEST_ASSERT(test_vm_dirtied_working_set(&vm), "the guest never wrote its 256 pages");
	json_decref(test_vm_cmd(&vm, "stop"));
	map_guest(&vm, &m);
	n = m.params->nr_data_pages - 1;	/* far outside the 256-page window */
	TEST_ASSERT(m.ledger[n] == 0, "last page never written");
	gpa = page_gpa(&m, n);
	m.ram[gpa + 4095] = 1;
	expect_bad(&vm, gpa, "never written but not zero", "a dirtied unwritten page");
	json_decref(test_vm_cmd(&vm, "cont"));
	rc = test_vm_quit(&vm);
	ksft_test_result(rc == 0, "kvmig-vm quits cleanly (exit %d)", rc);

	/* verify reads untouched RAM as holes, it does not allocate it */
	{
		const char *const big[] = {
			"--mem", "512M", "--workload", "dirty,rate=1000p,ws=1M", NULL,
		};
		struct stat st;
		int fds[4];
		unsigned int nr;

		test_vm_start(&vm, big);
		TEST_ASSERT(test_vm_progresses(&vm, 0), "the 512 MiB guest never ran");
		json_decref(test_vm_cmd(&vm, "verify"));
		json_decref(test_vm_cmd_fds(&vm, "get-fds", fds, 4, &nr));
		TEST_ASSERT(nr == 2 && !fstat(fds[0], &st), "fstat memfd");
		ksft_test_result(st.st_blocks * 512 < (32 << 20),
				 "verify of a 512 MiB guest leaves %lld KiB allocated",
				 (long long)st.st_blocks / 2);
		close(fds[0]);
		close(fds[1]);
		TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	}
	ksft_finished();
}
