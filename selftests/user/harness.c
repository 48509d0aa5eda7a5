// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#ifdef KVMIG_TLS
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#endif
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static unsigned int ksft_n;
static unsigned int ksft_fail;

void ksft_print_header(void)
{
	printf("TAP version 13\n");
}

void ksft_set_plan(unsigned int n)
{
	printf("1..%u\n", n);
}

void ksft_print_msg(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

void ksft_test_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %u ", ok ? "ok" : "not ok", ++ksft_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		ksft_fail++;
}

void ksft_test_result_skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %u # SKIP ", ++ksft_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * The VMs' folders this program made (test_vm_start()): the logs of the
 * migrations run between them stay there after the VMs quit, to be read
 * when a test fails.  When every test passed, ksft_finished() removes
 * them: a run of make check used to leave about a hundred behind.
 */
static pthread_mutex_t vm_dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static char (*vm_dirs)[sizeof(((struct test_vm *)0)->dir)];
static unsigned int nr_vm_dirs, cap_vm_dirs;

void test_vm_dir_made(const char *dir)
{
	pthread_mutex_lock(&vm_dirs_lock);
	if (nr_vm_dirs == cap_vm_dirs) {
		unsigned int cap = cap_vm_dirs ? 2 * cap_vm_dirs : 16;
		void *d = realloc(vm_dirs, cap * sizeof(*vm_dirs));

		if (d) {
			vm_dirs = d;
			cap_vm_dirs = cap;
		}
	}
	if (nr_vm_dirs < cap_vm_dirs)
		snprintf(vm_dirs[nr_vm_dirs++], sizeof(vm_dirs[0]), "%s", dir);
	pthread_mutex_unlock(&vm_dirs_lock);
}

/* Each folder's files (logs, a socket), then the folder. */
static void vm_dirs_remove(void)
{
	unsigned int i;

	for (i = 0; i < nr_vm_dirs; i++) {
		DIR *d = opendir(vm_dirs[i]);	/* gone: test_vm_quit() took it */
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
		rmdir(vm_dirs[i]);
	}
	free(vm_dirs);
	vm_dirs = NULL;
	nr_vm_dirs = cap_vm_dirs = 0;
}

void ksft_finished(void)
{
	if (!ksft_fail)
		vm_dirs_remove();
	printf("# Totals: %u tests, %u failed\n", ksft_n, ksft_fail);
	exit(ksft_fail ? KSFT_FAIL : KSFT_PASS);
}

void ksft_exit_skip(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(KSFT_SKIP);
}

void test_assert_fail(const char *file, int line, const char *expr,
		      const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "==== Test Assertion Failure ====\n  %s:%d: %s\n  errno=%d (%s)\n  ",
		file, line, expr, e, strerror(e));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	printf("not ok %u # assertion failed at %s:%d\n", ++ksft_n, file, line);
	exit(KSFT_FAIL);
}

void test_require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		ksft_exit_skip("/dev/kvm: %s", strerror(errno));
	close(fd);
}

bool test_kvm_has_fastwp(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, r;

	TEST_ASSERT(kvm >= 0, "/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM");
	r = ioctl(vm, KVM_CHECK_EXTENSION, 0x10000);
	close(vm);
	close(kvm);
	return r > 0;
}

void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct test_spread test_spread(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct test_spread){
		.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
		.min = v[0], .max = v[n - 1],
	};
}

const char *test_bin_dir;

