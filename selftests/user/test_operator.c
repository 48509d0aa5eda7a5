// SPDX-License-Identifier: GPL-2.0
/*
 * An operator's wrong commands never lose a guest:
 *
 *  - kvmig-vm --control PATH, where another VMM serves PATH: refused with a
 *    message naming it; that VMM still answers there and its guest runs.
 *    A socket left by a dead VMM is replaced; a file that is not a socket
 *    is left alone.
 *  - kvmig incoming --vm SOCK of a VMM that runs its guest (not started
 *    with --incoming), even with --quit-on-failure: refused before
 *    anything is written, and the guest runs on.
 *  - kvmig incoming on a port already in use: a setup error ("cannot
 *    receive"), not a refused migration; the destination VMM waits on,
 *    and the next kvmig incoming on it receives a migration, verified
 *    page by page.  The same after no source came within --timeout.
 *  - kvmig query / cancel / set / vm on a socket that never answers: exit
 *    1 within --timeout, with a message naming the socket.
 *  - the control socket is the owner's: mode 0600; a stranger (uid 65534)
 *    who reaches it anyway (mode widened) is refused by SO_PEERCRED and
 *    logged, the guest runs on and the owner is served; with
 *    --control-group the socket is 0660 in that group and a member is
 *    served.
 *  - no forged output: a destination that answers with an ERROR frame full
 *    of escape sequences and a fake "status: completed" line, and a VMM
 *    echoing such a command name, reach the operator escaped; so does a
 *    VMM's reply that is not JSON.
 */
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../../user/lib/chan.h"

static const char *const run_args[] = {
	"--vcpus", "2", "--mem", "32M",
	"--workload", "0:dirty,rate=500p,ws=2M,pattern=random,data=text",
	"--workload", "1:idle", NULL,
};

/* kvmig-vm --control @path, which must give up at once */
static int start_on(const char *path, char *out, size_t len)
{
	const char *const argv[] = { test_bin("kvmig-vm"), "--control", path,
				     "--vcpus", "1", "--mem", "16M", NULL };

	return test_run(argv, out, len);
}

static void test_control_path_taken(void)
{
	struct test_vm vm;
	char out[4096];
	int64_t before;
	int rc;

	test_vm_start(&vm, run_args);
	before = test_pages_written(&vm);
	rc = start_on(vm.sock, out, sizeof(out));
	ksft_test_result(rc == 2 && strstr(out, vm.sock) &&
			 strstr(out, "another process serves it") &&
			 !strcmp(test_vm_status(&vm), "running") &&
			 test_vm_progresses(&vm, before),
			 "--control of a live VMM's socket: refused (exit %d), that "
			 "VMM still answers there and its guest runs", rc);
	if (rc != 2)
		ksft_print_msg("got: %s\n", out);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit status");
}

/*
 * A live listener whose backlog is full: the check that nobody serves the
 * path must not wait for room in it (a blocking connect would, forever).
 */
