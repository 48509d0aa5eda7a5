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
 *    completes (forced after max-iterations) with the same proofs, also
 *    with each backend syncing within its long passes;
 *  - an idle guest and a lightly dirtying one converge; a guest that can
 *    never converge ends by the configured rule: forced switchover, or with
 *    --no-force a clear failure;
 *  - failures leave the source guest running and the destination guest
 *    never started: a RAM layout the destination refuses (before writing a
 *    page), the connection cut by a proxy after N bytes at several points,
 *    the destination killed, a cancel from another shell, and a stream that
 *    is not kvmig at all.
 *
 * usage: test_migrate [--dirty-log BACKEND]
 * With a backend, a shorter run in which every migration uses it: an idle,
 * a lightly and a busily dirtying guest migrate and are verified, a cut
 * connection and a killed helper leave the source running with its dirty
 * logging released, and the same VM then migrates again.  The kernel lab
 * runs it with fastwp on the patched kernel.
 */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "kvmig/kvmig.h"

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

/* A migration that must fail; the source guest must run on. */
static void expect_failed(struct mig *m, json_t *st, int rc, const char *name,
			  const char *status, const char *why)
{
	const char *err = json_string_value(json_object_get(st, "error-desc"));
	bool runs;

	ksft_print_msg("%s: exit %d, status %s, error '%s'\n", name, rc,
		       st ? json_string_value(json_object_get(st, "status")) : "?",
		       err ? err : "");
	runs = test_vm_progresses(&m->src, test_pages_written(&m->src));
	ksft_test_result(rc == 1 && st &&
			 !strcmp(json_string_value(json_object_get(st, "status")), status) &&
			 err && strstr(err, why) &&
			 !strcmp(test_vm_status(&m->src), "running") && runs,
			 "%s: %s ('%s'), the source guest runs on", name, status, why);
}

/* XXH-free digest of a VM's RAM through its memfds (kept open by us). */
struct ram_view {
	int fds[10];
	uint64_t size[10];
	unsigned int nr;
};

static void ram_view_open(struct test_vm *vm, struct ram_view *v)
{
	json_t *r = test_vm_cmd_fds(vm, "get-fds", v->fds, 10, &v->nr);
	unsigned int i;
	char path[32];

	v->nr--;	/* the VM fd comes last */
	close(v->fds[v->nr]);
	for (i = 0; i < v->nr; i++) {
		snprintf(path, sizeof(path), "slots.%u.size", i);
		v->size[i] = (uint64_t)json_path_int(r, path);
	}
	json_decref(r);
}

static uint64_t ram_digest(const struct ram_view *v)
{
	uint64_t h = 1469598103934665603ULL, off;
	unsigned int i;

	for (i = 0; i < v->nr; i++) {
		const uint64_t *p = mmap(NULL, v->size[i], PROT_READ, MAP_SHARED,
					 v->fds[i], 0);

		TEST_ASSERT(p != MAP_FAILED, "mmap");
		for (off = 0; off < v->size[i] / 8; off++)
			h = (h ^ p[off]) * 1099511628211ULL;
		munmap((void *)p, v->size[i]);
	}
	return h;
}

static void test_layout_mismatch(void)
{
	const char *const small[] = {
		"--vcpus", "3", "--mem", "32M", "--slot", "16M,gap=32M", NULL,
	};
	struct ram_view v;
	struct mig m;
	uint64_t before;
	json_t *st;
	int rc;

	start_vms(&m, vm_args, small);
	ram_view_open(&m.dst, &v);
	before = ram_digest(&v);
	start_incoming(&m, false);
	rc = migrate(&m, NULL, &st);
	expect_failed(&m, st, rc, "layout mismatch", "failed", "HELLO frame: slot 0");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && ram_digest(&v) == before &&
			 test_vm_waits_incoming(&m.dst),
			 "layout mismatch: refused before any page was written, the "
			 "destination VMM waits on");
	for (unsigned int i = 0; i < v.nr; i++)
		close(v.fds[i]);
	TEST_ASSERT(test_vm_quit(&m.dst) == 3, "destination exit status: 3, its "
		    "guest never ran");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/* Random data over a slow link: a migration that takes seconds. */