const char *test_bin(const char *name)
{
	static __thread char path[PATH_MAX];	/* per thread: tests run migrations in threads */
	char self[PATH_MAX];
	ssize_t n;

	if (test_bin_dir) {
		snprintf(path, sizeof(path), "%s/%s", test_bin_dir, name);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	TEST_ASSERT(n > 0, "readlink /proc/self/exe");
	self[n] = 0;
	/* build/tests/test_x -> build/bin/name */
	snprintf(path, sizeof(path), "%s/../bin/%s", dirname(self), name);
	return path;
}

/*
 * What @pid's threads are doing (state, wchan, kernel stack where the
 * kernel shows it), so that a program that never got ready can be told
 * stuck from slow.
 */
static void dump_threads(pid_t pid)
{
	char path[64], buf[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		static const char *const files[] = { "stat", "wchan", "stack" };
		unsigned int i;

		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < 3; i++) {
			int fd;
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/task/%.16s/%s", pid,
				 de->d_name, files[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
			if (fd >= 0)
				close(fd);
			buf[n > 0 ? n : 0] = 0;
			ksft_print_msg("%s: %s%s", path, buf,
				       n > 0 && buf[n - 1] == '\n' ? "" : "\n");
		}
	}
	closedir(d);
}

/*
 * Read one line from @fd, the read end of @pid's readiness pipe, within
 * TEST_DEADLINE_S.  End of file first means @pid gave up before it was
 * ready: say how it ended.
 */
static void read_ready(int fd, pid_t pid, const char *what, char *line,
		       size_t len)
{
	uint64_t deadline = test_now_ns() + TEST_DEADLINE_S * 1000000000ULL;
	size_t n = 0;

	TEST_ASSERT(len > 1, "readiness buffer");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = test_now_ns();
		ssize_t r;
		int rc;

		if (now >= deadline)
			dump_threads(pid);
		TEST_ASSERT(now < deadline, "%s (pid %d) not ready after %d s: "
			    "no readiness line on --ready-fd (its threads above)",
			    what, pid, TEST_DEADLINE_S);
		rc = poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
		if (rc < 0 && errno == EINTR)
			continue;
		TEST_ASSERT(rc >= 0, "poll on %s's readiness pipe", what);
		if (!rc)
			continue;
		r = read(fd, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		TEST_ASSERT(r >= 0, "reading %s's readiness pipe", what);
		if (!r) {
			line[n] = 0;
			rc = test_wait(pid, 10);
			TEST_ASSERT(0, "%s (pid %d) closed its readiness pipe after "
				    "'%s' without a whole line: exit code %d "
				    "(124: still running)", what, pid, line, rc);
		}
		if (line[n] == '\n')
			break;
		TEST_ASSERT(++n < len, "%s: readiness line too long", what);
	}
	line[n] = 0;
}

pid_t test_spawn_ready(const char *const *argv, const char *logfile,
		       char *line, size_t len)
{
	const char *args[72];
	char fdnum[16];
	unsigned int n = 0;
	int p[2];
	pid_t pid;

	TEST_ASSERT(!pipe2(p, O_CLOEXEC), "pipe");
	snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
	while (argv[n]) {
		TEST_ASSERT(n < 69, "too many arguments for %s", argv[0]);
		args[n] = argv[n];
		n++;
	}
	args[n++] = "--ready-fd";
	args[n++] = fdnum;
	args[n] = NULL;

	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		/* a test that dies must not leave guests spinning behind it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (logfile) {
			int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		/* only the write end crosses exec; other children never hold it */
		fcntl(p[1], F_SETFD, 0);
		execv(args[0], (char *const *)args);
		fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	read_ready(p[0], pid, args[0], line, len);
	close(p[0]);
	return pid;
}

void test_vm_start(struct test_vm *vm, const char *const *argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *args[64];
	char line[sizeof(vm->sock) + 2];
	unsigned int n = 0;

	memset(vm, 0, sizeof(*vm));
	strcpy(vm->dir, "/tmp/kvmig-test-XXXXXX");
	TEST_ASSERT(mkdtemp(vm->dir), "mkdtemp");
	test_vm_dir_made(vm->dir);
	snprintf(vm->sock, sizeof(vm->sock), "%s/ctl.sock", vm->dir);

	args[n++] = test_bin("kvmig-vm");
	args[n++] = "--control";
	args[n++] = vm->sock;
	while (*argv && n < 62)
		args[n++] = *argv++;
	args[n] = NULL;

	vm->pid = test_spawn_ready(args, NULL, line, sizeof(line));
	TEST_ASSERT(!strcmp(line, vm->sock), "kvmig-vm announced '%s', not its "
		    "control socket %s", line, vm->sock);
	/* it serves requests now: one connect, no retries */
	strcpy(addr.sun_path, vm->sock);
	vm->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(vm->ctl >= 0, "socket");
	TEST_ASSERT(!connect(vm->ctl, (struct sockaddr *)&addr, sizeof(addr)),
		    "connecting to kvmig-vm's control socket %s after it was "
		    "announced", vm->sock);
}

static json_t *read_reply(struct test_vm *vm, int *fds, unsigned int max_fds,
			  unsigned int *nr_fds)
{
	char buf[1 << 16];
	size_t len = 0;
	json_error_t jerr;
	json_t *o;

	if (nr_fds)
		*nr_fds = 0;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { buf + len, 1 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		struct pollfd p = { .fd = vm->ctl, .events = POLLIN };
		ssize_t r;

		/* one byte at a time: never read past this reply's newline */
		TEST_ASSERT(poll(&p, 1, 60000) == 1, "no reply within 60 s");
		r = recvmsg(vm->ctl, &msg, MSG_CMSG_CLOEXEC);
		TEST_ASSERT(r == 1, "control socket closed by kvmig-vm");
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			unsigned int k, n;

			if (cm->cmsg_type != SCM_RIGHTS)
				continue;
			n = (unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (k = 0; k < n; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (nr_fds && *nr_fds < max_fds)
					fds[(*nr_fds)++] = fd;
				else
					close(fd);
			}
		}
		if (buf[len] == '\n')
			break;
		len++;
		TEST_ASSERT(len < sizeof(buf) - 1, "reply too long");
	}
	o = json_loadb(buf, len, 0, &jerr);
	TEST_ASSERT(o, "reply is not JSON: %.*s (%s)", (int)len, buf, jerr.text);
	return o;
}

static void send_line(struct test_vm *vm, const char *line)
{
	size_t len = strlen(line);

	TEST_ASSERT(write(vm->ctl, line, len) == (ssize_t)len, "write request");
	if (!len || line[len - 1] != '\n')
		TEST_ASSERT(write(vm->ctl, "\n", 1) == 1, "write newline");
}

json_t *test_vm_raw(struct test_vm *vm, const char *line)
{
	send_line(vm, line);
	return read_reply(vm, NULL, 0, NULL);
}

json_t *test_vm_cmd_fds(struct test_vm *vm, const char *cmd, int *fds,
			unsigned int max_fds, unsigned int *nr_fds)
{
	char line[256];
	json_t *o, *ret;

	snprintf(line, sizeof(line), "{\"execute\": \"%s\"}", cmd);
	send_line(vm, line);
	o = read_reply(vm, fds, max_fds, nr_fds);
	ret = json_object_get(o, "return");
	TEST_ASSERT(ret, "%s failed: %s", cmd, json_text(o));
	json_incref(ret);
	json_decref(o);
	return ret;
}

json_t *test_vm_cmd(struct test_vm *vm, const char *cmd)
{
	return test_vm_cmd_fds(vm, cmd, NULL, 0, NULL);
}

void test_vm_connect_again(const struct test_vm *vm, struct test_vm *other)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	*other = *vm;
	other->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(strlen(vm->sock) < sizeof(a.sun_path), "socket path too long");
	memcpy(a.sun_path, vm->sock, strlen(vm->sock) + 1);
	TEST_ASSERT(other->ctl >= 0 &&
		    !connect(other->ctl, (struct sockaddr *)&a, sizeof(a)),
		    "connect a second client to %s", vm->sock);
	other->rx = fdopen(dup(other->ctl), "r");
	TEST_ASSERT(other->rx, "fdopen");
}