static void test_control_path_busy(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kvmig-test-XXXXXX", out[4096];
	int lfd, c[8], n = 0, rc;
	uint64_t t0;

	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/busy.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(lfd >= 0 && !bind(lfd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(lfd, 0), "listen on %s", a.sun_path);
	/* fill the backlog: a connect that would block says EAGAIN */
	for (n = 0; n < 8; n++) {
		c[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		TEST_ASSERT(c[n] >= 0, "socket");
		if (connect(c[n], (struct sockaddr *)&a, sizeof(a))) {
			TEST_ASSERT(errno == EAGAIN, "connect: %s", strerror(errno));
			break;
		}
	}
	TEST_ASSERT(n < 8, "the backlog never filled");
	t0 = test_now_ns();
	rc = start_on(a.sun_path, out, sizeof(out));
	ksft_test_result(rc == 2 && strstr(out, "another process serves it") &&
			 test_now_ns() - t0 < 10000000000ULL,
			 "--control of a socket whose listener's backlog is full: "
			 "refused at once (exit %d)", rc);
	if (rc != 2)
		ksft_print_msg("got: %s\n", out);
	while (n >= 0)
		close(c[n--]);
	close(lfd);
	unlink(a.sun_path);
	rmdir(dir);
}

static void test_control_path_stale(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kvmig-test-XXXXXX", out[4096];
	struct test_vm vm = { 0 };
	const char *argv[] = { test_bin("kvmig-vm"), "--control", a.sun_path,
			       "--vcpus", "1", "--mem", "16M", NULL };
	char line[128];
	struct stat sb;
	int fd, rc;

	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	/* a socket file nobody listens on: what a killed VMM leaves */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/ctl.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ASSERT(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)), "bind");
	close(fd);
	TEST_ASSERT(!stat(a.sun_path, &sb) && S_ISSOCK(sb.st_mode), "stale socket");
	argv[0] = strdup(argv[0]);
	vm.pid = test_spawn_ready(argv, NULL, line, sizeof(line));
	free((void *)argv[0]);
	snprintf(vm.sock, sizeof(vm.sock), "%s", a.sun_path);
	snprintf(vm.dir, sizeof(vm.dir), "%s", dir);
	vm.ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(!connect(vm.ctl, (struct sockaddr *)&a, sizeof(a)),
		    "connect to %s", a.sun_path);
	ksft_test_result(!strcmp(line, a.sun_path) &&
			 !strcmp(test_vm_status(&vm), "running"),
			 "a stale socket (nobody listens) is replaced");
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit status");

	/* not a socket: never removed (test_vm_quit() took the folder) */
	TEST_ASSERT(!mkdir(dir, 0700) || errno == EEXIST, "mkdir %s", dir);
	fd = open(a.sun_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	TEST_ASSERT(fd >= 0 && write(fd, "keep\n", 5) == 5 && !close(fd), "file");
	rc = start_on(a.sun_path, out, sizeof(out));
	ksft_test_result(rc == 2 && strstr(out, "is not a socket") &&
			 !strcmp(test_slurp(a.sun_path), "keep\n"),
			 "--control naming a file that is not a socket: refused, the "
			 "file kept");
	unlink(a.sun_path);
	rmdir(dir);
}

/* kvmig incoming --vm @vm->sock with @extra, to completion; exit code */
static int incoming_run(struct test_vm *vm, const char *listen,
			const char *const *extra, char *out, size_t len)
{
	const char *argv[24] = { test_bin("kvmig"), "incoming", "--vm", vm->sock,
				 "--listen", listen };
	unsigned int n = 6;

	while (extra && *extra && n < 23)
		argv[n++] = *extra++;
	argv[n] = NULL;
	return test_run(argv, out, len);
}

static void test_incoming_running_vm(void)
{
	const char *const extra[] = { "--timeout", "2", "--quit-on-failure", NULL };
	struct test_vm vm;
	char out[4096];
	int64_t before;
	int rc;

	test_vm_start(&vm, run_args);
	before = test_pages_written(&vm);
	rc = incoming_run(&vm, "tcp:127.0.0.1:0", extra, out, sizeof(out));
	ksft_test_result(rc == 1 && strstr(out, "is not waiting for an incoming "
					   "migration (its status is 'running'") &&
			 !strstr(out, "listening on") &&
			 !strcmp(test_vm_status(&vm), "running") &&
			 test_vm_progresses(&vm, before),
			 "kvmig incoming into a VMM that runs its guest (even with "
			 "--quit-on-failure): refused before listening, the guest "
			 "runs on");
	if (rc != 1)
		ksft_print_msg("exit %d: %s\n", rc, out);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "the VMM was not stopped");
}