static const char *const busy_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=0,ws=24M,pattern=random,data=random",
	"--workload", "1:io,period=1000", NULL,
};

/* kvmig migrate at 4 MiB/s in the background: seconds for busy_args */
static pid_t spawn_slow_migrate(struct mig *m)
{
	char to[64];
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", m->src.sock, "--to", to,
		"--json", "--timeout", "20", "--max-bandwidth", "4M",
		test_dirty_log ? "--dirty-log" : NULL, test_dirty_log, NULL,
	};
	pid_t pid;

	snprintf(to, sizeof(to), "tcp:127.0.0.1:%s", m->port);
	argv[0] = strdup(argv[0]);
	pid = test_spawn(argv, m->mig_log);
	free((void *)argv[0]);
	return pid;
}

static void test_connection_drop(void)
{
	struct mig m;
	json_t *st;
	pid_t pid;
	int rc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	pid = spawn_slow_migrate(&m);
	TEST_WAIT(test_migration_moved(&m.src, "ram.normal"), TEST_DEADLINE_S,
		  "destination killed: no pages ever went: %s", test_slurp(m.mig_log));
	kill(m.inc, SIGKILL);			/* the destination dies mid-pass */
	test_wait(m.inc, 10);
	rc = test_wait(pid, 60);
	st = json_loads(strchr(test_slurp(m.mig_log), '{') ?: "{}",
			JSON_DISABLE_EOF_CHECK, NULL);
	expect_failed(&m, st, rc, "destination killed", "failed", "channel");
	json_decref(st);
	ksft_test_result(test_vm_waits_incoming(&m.dst) && test_vm_quit(&m.dst) == 3,
			 "destination helper killed: its VMM waits on, and exits 3, "
			 "the guest never ran there");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static void test_cancel(void)
{
	struct mig m;
	json_t *st, *q;
	const char *cancel[] = { test_bin("kvmig"), "cancel", "--vm", NULL, NULL };
	char out[4096];
	bool moving;
	pid_t pid;
	int rc, crc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	pid = spawn_slow_migrate(&m);
	moving = TEST_POLL(test_migration_moved(&m.src, "ram.transferred"),
			   TEST_DEADLINE_S);
	q = test_vm_cmd(&m.src, "query-migrate");
	ksft_test_result(moving && !strcmp(json_string_value(json_object_get(q, "status")),
					   "active") &&
			 json_path_int(q, "ram.transferred") > 0,
			 "query-migrate on the source VMM shows the running migration");
	json_decref(q);
	{
		const char *human[] = { test_bin("kvmig"), "query", "--vm", m.src.sock,
					NULL };
		const char *js[] = { test_bin("kvmig"), "query", "--vm", m.src.sock,
				     "--json", NULL };
		bool ok;

		human[0] = strdup(human[0]);
		js[0] = strdup(js[0]);
		ok = test_run(human, out, sizeof(out)) == 0 &&
		     strstr(out, "Migration status: active\n") &&
		     strstr(out, "transferred ram: ") && strstr(out, "\npass: ");
		if (!ok)
			ksft_print_msg("kvmig query: %s\n", out);
		q = test_run(js, out, sizeof(out)) == 0 ? json_loads(out, 0, NULL) : NULL;
		ok &= q && json_path_int(q, "ram.total") > 0;
		json_decref(q);
		free((void *)human[0]);
		free((void *)js[0]);
		ksft_test_result(ok, "kvmig query prints the running migration for a "
				 "person, and with --json as JSON");
	}
	cancel[0] = strdup(cancel[0]);
	cancel[3] = m.src.sock;
	crc = test_run(cancel, out, sizeof(out));
	free((void *)cancel[0]);
	rc = test_wait(pid, 60);
	st = json_loads(strchr(test_slurp(m.mig_log), '{') ?: "{}",
			JSON_DISABLE_EOF_CHECK, NULL);
	TEST_ASSERT(crc == 0, "kvmig cancel: %s", out);
	expect_failed(&m, st, rc, "cancel", "cancelled", "cancelled");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && test_vm_waits_incoming(&m.dst),
			 "cancel: the destination refuses and its VMM waits on");
	TEST_ASSERT(test_vm_quit(&m.dst) == 3, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/*
 * A TCP proxy between source and destination that forwards every
 * connection both ways and cuts them all once @cut bytes went from the
 * source to the destination (over all channels together).
 */
struct proxy {
	int lfd;
	char port[16];		/* where the proxy listens */
	const char *to;		/* destination port */
	uint64_t cut;
	uint64_t fwd;		/* under lock */
	/*
	 * With swallow_back: from the destination to the source, forward only
	 * the first @back bytes and drop the rest silently (connections stay
	 * up): the source never hears what the destination says next.
	 */
	bool swallow_back;
	uint64_t back;		/* under lock */
	bool stop;		/* under lock */
	pthread_mutex_t lock;
	int fds[64];		/* under lock */
	unsigned int nr;
	pthread_t acceptor;
	pthread_t pumps[64];
	unsigned int nr_pumps;
};

struct pump {
	struct proxy *p;
	int from, to;
	bool counted;
};

static void proxy_cut_all(struct proxy *p)
{
	unsigned int i;

	for (i = 0; i < p->nr; i++)
		shutdown(p->fds[i], SHUT_RDWR);
}

static void *pump_thread(void *arg)
{
	struct pump *pu = arg;
	char buf[65536];

	for (;;) {
		ssize_t n = read(pu->from, buf, sizeof(buf)), w = 0;
		bool cut = false;

		if (n <= 0)
			break;
		pthread_mutex_lock(&pu->p->lock);
		if (!pu->counted && pu->p->swallow_back) {
			uint64_t left = pu->p->back;

			if ((uint64_t)n > left)
				n = (ssize_t)left;
			pu->p->back -= (uint64_t)n;
		}
		if (pu->counted) {
			if (pu->p->fwd + (uint64_t)n >= pu->p->cut) {
				n = (ssize_t)(pu->p->cut - pu->p->fwd);
				cut = true;
			}
			pu->p->fwd += (uint64_t)n;
		}
		pthread_mutex_unlock(&pu->p->lock);
		while (w < n) {
			ssize_t k = write(pu->to, buf + w, (size_t)(n - w));

			if (k <= 0)
				break;
			w += k;
		}
		if (cut) {
			pthread_mutex_lock(&pu->p->lock);
			proxy_cut_all(pu->p);
			pthread_mutex_unlock(&pu->p->lock);
			break;
		}
	}
	shutdown(pu->to, SHUT_WR);
	free(pu);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct proxy *p = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	a.sin_port = htons((uint16_t)atoi(p->to));
	for (;;) {
		struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
		int c, d, k;
		bool stop;

		pthread_mutex_lock(&p->lock);
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		c = accept(p->lfd, NULL, NULL);
		if (c < 0)
			continue;
		d = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(d, (struct sockaddr *)&a, sizeof(a))) {
			close(c);
			close(d);
			continue;
		}
		pthread_mutex_lock(&p->lock);
		p->fds[p->nr++] = c;
		p->fds[p->nr++] = d;
		if (p->fwd >= p->cut)
			proxy_cut_all(p);
		pthread_mutex_unlock(&p->lock);
		for (k = 0; k < 2; k++) {
			struct pump *pu = malloc(sizeof(*pu));

			*pu = (struct pump){ p, k ? d : c, k ? c : d, !k };
			pthread_create(&p->pumps[p->nr_pumps++], NULL, pump_thread, pu);
		}
	}
	return NULL;
}

static void proxy_start(struct proxy *p, const char *to, uint64_t cut)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->to = to;
	p->cut = cut;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ASSERT(p->lfd >= 0 && !bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) &&
		    !listen(p->lfd, 16) &&
		    !getsockname(p->lfd, (struct sockaddr *)&a, &len), "proxy listen");
	snprintf(p->port, sizeof(p->port), "%u", ntohs(a.sin_port));
	pthread_create(&p->acceptor, NULL, accept_thread, p);
}