json_t *test_vm_cmdf(struct test_vm *vm, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return test_vm_raw(vm, line);
}

int64_t test_vm_stat(struct test_vm *vm, const char *path)
{
	json_t *st = test_vm_cmd(vm, "query-stats");
	int64_t v = json_path_int(st, path);

	json_decref(st);
	return v;
}

int test_vm_quit(struct test_vm *vm)
{
	int status;

	json_decref(test_vm_cmd(vm, "quit"));
	close(vm->ctl);
	TEST_ASSERT(waitpid(vm->pid, &status, 0) == vm->pid, "waitpid");
	rmdir(vm->dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *json_text(json_t *o)
{
	static char buf[4][4096];
	static unsigned int next;
	char *b = buf[next++ % 4];
	size_t n = json_dumpb(o, b, sizeof(buf[0]) - 1, JSON_COMPACT);

	if (n >= sizeof(buf[0]) - 1)
		strcpy(b + sizeof(buf[0]) - 5, "...");
	else
		b[n] = 0;
	return b;
}

int64_t json_path_int(json_t *o, const char *path)
{
	char buf[256], *tok, *save = NULL;
	json_t *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(tok, NULL, 10));
		else
			cur = json_object_get(cur, tok);
		TEST_ASSERT(cur, "no '%s' in %s", path, json_text(o));
	}
	TEST_ASSERT(json_is_integer(cur) || json_is_boolean(cur),
		    "'%s' is not an integer", path);
	return json_is_boolean(cur) ? json_is_true(cur) : json_integer_value(cur);
}

