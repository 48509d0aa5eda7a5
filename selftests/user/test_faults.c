// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations across a real kernel link, with faults injected from outside
 * (Documentation/design.rst, "Link faults"): the source side (kvmig-vm,
 * kvmig migrate) runs in one network namespace, the destination side
 * (kvmig-vm --incoming, kvmig incoming) in another, joined by a veth pair
 * with an htb rate and a cls_bpf loss filter (netbed.h).  First the bed is
 * checked: what it lets through with no loss, with 5 % loss, cut and
 * restored.  Then:
 *
 *  - the link cut (carrier down) at points spread over setup, every pass,
 *    the switchover and the commit; most cuts outlast both timeouts, some
 *    are short enough for TCP to ride out.  For the commit, the VMMs are
 *    frozen (SIGSTOP) for a moment so that the cut falls exactly between
 *    COMPLETE and GO's arrival ("GO lost") or between GO's arrival and
 *    STARTED's ("STARTED lost");
 *  - a long stall (the link down for three times the timeout), short ones
 *    (500 ms: TCP rides them out), 3 % and 1 % loss each way, a slow link
 *    (2 MiB/s) and a slow peer (kvmig incoming stopped for 1 s).
 *
 * After each fault exactly one side runs the guest: the migration failed
 * and the source guest runs on with a clean self-check while the
 * destination VMM waits on, or it completed and the destination runs the
 * guest verified (0 mismatches, clean self-check) while the source stays
 * paused.  A cut after GO may leave the outcome unknown to the source;
 * the test then does what the rule tells the operator to do, and checks
 * that exactly one copy runs afterwards.
 *
 * usage: test_faults [--full]   (or KVMIG_FAULTS=full): every cut point
 * (make faults); without it a subset that takes about a minute (make check):
 * the cut points marked for it, 3 % loss and a long stall.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netbed.h"

/* short timeouts: a cut that outlasts them fails in seconds */
#define TIMEOUT_S	"2"
#define TIMEOUT_MS	2000

/*
 * A guest that dirties about as fast as the link carries it (2000 pages/s
 * asked over a 6 MiB working set, against 6 MiB/s) and a downtime limit of
 * 1 ms: no pass converges, a pass takes about a second, the switchover is
 * forced after 3 and carries a large last pass, so each phase lasts long
 * enough to be cut into.
 */
static const char *const vm_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=2000p,ws=6M,pattern=random,data=text",
	"--workload", "1:io,period=500", NULL,
};
#define LINK_RATE	(6ULL << 20)

static struct netbed nb;

/* where the source stood when the link went down */
enum phase { PH_SETUP, PH_PASS0, PH_PASS1, PH_PASS2, PH_SWITCHOVER, PH_COMMIT,
	     PH_AFTER, PH_NR };
static const char *const phase_name[PH_NR] = {
	"setup", "pass 0", "pass 1", "pass 2", "switchover", "commit",
	"after the end",
};
static unsigned int landed[PH_NR];

enum trigger {
	AT_MS,		/* @ms after kvmig migrate was started */
	IN_PASS,	/* @ms after the source published pass @pass */
	IN_SWITCHOVER,	/* @ms after the source VM was paused */
	AT_COMMITTING,	/* as soon as the source VMM says "committing" */
	GO_LOST,	/* COMPLETE arrived, the link cut before GO goes */
	STARTED_LOST,	/* GO arrived, the link cut before STARTED goes */
};

struct cut {
	enum trigger trigger;
	unsigned int pass, ms;
	unsigned int down_ms;	/* how long the link stays down; 0: until both
				 * helpers have ended */
};

/* what happened to one migration */
enum outcome { SOURCE_RUNS, DEST_RUNS, UNKNOWN_DEST_RUNS, UNKNOWN_NEITHER };

/* the VMs and helpers of the current migration */
struct bed {
	struct mig m;		/* both VMs, kvmig incoming, the logs */
	bool up;		/* the VMs run; reused after a failed migration */
	pid_t mig;		/* kvmig migrate */
	uint64_t t0;		/* when it was started (test_now_ns()) */
};

