// SPDX-License-Identifier: GPL-2.0
/*
 * Per-vCPU dirty-rate limits, held by KVM where the kernel has them (the
 * kvmig patch's KVM_SET_DIRTY_RATE_LIMIT, probed at start-up).
 *
 * A limit is a vCPU ioctl, which waits for KVM_RUN to return, so the vCPU's
 * own thread puts it in force: the control thread leaves the wanted limit
 * in the cpu (under vm->lock), kicks the vCPU and waits until its thread,
 * at the top of its loop (cpu_wait_runnable(), also while paused), has
 * called throttle_apply().
 *
 *   control thread                      vCPU thread (vm->lock held)
 *   want = l, want_seq++ ── kick ──►    throttle_apply(): ioctl(want)
 *   wait for done_seq == want_seq ◄──   limit = want, done_seq = want_seq
 *
 * The client that set limits owns them: when it disconnects (a migration
 * helper killed mid-way), control.c removes every limit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vm.h"

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

/* The vCPU thread, with vm->lock held, outside KVM_RUN. */
void throttle_apply(struct cpu *c)
{
	int r;

	if (c->limit_done == c->limit_want_seq)
		return;
	r = kvmig_dirty_limit_set(c->fd, &c->limit_want);
	if (!r)
		c->limit = c->limit_want;
	c->limit_err = r;
	c->limit_done = c->limit_want_seq;
	pthread_cond_broadcast(&c->vm->cond);
}

bool throttle_any(struct vm *vm)
{
	unsigned int i;
	bool any = false;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_cpus; i++)
		any |= vm->cpus[i].limit.bytes_per_sec != 0;
	pthread_mutex_unlock(&vm->lock);
	return any;
}

/*
 * Put @l in force on vCPU @index, or on every vCPU with @index < 0, and
 * wait until it is.  0, or -errno with a sentence in @err.
 */
int throttle_set(struct vm *vm, int index, const struct kvmig_dirty_limit *l,
		 char *err, size_t len)
{
	unsigned int i, first = index < 0 ? 0 : (unsigned int)index;
	unsigned int last = index < 0 ? vm->nr_cpus : first + 1;
	struct timespec ts;
	int r;

	if (index >= 0 && (unsigned int)index >= vm->nr_cpus) {
		snprintf(err, len, "no vCPU %d (the VM has %u)", index, vm->nr_cpus);
		return -EINVAL;
	}
	r = kvmig_dirty_limit_check(l, err, len);
	if (r)
		return r;
	if (vm->limit_flags <= 0) {
		/* without the kernel's limit none can be in force: nothing to remove */
		if (!l->bytes_per_sec)
			return 0;
		snprintf(err, len, "this kernel holds no per-vCPU dirty-rate "
			 "limit (no KVM_CAP_DIRTY_RATE_LIMIT: the kvmig KVM patch "
			 "is not loaded, or kvm.dirty_rate_limit=N)");
		return -EOPNOTSUPP;
	}

	pthread_mutex_lock(&vm->lock);
	for (i = first; i < last; i++) {
		vm->cpus[i].limit_want = *l;
		vm->cpus[i].limit_want.sz = sizeof(vm->cpus[i].limit_want);
		vm->cpus[i].limit_want_seq++;
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
			snprintf(err, len, "vCPU %u did not take the limit in 10 s", i);
		} else if (c->limit_done != c->limit_want_seq) {
			r = -ESHUTDOWN;
			snprintf(err, len, "the VM is stopping");
		} else if (c->limit_err) {
			r = c->limit_err;
			snprintf(err, len, "vCPU %u: KVM_SET_DIRTY_RATE_LIMIT: %s",
				 i, strerror(-r));
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/* One vCPU's limit and the kernel's counters, for query-* and query-stats. */
json_t *throttle_cpu_json(struct cpu *c)
{
	struct kvmig_vcpu_dirty_stats st = { .sz = sizeof(st) };
	struct kvmig_dirty_limit l;
	json_t *o;

	pthread_mutex_lock(&c->vm->lock);
	l = c->limit;
	pthread_mutex_unlock(&c->vm->lock);
	o = json_pack("{sI sI sI sI}",
		      "cpu-index", (json_int_t)c->id,
		      "bytes-per-sec", (json_int_t)l.bytes_per_sec,
		      "burst-bytes", (json_int_t)l.burst_bytes,
		      "io-stall-us", (json_int_t)l.io_stall_max_us);
	if (c->kstats && !kvmig_vcpu_dirty_stats(c->kstats, &st))
		json_object_update_new(o, json_pack(
			"{sI sI sI sI sI}",
			"dirty-bytes", (json_int_t)st.dirty_bytes,
			"stalls", (json_int_t)st.stalls,
			"stall-ns", (json_int_t)st.stall_ns,
			"stall-max-ns", (json_int_t)st.stall_max_ns,
			"io-shortened", (json_int_t)st.io_shortened));
	return o;
}

json_t *throttle_query_json(struct vm *vm)
{
	json_t *cpus = json_array();
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++)
		json_array_append_new(cpus, throttle_cpu_json(&vm->cpus[i]));
	return json_pack("{sb so}", "kernel", vm->limit_flags > 0, "vcpus", cpus);
}
