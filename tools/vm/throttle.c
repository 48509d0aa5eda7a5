// SPDX-License-Identifier: GPL-2.0
/*
 * Slowing individual vCPUs: a per-vCPU dirty-rate limit in bytes per
 * second, held by KVM where the kernel has it (the kvmig patch's
 * KVM_SET_DIRTY_RATE_LIMIT, probed at start-up) or by the VMM itself (the
 * "vmm" mechanism: the vCPU thread charges itself for the entries harvested
 * from its dirty ring and naps between KVM_RUNs while in debt); and a CPU
 * throttle (QEMU's auto-converge: run a slice, sleep a share of it).
 *
 * A kernel limit is a vCPU ioctl, which waits for KVM_RUN to return, and
 * the VMM's pacing state belongs to the vCPU thread, so the vCPU's own
 * thread puts every change in force: the control thread leaves the wanted
 * limit and throttle in the cpu (under vm->lock), kicks the vCPU and waits
 * until its thread, at the top of its loop (cpu_wait_runnable(), also
 * while paused), has called throttle_apply().
 *
 *   control thread                      vCPU thread (vm->lock held)
 *   want = l, want_seq++ ── kick ──►    throttle_apply(): ioctl / bucket
 *   wait for done_seq == want_seq ◄──   limit = want, done_seq = want_seq
 *
 * Then, every time round its loop, the vCPU thread calls throttle_pace()
 * before KVM_RUN:
 *
 *   charge: entries harvested from our ring since last time × 4096 bytes
 *   refill: bytes_per_sec × elapsed, capped at the burst
 *   nap = max(debt / rate, CPU-throttle sleep owed), ≤ 100 ms, ended by a
 *         kick (pause, quit, a new limit, a ring harvest to charge)
 *
 * The granularity of a "vmm" limit is the ring harvest: a vCPU learns what
 * it dirtied only when its ring is harvested (when it fills up, and at each
 * dirty-sync), so it may dirty up to a ring's worth (or a sync period's)
 * before it pays.  QEMU's dirty-limit has the same property.
 *
 * The client that set limits or throttles owns them: when it disconnects
 * (a migration helper killed mid-way), control.c removes them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"

#define PACE_MAX_NAP_NS		100000000ULL	/* one nap at most: 100 ms */
#define PACE_IO_GRACE_NS	2000000ULL	/* "serving IO": an IO exit in 2 ms */
#define PACE_BURST_DIV		10		/* default burst: 100 ms of rate */
#define THROTTLE_SLICE_NS	10000000ULL	/* CPU throttle: 10 ms slices */
#define THROTTLE_MAX_SLICE_NS	(10 * THROTTLE_SLICE_NS)

static const char *const mech_names[] = {
	[LIMIT_NONE] = "none",
	[LIMIT_KERNEL] = "kernel",
	[LIMIT_VMM] = "vmm",
};

/* After the vCPUs exist, before their threads start. */
void throttle_setup(struct vm *vm)
{
	unsigned int i;

	vm->limit_flags = kvmig_dirty_limit_probe(vm->vm_fd);
	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];

		c->limit_want.sz = sizeof(c->limit_want);
		c->limit.sz = sizeof(c->limit);
		/* KVM_GET_STATS_FD waits for KVM_RUN: take it now */
		c->kstats = kvmig_vcpu_stats_open(c->fd);
		if (!c->kstats)
			fprintf(stderr, "kvmig-vm: vcpu %u: no KVM statistics "
				"(KVM_GET_STATS_FD): %s\n", i, strerror(errno));
	}
}

void throttle_free(struct vm *vm)
{
	unsigned int i;

	for (i = 0; vm->cpus && i < vm->nr_cpus; i++) {
		kvmig_vcpu_stats_free(vm->cpus[i].kstats);
		vm->cpus[i].kstats = NULL;
	}
}

bool throttle_has_vmm(const struct vm *vm)
{
	return vm->ring_entries != 0;
}

static uint64_t limit_burst(const struct kvmig_dirty_limit *l)
{
	uint64_t b = l->burst_bytes ? l->burst_bytes :
		     l->bytes_per_sec / PACE_BURST_DIV;

	return b < GUEST_PAGE_SIZE ? GUEST_PAGE_SIZE : b;
}

