// SPDX-License-Identifier: GPL-2.0
/*
 * A guest that never converges today, migrated end to end on this machine's
 * /dev/kvm with each convergence policy the source VMM can carry out:
 * vCPU 0 rewrites whole random pages at 16 MiB/s over a 16 MiB working set,
 * twice what the 8 MB/s link (--max-bandwidth) carries; vCPU 1 does a port
 * IO every 500 us.  The VMs have dirty rings, so kvmig-vm can hold per-vCPU
 * limits itself (this kernel has no KVM_CAP_DIRTY_RATE_LIMIT; the kernel
 * lab runs the same test with it, tools/lab/user).
 *
 * - dirty-limit converges, limiting vCPU 0 only (vCPU 1 serves IO), with
 *   --verify 0 mismatches, both RAMs equal page by page, the destination
 *   guest's self-check clean, and no limit left on the source afterwards.
 * - auto-converge with --throttle-max 60 never throttles above 60 %
 *   (sampled while it runs, and in the statistics); once it throttles at
 *   40 %, kvmig set --throttle-max 15 brings it down to 15 % at once
 *   and keeps it there; no throttle is left afterwards.
 * - none is forced once passes stop making progress (not after 30), and
 *   with --no-force fails and the guest runs on.
 * - dirty-limit on a VM without rings, on a kernel without the limit, is
 *   refused before the first pass, naming what is missing; the guest runs
 *   on (skipped in the lab, whose kernel has the limit).
 * - a helper killed in the middle: the source VMM removes its limits.
 * - bad convergence options are refused by name before kvmig touches the
 *   VMM, and the guest pointed at runs on.
 */
#include <signal.h>
#include <sys/wait.h>

#include "harness.h"

static const char *const src_args[] = {
	"--vcpus", "2", "--mem", "64M", "--dirty-ring", "256",
	"--workload", "0:dirty,rate=16M,ws=16M,pattern=random,data=random",
	"--workload", "1:io,period=500", NULL,
};
static const char *const src_norings[] = {
	"--vcpus", "2", "--mem", "64M",
	"--workload", "0:dirty,rate=16M,ws=16M,pattern=random,data=random",
	"--workload", "1:io,period=500", NULL,
};
static const char *const dst_args[] = {
	"--vcpus", "2", "--mem", "64M", "--dirty-ring", "256", NULL,
};

/* What a run did, in one line. */
static void report(const char *name, json_t *out)
{
	ksft_print_msg("%s: %s, %lld passes, %lld MiB sent in %lld ms, downtime "
		       "%lld ms (expected %lld), converge %s\n", name,
		       json_string_value(json_object_get(out, "status")) ?: "?",
		       (long long)json_path_int(out, "ram.iterations"),
		       (long long)(json_path_int(out, "ram.transferred") >> 20),
		       (long long)json_path_int(out, "total-time"),
		       (long long)json_path_int(out, "downtime"),
		       (long long)json_path_int(out, "expected-downtime"),
		       json_text(json_object_get(out, "converge")));
}

/* No limit and no throttle on any vCPU of @vm. */
static bool unthrottled(struct test_vm *vm)
{
	json_t *q = test_vm_cmd(vm, "query-vcpu-dirty-limit");
	bool ok = true;
	size_t i;

	for (i = 0; i < json_array_size(json_object_get(q, "vcpus")); i++) {
		json_t *v = json_array_get(json_object_get(q, "vcpus"), i);

		ok &= json_integer_value(json_object_get(v, "bytes-per-sec")) == 0 &&
		      json_integer_value(json_object_get(v, "throttle-percentage")) == 0;
	}
	if (!ok)
		ksft_print_msg("still throttled: %s\n", json_text(q));
	json_decref(q);
	return ok;
}

static void finish(struct mig *m)
{
	test_vm_quit(&m->src);
	test_vm_quit(&m->dst);
	test_wait(m->inc, 30);
}

/* A migration that failed: kvmig incoming gives up, its VMM waits on. */
static void finish_failed(struct mig *m, bool stop_incoming)
{
	if (stop_incoming)
		kill(m->inc, SIGTERM);
	test_wait(m->inc, 60);
	TEST_ASSERT(test_vm_quit(&m->dst) == 3, "the destination guest never ran");
	test_vm_quit(&m->src);
}