int test_run(const char *const *argv, char *out, size_t outlen)
{
	int pipefd[2], status;
	size_t len = 0;
	pid_t pid;

	TEST_ASSERT(!pipe2(pipefd, O_CLOEXEC), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t r = read(pipefd[0], tmp, sizeof(tmp));

		if (r <= 0)
			break;
		if (len + 1 < outlen) {
			size_t n = (size_t)r < outlen - 1 - len ? (size_t)r :
				   outlen - 1 - len;

			memcpy(out + len, tmp, n);
			len += n;
		}
	}
	if (outlen)
		out[len] = 0;
	close(pipefd[0]);
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t test_spawn(const char *const *argv, const char *logfile)
{
	pid_t pid = fork();

	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int test_wait(pid_t pid, int timeout_s)
{
	return test_wait_usage(pid, timeout_s, NULL);
}

int test_wait_usage(pid_t pid, int timeout_s, struct rusage *ru)
{
	uint64_t deadline = test_now_ns() + (uint64_t)timeout_s * 1000000000ULL;
	int status;

	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, ru);

		TEST_ASSERT(r >= 0, "waitpid %d", pid);
		if (r == pid)
			break;
		if (test_now_ns() > deadline) {
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, ru);
			return 124;
		}
		msleep(20);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *test_slurp(const char *path)
{
	static __thread char buf[65536];	/* tests wait on logs in threads */
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

/* ---- two kvmig-vm processes and the kvmig helper between them ---- */


void test_vm_start_incoming(struct test_vm *vm, const char *const *argv)
{
	const char *args[40];
	unsigned int n = 0;

	for (; argv[n]; n++) {
		TEST_ASSERT(n < 38, "too many options for kvmig-vm");
		args[n] = argv[n];
	}
	args[n++] = "--incoming";
	args[n] = NULL;
	test_vm_start(vm, args);
}

void start_vms(struct mig *m, const char *const *src_args,
		      const char *const *dst_args)
{
	test_vm_start(&m->src, src_args);
	test_vm_start_incoming(&m->dst, dst_args);
	m->port[0] = 0;		/* start_incoming() learns it */
	/*
	 * Every migration starts from a guest that has written its working
	 * set: what a test expects of it (a cut inside the stream, a guest
	 * that cannot converge, a migration long enough to tune) must not
	 * depend on whether the vCPUs got a core before the migration did.
	 */
	TEST_ASSERT(test_vm_dirtied_working_set(&m->src),
		    "the source guest never filled its working set");
	snprintf(m->inc_log, sizeof(m->inc_log), "%s/incoming.log", m->dst.dir);
	snprintf(m->mig_log, sizeof(m->mig_log), "%s/migrate.log", m->src.dir);
}

/*
 * kvmig incoming on a port the kernel picks: no two tests (or two runs of
 * make check) can collide on it.  Returns once it listens.
 */
const char *const *test_incoming_extra;

void start_incoming(struct mig *m, bool no_start)
{
	start_incoming_with(m, no_start, test_incoming_extra);
}

void start_incoming_with(struct mig *m, bool no_start, const char *const *extra)
{
	static const char prefix[] = "tcp:127.0.0.1:";
	char line[64], *port;
	size_t len;
	const char *argv[24] = {
		test_bin("kvmig"), "incoming", "--vm", m->dst.sock, "--listen",
		"tcp:127.0.0.1:0", "--timeout", "20", "--quiet",
	};
	unsigned int n = 9;

	if (no_start)
		argv[n++] = "--no-start";
	while (extra && *extra) {
		TEST_ASSERT(n < 23, "too many options for kvmig incoming");
		argv[n++] = *extra++;
	}
	argv[0] = strdup(argv[0]);
	m->inc = test_spawn_ready(argv, m->inc_log, line, sizeof(line));
	free((void *)argv[0]);
	port = line + sizeof(prefix) - 1;
	len = strlen(port);
	TEST_ASSERT(!strncmp(line, prefix, sizeof(prefix) - 1) &&
		    len < sizeof(m->port) && atoi(port) > 0,
		    "kvmig incoming announced '%s', not %sPORT", line, prefix);
	memcpy(m->port, port, len + 1);
}

/* kvmig migrate with @extra options; returns its exit code, JSON in *out */
const char *test_dirty_log;

int migrate(struct mig *m, const char *const *extra, json_t **out)
{
	char to[64];
	const char *argv[32] = {
		test_bin("kvmig"), "migrate", "--vm", m->src.sock, "--to", to,
		"--json", "--timeout", "20",
	};
	unsigned int n = 9;
	json_error_t jerr;
	const char *text;
	pid_t pid;
	int rc;

	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m->port);
	argv[0] = strdup(argv[0]);
	if (test_dirty_log) {
		argv[n++] = "--dirty-log";
		argv[n++] = test_dirty_log;
	}
	while (extra && *extra && n < 31)
		argv[n++] = *extra++;
	argv[n] = NULL;
	pid = test_spawn(argv, m->mig_log);
	rc = test_wait(pid, 120);
	free((void *)argv[0]);
	text = test_slurp(m->mig_log);
	/* stdout (the JSON object) and stderr share the log: find the object */
	*out = json_loads(strchr(text, '{') ? strchr(text, '{') : text,
			  JSON_DISABLE_EOF_CHECK, &jerr);
	if (!*out)
		ksft_print_msg("kvmig migrate output: %s\n", text);
	return rc;
}

/* Guest progress: main-loop iterations of every vCPU (idle ones too). */

int64_t test_pages_written(struct test_vm *vm)
{
	json_t *st = test_vm_cmd(vm, "query-stats"), *c;
	int64_t n = 0;
	size_t i;

	json_array_foreach(json_object_get(st, "vcpus"), i, c)
		n += json_integer_value(json_object_get(c, "loops"));
	json_decref(st);
	return n;
}

bool test_vm_progresses(struct test_vm *vm, int64_t before)
{
	return TEST_POLL(test_pages_written(vm) > before, TEST_DEADLINE_S);
}

int64_t test_migration_int(struct test_vm *vm, const char *path)
{
	json_t *q = test_vm_cmd(vm, "query-migrate"), *cur = q;
	const char *st = json_string_value(json_object_get(q, "status"));
	char buf[128], *tok, *save = NULL;
	int64_t v = -1;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur;
	     tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	if (st && !strcmp(st, "active") && json_is_integer(cur))
		v = json_integer_value(cur);
	json_decref(q);
	return v;
}

bool test_migration_moved(struct test_vm *vm, const char *path)
{
	return test_migration_int(vm, path) > 0;
}

/* Every vCPU has written at least its working set's worth of pages. */
static bool working_set_dirtied(struct test_vm *vm)
{
	json_t *st = test_vm_cmd(vm, "query-stats"), *c;
	bool all = true;
	size_t i;

	json_array_foreach(json_object_get(st, "vcpus"), i, c)
		all &= json_integer_value(json_object_get(c, "pages-written")) >=
		       json_integer_value(json_object_get(c, "working-set-pages"));
	json_decref(st);
	return all;
}

bool test_vm_dirtied_working_set(struct test_vm *vm)
{
	return TEST_POLL(working_set_dirtied(vm), TEST_DEADLINE_S);
}

const char *test_migration_status(struct test_vm *vm)
{
	static char buf[32];
	json_t *q = test_vm_cmd(vm, "query-migrate");

	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_object_get(q, "status")) ?: "(none)");
	json_decref(q);
	return buf;
}