static void proxy_stop(struct proxy *p)
{
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	proxy_cut_all(p);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->acceptor, NULL);
	for (i = 0; i < p->nr_pumps; i++)
		pthread_join(p->pumps[i], NULL);
	for (i = 0; i < p->nr; i++)
		close(p->fds[i]);
	close(p->lfd);
}

static void test_cut(uint64_t bytes)
{
	const char *const extra[] = { "--channels", "3", "--timeout", "10", NULL };
	const char *const retry[] = { "--channels", "3", "--verify", "--keep-vm", NULL };
	struct proxy px;
	struct mig m;
	char name[64], dst_port[16];
	json_t *st;
	int rc;

	snprintf(name, sizeof(name), "connection cut after %llu bytes",
		 (unsigned long long)bytes);
	/* its working set filled: every cut falls before the end (cuts[]) */
	start_vms(&m, vm_args, vm_args);
	start_incoming(&m, false);
	snprintf(dst_port, sizeof(dst_port), "%s", m.port);
	proxy_start(&px, dst_port, bytes);
	snprintf(m.port, sizeof(m.port), "%s", px.port);	/* source -> proxy */
	rc = migrate(&m, extra, &st);
	expect_failed(&m, st, rc, name, "failed", "");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && test_vm_waits_incoming(&m.dst),
			 "%s: the destination never starts the guest, its VMM "
			 "waits on", name);
	proxy_stop(&px);
	/*
	 * Nothing lost: the same destination VMM, holding whatever pages
	 * arrived before the cut, takes the next migration of the same guest,
	 * and every page ends equal (3 results).
	 */
	start_incoming(&m, true);
	snprintf(name, sizeof(name), "again after a cut at %llu bytes",
		 (unsigned long long)bytes);
	json_decref(migrate_verified(name, &m, retry, "converged"));
}