static void test_incoming_setup_errors(void)
{
	const char *const quick[] = { "--timeout", "1", NULL };
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char out[4096], where[64];
	struct mig m;
	int fd, rc;

	start_vms(&m, run_args, run_args);
	/* a port somebody else holds */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(fd, 1) && !getsockname(fd, (struct sockaddr *)&a, &alen),
		    "a busy port");
	snprintf(where, sizeof(where), "tcp:127.0.0.1:%u", ntohs(a.sin_port));
	rc = incoming_run(&m.dst, where, quick, out, sizeof(out));
	close(fd);
	ksft_test_result(rc == 1 && strstr(out, "cannot receive a migration: "
					   "listening on 127.0.0.1:") &&
			 strstr(out, "Address already in use") && !strstr(out, "refused") &&
			 test_vm_waits_incoming(&m.dst),
			 "kvmig incoming on a busy port: a setup error, not a refused "
			 "migration; the destination VMM waits on");
	if (rc != 1)
		ksft_print_msg("exit %d: %s\n", rc, out);

	rc = incoming_run(&m.dst, "tcp:127.0.0.1:0", quick, out, sizeof(out));
	ksft_test_result(rc == 1 && strstr(out, "cannot receive a migration") &&
			 test_vm_waits_incoming(&m.dst),
			 "no source within --timeout: the destination VMM waits on");
	if (rc != 1)
		ksft_print_msg("exit %d: %s\n", rc, out);

	/* and the same VMM takes the migration that then comes (3 results) */
	start_incoming(&m, true);
	json_decref(migrate_verified("into the VMM that waited on", &m,
				     (const char *const[]){ "--verify", "--keep-vm",
							    NULL },
				     "converged"));
}

/* A unix socket that accepts connections (the backlog) and never answers. */
static void test_mute_socket(void)
{
	static const char *const cmds[][4] = {
		{ "query" }, { "cancel" }, { "set", "--workers", "2" },
		{ "vm", "query-status" },
	};
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kvmig-test-XXXXXX", out[4096], want[200];
	unsigned int i, k;
	int fd;

	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/mute.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(fd, 8), "mute socket");
	snprintf(want, sizeof(want), "the VMM at %s did not answer within 1.0 s",
		 a.sun_path);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[12] = { test_bin("kvmig"), cmds[i][0], "--vm",
					 a.sun_path, "--timeout", "1" };
		unsigned int n = 6;
		uint64_t t0 = test_now_ns(), ms;
		int rc;

		for (k = 1; k < 4 && cmds[i][k]; k++)
			argv[n++] = cmds[i][k];
		argv[n] = NULL;
		rc = test_run(argv, out, sizeof(out));
		ms = (test_now_ns() - t0) / 1000000;
		/* under 10 s: not the 60 s of old, whatever the load */
		ksft_test_result(rc == 1 && strstr(out, want) && ms >= 1000 &&
				 ms < 10000,
				 "kvmig %s --timeout 1 on a socket that never answers: "
				 "exit 1 after %llu ms, naming the socket", cmds[i][0],
				 (unsigned long long)ms);
		if (rc != 1 || !strstr(out, want))
			ksft_print_msg("exit %d: %s\n", rc, out);
	}
	close(fd);
	unlink(a.sun_path);
	rmdir(dir);
}

/*
 * As uid 65534 (and @gid), ask the VMM at @path for its status: 0 if it
 * answered, 1 if it closed the connection, 2 if the connect failed.
 */
static int ask_as_stranger(const char *path, gid_t gid)
{
	pid_t pid = fork();
	int status;

	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		static const char req[] = "{\"execute\": \"query-status\"}\n";
		struct pollfd p;
		char buf[256];
		ssize_t n;
		int fd;

		if (setgroups(0, NULL) || setgid(gid) || setuid(65534))
			_exit(3);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			_exit(2);
		/* refused, the VMM may have closed already: EPIPE, not SIGPIPE */
		if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0)
			_exit(1);
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, TEST_DEADLINE_S * 1000) <= 0)
			_exit(4);
		n = read(fd, buf, sizeof(buf) - 1);
		_exit(n > 0 && memmem(buf, (size_t)n, "\"return\"", 8) ? 0 : 1);
	}
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* kvmig-vm with --control in a folder strangers may traverse; its log */
static void start_owned(struct test_vm *vm, const char *const *extra,
			char *log, size_t len)
{
	char dir[] = "/tmp/kvmig-test-XXXXXX", line[160];
	const char *argv[16] = { test_bin("kvmig-vm"), "--control", NULL, "--vcpus",
				 "1", "--mem", "16M", "--workload", "0:dirty,rate=200p,ws=1M" };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	unsigned int n = 9;

	TEST_ASSERT(mkdtemp(dir) && !chmod(dir, 0711), "mkdtemp");
	test_vm_dir_made(dir);
	snprintf(vm->dir, sizeof(vm->dir), "%s", dir);
	snprintf(vm->sock, sizeof(vm->sock), "%s/ctl.sock", dir);
	snprintf(log, len, "%s/vm.log", dir);
	argv[2] = vm->sock;
	while (extra && *extra)
		argv[n++] = *extra++;
	argv[n] = NULL;
	argv[0] = strdup(argv[0]);
	vm->pid = test_spawn_ready(argv, log, line, sizeof(line));
	free((void *)argv[0]);
	TEST_ASSERT(strlen(vm->sock) < sizeof(a.sun_path), "path too long");
	memcpy(a.sun_path, vm->sock, strlen(vm->sock) + 1);
	vm->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(vm->ctl >= 0 && !connect(vm->ctl, (struct sockaddr *)&a, sizeof(a)),
		    "connect to %s", vm->sock);
	vm->rx = NULL;
}

