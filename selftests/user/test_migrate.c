// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration end to end over loopback TCP, between two kvmig-vm
 * processes, through the kvmig helper, while the guest writes memory:
 *
 *  - with each dirty-log backend (clear, bitmap, ring) and several
 *    channels: the migration completes, the switchover hashes match, every
 *    page of both sides is compared byte for byte, and the destination
 *    guest then runs on and its self-check finds 0 bad pages;
 *  - a guest that dirties faster than a bandwidth-limited link still
 *    completes (forced after max-iterations) with the same proofs;
 *  - failures leave the source guest running and the destination guest
 *    never started: a RAM layout the destination refuses, the destination
 *    killed mid-way (connection drop), a cancel from another shell, and a
 *    stream that is not kvmig at all.
 */
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

struct mig {
	struct test_vm src, dst;
	char port[16];
	char inc_log[128], mig_log[128];
	pid_t inc;
};

static void start_vms(struct mig *m, const char *const *src_args,
		      const char *const *dst_args)
{
	const char *args[40];
	unsigned int n = 0;

	test_vm_start(&m->src, src_args);
	while (dst_args[n]) {
		args[n] = dst_args[n];
		n++;
	}
	args[n++] = "--incoming";
	args[n] = NULL;
	test_vm_start(&m->dst, args);
	snprintf(m->port, sizeof(m->port), "%s", test_free_port());
	snprintf(m->inc_log, sizeof(m->inc_log), "%s/incoming.log", m->dst.dir);
	snprintf(m->mig_log, sizeof(m->mig_log), "%s/migrate.log", m->src.dir);
}

static void start_incoming(struct mig *m, bool no_start)
{
	char listen[64];
	const char *argv[] = {
		test_bin("kvmig"), "incoming", "--vm", m->dst.sock, "--listen",
		listen, "--timeout", "20", "--quiet", no_start ? "--no-start" : NULL,
		NULL,
	};

	snprintf(listen, sizeof(listen), "tcp:127.0.0.1:%s", m->port);
	argv[0] = strdup(argv[0]);
	m->inc = test_spawn(argv, m->inc_log);
	free((void *)argv[0]);
	msleep(200);	/* let it listen */
}

/* kvmig migrate with @extra options; returns its exit code, JSON in *out */
static int migrate(struct mig *m, const char *const *extra, json_t **out)
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
	while (extra && *extra)
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

static int64_t pages_written(struct test_vm *vm)
{
	json_t *st = test_vm_cmd(vm, "query-stats");
	int64_t n = json_path_int(st, "pages-written");

	json_decref(st);
	return n;
}

static const char *status_of(struct test_vm *vm)
{
	static char buf[32];
	json_t *r = test_vm_cmd(vm, "query-status");

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(r, "status")));
	json_decref(r);
	return buf;
}