/*
 * GO reaches the destination but STARTED never comes back: the outcome is
 * unknown to the source, so its guest must stay paused (the destination
 * runs it), never resumed: one running copy.
 */
static void test_started_lost(void)
{
	/* HELLO_ACK (24 + 8) and COMPLETE (24 + 24) pass, STARTED does not */
	const char *const extra[] = { "--timeout", "3", NULL };
	struct proxy px;
	struct mig m;
	char dst_port[16];
	const char *err;
	json_t *st;
	int rc, inc_rc;

	start_vms(&m, vm_args, vm_args);
	start_incoming(&m, false);
	snprintf(dst_port, sizeof(dst_port), "%s", m.port);
	proxy_start(&px, dst_port, ~0ULL);
	pthread_mutex_lock(&px.lock);
	px.swallow_back = true;
	px.back = 32 + 48;
	pthread_mutex_unlock(&px.lock);
	snprintf(m.port, sizeof(m.port), "%s", px.port);
	rc = migrate(&m, extra, &st);
	err = json_string_value(json_object_get(st, "error-desc"));
	/*
	 * The destination resumed its guest before it sent STARTED, and its
	 * helper exits after that: once it has, both sides are settled.  The
	 * source helper published its final "failed" before it exited, so
	 * its VMM has nothing left to do either.
	 */
	inc_rc = test_wait(m.inc, 30);
	ksft_print_msg("STARTED lost: exit %d, '%s'; kvmig incoming exit %d\n", rc,
		       err ? err : "", inc_rc);
	ksft_test_result(rc == 1 && err && strstr(err, "outcome unknown") &&
			 inc_rc == 0 &&
			 !strcmp(test_vm_status(&m.src), "paused") &&
			 !strcmp(test_vm_status(&m.dst), "running"),
			 "STARTED lost: the source guest stays paused, the destination "
			 "runs it: one copy runs");
	json_decref(st);
	proxy_stop(&px);
	TEST_ASSERT(test_vm_quit(&m.dst) == 0, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static void test_no_converge(void)
{
	const char *const extra[] = { "--max-bandwidth", "16M", "--max-iterations", "3",
				      "--no-force", NULL };
	struct mig m;
	json_t *st;
	int rc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	rc = migrate(&m, extra, &st);
	expect_failed(&m, st, rc, "cannot converge, --no-force", "failed",
		      "did not converge");
	json_decref(st);
	ksft_test_result(test_wait(m.inc, 30) == 1 && test_vm_waits_incoming(&m.dst),
			 "cannot converge, --no-force: the destination never starts "
			 "the guest, its VMM waits on");
	TEST_ASSERT(test_vm_quit(&m.dst) == 3, "destination exit status");
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

/*
 * The source helper dies (SIGKILL) mid-migration: the VMM marks the
 * migration failed, stops the dirty logging the helper started, and the
 * guest runs on; a new migration of the same VM then succeeds.
 */
static void test_helper_killed(void)
{
	const char *const again[] = { "--verify", "--keep-vm", NULL };
	struct mig m;
	json_t *q, *st;
	pid_t pid;
	int rc;

	start_vms(&m, busy_args, busy_args);
	start_incoming(&m, false);
	pid = spawn_slow_migrate(&m);
	TEST_WAIT(test_migration_moved(&m.src, "ram.normal"), TEST_DEADLINE_S,
		  "helper killed: no pages ever went: %s", test_slurp(m.mig_log));
	kill(pid, SIGKILL);
	test_wait(pid, 10);
	/* the VMM notices the hang-up in its own time: wait for its verdict */
	TEST_POLL(strcmp(test_migration_status(&m.src), "active"), TEST_DEADLINE_S);
	q = test_vm_cmd(&m.src, "query-migrate");
	ksft_test_result(!strcmp(json_string_value(json_object_get(q, "status")), "failed") &&
			 strstr(json_string_value(json_object_get(q, "error-desc")) ?: "",
				"disconnected") && !strcmp(test_vm_status(&m.src), "running"),
			 "source helper killed: the VMM marks the migration failed, the guest runs");
	json_decref(q);
	test_wait(m.inc, 30);
	test_wait(m.dst.pid, 30);
	close(m.dst.ctl);

	/* a fresh destination: the same source VM migrates fine now */
	{
		struct mig m2 = m;

		test_vm_start_incoming(&m2.dst, busy_args);
		snprintf(m2.inc_log, sizeof(m2.inc_log), "%s/incoming.log", m2.dst.dir);
		start_incoming(&m2, false);
		rc = migrate(&m2, again, &st);
		if (rc)
			ksft_print_msg("second migration: %s\n", test_slurp(m2.mig_log));
		ksft_test_result(rc == 0 && st && json_path_int(st, "verify.mismatches") == 0,
				 "... and a new migration of that VM completes (dirty logging "
				 "was released)");
		json_decref(st);
		test_wait(m2.inc, 30);
		TEST_ASSERT(test_vm_quit(&m2.dst) == 0, "destination exit");
		TEST_ASSERT(test_vm_quit(&m2.src) == 0, "source exit");
	}
}

static void test_garbage_stream(void)
{
	struct mig m;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char junk[] = "GET / HTTP/1.0\r\nHost: kvmig\r\n\r\n";
	uint8_t reply[64] = { 0 };
	char ready[160], addr[64] = "", said[96];
	const char *argv[] = {
		NULL, "incoming", "--vm", NULL, "--listen",
		"tcp:127.0.0.1:0", "--timeout", "20", "--ready-file", ready,
		"--quit-on-failure", NULL,
	};
	bool announced;
	ssize_t n;
	int fd;

	/*
	 * kvmig incoming announced by --ready-file and on stderr (not by
	 * start_incoming's --ready-fd): the same address in both, the file
	 * gone once it stops listening.
	 */
	start_vms(&m, vm_args, vm_args);
	snprintf(ready, sizeof(ready), "%s/incoming.ready", m.dst.dir);
	argv[0] = strdup(test_bin("kvmig"));
	argv[3] = m.dst.sock;
	m.inc = test_spawn(argv, m.inc_log);
	free((void *)argv[0]);
	announced = TEST_POLL(!access(ready, F_OK), TEST_DEADLINE_S);
	TEST_ASSERT(announced, "kvmig incoming --ready-file: never announced: %s",
		    test_slurp(m.inc_log));
	snprintf(addr, sizeof(addr), "%s", test_slurp(ready));
	snprintf(said, sizeof(said), "kvmig: listening on %s", addr);
	ksft_test_result(!strncmp(addr, "tcp:127.0.0.1:", 14) && atoi(addr + 14) > 0 &&
			 addr[strlen(addr) - 1] == '\n' &&
			 strstr(test_slurp(m.inc_log), said),
			 "kvmig incoming on port 0 announces %.*s in --ready-file and "
			 "on stderr", (int)strcspn(addr, "\n"), addr);
	a.sin_port = htons((uint16_t)atoi(addr + 14));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ASSERT(!connect(fd, (struct sockaddr *)&a, sizeof(a)), "connect");
	TEST_ASSERT(write(fd, junk, sizeof(junk) - 1) == sizeof(junk) - 1, "write");
	n = read(fd, reply, sizeof(reply));
	close(fd);
	ksft_test_result(test_wait(m.inc, 30) == 1 && n >= 24 &&
			 !memcmp(reply, "KVMF", 4) && reply[5] == 10 /* ERROR */ &&
			 strstr(test_slurp(m.inc_log), "is not KVMF (not a kvmig "
				"stream: the peer sent text, 'GET / HT...')"),
			 "a stream that is not kvmig is refused with an ERROR frame: %s",
			 strstr(test_slurp(m.inc_log), "refused") ?: "");
	ksft_test_result(test_wait(m.dst.pid, 30) == 3 && access(ready, F_OK),
			 "... and with --quit-on-failure its VMM exits 3 (the guest "
			 "never ran); the ready file is gone");
	close(m.dst.ctl);
	TEST_ASSERT(test_vm_quit(&m.src) == 0, "source exit status");
}

static const char *const busy_ring_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M", "--dirty-ring", "4096",
	"--workload", "0:dirty,rate=0,ws=24M,pattern=random,data=random",
	"--workload", "1:io,period=1000", NULL,
};

/*
 * Syncs within a pass (source.c, mid_sync()): a guest faster than a
 * 16 MiB/s link (no throttle: --converge none) makes passes of a second or
 * more, so the source also syncs within them and leaves a page it has
 * still to send out of the next pass.
 * With each backend the migration is verified page by page (3 results), and
 * there were more syncs than one before pass 0, one after each pass and
 * one at the stop (1 result).
 */
static void test_mid_syncs(void)
{
	static const char *const backends[] = { "clear", "bitmap", "ring" };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		const char *const extra[] = { "--dirty-log", backends[i],
					      "--max-bandwidth", "16M",
					      "--max-iterations", "3", "--verify",
					      "--converge", "none", "--keep-vm",
					      NULL };
		const char *const *args = i == 2 ? busy_ring_args : busy_args;
		char name[64];
		int64_t syncs, passes;
		json_t *st;

		snprintf(name, sizeof(name), "%s, syncs within passes", backends[i]);
		st = migrate_ok(name, args, args, extra, "forced");
		syncs = json_path_int(st, "ram.dirty-sync-count");
		passes = json_path_int(st, "ram.iterations");
		ksft_test_result(passes > 0 && syncs > passes + 1,
				 "%s: %lld dirty syncs in %lld passes, more than "
				 "their ends", name, (long long)syncs,
				 (long long)passes);
		json_decref(st);
	}
}

static const char *const idle_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M", NULL,
};