static void vms_start(struct bed *b)
{
	struct mig *m = &b->m;

	netbed_enter(&nb, NETBED_SRC);
	test_vm_start(&m->src, vm_args);
	netbed_enter(&nb, NETBED_DST);
	test_vm_start_incoming(&m->dst, vm_args);
	netbed_enter(&nb, NETBED_SRC);
	TEST_ASSERT(test_vm_dirtied_working_set(&m->src),
		    "the source guest never filled its working set");
	snprintf(m->inc_log, sizeof(m->inc_log), "%s/incoming.log", m->dst.dir);
	snprintf(m->mig_log, sizeof(m->mig_log), "%s/migrate.log", m->src.dir);
	b->up = true;
}

/* 0 once its guest ran, 3 while it still waits for a migration */
static void vms_quit(struct bed *b)
{
	int rc = test_vm_quit(&b->m.dst);

	TEST_ASSERT(rc == 0 || rc == 3, "destination exit status %d", rc);
	TEST_ASSERT(test_vm_quit(&b->m.src) == 0, "source exit status");
	b->up = false;
}

/* kvmig incoming in the destination's namespace, on its veth address */
static void incoming_start(struct bed *b)
{
	static const char prefix[] = "tcp:" NETBED_DST_ADDR ":";
	struct mig *m = &b->m;
	char line[64];
	const char *argv[] = {
		test_bin("kvmig"), "incoming", "--vm", m->dst.sock, "--listen",
		"tcp:" NETBED_DST_ADDR ":0", "--timeout", TIMEOUT_S, "--quiet", NULL,
	};

	argv[0] = strdup(argv[0]);
	netbed_enter(&nb, NETBED_DST);
	m->inc = test_spawn_ready(argv, m->inc_log, line, sizeof(line));
	netbed_enter(&nb, NETBED_SRC);
	free((void *)argv[0]);
	TEST_ASSERT(!strncmp(line, prefix, sizeof(prefix) - 1) &&
		    strlen(line + sizeof(prefix) - 1) < sizeof(m->port),
		    "kvmig incoming announced '%s'", line);
	strcpy(m->port, line + sizeof(prefix) - 1);
}

static void migrate_start(struct bed *b, const char *timeout, const char *passes)
{
	char to[64];
	const char *argv[] = {
		test_bin("kvmig"), "migrate", "--vm", b->m.src.sock, "--to", to,
		"--json", "--timeout", timeout, "--verify", "--max-iterations", passes,
		"--downtime-limit", "1", "--keep-vm", NULL,
	};

	snprintf(to, sizeof(to), "tcp:" NETBED_DST_ADDR ":%s", b->m.port);
	argv[0] = strdup(argv[0]);
	b->t0 = test_now_ns();
	b->mig = test_spawn(argv, b->m.mig_log);
	free((void *)argv[0]);
}

static json_t *migrate_end(struct bed *b, int *rc)
{
	json_error_t jerr;
	const char *text;
	json_t *st;

	*rc = test_wait(b->mig, 60);
	text = test_slurp(b->m.mig_log);
	st = json_loads(strchr(text, '{') ?: text, JSON_DISABLE_EOF_CHECK, &jerr);
	TEST_ASSERT(st, "kvmig migrate (exit %d) printed no JSON: %s", *rc, text);
	return st;
}

static unsigned int ms_since(uint64_t t0)
{
	return (unsigned int)((test_now_ns() - t0) / 1000000);
}

static bool vm_paused(struct test_vm *vm)
{
	return !strcmp(test_vm_status(vm), "paused");
}

/* query-migrate of the source VMM: its status and the passes done */
static const char *src_status(struct bed *b, int64_t *passes)
{
	static char buf[32];
	json_t *q = test_vm_cmd(&b->m.src, "query-migrate");
	json_t *it = json_object_get(json_object_get(q, "ram"), "iterations");

	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_object_get(q, "status")) ?: "none");
	*passes = json_is_integer(it) ? json_integer_value(it) : -1;
	json_decref(q);
	return buf;
}

/* kvmig migrate has exited (it stays a zombie for migrate_end()) */
static bool migrate_ended(struct bed *b)
{
	siginfo_t si = { 0 };

	TEST_ASSERT(!waitid(P_PID, (id_t)b->mig, &si, WEXITED | WNOHANG | WNOWAIT),
		    "waitid kvmig migrate");
	return si.si_pid == b->mig;
}