static void test_control_owner(void)
{
	const char *const group[] = { "--control-group", "nogroup", NULL };
	struct group *ng = getgrnam("nogroup");
	struct test_vm vm = { 0 };
	char log[160];
	struct stat sb;
	int64_t before;
	int rc, rc2;

	if (geteuid() || !ng) {
		ksft_test_result_skip("the control socket's owner: needs root (to be "
				      "uid 65534) and the group nogroup");
		ksft_test_result_skip("a stranger refused");
		ksft_test_result_skip("--control-group");
		return;
	}
	start_owned(&vm, NULL, log, sizeof(log));
	TEST_ASSERT(!stat(vm.sock, &sb), "stat %s", vm.sock);
	ksft_test_result(S_ISSOCK(sb.st_mode) &&
			 (sb.st_mode & 07777) == 0600 && sb.st_uid == geteuid(),
			 "the control socket is created 0600, owned by the VMM's "
			 "uid (mode %o)", (unsigned int)(sb.st_mode & 07777));
	/* the mode keeps a stranger out; widened, SO_PEERCRED still does */
	rc = ask_as_stranger(vm.sock, ng->gr_gid);
	TEST_ASSERT(!chmod(vm.sock, 0666), "chmod");
	before = test_pages_written(&vm);
	rc2 = ask_as_stranger(vm.sock, ng->gr_gid);
	ksft_test_result(rc == 2 && rc2 == 1 &&
			 strstr(test_slurp(log), "kvmig-vm: control socket: refused a "
				"connection from uid 65534 gid 65534") &&
			 !strcmp(test_vm_status(&vm), "running") &&
			 test_vm_progresses(&vm, before),
			 "a stranger (uid 65534): kept out by the mode, and refused and "
			 "logged once the mode is widened; the guest runs on, the "
			 "owner is served");
	if (rc != 2 || rc2 != 1)
		ksft_print_msg("stranger: %d then %d; log: %s\n", rc, rc2,
			       test_slurp(log));
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit status");

	start_owned(&vm, group, log, sizeof(log));
	rc = ask_as_stranger(vm.sock, ng->gr_gid);
	TEST_ASSERT(!stat(vm.sock, &sb), "stat %s", vm.sock);
	ksft_test_result((sb.st_mode & 07777) == 0660 &&
			 sb.st_gid == ng->gr_gid && rc == 0,
			 "--control-group nogroup: the socket is 0660 in that group "
			 "(mode %o) and a member is served", (unsigned int)(sb.st_mode & 07777));
	if (rc)
		ksft_print_msg("member: %d; log: %s\n", rc, test_slurp(log));
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit status");
}

#define HOSTILE	"evil\x1b[2J\x1b[31m\nstatus: completed"
#define ESCAPED	"evil\\x1b[2J\\x1b[31m\\nstatus: completed"