static void test_dirty_limit(void)
{
	const char *const extra[] = {
		"--max-bandwidth", "8M", "--converge", "dirty-limit", "--verify",
		"--keep-vm", NULL,
	};
	json_t *out, *v0, *v1, *r;
	uint64_t pages = 0, diff;
	int64_t trips;
	struct mig m;
	int rc;

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, true);	/* compare before the guest runs there */
	trips = test_vm_stat(&m.src, "vcpus.1.io-round-trips");
	rc = migrate(&m, extra, &out);
	report("dirty-limit", out);
	v0 = json_array_get(json_object_get(json_object_get(out, "converge"), "vcpus"), 0);
	v1 = json_array_get(json_object_get(json_object_get(out, "converge"), "vcpus"), 1);
	ksft_test_result(rc == 0 &&
			 !strcmp(json_string_value(json_object_get(out, "switchover")) ?: "",
				 "converged") &&
			 json_path_int(out, "verify.mismatches") == 0 &&
			 !strcmp(json_string_value(json_object_get(json_object_get(out,
				"converge"), "mechanism")) ?: "", "dirty-limit"),
			 "dirty-limit: the guest that outruns the link converges, "
			 "verified (exit %d)", rc);
	ksft_test_result(json_integer_value(json_object_get(v0, "limit")) > 0 &&
			 json_integer_value(json_object_get(v1, "limit")) == 0 &&
			 json_is_true(json_object_get(v1, "serves-io")),
			 "dirty-limit: only vCPU 0 is limited; vCPU 1 serves IO and is spared");
	diff = test_compare_ram(&m.src, &m.dst, &pages);
	json_decref(test_vm_cmd(&m.dst, "cont"));
	r = test_vm_cmd(&m.dst, "guest-check");
	ksft_test_result(diff == 0 && pages > 0 && json_path_int(r, "bad") == 0 &&
			 json_path_int(r, "pages") > 0,
			 "dirty-limit: %llu pages equal on both sides, the guest's "
			 "self-check on the destination clean",
			 (unsigned long long)pages);
	json_decref(r);
	ksft_test_result(unthrottled(&m.src) &&
			 test_vm_stat(&m.dst, "vcpus.1.io-round-trips") > trips,
			 "dirty-limit: no limit left on the source; the IO vCPU went on");
	json_decref(out);
	finish(&m);
}

