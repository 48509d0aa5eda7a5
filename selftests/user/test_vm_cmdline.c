// SPDX-License-Identifier: GPL-2.0
/*
 * Start-up errors are clear: bad sizes, bad workloads, too many vCPUs, and a
 * missing /dev/kvm each stop kvmig-vm with exit 2 and a message that names
 * the problem.  A guest exception is reported with its vector, error code,
 * rip and cr2 (exit 1), not as a bare triple fault.  --ready-file
 * announces the control socket once it serves, and goes away at exit.
 */
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

struct bad_cmd {
	const char *args[8];
	const char *msg;
};

static const struct bad_cmd cmds[] = {
	{ { "-d", "1", "--mem", "2M" }, "slot 0 needs at least 8 MiB" },
	{ { "-d", "1", "--mem", "9M" }, "multiples of 2 MiB" },
	{ { "-d", "1", "--mem", "lots" }, "'lots' is not a size" },
	{ { "-d", "1", "--slot", "8M,gap=3M" }, "multiples of 2 MiB" },
	{ { "-d", "1", "--slot", "8M,hole=2M" }, "expected SIZE[,gap=SIZE]" },
	{ { "-d", "1", "--mem", "60G" }, "the limit is 56 GiB" },
	{ { "-d", "1", "--vcpus", "0" }, "--vcpus: must be 1..16" },
	{ { "-d", "1", "--vcpus", "17" }, "--vcpus: must be 1..16" },
	{ { "-d", "1", "-w", "sing" }, "unknown workload 'sing'" },
	{ { "-d", "1", "-w", "dirty,rate=fast" }, "bad value 'fast' for rate" },
	{ { "-d", "1", "-w", "dirty,rate=100" }, "below one page per second" },
	{ { "-d", "1", "-w", "dirty,ws=5000" }, "multiple of 4K" },
	{ { "-d", "1", "-w", "dirty,pattern=zipf:-1" }, "zipf exponent" },
	{ { "-d", "1", "-w", "dirty,data=music" }, "bad value 'music' for data" },
	{ { "-d", "1", "-w", "dirty,colour=red" }, "unknown option 'colour'" },
	{ { "-d", "1", "-w", "io,period=0" }, "period=0" },
	{ { "-d", "1", "-w", "dirty,ws=1G" }, "does not fit" },
	{ { "-d", "1", "-w", "3:idle" }, "out of range" },
	{ { "-d", "0" }, "not a positive number" },
	{ { "-d", "1", "--seed", "abc" }, "--seed: 'abc' is not a number" },
	{ { "-d", "1", "--mem", "99999999999G" }, "is too large" },
	{ { "-d", "1", "--dirty-ring", "1000" }, "must be a power of two" },
	{ { "--mem", "64M" }, "nothing would ever stop this VM" },
	{ { "-d", "1", "--ready-fd", "1" }, "announce the control socket: give --control" },
	{ { "--control", "/nonexistent/ctl", "--ready-fd", "99" },
	  "--ready-fd 99: Bad file descriptor" },
	{ { "--control", "/nonexistent/ctl", "--ready-fd", "-1" },
	  "--ready-fd: '-1' is not a file descriptor number" },
	{ { "--control", "/nonexistent/ctl", "--control-group", "no-such-group" },
	  "--control-group: no group 'no-such-group'" },
};

/* kvmig-vm in a mount namespace where /dev is an empty tmpfs */
static int run_without_kvm(char *out, size_t len)
{
	const char *const argv[] = { test_bin("kvmig-vm"), "-d", "1", NULL };
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	TEST_ASSERT(!pipe(pipefd), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", "/dev", "tmpfs", 0, NULL))
			_exit(99);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], out, len - 1);
	out[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status);
}

int main(void)
{
	char out[4096];
	size_t i;
	int rc;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(sizeof(cmds) / sizeof(cmds[0]) + 4);

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[10] = { test_bin("kvmig-vm") };
		unsigned int k;

		for (k = 0; cmds[i].args[k]; k++)
			argv[k + 1] = cmds[i].args[k];
		rc = test_run(argv, out, sizeof(out));
		ksft_test_result(rc == 2 && strstr(out, cmds[i].msg),
				 "%s %s %s %s: exit %d, '%s'", argv[1], argv[2],
				 argv[3] ? argv[3] : "", argv[4] ? argv[4] : "",
				 rc, cmds[i].msg);
		if (rc != 2 || !strstr(out, cmds[i].msg))
			ksft_print_msg("got: %s", out);
	}

	rc = run_without_kvm(out, sizeof(out));
	if (rc == 99) {
		ksft_test_result_skip("missing /dev/kvm: cannot make a mount namespace here");
	} else {
		ksft_test_result(rc == 2 && strstr(out, "cannot open /dev/kvm"),
				 "missing /dev/kvm is reported: %s", out);
	}

	{
		const char *const argv[] = { test_bin("kvmig-vm"), "-d", "5", "--vcpus", "2",
					     "--workload", "1:fault", NULL };

		rc = test_run(argv, out, sizeof(out));
		ksft_test_result(rc == 1 &&
				 strstr(out, "vcpu 1: guest exception #PF (vector 14), "
					"error code 0x6, at rip 0x") &&
				 strstr(out, "cr2 0x7f0000000000"),
				 "a guest exception is reported with its vector, error "
				 "code, rip and cr2; exit 1");
		if (rc != 1)
			ksft_print_msg("exit %d, got: %s", rc, out);
	}
	{
		/* --ready-file: the whole line once serving, gone after exit */
		char dir[] = "/tmp/kvmig-test-XXXXXX", sock[64], ready[64];
		const char *argv[] = { test_bin("kvmig-vm"), "--control", sock,
				       "--ready-file", ready, NULL };
		struct test_vm vm = { .ctl = -1 };
		bool announced;

		TEST_ASSERT(mkdtemp(dir), "mkdtemp");
		snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
		snprintf(ready, sizeof(ready), "%s/ready", dir);
		argv[0] = strdup(argv[0]);
		vm.pid = test_spawn(argv, "/dev/null");
		free((void *)argv[0]);
		announced = TEST_POLL(!access(ready, F_OK), TEST_DEADLINE_S);
		snprintf(out, sizeof(out), "%s", announced ? test_slurp(ready) : "");
		snprintf(vm.sock, sizeof(vm.sock), "%s", sock);
		snprintf(vm.dir, sizeof(vm.dir), "%s", dir);
		if (announced) {
			struct sockaddr_un a = { .sun_family = AF_UNIX };

			vm.ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			strcpy(a.sun_path, sock);
			TEST_ASSERT(!connect(vm.ctl, (struct sockaddr *)&a, sizeof(a)),
				    "connect to the announced %s", sock);
		} else {
			kill(vm.pid, SIGKILL);
		}
		TEST_ASSERT(announced && test_vm_quit(&vm) == 0, "kvmig-vm --ready-file");
		ksft_test_result(!strncmp(out, sock, strlen(sock)) &&
				 !strcmp(out + strlen(sock), "\n") && access(ready, F_OK),
				 "--ready-file: '%s\\n' once serving, removed at exit",
				 sock);
		rmdir(dir);
	}
	{
		const char *const argv[] = { test_bin("kvmig-vm"), "--help", NULL };

		rc = test_run(argv, out, sizeof(out));
		ksft_test_result(rc == 0 && strstr(out, "--workload"), "--help");
	}
	ksft_finished();
}