static void test_no_forged_output(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	const char *vm_cmd[] = { test_bin("kvmig"), "vm", "--vm", NULL, HOSTILE, NULL };
	char to[64], err[256], out[4096];
	const char *argv[] = { test_bin("kvmig"), "migrate", "--vm", NULL, "--to", to,
			       "--timeout", "10", NULL };
	struct wire_hdr h;
	struct test_vm vm;
	const char *log;
	struct chan c;
	int lfd, fd, rc;
	int64_t before;
	pid_t pid;

	/* test_bin() has one buffer: copy before the next call */
	argv[0] = strdup(argv[0]);
	vm_cmd[0] = strdup(vm_cmd[0]);
	test_vm_start(&vm, run_args);
	argv[3] = vm_cmd[3] = vm.sock;
	/* a "destination" that refuses with words of its choosing */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(lfd >= 0 && !bind(lfd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(lfd, 4) && !getsockname(lfd, (struct sockaddr *)&a, &alen),
		    "listen");
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(out, sizeof(out), "%s/migrate.log", vm.dir);
	pid = test_spawn(argv, out);
	{
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		TEST_ASSERT(poll(&p, 1, TEST_DEADLINE_S * 1000) == 1,
			    "kvmig migrate never connected: %s", test_slurp(out));
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	TEST_ASSERT(fd >= 0 && !chan_init(&c, fd, 0, 10000), "accept");
	TEST_ASSERT(!chan_recv_first(&c, &h, err, sizeof(err)) && h.type == WIRE_HELLO,
		    "HELLO: %s", err);
	TEST_ASSERT(!chan_send_error(&c, EPROTO, HOSTILE), "send ERROR");
	chan_fini(&c);
	close(lfd);
	rc = test_wait(pid, 60);
	log = test_slurp(out);
	before = test_pages_written(&vm);
	ksft_test_result(rc == 1 && strstr(log, "the destination refused: " ESCAPED) &&
			 !strchr(log, '\x1b') && !strstr(log, "\nstatus: completed") &&
			 !strcmp(test_vm_status(&vm), "running") &&
			 test_vm_progresses(&vm, before),
			 "a destination's ERROR frame with escape sequences and a fake "
			 "line reaches the operator escaped; the guest runs on");
	if (rc != 1 || !strstr(log, "the destination refused: " ESCAPED))
		ksft_print_msg("exit %d: %s\n", rc, log);

	rc = test_run(vm_cmd, out, sizeof(out));
	ksft_test_result(rc == 1 && strstr(out, ESCAPED) && !strchr(out, '\x1b'),
			 "a VMM echoing such a command name: printed escaped");
	if (rc != 1 || !strstr(out, ESCAPED))
		ksft_print_msg("exit %d: %s\n", rc, out);
	free((void *)argv[0]);
	free((void *)vm_cmd[0]);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "exit status");
}

/*
 * The fuzzer (selftests/fuzz/fuzz_control.c) found it: a reply that is not
 * JSON reached the operator with the bytes jansson quotes from it raw.
 */
static void test_vmm_reply_not_json_escaped(void)
{
	const char *argv[] = { test_bin("kvmig"), "vm", "--vm", NULL,
			       "query-status", NULL };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kvmig-test-XXXXXX", out[4096], buf[256];
	int lfd, rc;
	pid_t pid;

	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/hostile.sock", dir);
	argv[3] = a.sun_path;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(lfd >= 0 && !bind(lfd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(lfd, 1), "hostile socket");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {	/* a "VMM" that answers with a terminal's controls */
		static const char hostile[] = "\x1b[2J\x1b[31mstatus: completed\n";
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0 ||
		    write(fd, hostile, sizeof(hostile) - 1) < 0)
			_exit(1);
		_exit(0);
	}
	rc = test_run(argv, out, sizeof(out));
	TEST_ASSERT(test_wait(pid, 10) == 0, "the hostile VMM");
	ksft_test_result(rc == 1 && strstr(out, "not a JSON object") &&
			 strstr(out, "\\x1b") && !strchr(out, '\x1b'),
			 "a VMM's reply that is not JSON: the bytes quoted from it "
			 "reach the operator escaped");
	if (rc != 1 || strchr(out, '\x1b'))
		ksft_print_msg("exit %d: %s\n", rc, out);
	close(lfd);
	unlink(a.sun_path);
	rmdir(dir);
}

int main(void)
{
	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(1 + 1 + 2 + 1 + 2 + 3 + 4 + 3 + 2 + 1);
	test_control_path_taken();
	test_control_path_busy();
	test_control_path_stale();
	test_incoming_running_vm();
	test_incoming_setup_errors();
	test_mute_socket();
	test_control_owner();
	test_no_forged_output();
	test_vmm_reply_not_json_escaped();
	ksft_finished();
}