static void freeze(struct test_vm *vm, bool on)
{
	TEST_ASSERT(!kill(vm->pid, on ? SIGSTOP : SIGCONT), "%s %d",
		    on ? "SIGSTOP" : "SIGCONT", vm->pid);
}

/* Bytes sent by the source's end of the link so far (its namespace's view). */
static uint64_t src_tx_bytes(void)
{
	const char *dev = test_slurp("/proc/thread-self/net/dev");
	const char *l = strstr(dev, "kvmig0:");
	unsigned long long v[9];

	TEST_ASSERT(l && sscanf(l + 7, "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
				&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
				&v[7], &v[8]) == 9, "kvmig0 in /proc/net/dev");
	return v[8];
}

/* Until the source has sent nothing for 300 ms (or its helper ended). */
static bool src_link_quiet(struct bed *b)
{
	uint64_t last = src_tx_bytes(), t = test_now_ns();

	while (!migrate_ended(b)) {
		uint64_t now = src_tx_bytes();

		if (now != last) {
			last = now;
			t = test_now_ns();
		} else if (test_now_ns() - t > 300000000ULL) {
			return true;
		}
		msleep(10);
	}
	return false;
}

static bool wait_status(struct bed *b, const char *status)
{
	int64_t passes;

	while (!migrate_ended(b))
		if (!strcmp(src_status(b, &passes), status))
			return true;
	return false;
}

/*
 * The commit, cut at an exact point.  The destination VMM is frozen
 * (SIGSTOP) from the switchover on, so its helper holds COMPLETE back at
 * set-device-state; once the source has sent everything (its link
 * quiet), it waits for COMPLETE, which needs nothing of its own VMM: that
 * VMM is frozen next, so the source helper will stop right after COMPLETE,
 * at publishing "committing", before GO.  The destination is thawed and
 * answers COMPLETE.  Then:
 *   GO_LOST: cut, thaw the source: GO goes into the cut link;
 *   STARTED_LOST: freeze the destination VMM again, thaw the source: GO
 *   arrives and the destination helper stops at "cont"; cut, thaw it: the
 *   guest starts there, and STARTED goes into the cut link.
 * Each freeze lasts a few hundred ms, well inside the timeout.
 */
static bool commit_cut(struct bed *b, enum trigger t)
{
	struct mig *m = &b->m;

	while (!migrate_ended(b) && !vm_paused(&m->src))
		msleep(2);
	freeze(&m->dst, true);
	if (!src_link_quiet(b)) {
		freeze(&m->dst, false);
		return false;
	}
	freeze(&m->src, true);
	freeze(&m->dst, false);
	msleep(200);			/* COMPLETE arrives */
	if (t == GO_LOST) {
		netbed_link(&nb, false);
		freeze(&m->src, false);
		return true;
	}
	freeze(&m->dst, true);
	freeze(&m->src, false);
	if (!wait_status(b, "committing")) {
		freeze(&m->dst, false);
		return false;
	}
	msleep(200);			/* GO arrives; the helper waits on "cont" */
	netbed_link(&nb, false);
	freeze(&m->dst, false);
	return true;
}

/*
 * Wait for @c's moment and cut the link; returns the phase in which the
 * source stood then, as its VMM shows it (setup is settled later, from the
 * setup time kvmig migrate reports), or PH_AFTER if it had ended.
 */
static enum phase cut_link(struct bed *b, const struct cut *c)
{
	bool ended = false;
	int64_t passes;
	const char *st;

	switch (c->trigger) {
	case AT_MS:
		while (ms_since(b->t0) < c->ms)
			;
		break;
	case IN_PASS:
		/* the helper publishes about every 100 ms, and at each pass' end */
		while (!(ended = migrate_ended(b)) &&
		       !(!strcmp(src_status(b, &passes), "active") &&
			 passes >= c->pass))
			msleep(1);
		msleep(c->ms);
		break;
	case IN_SWITCHOVER:
		while (!(ended = migrate_ended(b)) && !vm_paused(&b->m.src))
			msleep(1);
		msleep(c->ms);
		break;
	case AT_COMMITTING:
		ended = !wait_status(b, "committing");
		break;
	case GO_LOST:
	case STARTED_LOST:
		if (!commit_cut(b, c->trigger))
			return PH_AFTER;
		return PH_COMMIT;
	}
	if (ended || migrate_ended(b))
		return PH_AFTER;
	netbed_link(&nb, false);
	st = src_status(b, &passes);
	if (!strcmp(st, "committing"))
		return PH_COMMIT;
	if (!strcmp(st, "completed"))
		return PH_AFTER;
	if (vm_paused(&b->m.src))
		return PH_SWITCHOVER;
	if (strcmp(st, "active") || passes < 0)
		return PH_SETUP;
	return passes >= 2 ? PH_PASS2 : (enum phase)(PH_PASS0 + passes);
}

