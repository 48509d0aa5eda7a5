// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU threads.  Each runs KVM_RUN in a loop and handles the exits the
 * guest code makes (port IO, hlt).  Pause/resume/quit are requested under
 * vm->lock; a vCPU in KVM_RUN is kicked out with run->immediate_exit and
 * SIGUSR1 (the signal interrupts KVM_RUN, immediate_exit covers the race
 * where it arrives just before the thread enters it).
 *
 *          cpu_pause_all()                 cpu_resume_all()
 *  running ───────────────► want_pause ──────────────────────► running
 *                  kick, wait for every cpu->paused    broadcast
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Record the first fatal vCPU error; the main loop reports it and exits.
 * Here, beside its callers, rather than in main.c, so that the VMM's code
 * links without main() (the control fuzzer, selftests/fuzz).
 */
void vm_fail(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	pthread_mutex_lock(&vm->lock);
	if (!vm->failure && msg) {
		vm->failure = msg;
		msg = NULL;
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	free(msg);
}

/* This thread's kvm_run, for the SIGUSR1 handler; vCPU threads only. */
static __thread struct kvm_run *cpu_self_run;

/*
 * A kick (cpu_kick()) sets immediate_exit itself; the CPU throttle's slice
 * timer (throttle.c) has only this signal, so the handler sets it too: a
 * timer that fires just before KVM_RUN then still ends the slice.
 */
static void sigusr1_handler(int sig)
{
	struct kvm_run *run = cpu_self_run;

	(void)sig;
	if (run)
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

/* Exit counters are read by the control thread while the vCPU runs. */
static inline void cpu_count(struct cpu *c, enum cpu_exit_kind k)
{
	__atomic_fetch_add(&c->exits[k], 1, __ATOMIC_RELAXED);
}

void cpu_kick(struct cpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	/* a nap between KVM_RUNs (throttle.c) ends too */
	pthread_mutex_lock(&c->nap_lock);
	c->nap_wake = true;
	pthread_cond_signal(&c->nap_cond);
	pthread_mutex_unlock(&c->nap_lock);
	pthread_kill(c->thread, SIGUSR1);
}

/*
 * Nap up to @ns between KVM_RUNs, unless kicked: true if a kick ended it.
 * cpu_wait_runnable() clears nap_wake before it looks at the run state,
 * so a kick that comes after that look ends the nap, and one before it
 * found the state it asks about already set.
 */
bool cpu_nap(struct cpu *c, uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	struct timespec ts = {
		.tv_sec = (time_t)(end / 1000000000ULL),
		.tv_nsec = (long)(end % 1000000000ULL),
	};
	bool woken;

	pthread_mutex_lock(&c->nap_lock);
	while (!c->nap_wake &&
	       pthread_cond_timedwait(&c->nap_cond, &c->nap_lock, &ts) != ETIMEDOUT)
		;
	woken = c->nap_wake;
	c->nap_wake = false;
	pthread_mutex_unlock(&c->nap_lock);
	return woken;
}

/*
 * Long mode, paging on, and the guest code entered at CPL 3 with IOPL 3 so
 * that its port IO still exits to us.  Why not CPL 0: some KVM backends
 * (PVM, which runs guests without VMX/SVM and is what this project's own
 * machines have) run unmodified supervisor code through the instruction
 * emulator, slowly, but user-mode code natively.  On VMX/SVM both run
 * natively, so CPL 3 costs nothing there; the guest needs no interrupts, no
 * privileged instructions (it naps through GUEST_PORT_SLEEP, not hlt);
 * its IDT and per-vCPU TSS only serve to report an exception
 * (GUEST_PORT_EXCEPTION, cpu_exception()).
 */
static int cpu_setup_regs(struct cpu *c)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x1b, .type = 11,
		.present = 1, .dpl = 3, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x23, .type = 3,
		.present = 1, .dpl = 3, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment tr = {
		.base = GUEST_TSS_GPA + c->id * GUEST_TSS_SIZE, .limit = GUEST_TSS_SIZE - 1,
		.selector = GUEST_TSS_SEL(c->id), .type = 11, .present = 1,
	};

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tr;
	sregs.gdt.base = GUEST_GDT_GPA;
	sregs.gdt.limit = GUEST_GDT_ENTRIES * 8 - 1;
	sregs.idt.base = GUEST_IDT_GPA;
	sregs.idt.limit = GUEST_IDT_VECTORS * 16 - 1;
	sregs.cr3 = GUEST_PML4_GPA;
	sregs.cr4 = 0x20 | 0x200 | 0x400;		/* PAE | OSFXSR | OSXMMEXCPT */
	sregs.cr0 = 0x80050033;				/* PG|AM|WP|NE|ET|MP|PE */
	sregs.efer = 0x500;				/* LMA | LME */
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs))
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x3002;				/* IOPL 3 */
	regs.rip = GUEST_CODE_GPA;			/* guest_main */
	regs.rdi = c->id;
	regs.rsp = GUEST_STACK_GPA + (c->id + 1) * GUEST_STACK_SIZE;
	if (ioctl(c->fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

static int cpu_setup_cpuid(struct vm *vm, struct cpu *c)
{
	struct kvm_cpuid2 *cpuid;
	int n = 128, r = 0;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = n;
		if (!ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		r = -errno;
		free(cpuid);
		if (r != -E2BIG || n >= 4096)
			return r;
		n *= 2;
	}
	r = ioctl(c->fd, KVM_SET_CPUID2, cpuid) ? -errno : 0;
	free(cpuid);
	return r;
}

static void cpu_complete_io(struct cpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(c->fd, KVM_RUN, 0) == 0)	/* cannot happen: EINTR */
		vm_fail(c->vm, "vcpu %u: KVM_RUN ran despite immediate_exit", c->id);
	__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	c->io_completed = true;
}

/* Returns true when the thread should leave the loop. */
static bool cpu_wait_runnable(struct cpu *c)
{
	struct vm *vm = c->vm;
	bool quit;

	/* before looking at the state: see cpu_nap() */
	pthread_mutex_lock(&c->nap_lock);
	c->nap_wake = false;
	pthread_mutex_unlock(&c->nap_lock);
	pthread_mutex_lock(&vm->lock);
	if (c->kick_ack != vm->kick_seq) {
		c->kick_ack = vm->kick_seq;
		pthread_cond_broadcast(&vm->cond);
	}
	throttle_apply(c);
	while (vm->want_pause && !vm->want_quit) {
		/* a pause inside an IO round trip is not IO latency */
		if (c->io_exit)
			c->io_tainted = true;
		if (!c->paused && !c->io_completed) {
			/*
			 * Finish the exit we just handled before parking: KVM
			 * advances RIP past an OUT only on the next KVM_RUN, so
			 * a state saved now would replay the OUT elsewhere.
			 * KVM_RUN with immediate_exit completes it and returns
			 * without entering the guest.
			 */
			pthread_mutex_unlock(&vm->lock);
			cpu_complete_io(c);
			pthread_mutex_lock(&vm->lock);
			continue;
		}
		if (!c->paused) {
			c->paused = true;
			c->pace.restart = true;	/* a throttle slice ends */
			pthread_cond_broadcast(&vm->cond);
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
		throttle_apply(c);
	}
	c->paused = false;
	c->io_completed = false;
	quit = vm->want_quit;
	pthread_mutex_unlock(&vm->lock);
	return quit;
}

static void cpu_sleep_us(uint32_t us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000,
		.tv_nsec = (long)(us % 1000000) * 1000,
	};

	/* EINTR (a kick) ends the sleep early: the loop re-checks state. */
	nanosleep(&ts, NULL);
}

/* The guest took exception @vector: say what and where, stop the VM. */
static void cpu_exception(struct cpu *c, uint32_t vector)
{
	static const char *const names[GUEST_IDT_VECTORS] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF",
		"CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC",
		"#MC", "#XM", "#VE", "#CP",
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	const uint64_t *f;

	if (ioctl(c->fd, KVM_GET_REGS, &regs) || ioctl(c->fd, KVM_GET_SREGS, &sregs) ||
	    !(f = vm_gpa_to_hva(c->vm, regs.rsp, 7 * sizeof(uint64_t)))) {
		vm_fail(c->vm, "vcpu %u: guest exception %u (no frame to read)", c->id,
			vector);
		return;
	}
	vm_fail(c->vm, "vcpu %u: guest exception %s (vector %u), error code 0x%llx, "
		"at rip 0x%llx, rsp 0x%llx, rflags 0x%llx, cr2 0x%llx", c->id,
		vector < GUEST_IDT_VECTORS && names[vector] ? names[vector] : "?",
		vector, (unsigned long long)f[1], (unsigned long long)f[2],
		(unsigned long long)f[5], (unsigned long long)f[4],
		(unsigned long long)sregs.cr2);
}

/* Returns 0 to go on, or -errno after reporting a fatal error. */
static int cpu_handle_io(struct cpu *c)
{
	struct kvm_run *run = c->run;
	uint32_t val;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 ||
	    run->io.count != 1) {
		vm_fail(c->vm, "vcpu %u: unexpected port IO: port 0x%x dir %u size %u",
			c->id, run->io.port, run->io.direction, run->io.size);
		return -EIO;
	}
	memcpy(&val, (char *)run + run->io.data_offset, sizeof(val));
	c->io_exit = false;
	switch (run->io.port) {
	case GUEST_PORT_SLEEP:
		cpu_count(c, CPU_EXIT_SLEEP);
		cpu_sleep_us(val);
		return 0;
	case GUEST_PORT_IO:
		cpu_count(c, CPU_EXIT_IO);
		c->io_exit = true;
		throttle_io_exit(c);
		/* @val is the previous round trip's; drop it if we paused in it */
		if (c->io_tainted) {
			c->io_tainted = false;
		} else if (val && c->vm->tsc_khz) {
			pthread_mutex_lock(&c->hist_lock);
			hist_add(&c->io_hist, (uint64_t)val * 1000000 /
				 c->vm->tsc_khz);
			pthread_mutex_unlock(&c->hist_lock);
		}
		return 0;
	case GUEST_PORT_EVENT:
		cpu_count(c, CPU_EXIT_IO);
		throttle_io_exit(c);
		/* GUEST_EVENT_CHECKED: wake cpu_guest_check() */
		pthread_mutex_lock(&c->vm->lock);
		pthread_cond_broadcast(&c->vm->cond);
		pthread_mutex_unlock(&c->vm->lock);
		return 0;
	case GUEST_PORT_PANIC:
		vm_fail(c->vm, "vcpu %u: guest assertion failed at guest.c:%u",
			c->id, val);
		return -EIO;
	case GUEST_PORT_EXCEPTION:
		cpu_exception(c, val);
		return -EIO;
	default:
		vm_fail(c->vm, "vcpu %u: write to unknown port 0x%x", c->id,
			run->io.port);
		return -EIO;
	}
}