const char *test_vm_status(struct test_vm *vm)
{
	static char buf[32];
	json_t *r = test_vm_cmd(vm, "query-status");

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(r, "status")));
	json_decref(r);
	return buf;
}

bool test_vm_waits_incoming(struct test_vm *vm)
{
	return !strcmp(test_vm_status(vm), "inmigrate");
}

/* Map both VMs' RAM and compare every page; returns differing pages. */
/*
 * lseek(@fd, @off, @whence) for SEEK_DATA or SEEK_HOLE, as an offset in
 * [@off, @size]: no more data (ENXIO) is @size.  Reading a hole of a memfd
 * through a shared mapping would allocate it: a 4 GiB guest's untouched
 * RAM would take 4 GiB on each side just to be compared.
 */
static uint64_t next_extent(int fd, uint64_t off, int whence, uint64_t size)
{
	off_t r = lseek(fd, (off_t)off, whence);

	if (r < 0) {
		TEST_ASSERT(errno == ENXIO, "lseek: %s", strerror(errno));
		return size;
	}
	return (uint64_t)r < size ? (uint64_t)r : size;
}

uint64_t test_compare_ram(struct test_vm *a, struct test_vm *b, uint64_t *pages)
{
	int fa[10], fb[10];
	unsigned int na, nb, i;
	json_t *ra = test_vm_cmd_fds(a, "get-fds", fa, 10, &na);
	json_t *rb = test_vm_cmd_fds(b, "get-fds", fb, 10, &nb);
	uint64_t diff = 0;

	TEST_ASSERT(na == nb && na >= 2, "fds %u vs %u", na, nb);
	*pages = 0;
	for (i = 0; i + 1 < na; i++) {
		char path[32];
		uint64_t size, off, end;
		uint8_t *pa, *pb;

		snprintf(path, sizeof(path), "slots.%u.size", i);
		size = (uint64_t)json_path_int(ra, path);
		TEST_ASSERT(size == (uint64_t)json_path_int(rb, path), "slot sizes");
		pa = mmap(NULL, size, PROT_READ, MAP_SHARED, fa[i], 0);
		pb = mmap(NULL, size, PROT_READ, MAP_SHARED, fb[i], 0);
		TEST_ASSERT(pa != MAP_FAILED && pb != MAP_FAILED, "mmap");
		for (off = 0; off < size; off = end) {
			uint64_t da = next_extent(fa[i], off, SEEK_DATA, size);
			uint64_t db = next_extent(fb[i], off, SEEK_DATA, size);

			if (da > off && db > off) {
				/* a hole on both sides: equal, and left unread */
				end = (da < db ? da : db) & ~4095ULL;
				end = end > off ? end : off + 4096;
				*pages += (end - off) / 4096;
				continue;
			}
			/* data on a side: compare up to where that changes */
			end = off + 4096;
			if (da == off && db == off) {
				uint64_t ha = next_extent(fa[i], off, SEEK_HOLE, size);
				uint64_t hb = next_extent(fb[i], off, SEEK_HOLE, size);

				end = ((ha < hb ? ha : hb) + 4095) & ~4095ULL;
				end = end > off ? end : off + 4096;
			}
			for (; off < end; off += 4096) {
				diff += memcmp(pa + off, pb + off, 4096) != 0;
				(*pages)++;
			}
		}
		munmap(pa, size);
		munmap(pb, size);
	}
	for (i = 0; i < na; i++) {
		close(fa[i]);
		close(fb[i]);
	}
	json_decref(ra);
	json_decref(rb);
	return diff;
}