static bool self_check_clean(struct test_vm *vm, const char *side)
{
	json_t *g = test_vm_cmd(vm, "guest-check"), *v = test_vm_cmd(vm, "verify");
	bool ok = json_path_int(g, "bad") == 0 && json_path_int(v, "bad") == 0;

	if (!ok)
		ksft_print_msg("%s: guest-check %s, verify %s\n", side, json_text(g),
			       json_text(v));
	json_decref(g);
	json_decref(v);
	return ok;
}

static bool runs(struct test_vm *vm)
{
	return !strcmp(test_vm_status(vm), "running") &&
	       test_vm_progresses(vm, test_pages_written(vm));
}

/* What the operator runs to resume the source: kvmig vm --vm SOCK cont */
static bool operator_resumes(struct test_vm *src)
{
	const char *argv[] = { test_bin("kvmig"), "vm", "--vm", src->sock, "cont",
			       NULL };
	char text[512];
	bool ok;

	argv[0] = strdup(argv[0]);
	ok = test_run(argv, text, sizeof(text)) == 0;
	free((void *)argv[0]);
	if (!ok)
		ksft_print_msg("kvmig vm cont: %s\n", text);
	return ok;
}

/*
 * After the fault: exactly one copy runs, and it proves its memory.  An
 * outcome unknown to the source is settled the way design.rst tells the
 * operator to: the destination's helper has ended (test_wait() above);
 * if its VMM runs the guest, the guest lives there; if it still waits for
 * a migration, the guest never started there and never will from this
 * stream, so the source is resumed (kvmig vm ... cont).
 */
static bool judge(struct bed *b, const char *name, json_t *st, int rc, int inc_rc,
		  enum outcome *out)
{
	struct mig *m = &b->m;
	const char *status = json_string_value(json_object_get(st, "status")) ?: "?";
	const char *err = json_string_value(json_object_get(st, "error-desc")) ?: "";
	bool src_running = !strcmp(test_vm_status(&m->src), "running");
	bool dst_running = !strcmp(test_vm_status(&m->dst), "running");

	ksft_print_msg("%s: exit %d, %s, '%s'; incoming exit %d; source %s, "
		       "destination %s\n", name, rc, status, err, inc_rc,
		       src_running ? "running" : "paused",
		       dst_running ? "running" : test_vm_status(&m->dst));
	if (src_running && dst_running)
		return false;		/* both: the one thing never allowed */
	if (rc == 0 && !strcmp(status, "completed")) {
		*out = DEST_RUNS;
		return inc_rc == 0 && !src_running && runs(&m->dst) &&
		       json_path_int(st, "verify.mismatches") == 0 &&
		       json_path_int(st, "verify.pages") ==
		       json_path_int(st, "ram.total") / 4096 &&
		       self_check_clean(&m->dst, "destination");
	}
	if (strstr(err, "outcome unknown")) {
		if (src_running)
			return false;	/* the source must not resume by itself */
		if (dst_running) {
			*out = UNKNOWN_DEST_RUNS;
			return inc_rc == 0 && runs(&m->dst) &&
			       self_check_clean(&m->dst, "destination");
		}
		*out = UNKNOWN_NEITHER;
		if (inc_rc == 0 || !test_vm_waits_incoming(&m->dst))
			return false;
		return operator_resumes(&m->src) && runs(&m->src) &&
		       self_check_clean(&m->src, "source") &&
		       test_vm_waits_incoming(&m->dst);
	}
	*out = SOURCE_RUNS;
	return rc == 1 && !strcmp(status, "failed") && inc_rc != 0 && src_running &&
	       runs(&m->src) && self_check_clean(&m->src, "source") &&
	       test_vm_waits_incoming(&m->dst);
}