static int cpu_ring_full(struct cpu *c)
{
	struct vm *vm = c->vm;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&vm->dirty_lock);
	if (vm->dirty)
		r = kvmig_dirty_ring_full(vm->dirty, c->id);
	pthread_rwlock_unlock(&vm->dirty_lock);
	if (r)
		vm_fail(vm, "vcpu %u: dirty ring full and %s", c->id,
			r == -ENOENT ? "no dirty logging to harvest it" :
			strerror(-r));
	return r;
}

static void cpu_loop(struct cpu *c)
{
	struct kvm_run *run = c->run;

	for (;;) {
		if (cpu_wait_runnable(c))
			break;
		/* a dirty-rate limit or the CPU throttle may want a nap */
		if (throttle_pace(c))
			continue;
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&run->immediate_exit, 0,
						 __ATOMIC_SEQ_CST);
				cpu_count(c, CPU_EXIT_INTR);
				continue;
			}
			vm_fail(c->vm, "vcpu %u: KVM_RUN: %s", c->id,
				strerror(errno));
			break;
		}
		if (run->exit_reason != KVM_EXIT_IO)
			c->io_exit = false;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (cpu_handle_io(c))
				return;
			break;
		case KVM_EXIT_HLT:
			/* idle guest: no interrupts to wait for, nap instead */
			cpu_count(c, CPU_EXIT_HLT);
			cpu_sleep_us(10000);
			break;
		case KVM_EXIT_INTR:
			cpu_count(c, CPU_EXIT_INTR);
			break;
		case KVM_EXIT_DIRTY_RING_FULL:
			/* harvest our ring before the vCPU may go on */
			cpu_count(c, CPU_EXIT_DIRTY_RING_FULL);
			if (cpu_ring_full(c))
				return;
			break;
		case KVM_EXIT_MMIO:
			cpu_count(c, CPU_EXIT_MMIO);
			vm_fail(c->vm, "vcpu %u: MMIO at gpa 0x%llx (outside RAM)",
				c->id, (unsigned long long)run->mmio.phys_addr);
			return;
		case KVM_EXIT_SHUTDOWN:
			vm_fail(c->vm, "vcpu %u: guest triple fault (shutdown)",
				c->id);
			return;
		case KVM_EXIT_FAIL_ENTRY:
			vm_fail(c->vm, "vcpu %u: entry failed, reason 0x%llx",
				c->id, (unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
			return;
		case KVM_EXIT_INTERNAL_ERROR:
			vm_fail(c->vm, "vcpu %u: KVM internal error, suberror %u",
				c->id, run->internal.suberror);
			return;
		default:
			cpu_count(c, CPU_EXIT_OTHER);
			vm_fail(c->vm, "vcpu %u: unhandled exit reason %u", c->id,
				run->exit_reason);
			return;
		}
	}
}