/* 4 GiB the guest never touches, in two slots */
static const char *const big_idle_args[] = {
	"--vcpus", "1", "--mem", "3G", "--slot", "1G,gap=1G", "--workload", "idle",
	NULL,
};

/*
 * An idle 4 GiB guest: RAM it never touched goes as zero runs and zero
 * ranges, so the wire carries what it touched, not 16 bytes of entry and
 * 8 of hash for each of its million pages (25 MiB before zero runs).
 */
static void test_big_idle(void)
{
	const char *const plain[] = { "--verify", "--keep-vm", NULL };
	json_t *st = migrate_ok("idle 4 GiB guest", big_idle_args, big_idle_args,
				plain, "converged");
	int64_t sent = json_path_int(st, "ram.transferred");
	int64_t expected = json_path_int(st, "expected-downtime");

	/* verification's cost is reckoned on pages with data, not RAM */
	ksft_test_result(sent > 0 && sent < (1 << 20) &&
			 json_path_int(st, "verify.pages") == 1 << 20 &&
			 expected >= 0 && expected < 300,
			 "idle 4 GiB guest: %lld bytes on the wire, under 1 MiB; "
			 "all %lld pages verified; expected downtime %lld ms, "
			 "under 300", (long long)sent,
			 (long long)json_path_int(st, "verify.pages"),
			 (long long)expected);
	json_decref(st);
}