static const char *const outcome_name[] = {
	[SOURCE_RUNS] = "failed, the source runs on",
	[DEST_RUNS] = "completed, the destination runs it",
	[UNKNOWN_DEST_RUNS] = "outcome unknown, the destination runs it",
	[UNKNOWN_NEITHER] = "outcome unknown, GO never arrived: the source resumed",
};
static unsigned int outcomes[4];

/* One migration with the link cut per @c; one TAP result. */
static void run_cut(struct bed *b, unsigned int n, const struct cut *c)
{
	static const char *const trig[] = {
		[AT_MS] = "ms after the start", [IN_PASS] = "ms into pass",
		[IN_SWITCHOVER] = "ms into the switchover",
		[AT_COMMITTING] = "at \"committing\"", [GO_LOST] = "GO lost",
		[STARTED_LOST] = "STARTED lost",
	};
	bool commit = c->trigger == GO_LOST || c->trigger == STARTED_LOST;
	enum outcome out = SOURCE_RUNS;
	char name[160], down[32];
	enum phase ph;
	unsigned int t_cut;
	int rc, inc_rc;
	json_t *st;
	bool ok;

	if (!b->up)
		vms_start(b);
	incoming_start(b);
	migrate_start(b, commit ? "3" : TIMEOUT_S, "3");
	ph = cut_link(b, c);
	t_cut = ms_since(b->t0);
	if (c->down_ms) {
		msleep(c->down_ms);
		netbed_link(&nb, true);
	}
	st = migrate_end(b, &rc);
	inc_rc = test_wait(b->m.inc, 60);
	if (!c->down_ms)
		netbed_link(&nb, true);
	if (ph == PH_SETUP || ph == PH_PASS0) {
		/* setup ended at the helper's setup-time, after our t0 */
		json_int_t s = json_integer_value(json_object_get(st, "setup-time"));

		ph = !s || t_cut < s ? PH_SETUP : PH_PASS0;
	}
	landed[ph]++;
	if (c->down_ms)
		snprintf(down, sizeof(down), "%u ms", c->down_ms);
	else
		snprintf(down, sizeof(down), "past the timeouts");
	if (c->trigger == IN_PASS)
		snprintf(name, sizeof(name), "cut %u (%u %s %u, down %s) in %s", n,
			 c->ms, trig[c->trigger], c->pass, down, phase_name[ph]);
	else if (c->trigger == AT_MS || c->trigger == IN_SWITCHOVER)
		snprintf(name, sizeof(name), "cut %u (%u %s, down %s) in %s", n, c->ms,
			 trig[c->trigger], down, phase_name[ph]);
	else if (c->down_ms)	/* the link back in time: GO or STARTED late */
		snprintf(name, sizeof(name), "cut %u (%s late: down %s) in %s", n,
			 c->trigger == GO_LOST ? "GO" : "STARTED", down,
			 phase_name[ph]);
	else
		snprintf(name, sizeof(name), "cut %u (%s) in %s", n, trig[c->trigger],
			 phase_name[ph]);
	ok = judge(b, name, st, rc, inc_rc, &out);
	outcomes[out]++;
	ksft_test_result(ok, "%s: %s; exactly one copy runs", name, outcome_name[out]);
	json_decref(st);
	if (out == DEST_RUNS || out == UNKNOWN_DEST_RUNS || !ok)
		vms_quit(b);
}

/*
 * A link that is lossy, slow, or whose peer stops for a while (SIGSTOP of
 * kvmig incoming for @peer_stop_ms, below the timeout): the migration
 * must complete, verified.
 */
static void run_degraded(struct bed *b, const char *name, uint64_t rate,
			 unsigned int loss, unsigned int peer_stop_ms,
			 const char *passes)
{
	enum outcome out = SOURCE_RUNS;
	int rc, inc_rc;
	json_t *st;
	bool ok;

	if (!b->up)
		vms_start(b);
	netbed_shape(&nb, rate, loss);
	incoming_start(b);
	migrate_start(b, TIMEOUT_S, passes);
	if (peer_stop_ms) {
		while (!migrate_ended(b) && !test_migration_moved(&b->m.src, "ram.normal"))
			msleep(5);
		kill(b->m.inc, SIGSTOP);
		msleep(peer_stop_ms);
		kill(b->m.inc, SIGCONT);
	}
	st = migrate_end(b, &rc);
	inc_rc = test_wait(b->m.inc, 60);
	netbed_shape(&nb, LINK_RATE, 0);
	ok = judge(b, name, st, rc, inc_rc, &out);
	ksft_test_result(ok && out == DEST_RUNS, "%s: completed in %lld ms, "
			 "verified, the destination runs it", name,
			 (long long)json_integer_value(json_object_get(st, "total-time")));
	json_decref(st);
	vms_quit(b);
}