static void *cpu_thread(void *arg)
{
	struct cpu *c = arg;
	sigset_t set;

	cpu_self_run = c->run;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	cpu_loop(c);
	throttle_thread_exit(c);
	return NULL;
}

int cpu_start_all(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };
	pthread_condattr_t ca;
	sigset_t set, old;
	unsigned int i;
	int r, tsc;

	sigaction(SIGUSR1, &sa, NULL);
	vm->cpus = calloc(vm->nr_cpus, sizeof(*vm->cpus));
	if (!vm->cpus)
		return -ENOMEM;
	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];

		c->vm = vm;
		c->id = i;
		c->block = vm_gpa_to_hva(vm, GUEST_VCPU_GPA + i * GUEST_VCPU_SIZE,
					 GUEST_VCPU_SIZE);
		pthread_mutex_init(&c->hist_lock, NULL);
		pthread_mutex_init(&c->nap_lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->nap_cond, &ca);
		pthread_condattr_destroy(&ca);
		c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (c->fd < 0) {
			r = -errno;
			fprintf(stderr, "kvmig-vm: KVM_CREATE_VCPU %u: %s\n", i,
				strerror(errno));
			return r;
		}
		c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED) {
			r = -errno;
			fprintf(stderr, "kvmig-vm: mmap kvm_run of vcpu %u: %s\n",
				i, strerror(errno));
			return r;
		}
		r = cpu_setup_cpuid(vm, c);
		if (!r)
			r = cpu_setup_regs(c);
		if (r) {
			fprintf(stderr, "kvmig-vm: setting up vcpu %u: %s\n", i,
				strerror(-r));
			return r;
		}
	}
	tsc = ioctl(vm->cpus[0].fd, KVM_GET_TSC_KHZ, 0);
	if (tsc <= 0) {
		fprintf(stderr, "kvmig-vm: KVM_GET_TSC_KHZ returned %d: the guest "
			"cannot pace itself without a TSC frequency\n", tsc);
		return -ENOTSUP;
	}
	vm->tsc_khz = (uint64_t)tsc;
	vm_params(vm)->tsc_khz = vm->tsc_khz;
	throttle_setup(vm);

	/* vCPU threads get SIGUSR1 unblocked; everyone else keeps it blocked */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	vm->start_ns = now_ns();
	for (i = 0; i < vm->nr_cpus; i++) {
		r = pthread_create(&vm->cpus[i].thread, NULL, cpu_thread,
				   &vm->cpus[i]);
		if (r) {
			fprintf(stderr, "kvmig-vm: cannot start vcpu thread %u: %s\n",
				i, strerror(r));
			vm->nr_cpus = i;	/* join only what started */
			return -r;
		}
	}
	return 0;
}