static const char *const light_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=500p,ws=4M,pattern=random,data=text",
	"--workload", "1:idle", NULL,
};

/*
 * test_migrate --dirty-log BACKEND: the migrations that exercise a backend
 * of guests without dirty rings (bitmap, clear, fastwp; the full run
 * covers ring).
 */
static void backend_run(const char *backend)
{
	const char *const two[] = { "--channels", "2", "--verify", "--keep-vm", NULL };
	const char *const plain[] = { "--verify", "--keep-vm", NULL };
	enum kvmig_dirty_backend b;

	TEST_ASSERT(!kvmig_dirty_backend_parse(backend, &b) &&
		    (b == KVMIG_DIRTY_BITMAP || b == KVMIG_DIRTY_CLEAR ||
		     b == KVMIG_DIRTY_FASTWP),
		    "--dirty-log: bitmap, clear or fastwp, not '%s'", backend);
	if (b == KVMIG_DIRTY_FASTWP && !test_kvm_has_fastwp())
		ksft_exit_skip("fastwp: this kernel has no KVM_CAP_FAST_WRITE_PROTECT "
			       "(kernel/patches/)");
	test_dirty_log = backend;
	ksft_set_plan(3 * 3 + 2 + 3 + 2);
	json_decref(migrate_ok("idle guest", idle_args, idle_args, plain, "converged"));
	json_decref(migrate_ok("light dirtying", light_args, light_args, plain, "converged"));
	json_decref(migrate_ok("3 vCPUs dirtying and IO, 2 channels", vm_args, vm_args,
			       two, "converged"));
	test_cut(1 << 20);
	test_helper_killed();
	ksft_finished();
}