/*
 * A full migration that must succeed, with every proof (3 results): exit
 * 0, "completed" with @switchover and every switchover hash equal; every
 * page of both sides equal; the destination guest runs on with a clean
 * self-check.  Returns kvmig migrate's JSON statistics.
 */
json_t *migrate_ok(const char *name, const char *const *src_args,
		   const char *const *dst_args, const char *const *extra,
		   const char *switchover)
{
	struct mig m;

	start_vms(&m, src_args, dst_args);
	start_incoming(&m, true);
	return migrate_verified(name, &m, extra, switchover);
}

json_t *migrate_verified(const char *name, struct mig *m,
			 const char *const *extra, const char *switchover)
{
	json_t *st, *r;
	uint64_t pages, diff;
	int64_t before;
	bool ok;
	int rc;

	rc = migrate(m, extra, &st);
	TEST_ASSERT(st, "%s: no JSON from kvmig migrate", name);
	ksft_print_msg("%s: status %s, %lld passes, %lld bytes, downtime %lld ms, "
		       "dirty-log %s, verify %lld pages / %lld mismatches\n", name,
		       json_string_value(json_object_get(st, "status")),
		       (long long)json_path_int(st, "ram.iterations"),
		       (long long)json_path_int(st, "ram.transferred"),
		       (long long)json_path_int(st, "downtime"),
		       json_string_value(json_object_get(st, "dirty-log")),
		       (long long)json_path_int(st, "verify.pages"),
		       (long long)json_path_int(st, "verify.mismatches"));
	ksft_test_result(rc == 0 && !strcmp(json_string_value(json_object_get(st, "status")),
					     "completed") &&
			 json_path_int(st, "verify.mismatches") == 0 &&
			 json_path_int(st, "verify.pages") ==
			 json_path_int(st, "ram.total") / 4096 &&
			 !strcmp(json_string_value(json_object_get(st, "switchover")) ?: "",
				 switchover) &&
			 (!test_dirty_log ||
			  !strcmp(json_string_value(json_object_get(st, "dirty-log")) ?: "",
				  test_dirty_log)),
			 "%s: completed (%s), switchover hashes of all pages match", name,
			 switchover);
	TEST_ASSERT(test_wait(m->inc, 30) == 0, "%s: kvmig incoming failed: %s", name,
		    test_slurp(m->inc_log));

	/* both sides paused: the source by the switchover, the destination
	 * by --no-start; every page must be equal */
	diff = test_compare_ram(&m->src, &m->dst, &pages);
	ksft_test_result(diff == 0 && pages == (uint64_t)json_path_int(st, "ram.total") / 4096,
			 "%s: all %llu pages equal on both sides (%llu differ)", name,
			 (unsigned long long)pages, (unsigned long long)diff);

	/* the destination guest runs on and proves its memory */
	before = test_pages_written(&m->dst);
	json_decref(test_vm_cmd(&m->dst, "cont"));
	ok = test_vm_progresses(&m->dst, before);
	r = test_vm_cmd(&m->dst, "guest-check");
	ksft_test_result(ok && json_path_int(r, "bad") == 0 &&
			 !strcmp(test_vm_status(&m->src), "paused"),
			 "%s: destination guest runs on, self-check 0 bad; source stays paused",
			 name);
	json_decref(r);
	r = test_vm_cmd(&m->dst, "verify");
	TEST_ASSERT(json_path_int(r, "bad") == 0, "%s: host verify on the destination", name);
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&m->dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m->src) == 0, "source exit status");
	return st;
}