static void stat_add(uint64_t *ctr, uint64_t v)
{
	__atomic_store_n(ctr, __atomic_load_n(ctr, __ATOMIC_RELAXED) + v,
			 __ATOMIC_RELAXED);
}

/* The CPU throttle's slice timer: SIGUSR1 to this thread, like a kick. */
static int throttle_timer_create(struct cpu *c)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGUSR1,
	};

	if (c->pace.has_timer)
		return 0;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &c->pace.timer))
		return -errno;
	c->pace.has_timer = true;
	return 0;
}

static void throttle_timer_arm(struct cpu *c, uint64_t at_ns)
{
	struct itimerspec its = {
		.it_value = {
			.tv_sec = (time_t)(at_ns / 1000000000ULL),
			.tv_nsec = (long)(at_ns % 1000000000ULL),
		},
	};

	c->pace.armed_ns = at_ns;
	timer_settime(c->pace.timer, TIMER_ABSTIME, &its, NULL);
}

/* The vCPU thread, before it exits: no timer may outlive it. */
void throttle_thread_exit(struct cpu *c)
{
	if (c->pace.has_timer)
		timer_delete(c->pace.timer);
	c->pace.has_timer = false;
}

/* Put a new limit in force; the vCPU thread, vm->lock held. */
static int limit_apply(struct cpu *c)
{
	static const struct kvmig_dirty_limit none = { .sz = sizeof(none) };
	enum limit_mech want = c->limit_want.bytes_per_sec ? c->mech_want :
			       LIMIT_NONE;
	struct pace *p = &c->pace;
	int r;

	c->limit_err_what = "KVM_SET_DIRTY_RATE_LIMIT";
	if (c->mech == LIMIT_KERNEL && want != LIMIT_KERNEL) {
		r = kvmig_dirty_limit_set(c->fd, &none);
		if (r)
			return r;
		c->mech = LIMIT_NONE;
		c->limit = none;
	}
	if (want == LIMIT_KERNEL) {
		r = kvmig_dirty_limit_set(c->fd, &c->limit_want);
		if (r)
			return r;
	}
	if (want == LIMIT_VMM) {
		uint64_t burst = limit_burst(&c->limit_want);

		/*
		 * As KVM does: a new limit starts with a full bucket, a
		 * changed one keeps its tokens (capped at the new burst), so
		 * a limit retuned every tick gives no free bursts.
		 */
		if (c->mech != LIMIT_VMM) {
			p->tokens = (double)burst;
			p->refill_ns = now_ns();
			p->src = NULL;		/* charge from now on */
		} else if (p->tokens > (double)burst) {
			p->tokens = (double)burst;
		}
	}
	c->limit = c->limit_want;
	c->mech = want;
	return 0;
}

static int cpu_throttle_apply(struct cpu *c)
{
	struct pace *p = &c->pace;
	int r;

	c->limit_err_what = "timer_create";
	if (c->throttle_want && !c->throttle_pct) {
		r = throttle_timer_create(c);
		if (r)
			return r;
		p->slice_ns = now_ns();
		p->owed_ns = 0;
		p->armed_ns = 0;
	}
	if (!c->throttle_want && c->throttle_pct) {
		p->owed_ns = 0;
		throttle_timer_arm(c, 0);	/* disarm */
	}
	c->throttle_pct = c->throttle_want;
	return 0;
}

/* The vCPU thread, with vm->lock held, outside KVM_RUN. */
void throttle_apply(struct cpu *c)
{
	int r;

	if (c->limit_done == c->limit_want_seq)
		return;
	r = limit_apply(c);
	if (!r)
		r = cpu_throttle_apply(c);
	c->limit_err = r;
	c->limit_done = c->limit_want_seq;
	pthread_cond_broadcast(&c->vm->cond);
}

/* The vCPU thread: what its ring gave up since last time, in bytes. */
static uint64_t pace_harvested_bytes(struct cpu *c)
{
	struct vm *vm = c->vm;
	struct pace *p = &c->pace;
	uint64_t total, n = 0;

	/* the control thread replaces vm->dirty under the write side */
	pthread_rwlock_rdlock(&vm->dirty_lock);
	if (vm->dirty && !kvmig_dirty_vcpu_harvested(vm->dirty, c->id, &total)) {
		if (p->src != vm->dirty) {
			p->src = vm->dirty;
			p->seen = total;
		}
		n = total - p->seen;
		p->seen = total;
	}
	pthread_rwlock_unlock(&vm->dirty_lock);
	return n * GUEST_PAGE_SIZE;
}