int main(int argc, char **argv)
{
	const char *const plain[] = { "--verify", "--keep-vm", NULL };
	const char *const clear4[] = { "--dirty-log", "clear", "--channels", "4",
				       "--verify", "--keep-vm", NULL };
	const char *const bitmap1[] = { "--dirty-log", "bitmap", "--channels", "1",
					"--verify", "--keep-vm", NULL };
	const char *const ring2[] = { "--dirty-log", "ring", "--verify", "--keep-vm",
				      NULL };
	const char *const slow[] = { "--max-bandwidth", "16M", "--max-iterations", "4",
				     "--verify", "--keep-vm", NULL };
	/*
	 * Within the HELLO, after the handshake, inside pass 0, and later;
	 * this workload, its working set filled first, moves 4 to 11 MB, so
	 * every cut falls before its end.
	 */
	static const uint64_t cuts[] = { 10, 300, 64 << 10, 1 << 20, 3 << 20 };
	unsigned int i;

	signal(SIGPIPE, SIG_IGN);	/* the proxy writes to cut sockets */
	ksft_print_header();
	test_require_kvm();
	if (argc == 3 && !strcmp(argv[1], "--dirty-log"))
		backend_run(argv[2]);
	TEST_ASSERT(argc == 1, "usage: test_migrate [--dirty-log BACKEND]");
	ksft_set_plan(6 * 3 + 4 + 2 + (2 + 3) * 5 + 2 + 1 + 2 + 2 + 4 + 3 + 3 * 4);
	json_decref(migrate_ok("idle guest", idle_args, idle_args, plain, "converged"));
	test_big_idle();
	json_decref(migrate_ok("light dirtying", light_args, light_args, plain, "converged"));
	json_decref(migrate_ok("clear, 4 channels", vm_args, vm_args, clear4, "converged"));
	json_decref(migrate_ok("bitmap, 1 channel", vm_args, vm_args, bitmap1, "converged"));
	json_decref(migrate_ok("ring, 2 channels", vm_args_ring, vm_args_ring, ring2, "converged"));
	json_decref(migrate_ok("guest faster than a 16 MiB/s link", busy_args, busy_args, slow,
		   "forced"));
	test_mid_syncs();
	test_layout_mismatch();
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		test_cut(cuts[i]);
	test_no_converge();
	test_started_lost();
	test_helper_killed();
	test_connection_drop();
	test_cancel();
	test_garbage_stream();
	ksft_finished();
}