/* Map both VMs' RAM and compare every page; returns differing pages. */
static uint64_t compare_ram(struct test_vm *a, struct test_vm *b, uint64_t *pages)
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
		uint64_t size, off;
		uint8_t *pa, *pb;

		snprintf(path, sizeof(path), "slots.%u.size", i);
		size = (uint64_t)json_path_int(ra, path);
		TEST_ASSERT(size == (uint64_t)json_path_int(rb, path), "slot sizes");
		pa = mmap(NULL, size, PROT_READ, MAP_SHARED, fa[i], 0);
		pb = mmap(NULL, size, PROT_READ, MAP_SHARED, fb[i], 0);
		TEST_ASSERT(pa != MAP_FAILED && pb != MAP_FAILED, "mmap");
		for (off = 0; off < size; off += 4096) {
			diff += memcmp(pa + off, pb + off, 4096) != 0;
			(*pages)++;
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

static const char *const vm_args[] = {
	"--vcpus", "3", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=3000p,ws=8M,pattern=random,data=text",
	"--workload", "1:dirty,rate=2000p,ws=4M,pattern=seq,data=counter",
	"--workload", "2:io,period=500", NULL,
};

static const char *const vm_args_ring[] = {
	"--vcpus", "3", "--mem", "48M", "--slot", "16M,gap=32M", "--dirty-ring", "4096",
	"--workload", "0:dirty,rate=3000p,ws=8M,pattern=random,data=text",
	"--workload", "1:dirty,rate=2000p,ws=4M,pattern=seq,data=counter",
	"--workload", "2:io,period=500", NULL,
};

/* A full migration that must succeed, with every proof. */
static void migrate_ok(const char *name, const char *const *src_args,
		       const char *const *dst_args, const char *const *extra)
{
	struct mig m;
	json_t *st, *r;
	uint64_t pages, diff;
	int64_t before;
	int rc;

	start_vms(&m, src_args, dst_args);
	msleep(300);
	start_incoming(&m, true);
	rc = migrate(&m, extra, &st);
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
			 json_path_int(st, "ram.total") / 4096,
			 "%s: completed, switchover hashes of all pages match", name);
	TEST_ASSERT(test_wait(m.inc, 30) == 0, "%s: kvmig incoming failed: %s", name,
		    test_slurp(m.inc_log));

	/* both sides paused: the source by the switchover, the destination
	 * by --no-start; every page must be equal */
	diff = compare_ram(&m.src, &m.dst, &pages);
	ksft_test_result(diff == 0 && pages == (uint64_t)json_path_int(st, "ram.total") / 4096,
			 "%s: all %llu pages equal on both sides (%llu differ)", name,
			 (unsigned long long)pages, (unsigned long long)diff);

	/* the destination guest runs on and proves its memory */
	before = pages_written(&m.dst);
	json_decref(test_vm_cmd(&m.dst, "cont"));
	msleep(400);
	r = test_vm_cmd(&m.dst, "guest-check");
	ksft_test_result(pages_written(&m.dst) > before && json_path_int(r, "bad") == 0 &&
			 !strcmp(status_of(&m.src), "paused"),
			 "%s: destination guest runs on, self-check 0 bad; source stays paused",
			 name);
	json_decref(r);
	r = test_vm_cmd(&m.dst, "verify");
	TEST_ASSERT(json_path_int(r, "bad") == 0, "%s: host verify on the destination", name);
	json_decref(r);
	json_decref(st);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/* A migration that must fail; the source guest must run on. */
static void expect_failed(struct mig *m, json_t *st, int rc, const char *name,
			  const char *status, const char *why)
{
	const char *err = json_string_value(json_object_get(st, "error-desc"));
	int64_t before;

	ksft_print_msg("%s: exit %d, status %s, error '%s'\n", name, rc,
		       st ? json_string_value(json_object_get(st, "status")) : "?",
		       err ? err : "");
	before = pages_written(&m->src);
	msleep(300);
	ksft_test_result(rc == 1 && st &&
			 !strcmp(json_string_value(json_object_get(st, "status")), status) &&
			 err && strstr(err, why) &&
			 !strcmp(status_of(&m->src), "running") &&
			 pages_written(&m->src) > before,
			 "%s: %s ('%s'), the source guest runs on", name, status, why);
}

static void test_layout_mismatch(void)
{
	const char *const small[] = {
		"--vcpus", "3", "--mem", "32M", "--slot", "16M,gap=32M", NULL,
	};
	struct mig m;
	json_t *st;
	int rc;

	start_vms(&m, vm_args, small);
	start_incoming(&m, false);
	rc = migrate(&m, NULL, &st);
	expect_failed(&m, st, rc, "layout mismatch", "failed", "HELLO frame: slot 0");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && test_wait(m.dst.pid, 30) == 3,
			 "layout mismatch: kvmig incoming fails, the destination VMM "
			 "exits 3 without running the guest");
	close(m.dst.ctl);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/* Random data over a slow link: a migration that takes seconds. */
static const char *const busy_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=0,ws=24M,pattern=random,data=random",
	"--workload", "1:io,period=1000", NULL,
};