/* The bed itself: what it lets through, cut, restored, and with loss. */
static void check_bed(void)
{
	unsigned int n = 2000, clean, lossy, cut, back;

	netbed_shape(&nb, 0, 0);
	clean = netbed_udp_through(&nb, n);
	netbed_shape(&nb, 0, 500);
	lossy = netbed_udp_through(&nb, n);
	netbed_shape(&nb, LINK_RATE, 0);
	netbed_link(&nb, false);
	cut = netbed_udp_through(&nb, 200);
	netbed_link(&nb, true);
	back = netbed_udp_through(&nb, n);
	ksft_print_msg("link: %u of %u datagrams through, %u with 5 %% loss, "
		       "%u of 200 cut, %u of %u restored at 6 MiB/s\n", clean, n, lossy,
		       cut, back, n);
	ksft_test_result(clean == n && back == n && cut == 0,
			 "the veth link carries everything, nothing once cut, "
			 "everything again once restored");
	/* 5 % of 2000: 100, sigma ~10 */
	ksft_test_result(lossy >= n - 150 && lossy <= n - 50,
			 "the cls_bpf loss filter drops 5 %% (%u of %u dropped)",
			 n - lossy, n);
}

/* Every cut point of make faults; make check takes those marked short. */
static const struct {
	struct cut c;
	bool in_check;
} cuts[] = {
	/* setup: connect, HELLO, channels, dirty logging */
	{ { AT_MS, 0, 0, 0 }, false },
	{ { AT_MS, 0, 1, 0 }, false },
	{ { AT_MS, 0, 2, 0 }, true },
	{ { AT_MS, 0, 3, 0 }, false },
	{ { AT_MS, 0, 4, 0 }, false },
	{ { AT_MS, 0, 6, 0 }, false },
	{ { AT_MS, 0, 8, 0 }, false },
	{ { AT_MS, 0, 12, 0 }, false },
	{ { AT_MS, 0, 16, 0 }, false },
	{ { AT_MS, 0, 24, 0 }, false },
	/* the passes, each about a second long */
	{ { IN_PASS, 0, 0, 0 }, false },
	{ { IN_PASS, 0, 100, 0 }, false },
	{ { IN_PASS, 0, 250, 0 }, true },
	{ { IN_PASS, 0, 400, 0 }, false },
	{ { IN_PASS, 0, 600, 0 }, false },
	{ { IN_PASS, 0, 800, 0 }, false },
	{ { IN_PASS, 1, 0, 0 }, false },
	{ { IN_PASS, 1, 100, 0 }, false },
	{ { IN_PASS, 1, 250, 0 }, true },
	{ { IN_PASS, 1, 400, 0 }, false },
	{ { IN_PASS, 1, 600, 0 }, false },
	{ { IN_PASS, 1, 800, 0 }, false },
	{ { IN_PASS, 2, 0, 0 }, false },
	{ { IN_PASS, 2, 100, 0 }, false },
	{ { IN_PASS, 2, 250, 0 }, true },
	{ { IN_PASS, 2, 400, 0 }, false },
	{ { IN_PASS, 2, 600, 0 }, false },
	{ { IN_PASS, 2, 800, 0 }, false },
	/* the switchover: last sync, last pass, device state, hashes, END */
	{ { IN_SWITCHOVER, 0, 0, 0 }, false },
	{ { IN_SWITCHOVER, 0, 50, 0 }, false },
	{ { IN_SWITCHOVER, 0, 100, 0 }, false },
	{ { IN_SWITCHOVER, 0, 200, 0 }, true },
	{ { IN_SWITCHOVER, 0, 300, 0 }, false },
	{ { IN_SWITCHOVER, 0, 400, 0 }, false },
	{ { IN_SWITCHOVER, 0, 500, 0 }, false },
	{ { IN_SWITCHOVER, 0, 600, 0 }, true },
	{ { IN_SWITCHOVER, 0, 700, 0 }, false },
	{ { IN_SWITCHOVER, 0, 800, 0 }, false },
	{ { IN_SWITCHOVER, 0, 1000, 0 }, false },
	{ { IN_SWITCHOVER, 0, 1200, 0 }, false },
	/* the commit */
	{ { AT_COMMITTING, 0, 0, 0 }, true },
	{ { AT_COMMITTING, 0, 0, 0 }, false },
	{ { GO_LOST, 0, 0, 0 }, true },
	{ { GO_LOST, 0, 0, 0 }, false },
	{ { GO_LOST, 0, 0, 0 }, false },
	{ { STARTED_LOST, 0, 0, 0 }, true },
	{ { STARTED_LOST, 0, 0, 0 }, false },
	{ { STARTED_LOST, 0, 0, 0 }, false },
	/* brief cuts, which TCP rides out within the timeouts */
	{ { AT_MS, 0, 2, 500 }, false },
	{ { IN_PASS, 0, 300, 500 }, false },
	{ { IN_PASS, 1, 300, 500 }, true },
	{ { IN_PASS, 2, 300, 500 }, false },
	{ { IN_SWITCHOVER, 0, 200, 500 }, false },
	{ { IN_SWITCHOVER, 0, 600, 500 }, false },
	{ { GO_LOST, 0, 0, 500 }, false },	/* GO late, not lost */
	{ { STARTED_LOST, 0, 0, 500 }, false },	/* STARTED late */
	/* a long stall: the link down for three times the timeout */
	{ { IN_PASS, 1, 300, 3 * TIMEOUT_MS }, true },
	{ { IN_SWITCHOVER, 0, 300, 3 * TIMEOUT_MS }, false },
};