/*
 * Kick every vCPU out of KVM_RUN and wait until each is parked (pause) or,
 * with @seq, has also passed the top of its loop since kick @seq.  A vCPU
 * that died with vm->failure set never gets there: stop waiting then.
 */
static void cpu_kick_and_wait(struct vm *vm, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++)
		cpu_kick(&vm->cpus[i]);
	pthread_mutex_lock(&vm->lock);
	for (;;) {
		bool all = true;

		for (i = 0; i < vm->nr_cpus; i++)
			all &= vm->cpus[i].paused ||
			       (seq && vm->cpus[i].kick_ack >= seq);
		if (all || vm->want_quit || vm->failure)
			break;
		pthread_cond_wait(&vm->cond, &vm->lock);
	}
	pthread_mutex_unlock(&vm->lock);
}

/* Stop every vCPU and wait until each is parked outside KVM_RUN. */
void cpu_pause_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->want_pause = true;
	pthread_mutex_unlock(&vm->lock);
	cpu_kick_and_wait(vm, 0);
}

/*
 * Make every vCPU leave KVM_RUN once, and wait until each has come back to
 * the top of its loop (cpu_wait_runnable), which also covers paused vCPUs
 * and those napping in a sleep exit.  The dirty ring backend needs this:
 * KVM may flush a vCPU's hardware dirty log into its ring only on exit.
 */