json_t *migrate_bench(const char *name, const char *const *src_args,
		      const char *const *dst_args, const char *const *extra,
		      const struct bench_watch *watch)
{
	/* --keep-vm: the source VMM quits here, its exit status checked */
	const char *args[24] = { "--verify", "--keep-vm" };
	unsigned int n = 2;
	struct mig m;
	json_t *st, *g;
	int rc;

	while (extra && *extra) {
		TEST_ASSERT(n < 22, "%s: too many options for kvmig migrate", name);
		args[n++] = *extra++;
	}
	args[n] = NULL;
	start_vms(&m, src_args, dst_args);	/* once the guest filled its working set */
	start_incoming(&m, false);
	if (watch)
		watch->start(&m, watch->opaque);
	rc = migrate(&m, args, &st);
	if (watch)
		watch->stop(&m, watch->opaque);
	TEST_ASSERT(rc == 0 && st && json_path_int(st, "verify.mismatches") == 0 &&
		    json_path_int(st, "verify.pages") ==
		    json_path_int(st, "ram.total") / 4096,
		    "%s: migration failed or not every page verified: %s", name,
		    test_slurp(m.mig_log));
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "%s: kvmig incoming: %s", name,
		    test_slurp(m.inc_log));
	TEST_ASSERT(test_vm_progresses(&m.dst, test_pages_written(&m.dst)),
		    "%s: the destination guest does not run", name);
	g = test_vm_cmd(&m.dst, "guest-check");
	TEST_ASSERT(json_path_int(g, "bad") == 0, "%s: destination self-check", name);
	json_decref(g);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "%s: destination exit", name);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "%s: source exit", name);
	return st;
}

/* ---- a throwaway PKI (TLS tests and benchmarks) ---- */

static char tls_root[64];
static pid_t tls_root_owner;

static int tls_rm_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* At exit: the keys go, whatever the result (the owner only, not a child). */
static void tls_root_remove(void)
{
	if (getpid() == tls_root_owner)
		nftw(tls_root, tls_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *test_tls_path(const char *name)
{
	static char buf[8][128];
	static unsigned int n;
	char *p = buf[n++ % 8];

	if (!tls_root[0]) {
		snprintf(tls_root, sizeof(tls_root), "/tmp/kvmig-tls-XXXXXX");
		TEST_ASSERT(mkdtemp(tls_root), "mkdtemp %s", tls_root);
		tls_root_owner = getpid();
		atexit(tls_root_remove);
	}
	snprintf(p, sizeof(buf[0]), "%s/%s", tls_root, name);
	return p;
}

bool test_have_tls(void)
{
#ifdef KVMIG_TLS
	return true;
#else
	return false;
#endif
}

#ifdef KVMIG_TLS

static struct {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
} test_ca[2];
static pthread_mutex_t test_ca_lock = PTHREAD_MUTEX_INITIALIZER;

static gnutls_x509_privkey_t tls_new_key(void)
{
	gnutls_x509_privkey_t k;

	TEST_ASSERT(!gnutls_x509_privkey_init(&k) &&
		    !gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
		    "generating an ECDSA key");
	return k;
}

/* A certificate for @key, @dn, valid from @from for @secs, unsigned. */
static gnutls_x509_crt_t tls_new_crt(gnutls_x509_privkey_t key, const char *dn,
				     time_t from, time_t secs)
{
	static unsigned int serial = 1;
	unsigned char sn[4];
	gnutls_x509_crt_t c;
	const char *bad = NULL;
	unsigned int s = __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED);

	sn[0] = 0x01;
	sn[1] = (unsigned char)(s >> 16);
	sn[2] = (unsigned char)(s >> 8);
	sn[3] = (unsigned char)s;
	TEST_ASSERT(!gnutls_x509_crt_init(&c) && !gnutls_x509_crt_set_version(c, 3) &&
		    !gnutls_x509_crt_set_serial(c, sn, sizeof(sn)) &&
		    !gnutls_x509_crt_set_activation_time(c, from) &&
		    !gnutls_x509_crt_set_expiration_time(c, from + secs) &&
		    !gnutls_x509_crt_set_key(c, key) &&
		    !gnutls_x509_crt_set_dn(c, dn, &bad),
		    "making the certificate of %s (%s)", dn, bad ? bad : "");
	return c;
}

static void tls_write(const char *dir, const char *name, gnutls_datum_t *d)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	TEST_ASSERT(f && fwrite(d->data, 1, d->size, f) == d->size && !fclose(f),
		    "writing %s", path);
	gnutls_free(d->data);
}