static void test_connection_drop(void)
{
	struct mig m;
	json_t *st;
	pid_t pid;
	char to[64];
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", NULL, "--to", to, "--json",
		"--timeout", "20", "--max-bandwidth", "4M", NULL,
	};
	int rc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m.port);
	argv[0] = strdup(argv[0]);
	argv[3] = m.src.sock;
	pid = test_spawn(argv, m.mig_log);
	msleep(1500);
	kill(m.inc, SIGKILL);			/* the destination dies */
	test_wait(m.inc, 10);
	rc = test_wait(pid, 60);
	free((void *)argv[0]);
	st = json_loads(strchr(test_slurp(m.mig_log), '{') ?: "{}",
			JSON_DISABLE_EOF_CHECK, NULL);
	expect_failed(&m, st, rc, "destination killed", "failed", "channel");
	json_decref(st);
	ksft_test_result(test_vm_quit(&m.dst) == 3,
			 "destination killed: its VMM exits 3, the guest never ran there");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static void test_cancel(void)
{
	struct mig m;
	json_t *st, *q;
	char to[64];
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", NULL, "--to", to, "--json",
		"--timeout", "20", "--max-bandwidth", "4M", NULL,
	};
	const char *cancel[] = { test_bin("kvmig"), "cancel", "--vm", NULL, NULL };
	char out[4096];
	pid_t pid;
	int rc, crc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m.port);
	argv[0] = strdup(argv[0]);
	argv[3] = m.src.sock;
	pid = test_spawn(argv, m.mig_log);
	msleep(1500);
	q = test_vm_cmd(&m.src, "query-migrate");
	ksft_test_result(!strcmp(json_string_value(json_object_get(q, "status")), "active") &&
			 json_path_int(q, "ram.transferred") > 0,
			 "query-migrate on the source VMM shows the running migration");
	json_decref(q);
	cancel[0] = strdup(cancel[0]);
	cancel[3] = m.src.sock;
	crc = test_run(cancel, out, sizeof(out));
	free((void *)cancel[0]);
	rc = test_wait(pid, 60);
	free((void *)argv[0]);
	st = json_loads(strchr(test_slurp(m.mig_log), '{') ?: "{}",
			JSON_DISABLE_EOF_CHECK, NULL);
	TEST_ASSERT(crc == 0, "kvmig cancel: %s", out);
	expect_failed(&m, st, rc, "cancel", "cancelled", "cancelled");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && test_wait(m.dst.pid, 30) == 3,
			 "cancel: the destination refuses and its VMM exits 3");
	close(m.dst.ctl);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static void test_garbage_stream(void)
{
	struct mig m;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char junk[] = "GET / HTTP/1.0\r\nHost: kvmig\r\n\r\n";
	uint8_t reply[64] = { 0 };
	ssize_t n;
	int fd;

	start_vms(&m, vm_args, vm_args);
	start_incoming(&m, false);
	a.sin_port = htons((uint16_t)atoi(m.port));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ASSERT(!connect(fd, (struct sockaddr *)&a, sizeof(a)), "connect");
	TEST_ASSERT(write(fd, junk, sizeof(junk) - 1) == sizeof(junk) - 1, "write");
	n = read(fd, reply, sizeof(reply));
	close(fd);
	ksft_test_result(test_wait(m.inc, 30) == 1 && n >= 24 &&
			 !memcmp(reply, "KVMF", 4) && reply[5] == 10 /* ERROR */ &&
			 strstr(test_slurp(m.inc_log), "is not KVMF"),
			 "a stream that is not kvmig is refused with an ERROR frame: %s",
			 strstr(test_slurp(m.inc_log), "refused") ?: "");
	ksft_test_result(test_wait(m.dst.pid, 30) == 3,
			 "... and the destination guest never runs");
	close(m.dst.ctl);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

int main(void)
{
	const char *const clear3[] = { "--dirty-log", "clear", "--channels", "3",
				       "--verify", "--keep-vm", NULL };
	const char *const bitmap1[] = { "--dirty-log", "bitmap", "--channels", "1",
					"--verify", "--keep-vm", NULL };
	const char *const ring2[] = { "--dirty-log", "ring", "--verify", "--keep-vm",
				      NULL };
	const char *const slow[] = { "--max-bandwidth", "16M", "--max-iterations", "4",
				     "--verify", "--keep-vm", NULL };

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(4 * 3 + 2 + 2 + 3 + 2);
	migrate_ok("clear, 3 channels", vm_args, vm_args, clear3);
	migrate_ok("bitmap, 1 channel", vm_args, vm_args, bitmap1);
	migrate_ok("ring, 2 channels", vm_args_ring, vm_args_ring, ring2);
	migrate_ok("guest faster than a 16 MiB/s link", busy_args, busy_args, slow);
	test_layout_mismatch();
	test_connection_drop();
	test_cancel();
	test_garbage_stream();
	ksft_finished();
}