/* The vCPU thread, on an exit for device port IO. */
void throttle_io_exit(struct cpu *c)
{
	if (c->mech == LIMIT_VMM)
		c->pace.io_ns = now_ns();
}

/*
 * The vCPU thread, after cpu_wait_runnable() and before KVM_RUN: charge,
 * and nap while the limit or the CPU throttle says so.  Returns true when
 * the thread should go round its loop again (it napped, or a kick ended
 * the nap) rather than enter the guest; false after a nap cut short
 * because the vCPU serves IO, which must run the guest in between.
 */
bool throttle_pace(struct cpu *c)
{
	struct pace *p = &c->pace;
	uint64_t now, limit_ns = 0, owed, nap, t0, slept;
	bool shortened = false, woken;

	if (c->mech != LIMIT_VMM && !c->throttle_pct)
		return false;
	now = now_ns();
	if (c->mech == LIMIT_VMM) {
		double rate = (double)c->limit.bytes_per_sec;
		double burst = (double)limit_burst(&c->limit);

		p->tokens += rate * (double)(now - p->refill_ns) * 1e-9;
		p->refill_ns = now;
		if (p->tokens > burst)
			p->tokens = burst;
		p->tokens -= (double)pace_harvested_bytes(c);
		if (p->tokens < 0)
			limit_ns = (uint64_t)(-p->tokens * 1e9 / rate) + 1;
		/*
		 * IO-aware, as KVM: a vCPU serving IO naps at most
		 * io-stall-us at a time, unless its debt exceeds one burst
		 * (then it pays as if not IO-aware), so that over any
		 * interval T it dirties at most rate × T + 2 × burst.
		 */
		if (limit_ns && c->limit.io_stall_max_us &&
		    -p->tokens <= burst &&
		    (c->io_exit || now - p->io_ns < PACE_IO_GRACE_NS) &&
		    limit_ns > c->limit.io_stall_max_us * 1000ULL) {
			limit_ns = c->limit.io_stall_max_us * 1000ULL;
			shortened = true;
		}
	}
	if (c->throttle_pct) {
		if (p->restart) {
			p->slice_ns = now;	/* was parked: not running */
			p->restart = false;
		} else if (now - p->slice_ns >= THROTTLE_SLICE_NS) {
			uint64_t ran = now - p->slice_ns;

			/*
			 * A slice takes longer than 10 ms when the timer's
			 * signal or the thread's next turn on a busy host
			 * comes late: that is time out of our control, owed
			 * like the rest.  But no more than 100 ms, so that
			 * an exit handled slowly does not cost seconds.
			 */
			if (ran > THROTTLE_MAX_SLICE_NS)
				ran = THROTTLE_MAX_SLICE_NS;
			p->owed_ns += ran * c->throttle_pct /
				      (100 - c->throttle_pct);
			p->slice_ns = now;
		}
	}
	owed = p->owed_ns;
	nap = limit_ns > owed ? limit_ns : owed;
	if (nap > PACE_MAX_NAP_NS)
		nap = PACE_MAX_NAP_NS;
	if (!nap) {
		/* running: end this slice on time even without exits */
		if (c->throttle_pct && p->armed_ns != p->slice_ns +
						      THROTTLE_SLICE_NS)
			throttle_timer_arm(c, p->slice_ns + THROTTLE_SLICE_NS);
		return false;
	}

	t0 = now_ns();
	woken = cpu_nap(c, nap);
	slept = now_ns() - t0;
	if (limit_ns) {
		uint64_t s = slept < limit_ns ? slept : limit_ns;

		stat_add(&c->pstats.stalls, 1);
		stat_add(&c->pstats.stall_ns, s);
		if (s > __atomic_load_n(&c->pstats.stall_max_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&c->pstats.stall_max_ns, s,
					 __ATOMIC_RELAXED);
		if (shortened)
			stat_add(&c->pstats.io_shortened, 1);
	}
	if (owed) {
		uint64_t s = slept < owed ? slept : owed;

		stat_add(&c->pstats.throttle_ns, s);
		p->owed_ns -= s;
		/* the next slice starts when the sleep owed is slept */
		p->slice_ns = now_ns();
	}
	return woken || !shortened;
}

/*
 * After a dirty-sync harvested every ring: kick the vCPUs under a "vmm"
 * limit so that they charge now, not at their next exit.
 */
void throttle_harvested(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++) {
		bool vmm;

		pthread_mutex_lock(&vm->lock);
		vmm = vm->cpus[i].mech == LIMIT_VMM;
		pthread_mutex_unlock(&vm->lock);
		if (vmm)
			cpu_kick(&vm->cpus[i]);
	}
}