static void tls_make_ca(int i)
{
	char dn[64];
	gnutls_x509_crt_t c;
	gnutls_x509_privkey_t k = tls_new_key();

	snprintf(dn, sizeof(dn), "CN=kvmig test CA %d,O=kvmig", i);
	c = tls_new_crt(k, dn, time(NULL) - 3600, 7 * 86400);
	TEST_ASSERT(!gnutls_x509_crt_set_basic_constraints(c, 1, -1) &&
		    !gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_KEY_CERT_SIGN |
						   GNUTLS_KEY_CRL_SIGN) &&
		    !gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0),
		    "self-signing CA %d", i);
	test_ca[i].crt = c;
	test_ca[i].key = k;
}

void test_tls_dir(const char *dir, bool server, int trust_ca,
		  const struct test_cert *cert)
{
	static const unsigned char lo[4] = { 127, 0, 0, 1 };
	const char *role = server ? "server" : "client";
	gnutls_x509_privkey_t k;
	gnutls_x509_crt_t c;
	gnutls_datum_t d;
	char dn[128], name[32];
	time_t now = time(NULL);

	pthread_mutex_lock(&test_ca_lock);
	for (int i = 0; i < 2; i++)
		if (!test_ca[i].crt)
			tls_make_ca(i);
	pthread_mutex_unlock(&test_ca_lock);
	TEST_ASSERT(!mkdir(dir, 0700) || errno == EEXIST, "mkdir %s", dir);
	TEST_ASSERT(!gnutls_x509_crt_export2(test_ca[trust_ca].crt,
					     GNUTLS_X509_FMT_PEM, &d), "export");
	tls_write(dir, "ca-cert.pem", &d);

	k = tls_new_key();
	snprintf(dn, sizeof(dn), "CN=%s,O=kvmig", cert->cn);
	c = cert->expired ? tls_new_crt(k, dn, now - 2 * 86400, 86400) :
			    tls_new_crt(k, dn, now - 3600, 86400);
	TEST_ASSERT(!gnutls_x509_crt_set_basic_constraints(c, 0, -1) &&
		    !gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE) &&
		    !gnutls_x509_crt_set_key_purpose_oid(c, server ?
			GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT, 0),
		    "the %s certificate's extensions", role);
	if (server)
		TEST_ASSERT(!gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME,
				cert->dns, (unsigned int)strlen(cert->dns),
				GNUTLS_FSAN_APPEND) &&
			    !gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS,
				lo, sizeof(lo), GNUTLS_FSAN_APPEND),
			    "the server certificate's names");
	TEST_ASSERT(!gnutls_x509_crt_sign2(c, test_ca[cert->ca].crt,
					   test_ca[cert->ca].key, GNUTLS_DIG_SHA256, 0),
		    "signing the %s certificate", role);
	TEST_ASSERT(!gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d), "export");
	snprintf(name, sizeof(name), "%s-cert.pem", role);
	tls_write(dir, name, &d);
	TEST_ASSERT(!gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &d), "export");
	snprintf(name, sizeof(name), "%s-key.pem", role);
	tls_write(dir, name, &d);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_privkey_deinit(k);
}

#else /* !KVMIG_TLS */

void test_tls_dir(const char *dir, bool server, int trust_ca,
		  const struct test_cert *cert)
{
	(void)dir, (void)server, (void)trust_ca, (void)cert;
	ksft_exit_skip("libkvmig built without TLS (TLS=0)");
}

#endif /* KVMIG_TLS */

void test_tls_psk_dir(const char *dir, const char *user, const char *hexkey)
{
	char path[512];
	FILE *f;

	TEST_ASSERT(!mkdir(dir, 0700) || errno == EEXIST, "mkdir %s", dir);
	snprintf(path, sizeof(path), "%s/keys.psk", dir);
	f = fopen(path, "w");
	TEST_ASSERT(f && fprintf(f, "%s:%s\n", user, hexkey) > 0 && !fclose(f),
		    "writing %s", path);
}
