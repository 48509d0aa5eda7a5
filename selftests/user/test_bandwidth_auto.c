// SPDX-License-Identifier: GPL-2.0
/*
 * kvmig migrate --max-bandwidth auto: the cap comes from the speed of the
 * interface the kernel routes the destination through (netlink):
 *
 *  - over the loopback: no cap, said so, and the migration completes with
 *    every page the same on both sides;
 *  - in a network namespace of its own, on a veth (10000 Mbit/s): capped
 *    at 75% of it, 7500 Mbit/s, which the report's parameters show; the
 *    destination is not there, so the migration fails, and the source
 *    guest runs on;
 *  - on an ifb device, which reports no speed: no cap, said so;
 *  - to an unreachable network: refused, naming the route's error, before
 *    the VMM is asked anything.
 *
 * The namespace cases skip (loudly) where unshare(CLONE_NEWNET) is not
 * allowed.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *const vm_args[] = {
	"--vcpus", "2", "--mem", "32M",
	"--workload", "0:dirty,rate=500p,ws=4M,pattern=random,data=text",
	"--workload", "1:idle", NULL,
};

/* Interfaces of the private namespace: kv0 (veth, 10.213.0.1/24), an ifb
 * (10.216.0.1/24), and an unreachable route for 10.215.0.0/16. */
static const char netns_setup[] =
	"ip link set lo up && "
	"ip link add kv0 type veth peer name kv1 && "
	"ip addr add 10.213.0.1/24 dev kv0 && ip link set kv0 up && "
	"ip link set kv1 up && "
	"ip link add kvifb type ifb && ip addr add 10.216.0.1/24 dev kvifb && "
	"ip link set kvifb up && "
	"ip route add unreachable 10.215.0.0/16";

#define NETNS_DENIED	4	/* the child's exit code: no namespace */
#define NETNS_SETUP	5	/* ... the interfaces could not be made */

static char out[1 << 16];

/*
 * @argv in a new network namespace set up by netns_setup, its output in
 * out[]; returns its exit code, NETNS_DENIED, or NETNS_SETUP.
 */
static int run_in_netns(const char *const *argv)
{
	int p[2], status = 0;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	TEST_ASSERT(!pipe2(p, O_CLOEXEC), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (unshare(CLONE_NEWNET)) {
			printf("unshare(CLONE_NEWNET): %s\n", strerror(errno));
			_exit(NETNS_DENIED);
		}
		if (system(netns_setup)) {
			printf("setting up the namespace failed: %s\n", netns_setup);
			_exit(NETNS_SETUP);
		}
		fflush(stdout);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (n < sizeof(out) - 1 && (r = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(p[0]);
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_loopback(void)
{
	const char *const extra[] = { "--max-bandwidth", "auto", "--verify",
				      "--keep-vm", NULL };
	uint64_t diff, pages;
	json_t *st = NULL;
	struct mig m;
	int rc;

	start_vms(&m, vm_args, vm_args);
	start_incoming(&m, true);
	rc = migrate(&m, extra, &st);
	ksft_test_result(rc == 0 && strstr(test_slurp(m.mig_log),
			 "kvmig: --max-bandwidth auto: the route to 127.0.0.1 leaves "
			 "through lo, the loopback: no cap") &&
			 !strcmp(json_string_value(json_object_get(st, "status")) ?: "",
				 "completed"),
			 "over the loopback: no cap, said so; the migration completes");
	if (rc)
		ksft_print_msg("exit %d: %s\n", rc, test_slurp(m.mig_log));
	json_decref(st);
	diff = test_compare_ram(&m.src, &m.dst, &pages);
	ksft_test_result(diff == 0 && pages > 0, "every page of both sides is the "
			 "same (%llu of %llu differ)", (unsigned long long)diff,
			 (unsigned long long)pages);
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "kvmig incoming exit status");
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static void test_netns(void)
{
	char html[160];
	const char *veth[] = { test_bin("kvmig"), "migrate", "--vm", NULL, "--to",
			       "tcp:10.213.0.2:4444", "--max-bandwidth", "auto",
			       "--timeout", "1", "--report", html, NULL };
	const char *ifb[] = { test_bin("kvmig"), "migrate", "--vm", NULL, "--to",
			      "tcp:10.216.0.2:4444", "--max-bandwidth", "auto",
			      "--timeout", "1", NULL };
	const char *unreach[] = { test_bin("kvmig"), "migrate", "--vm", NULL, "--to",
				  "tcp:10.215.0.2:4444", "--max-bandwidth", "auto",
				  NULL };
	struct test_vm vm;
	int64_t before;
	int rc;

	veth[0] = strdup(veth[0]);
	ifb[0] = strdup(ifb[0]);
	unreach[0] = strdup(unreach[0]);
	test_vm_start(&vm, vm_args);
	veth[3] = ifb[3] = unreach[3] = vm.sock;
	snprintf(html, sizeof(html), "%s/report.html", vm.dir);

	/* a route that fails: nothing is asked of the VMM */
	rc = run_in_netns(unreach);
	if (rc == NETNS_DENIED || rc == NETNS_SETUP) {
		ksft_print_msg("%s", out);
		ksft_test_result_skip("veth: no network namespace of our own here");
		ksft_test_result_skip("ifb: no network namespace of our own here");
		ksft_test_result_skip("unreachable: no network namespace of our own "
				      "here");
		goto out;
	}
	ksft_test_result(rc == 1 && strstr(out, "kvmig: --max-bandwidth auto: no route "
					   "to 10.215.0.2: No route to host") &&
			 !strcmp(test_migration_status(&vm), "none") &&
			 !strcmp(test_vm_status(&vm), "running"),
			 "to an unreachable network: refused, naming the route's "
			 "error, before the VMM is asked anything");
	if (rc != 1)
		ksft_print_msg("exit %d: %s\n", rc, out);

	before = test_pages_written(&vm);
	rc = run_in_netns(veth);
	ksft_test_result(rc == 1 && strstr(out, "kvmig: --max-bandwidth auto: the route "
					   "to 10.213.0.2 leaves through kv0 at 10000 "
					   "Mbit/s: capped at 7500 Mbit/s (75%)") &&
			 strstr(test_slurp(html), "<th>max bandwidth</th><td>7500.0 "
				"Mbit/s</td>") &&
			 !strcmp(test_vm_status(&vm), "running") &&
			 test_vm_progresses(&vm, before),
			 "veth at 10000 Mbit/s: capped at 7500 Mbit/s, as the report "
			 "shows; the destination is not there and the guest runs on");
	if (rc != 1 || !strstr(test_slurp(html), "7500.0"))
		ksft_print_msg("exit %d: %s\n", rc, out);

	rc = run_in_netns(ifb);
	ksft_test_result(rc == 1 && strstr(out, "kvmig: --max-bandwidth auto: the route "
					   "to 10.216.0.2 leaves through kvifb, which "
					   "does not report its speed: no cap (give "
					   "--max-bandwidth RATE to set one)"),
			 "an interface without a speed (ifb): no cap, said so");
	if (rc != 1)
		ksft_print_msg("exit %d: %s\n", rc, out);
out:
	TEST_ASSERT(test_vm_quit(&vm) == 0, "the VMM's exit status");
	free((void *)veth[0]);
	free((void *)ifb[0]);
	free((void *)unreach[0]);
}

int main(void)
{
	test_require_kvm();
	ksft_print_header();
	ksft_set_plan(5);
	test_loopback();
	test_netns();
	ksft_finished();
}
