/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test harness in the style of the kernel's kselftest: TAP output,
 * TEST_ASSERT with file:line, expression and errno, exit code 4 for "skip".
 * Plus helpers to run kvmig-vm and talk to its control socket.
 */
#ifndef KVMIG_HARNESS_H
#define KVMIG_HARNESS_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

void ksft_print_header(void);
void ksft_set_plan(unsigned int n);
void ksft_test_result(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ksft_test_result_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void ksft_print_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void ksft_finished(void);
__attribute__((noreturn)) void ksft_exit_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void test_assert_fail(const char *file, int line,
						const char *expr,
						const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define TEST_ASSERT(cond, fmt, ...)						\
	do {									\
		if (!(cond))							\
			test_assert_fail(__FILE__, __LINE__, #cond, fmt,	\
					 ##__VA_ARGS__);			\
	} while (0)

/*
 * How long a test waits for something that takes milliseconds on an idle
 * machine: a guest's next page, a process's readiness, a counter's next
 * step.  Generous, so that a machine oversubscribed many times over (make
 * check-stress) only makes the test slower, and well short of the 300 s a
 * test program may run (scripts/run-tests.sh).
 */
#define TEST_DEADLINE_S	30

/*
 * Evaluate @cond until it is true or @timeout_s seconds have passed, with
 * growing pauses (1 ms .. 50 ms) between tries; its value: whether @cond
 * came true.  On expiry it says what it waited for and for how long, at
 * the caller's file:line, so that "not ok" never needs guessing.  Never
 * sleep a fixed time to wait for something: wait for it with this.
 */
#define TEST_POLL(cond, timeout_s)						\
	({									\
		uint64_t __deadline = test_now_ns() +				\
				      (uint64_t)(timeout_s) * 1000000000ULL;	\
		unsigned int __ms = 1;						\
		bool __ok;							\
										\
		while (!(__ok = (cond)) && test_now_ns() < __deadline) {	\
			msleep(__ms);						\
			__ms = __ms < 25 ? __ms * 2 : 50;			\
		}								\
		if (!__ok)							\
			ksft_print_msg("%s:%d: gave up after %d s waiting for "	\
				       "%s\n", __FILE__, __LINE__,		\
				       (int)(timeout_s), #cond);		\
		__ok;								\
	})

/* TEST_POLL that must succeed: the test dies saying what never happened. */
#define TEST_WAIT(cond, timeout_s, fmt, ...)					\
	TEST_ASSERT(TEST_POLL(cond, timeout_s), fmt, ##__VA_ARGS__)

/* Skip the whole test (exit 4) when /dev/kvm cannot be opened. */
void test_require_kvm(void);
/* KVM_CAP_FAST_WRITE_PROTECT (the kvmig KVM patch), asked of a new VM */
bool test_kvm_has_fastwp(void);

/* A kvmig-vm process with its control socket. */
struct test_vm {
	pid_t pid;
	int ctl;		/* connected control socket */
	char dir[64];		/* private temp dir holding the socket */
	char sock[128];
	FILE *rx;		/* buffered reader over ctl */
};

/*
 * Path of a sibling binary: build/tests/x -> build/bin/<name>; or
 * <test_bin_dir>/<name> when a program sets test_bin_dir (a benchmark
 * run against another build's kvmig and kvmig-vm: bench_idle --bin).
 */
extern const char *test_bin_dir;
const char *test_bin(const char *name);

/*
 * Start kvmig-vm with @argv (NULL-terminated, without the program name or
 * --control), wait until it announces that its control socket serves
 * requests (--ready-fd) and connect.  Dies on failure.
 */
void test_vm_start(struct test_vm *vm, const char *const *argv);
/* ... with --incoming appended: a VM that waits for a migration */
void test_vm_start_incoming(struct test_vm *vm, const char *const *argv);
/*
 * A VM's folder (test_vm_start() makes its own): removed with its files
 * by ksft_finished() when every test passed, kept when one failed.
 */
void test_vm_dir_made(const char *dir);
/* Send "quit", wait for the process; returns its exit status. */
int test_vm_quit(struct test_vm *vm);

/* Send one raw line (no newline needed) and return the parsed reply. */
json_t *test_vm_raw(struct test_vm *vm, const char *line);
/* {"execute": cmd}; asserts a "return" and gives it (owned by caller). */
json_t *test_vm_cmd(struct test_vm *vm, const char *cmd);
/*
 * A second client of @vm's VMM: @other is @vm with its own connection
 * (ctl, rx); close both to disconnect it.
 */
void test_vm_connect_again(const struct test_vm *vm, struct test_vm *other);
/* test_vm_raw() of a printf-formatted line. */
json_t *test_vm_cmdf(struct test_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An integer of query-stats by dotted path ("vcpus.1.io-round-trips"). */
int64_t test_vm_stat(struct test_vm *vm, const char *path);
/* Like test_vm_cmd, also receiving the SCM_RIGHTS fds of the reply. */
json_t *test_vm_cmd_fds(struct test_vm *vm, const char *cmd, int *fds,
			unsigned int max_fds, unsigned int *nr_fds);

/* Compact text of @o for messages; valid until the fourth next call. */
const char *json_text(json_t *o);

/* Integer member of a JSON object by dotted path ("vcpus.0.pages-written"). */
int64_t json_path_int(json_t *o, const char *path);

/* Run a program to completion, capturing stdout+stderr; returns exit code. */
int test_run(const char *const *argv, char *out, size_t outlen);

/* Start a program with stdout+stderr to @logfile; returns its pid. */
pid_t test_spawn(const char *const *argv, const char *logfile);
/* Wait for @pid up to @timeout_s (then SIGKILL); returns its exit code. */
int test_wait(pid_t pid, int timeout_s);
/* ... and its resource usage (wait4(): ru_maxrss, its peak memory) */
struct rusage;
int test_wait_usage(pid_t pid, int timeout_s, struct rusage *ru);
/*
 * Like test_spawn, with "--ready-fd N" appended to @argv: returns once the
 * program wrote its readiness line, which goes to @line (without the
 * newline).  Dies, saying so, if the program exits first or is not ready
 * within TEST_DEADLINE_S.  A NULL @logfile keeps the test's own output.
 */
pid_t test_spawn_ready(const char *const *argv, const char *logfile,
		       char *line, size_t len);
/* Whole content of a file (static buffer, truncated at 64 KiB). */
const char *test_slurp(const char *path);

/*
 * A migration test bed: a source kvmig-vm, a destination kvmig-vm started
 * with --incoming, and "kvmig incoming" / "kvmig migrate" runs between
 * them, their output in the VMs' private directories.  start_incoming()
 * listens on port 0 and sets @port to the one kvmig incoming announced.
 */
struct mig {
	struct test_vm src, dst;
	char port[16];
	char inc_log[128], mig_log[128];
	pid_t inc;
};
/* Both VMs, once the source guest has written its working set. */
void start_vms(struct mig *m, const char *const *src_args,
	       const char *const *dst_args);
void start_incoming(struct mig *m, bool no_start);
/* ... with @extra options (NULL-terminated, at most 13) */
void start_incoming_with(struct mig *m, bool no_start, const char *const *extra);
/* start_incoming()'s @extra when set (migrate_ok(), migrate_bench() use it) */
extern const char *const *test_incoming_extra;
/*
 * kvmig migrate --json with @extra; returns its exit code, the JSON in *out.
 * With test_dirty_log set, every migration asks for that dirty-log backend
 * (--dirty-log) and migrate_ok() checks that the source VMM ran it.
 */
extern const char *test_dirty_log;
int migrate(struct mig *m, const char *const *extra, json_t **out);

/* Guest write loops so far, over every vCPU. */
int64_t test_pages_written(struct test_vm *vm);
/*
 * Whether the guest makes progress: its loops pass @before within
 * TEST_DEADLINE_S (a running guest takes microseconds per loop).
 */
bool test_vm_progresses(struct test_vm *vm, int64_t before);
/*
 * Whether every dirtying vCPU of the guest has written as many pages as its
 * working set holds, within TEST_DEADLINE_S: its memory is "warm", so a
 * migration has data to carry (idle and io vCPUs have no working set).
 */
bool test_vm_dirtied_working_set(struct test_vm *vm);
/*
 * The migration as the VMM behind @vm shows it (query-migrate, updated by
 * the helper about every 100 ms): the integer at dotted @path
 * ("ram.normal": pages with data sent) while it is "active", else -1.
 */
int64_t test_migration_int(struct test_vm *vm, const char *path);
/* ... and whether that integer is above 0: the migration moved */
bool test_migration_moved(struct test_vm *vm, const char *path);
/* query-migrate's "status" ("none" before any migration; a static buffer) */
const char *test_migration_status(struct test_vm *vm);
/* "running" / "paused" ... (a static buffer) */
const char *test_vm_status(struct test_vm *vm);
/* Map both VMs' RAM and compare every page; returns differing pages. */
uint64_t test_compare_ram(struct test_vm *a, struct test_vm *b, uint64_t *pages);
/*
 * A migration that must succeed, with every proof (3 TAP results): exit 0,
 * "completed" with @switchover and every switchover hash equal; every page
 * of both sides equal; the destination guest runs on with a clean
 * self-check.  Both VMs quit after it.  Returns kvmig migrate's JSON.
 */
json_t *migrate_ok(const char *name, const char *const *src_args,
		   const char *const *dst_args, const char *const *extra,
		   const char *switchover);
/* ... on VMs already started, with kvmig incoming (--no-start) listening */
json_t *migrate_verified(const char *name, struct mig *m,
			 const char *const *extra, const char *switchover);
/*
 * A benchmark's migration: both VMs from @src_args / @dst_args, kvmig
 * incoming that starts the destination guest, kvmig migrate with --verify,
 * --keep-vm and @extra (at most 20 options).  Dies, naming @name, unless it
 * completed with every page verified and none differing, the destination
 * guest runs on and its self-check is clean.  Both VMs quit after it.
 * Returns kvmig migrate's JSON statistics (the caller's to free).  With
 * @watch, watch->start(m, opaque) runs once the VMs are up, just before
 * kvmig migrate starts, and watch->stop(m, opaque) once it has exited.
 */
struct bench_watch {
	void (*start)(struct mig *m, void *opaque);
	void (*stop)(struct mig *m, void *opaque);
	void *opaque;
};
json_t *migrate_bench(const char *name, const char *const *src_args,
		      const char *const *dst_args, const char *const *extra,
		      const struct bench_watch *watch);
/*
 * After a failed incoming migration: the destination VMM still waits for
 * one (query-status "inmigrate", its guest never ran) and answers.
 */
bool test_vm_waits_incoming(struct test_vm *vm);

/* xorshift64: the reproducible generator of the tests and benchmarks */
static inline uint64_t test_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* @len bytes (a multiple of 8) of test_xorshift() words, in order */
static inline void test_fill_random(void *buf, size_t len, uint64_t *s)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = test_xorshift(s);

		memcpy((char *)buf + i, &v, 8);
	}
}

void msleep(unsigned int ms);
uint64_t test_now_ns(void);

/* What rounds of a measurement say: their median and their spread. */
struct test_spread {
	double med, min, max;
};
/* ... of the @n (>= 1) values at @v, which it sorts */
struct test_spread test_spread(double *v, unsigned int n);

/*
 * A throwaway PKI for the TLS tests and benchmarks (harness.c, GnuTLS's
 * own API: no certtool).  Two CAs, 0 and 1, made once per process.
 * test_tls_dir() writes a creds directory as kvmig --tls-creds reads it:
 * ca-cert.pem of CA @trust_ca, and a certificate + key signed by CA
 * @cert->ca for @cert->cn (server: server-cert.pem with the DNS name
 * @cert->dns and the address 127.0.0.1; client: client-cert.pem with
 * the DN "CN=<cn>,O=kvmig"), valid for a day or expired yesterday.
 */
bool test_have_tls(void);	/* libkvmig built with TLS (KVMIG_TLS) */
/*
 * @name in the process's throwaway folder for keys (made on first use,
 * removed with its content at exit); valid until the eighth next call.
 */
const char *test_tls_path(const char *name);
struct test_cert {
	const char *cn;
	const char *dns;	/* server: subjectAltName DNS */
	int ca;			/* the CA that signs it, 0 or 1 */
	bool expired;
};
void test_tls_dir(const char *dir, bool server, int trust_ca,
		  const struct test_cert *cert);
/* ... or a PSK directory: keys.psk with the line "@user:@hexkey" */
void test_tls_psk_dir(const char *dir, const char *user, const char *hexkey);

#endif /* KVMIG_HARNESS_H */