static void test_auto_converge(void)
{
	const char *const extra[] = {
		"--max-bandwidth", "8M", "--converge", "auto-converge",
		"--throttle-max", "60", "--max-iterations", "12", "--keep-vm", NULL,
	};
	char to[64];
	const char *argv[32] = { test_bin("kvmig"), "migrate", "--vm", NULL,
				 "--to", to, "--json", "--timeout", "20" };
	const char *set[] = { test_bin("kvmig"), "set", "--vm", NULL,
			      "--throttle-max", "15", NULL };
	unsigned int n = 9, i;
	int64_t max_seen = 0, pct, max_after = -1;
	int set_rc = -1;
	char set_out[1024];
	const char *text;
	json_t *out;
	struct mig m;
	pid_t pid;
	int rc;

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, false);
	argv[0] = strdup(argv[0]);
	set[0] = strdup(set[0]);
	argv[3] = set[3] = m.src.sock;
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m.port);
	for (i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid = test_spawn(argv, m.mig_log);
	/*
	 * Watch the VMM's throttle while the migration runs; at the first
	 * throttle of 40 %, lower the cap to 15 %.  From the moment query-migrate
	 * shows the new cap in force, no sample may be above it.
	 */
	while (waitpid(pid, &rc, WNOHANG) == 0) {
		json_t *q = test_vm_cmd(&m.src, "query-migrate");
		/* nothing is published before the first pages flow */
		int64_t now_cap = json_integer_value(json_object_get(
			json_object_get(q, "parameters"), "max-cpu-throttle"));

		json_decref(q);
		q = test_vm_cmd(&m.src, "query-vcpu-dirty-limit");
		for (i = 0; i < 2; i++) {
			char path[64];

			snprintf(path, sizeof(path), "vcpus.%u.throttle-percentage", i);
			pct = json_path_int(q, path);
			max_seen = pct > max_seen ? pct : max_seen;
			if (now_cap == 15)
				max_after = pct > max_after ? pct : max_after;
			if (pct >= 40 && set_rc < 0)
				set_rc = test_run(set, set_out, sizeof(set_out));
		}
		json_decref(q);
		msleep(50);	/* sampling period, not a wait for an event */
	}
	rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
	free((void *)argv[0]);
	text = test_slurp(m.mig_log);
	out = json_loads(strchr(text, '{') ?: text, JSON_DISABLE_EOF_CHECK, NULL);
	ksft_print_msg("auto-converge: exit %d, highest throttle seen %lld%%\n",
		       rc, (long long)max_seen);
	report("auto-converge", out);
	ksft_test_result(rc == 0 && max_seen > 0 && max_seen <= 60 &&
			 json_path_int(out, "converge.cpu-throttle-percentage") <= 60 &&
			 json_object_get(out, "switchover"),
			 "auto-converge: throttled up to %lld%%, never above the "
			 "60%% cap, switched over (%s)", (long long)max_seen,
			 json_string_value(json_object_get(out, "switchover")) ?: "?");
	ksft_test_result(set_rc == 0 && max_after >= 0 && max_after <= 15 &&
			 json_path_int(out, "parameters.max-cpu-throttle") == 15 &&
			 json_path_int(out, "converge.cpu-throttle-percentage") <= 15,
			 "kvmig set --throttle-max 15 while throttled: in force at once, "
			 "never above 15%% after (%lld%% at most)", (long long)max_after);
	if (set_rc)
		ksft_print_msg("kvmig set: exit %d: %s\n", set_rc, set_out);
	free((void *)set[0]);
	ksft_test_result(unthrottled(&m.src), "auto-converge: no throttle left");
	json_decref(out);
	finish(&m);
}

static void test_none(void)
{
	const char *const forced[] = {
		"--max-bandwidth", "8M", "--converge", "none", "--keep-vm", NULL,
	};
	const char *const no_force[] = {
		"--max-bandwidth", "8M", "--converge", "none", "--no-force", NULL,
	};
	int64_t before;
	json_t *out;
	struct mig m;
	int rc;

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, false);
	rc = migrate(&m, forced, &out);
	report("none", out);
	ksft_test_result(rc == 0 &&
			 !strcmp(json_string_value(json_object_get(out, "switchover")) ?: "",
				 "forced") &&
			 json_path_int(out, "ram.iterations") <= 8,
			 "none: forced after %lld passes without progress, not 30",
			 (long long)json_path_int(out, "ram.iterations"));
	json_decref(out);
	finish(&m);

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, false);
	rc = migrate(&m, no_force, &out);
	before = test_pages_written(&m.src);
	ksft_test_result(rc != 0 && strstr(json_string_value(json_object_get(out,
			 "error-desc")) ?: "", "did not converge: no progress") &&
			 !strcmp(test_vm_status(&m.src), "running") &&
			 test_vm_progresses(&m.src, before),
			 "none --no-force: fails ('%s'), the guest runs on",
			 json_string_value(json_object_get(out, "error-desc")) ?: "?");
	json_decref(out);
	finish_failed(&m, false);
}

static void test_refused(void)
{
	const char *const extra[] = { "--converge", "dirty-limit", NULL };
	int64_t before;
	json_t *out;
	struct mig m;
	bool kernel;
	int rc;

	start_vms(&m, src_norings, dst_args);
	out = test_vm_cmd(&m.src, "query-vcpu-dirty-limit");
	kernel = json_is_true(json_object_get(out, "kernel"));
	json_decref(out);
	if (kernel) {
		/* the kernel lab: KVM holds limits, nothing is missing */
		ksft_test_result_skip("dirty-limit without a mechanism: this kernel "
				      "has KVM_CAP_DIRTY_RATE_LIMIT");
		test_vm_quit(&m.src);
		test_vm_quit(&m.dst);
		return;
	}
	start_incoming(&m, false);
	rc = migrate(&m, extra, &out);
	before = test_pages_written(&m.src);
	ksft_test_result(rc != 0 && strstr(json_string_value(json_object_get(out,
			 "error-desc")) ?: "", "dirty-limit: the VMM can limit no vCPU") &&
			 json_path_int(out, "ram.iterations") == 0 &&
			 test_vm_progresses(&m.src, before),
			 "dirty-limit without a mechanism: refused before pass 0 "
			 "('%s'), the guest runs on",
			 json_string_value(json_object_get(out, "error-desc")) ?: "?");
	json_decref(out);
	finish_failed(&m, false);
}