int main(int argc, char **argv)
{
	const char *env = getenv("KVMIG_FAULTS");
	bool full = (env && !strcmp(env, "full")) ||
		    (argc == 2 && !strcmp(argv[1], "--full"));
	unsigned int i, n = 0, nr = 0;
	struct bed b = { 0 };
	uint64_t t0 = test_now_ns();
	char why[128];
	int r;

	TEST_ASSERT(argc == 1 || full, "usage: test_faults [--full]");
	ksft_print_header();
	test_require_kvm();
	r = netbed_setup(&nb, why, sizeof(why));
	if (r)
		ksft_exit_skip("no network namespaces here (%s): the link faults "
			       "cannot be tested", why);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		nr += full || cuts[i].in_check;
	ksft_set_plan(2 + nr + (full ? 4 + 1 : 1));
	check_bed();
	netbed_shape(&nb, LINK_RATE, 0);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		if (full || cuts[i].in_check)
			run_cut(&b, ++n, &cuts[i].c);
	run_degraded(&b, "3 % loss each way", LINK_RATE, 300, 0, "3");
	if (full) {
		run_degraded(&b, "1 % loss each way", LINK_RATE, 100, 0, "3");
		run_degraded(&b, "a slow link, 2 MiB/s", 2ULL << 20, 0, 0, "1");
		run_degraded(&b, "a slow peer, stopped for 1 s", LINK_RATE, 0, 1000, "3");
	}
	if (b.up)
		vms_quit(&b);
	netbed_teardown(&nb);
	for (i = 0; i < PH_NR; i++)
		ksft_print_msg("cuts landed in %s: %u\n", phase_name[i], landed[i]);
	for (i = 0; i < 4; i++)
		ksft_print_msg("outcome %s: %u\n", outcome_name[i], outcomes[i]);
	/* the subset's few points may drift into a neighbouring phase on a
	 * loaded machine: only the full set must cover every phase */
	if (full)
		ksft_test_result(landed[PH_SETUP] && landed[PH_PASS0] &&
				 landed[PH_PASS1] && landed[PH_PASS2] &&
				 landed[PH_SWITCHOVER] && landed[PH_COMMIT],
				 "cuts landed in setup, every pass, the switchover and "
				 "the commit");
	ksft_print_msg("%u s in all\n",
		       (unsigned int)((test_now_ns() - t0) / 1000000000));
	ksft_finished();
}