int cpu_kick_all(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t seq;
	bool failed;

	pthread_mutex_lock(&vm->lock);
	seq = ++vm->kick_seq;
	pthread_mutex_unlock(&vm->lock);
	cpu_kick_and_wait(vm, seq);
	pthread_mutex_lock(&vm->lock);
	failed = vm->failure != NULL;
	pthread_mutex_unlock(&vm->lock);
	return failed ? -EIO : 0;
}

void cpu_resume_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->want_pause = false;
	vm->ever_ran = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

bool vm_is_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->lock);
	p = vm->want_pause;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

void cpu_stop_all(struct vm *vm)
{
	unsigned int i;

	if (!vm->cpus)
		return;
	pthread_mutex_lock(&vm->lock);
	vm->want_quit = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_cpus; i++) {
		if (vm->cpus[i].thread)
			cpu_kick(&vm->cpus[i]);
	}
	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];

		if (c->thread)
			pthread_join(c->thread, NULL);
		if (c->run && c->run != MAP_FAILED)
			munmap(c->run, c->vm->run_size);
		if (c->fd > 0)
			close(c->fd);
		pthread_mutex_destroy(&c->hist_lock);
		pthread_mutex_destroy(&c->nap_lock);
		pthread_cond_destroy(&c->nap_cond);
	}
	throttle_free(vm);
}

static void cpu_post_cmd(struct vm *vm, enum guest_cmd cmd)
{
	unsigned int i;

	for (i = 0; i < vm->nr_cpus; i++) {
		struct guest_vcpu *g = vm->cpus[i].block;

		g->cmd = cmd;
		__atomic_store_n(&g->cmd_seq, g->cmd_seq + 1, __ATOMIC_RELEASE);
	}
}

/*
 * Ask every guest to check its own pages and wait for the answers.  With
 * @paused (the VM is paused), the guests get GUEST_CMD_CHECK_HOLD, run for
 * the check, hold still, are paused again, and are released from the hold
 * for when they next run: nothing but the pages in flight at the original
 * pause changes.  Returns 0, or -ETIMEDOUT if a guest did not answer in 30 s.
 */
int cpu_guest_check(struct vm *vm, bool paused, uint64_t *pages, uint64_t *bad)
{
	uint64_t deadline = now_ns() + 30000000000ULL;
	unsigned int i;
	int r = 0;

	*pages = 0;
	*bad = 0;
	cpu_post_cmd(vm, paused ? GUEST_CMD_CHECK_HOLD : GUEST_CMD_CHECK);
	if (paused)
		cpu_resume_all(vm);
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_cpus; i++) {
		struct guest_vcpu *g = vm->cpus[i].block;

		while (__atomic_load_n(&g->cmd_ack, __ATOMIC_ACQUIRE) !=
		       g->cmd_seq) {
			struct timespec ts;

			if (vm->failure || now_ns() > deadline) {
				r = -ETIMEDOUT;
				goto out;
			}
			/* woken by GUEST_EVENT_CHECKED; poll as a safety net */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		}
		*pages += g->check_pages;
		*bad += g->check_bad;
	}
out:
	pthread_mutex_unlock(&vm->lock);
	if (paused) {
		cpu_pause_all(vm);
		cpu_post_cmd(vm, GUEST_CMD_NONE);	/* end the hold */
	}
	return r;
}