static bool limited(struct test_vm *vm)
{
	json_t *q = test_vm_cmd(vm, "query-vcpu-dirty-limit");
	bool l = json_path_int(q, "vcpus.0.bytes-per-sec") > 0;

	json_decref(q);
	return l;
}

static void test_killed_helper(void)
{
	char to[64];
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", NULL, "--to", to,
		"--max-bandwidth", "8M", "--converge", "dirty-limit", "--json", NULL,
	};
	struct mig m;
	pid_t pid;
	bool was;

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, false);
	argv[0] = strdup(argv[0]);
	argv[3] = m.src.sock;
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m.port);
	pid = test_spawn(argv, m.mig_log);
	was = TEST_POLL(limited(&m.src), TEST_DEADLINE_S);
	kill(pid, SIGKILL);
	test_wait(pid, 30);
	free((void *)argv[0]);
	ksft_test_result(was && TEST_POLL(unthrottled(&m.src), TEST_DEADLINE_S) &&
			 !strcmp(test_vm_status(&m.src), "running"),
			 "a helper killed while it limits vCPU 0: the VMM removes "
			 "the limit, the guest runs on");
	finish_failed(&m, true);
}

static void test_bad_options(void)
{
	static const struct {
		const char *opt, *val, *opt2, *val2, *msg;
	} bad[] = {
		{ "--converge", "fast", NULL, NULL,
		  "--converge: auto, none, auto-converge or dirty-limit, not 'fast'" },
		{ "--throttle-max", "100", NULL, NULL, "--throttle-max: 1..99 %, not 100" },
		{ "--throttle-initial", "0", NULL, NULL,
		  "--throttle-initial: 1..99 %, not 0" },
		{ "--throttle-increment", "x", NULL, NULL, "--throttle-increment" },
		{ "--throttle-initial", "70", "--throttle-max", "60",
		  "--throttle-initial 70% is above --throttle-max 60%" },
		{ "--io-stall", "0", NULL, NULL, "--io-stall: 1..1000000 us, not 0" },
	};
	struct test_vm vm;
	char out[1024];
	unsigned int i;
	bool ok = true;

	test_vm_start(&vm, src_args);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {
			test_bin("kvmig"), "migrate", "--vm", vm.sock,
			"--to", "tcp:127.0.0.1:1", bad[i].opt, bad[i].val,
			bad[i].opt2, bad[i].val2, NULL,
		};
		int64_t before = test_pages_written(&vm);
		int rc;

		argv[0] = strdup(argv[0]);
		rc = test_run(argv, out, sizeof(out));
		free((void *)argv[0]);
		ksft_print_msg("%s %s: exit %d, '%s'\n", bad[i].opt, bad[i].val, rc, out);
		ok &= rc == 2 && strstr(out, bad[i].msg) &&
		      !strcmp(test_vm_status(&vm), "running") &&
		      test_vm_progresses(&vm, before) && unthrottled(&vm);
	}
	ksft_test_result(ok, "bad convergence options are refused by name (exit "
			 "2); the guest pointed at runs on, unthrottled");
	test_vm_quit(&vm);
}

int main(void)
{
	ksft_print_header();
	test_require_kvm();
	signal(SIGPIPE, SIG_IGN);	/* a VMM that quit after a failed migration */
	ksft_set_plan(12);
	test_dirty_limit();
	test_auto_converge();
	test_none();
	test_refused();
	test_killed_helper();
	test_bad_options();
	ksft_finished();
}