/* Any limit (@limits) or CPU throttle (!@limits) in force? */
bool throttle_any(struct vm *vm, bool limits)
{
	unsigned int i;
	bool any = false;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_cpus; i++)
		any |= limits ? vm->cpus[i].mech != LIMIT_NONE :
			vm->cpus[i].throttle_pct != 0;
	pthread_mutex_unlock(&vm->lock);
	return any;
}

/*
 * Which mechanism holds limit @l asked for by @name ("auto", "kernel",
 * "vmm"; NULL is "auto"), after checking @l's values.  A removal (rate 0)
 * needs none.  0, or -errno with a sentence in @err.
 */
int throttle_limit_mech(struct vm *vm, const char *name,
			const struct kvmig_dirty_limit *l, enum limit_mech *mech,
			char *err, size_t len)
{
	bool kernel = vm->limit_flags > 0, vmm = throttle_has_vmm(vm);
	enum limit_mech m;
	int r;

	if (!name || !strcmp(name, "auto")) {
		m = kernel ? LIMIT_KERNEL : vmm ? LIMIT_VMM : LIMIT_NONE;
	} else if (!strcmp(name, "kernel")) {
		m = LIMIT_KERNEL;
	} else if (!strcmp(name, "vmm")) {
		m = LIMIT_VMM;
	} else {
		snprintf(err, len, "unknown mechanism '%.32s' (auto, kernel, vmm)",
			 name);
		return -EINVAL;
	}
	r = kvmig_dirty_limit_check(l, err, len);
	if (r)
		return r;
	*mech = m;
	if (!l->bytes_per_sec)
		return 0;		/* a removal: whatever holds it */
	if (m == LIMIT_NONE) {
		snprintf(err, len, "no per-vCPU dirty-rate limit here: the kernel "
			 "has none (no KVM_CAP_DIRTY_RATE_LIMIT) and the VM has no "
			 "dirty rings for the VMM's (kvmig-vm --dirty-ring N)");
		return -EOPNOTSUPP;
	}
	if (m == LIMIT_KERNEL && !kernel) {
		snprintf(err, len, "mechanism 'kernel': this kernel holds no "
			 "per-vCPU dirty-rate limit (no KVM_CAP_DIRTY_RATE_LIMIT: "
			 "the kvmig KVM patch is not loaded, or "
			 "kvm.dirty_rate_limit=N)");
		return -EOPNOTSUPP;
	}
	if (m == LIMIT_VMM && !vmm) {
		snprintf(err, len, "mechanism 'vmm': the VM has no dirty rings to "
			 "charge its vCPUs from (kvmig-vm --dirty-ring N)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Put @req in force on vCPU @index, or on every vCPU with @index < 0, and
 * wait until it is.  The caller has checked @req (throttle_limit_mech(),
 * the percentage).  0, or -errno with a sentence in @err.
 */
int throttle_set(struct vm *vm, int index, const struct throttle_req *req,
		 char *err, size_t len)
{
	unsigned int i, first = index < 0 ? 0 : (unsigned int)index;
	unsigned int last = index < 0 ? vm->nr_cpus : first + 1;
	struct timespec ts;
	int r = 0;

	if (index >= 0 && (unsigned int)index >= vm->nr_cpus) {
		snprintf(err, len, "no vCPU %d (the VM has %u)", index, vm->nr_cpus);
		return -EINVAL;
	}
	pthread_mutex_lock(&vm->lock);
	for (i = first; i < last; i++) {
		struct cpu *c = &vm->cpus[i];

		if (req->limit) {
			c->limit_want = req->l;
			c->limit_want.sz = sizeof(c->limit_want);
			c->mech_want = req->mech;
		}
		if (req->throttle)
			c->throttle_want = req->pct;
		c->limit_want_seq++;
	}
	pthread_cond_broadcast(&vm->cond);	/* paused vCPUs apply it too */
	pthread_mutex_unlock(&vm->lock);
	for (i = first; i < last; i++)
		cpu_kick(&vm->cpus[i]);

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&vm->lock);
	for (i = first; i < last && !r; i++) {
		struct cpu *c = &vm->cpus[i];

		while (c->limit_done != c->limit_want_seq && !vm->failure &&
		       !vm->want_quit && !r)
			r = -pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		if (r) {
			snprintf(err, len, "vCPU %u did not take the change in 10 s", i);
		} else if (c->limit_done != c->limit_want_seq) {
			r = -ESHUTDOWN;
			snprintf(err, len, "the VM is stopping");
		} else if (c->limit_err) {
			r = c->limit_err;
			snprintf(err, len, "vCPU %u: %s: %s", i, c->limit_err_what,
				 strerror(-r));
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static uint64_t stat_get(const uint64_t *ctr)
{
	return __atomic_load_n(ctr, __ATOMIC_RELAXED);
}

/*
 * One vCPU's limit, throttle and counters, for query-* and query-stats.
 * The stall counters add KVM's to the VMM's: a vCPU is held by one
 * mechanism at a time, and both only grow.
 */
json_t *throttle_cpu_json(struct cpu *c)
{
	struct kvmig_vcpu_dirty_stats st = { .sz = sizeof(st) };
	struct vm *vm = c->vm;
	struct kvmig_dirty_limit l;
	enum limit_mech mech;
	unsigned int pct;
	uint64_t max, harvested;

	pthread_mutex_lock(&vm->lock);
	l = c->limit;
	mech = c->mech;
	pct = c->throttle_pct;
	pthread_mutex_unlock(&vm->lock);
	if (!c->kstats || kvmig_vcpu_dirty_stats(c->kstats, &st))
		memset(&st, 0, sizeof(st));
	/* without the kernel's count: what the ring gave up (control thread) */
	if (vm->limit_flags <= 0)
		st.dirty_bytes = vm->dirty && !kvmig_dirty_vcpu_harvested(
				 vm->dirty, c->id, &harvested) ?
				 harvested * GUEST_PAGE_SIZE : 0;
	max = stat_get(&c->pstats.stall_max_ns);
	return json_pack("{sI ss sI sI sI sI sI sI sI sI sI sI}",
			 "cpu-index", (json_int_t)c->id,
			 "mechanism", mech_names[mech],
			 "bytes-per-sec", (json_int_t)l.bytes_per_sec,
			 "burst-bytes", (json_int_t)l.burst_bytes,
			 "io-stall-us", (json_int_t)l.io_stall_max_us,
			 "dirty-bytes", (json_int_t)st.dirty_bytes,
			 "stalls", (json_int_t)(st.stalls + stat_get(&c->pstats.stalls)),
			 "stall-ns", (json_int_t)(st.stall_ns +
						  stat_get(&c->pstats.stall_ns)),
			 "stall-max-ns", (json_int_t)(st.stall_max_ns > max ?
						      st.stall_max_ns : max),
			 "io-shortened", (json_int_t)(st.io_shortened +
						      stat_get(&c->pstats.io_shortened)),
			 "throttle-percentage", (json_int_t)pct,
			 "throttle-ns", (json_int_t)stat_get(&c->pstats.throttle_ns));
}

json_t *throttle_query_json(struct vm *vm)
{
	json_t *cpus = json_array();
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++)
		json_array_append_new(cpus, throttle_cpu_json(&vm->cpus[i]));
	return json_pack("{sb s{sb sb sb} so}", "kernel", vm->limit_flags > 0,
			 "mechanisms", "kernel", vm->limit_flags > 0,
			 "vmm", throttle_has_vmm(vm), "cpu", true,
			 "vcpus", cpus);
}
