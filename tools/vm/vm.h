/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmig-vm: the reference VMM.  One file per concern, as in kvmtool:
 *   kvm.c              /dev/kvm, capabilities, the VM, memfd RAM and memslots
 *   cpu.c              vCPU threads: the KVM_RUN loop, pause/resume
 *   workload.c         workload specs from the command line into guest memory
 *   verify.c           host-side check of the guest's stamped pages
 *   control.c          the JSON control socket: clients, the command table
 *   control.h          what the control*.c files share (internal)
 *   control_vm.c       run state, guest memory and its fds, page checks
 *   control_stats.c    the statistics (query-stats, the end-of-run report)
 *   control_dirty.c    dirty logging run here on a peer's behalf
 *   control_migrate.c  device state, the migration's status, parameters, cancel
 *   control_limit.c    per-vCPU dirty-rate limit and CPU throttle commands
 *   throttle.c         per-vCPU dirty-rate limits (kernel or VMM), CPU throttle
 *   hist.c             latency histogram
 *   main.c             command line, start-up, the main loop
 */
#ifndef KVMIG_VM_H
#define KVMIG_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <time.h>
#include <jansson.h>
#include <linux/kvm.h>

#include "guest_abi.h"
#include "kvmig/kvmig.h"

#define VM_MAX_SLOTS	GUEST_MAX_RANGES

/* A latency histogram: log2 octaves split in 16 linear sub-buckets. */
#define HIST_SUB_BITS	4
#define HIST_BUCKETS	(64 << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);
uint64_t hist_percentile(const struct hist *h, double pct);
void hist_merge(struct hist *dst, const struct hist *src);

struct vm_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	int memfd;
	void *hva;
};

/* Exit reasons we count; everything else lands in CPU_EXIT_OTHER. */
enum cpu_exit_kind {
	CPU_EXIT_IO,
	CPU_EXIT_HLT,
	CPU_EXIT_SLEEP,
	CPU_EXIT_INTR,
	CPU_EXIT_MMIO,
	CPU_EXIT_DIRTY_RING_FULL,
	CPU_EXIT_OTHER,
	CPU_EXIT_NR,
};

struct workload_spec {
	enum guest_workload kind;
	uint64_t rate_pages;		/* dirty: pages/s, 0 = unpaced */
	uint64_t ws_bytes;		/* dirty: working set, 0 = share of rest */
	enum guest_pattern pattern;
	double zipf_s;
	enum guest_data data;
	uint64_t period_us;		/* io */
};

struct vm;

/* Who holds a vCPU's dirty-rate limit (throttle.c). */
enum limit_mech {
	LIMIT_NONE,
	LIMIT_KERNEL,	/* KVM, through KVM_SET_DIRTY_RATE_LIMIT */
	LIMIT_VMM,	/* the vCPU thread, charged from its dirty ring */
};

/*
 * The VMM's own pacing of a vCPU (throttle.c): a token bucket for a
 * LIMIT_VMM limit, and the slices of the CPU throttle.  The vCPU's thread
 * only.
 */
struct pace {
	double tokens;			/* bytes; < 0 is debt */
	uint64_t refill_ns;		/* tokens are up to date at this time */
	const struct kvmig_dirty *src;	/* the ring source @seen counts in */
	uint64_t seen;			/* its entries of ours, charged */
	uint64_t io_ns;			/* last device port-IO exit */
	uint64_t slice_ns;		/* start of the running slice */
	uint64_t owed_ns;		/* throttle sleep not slept yet */
	uint64_t armed_ns;		/* slice the timer is armed for */
	bool restart;			/* parked: begin a new slice */
	bool has_timer;
	timer_t timer;			/* ends a slice: SIGUSR1 to us */
};

/*
 * The VMM's pacing counters of a vCPU: written by its thread, read by the
 * control thread (relaxed atomics).  Nanoseconds.
 */
struct pace_stats {
	uint64_t stalls;		/* naps for a LIMIT_VMM limit */
	uint64_t stall_ns;		/* their length (the limit's share) */
	uint64_t stall_max_ns;		/* the longest */
	uint64_t io_shortened;		/* naps cut to io-stall-us */
	uint64_t throttle_ns;		/* slept for the CPU throttle */
};

struct cpu {
	struct vm *vm;			/* set once */
	unsigned int id;		/* set once */
	int fd;				/* set once */
	struct kvm_run *run;		/* set once */
	pthread_t thread;
	struct guest_vcpu *block;	/* the guest's view, in guest RAM */

	/* protected by vm->lock */
	bool paused;			/* acknowledged a pause request */
	uint64_t kick_ack;		/* last vm->kick_seq seen outside KVM_RUN */

	/* written by this vCPU's thread only, read racily for stats */
	uint64_t exits[CPU_EXIT_NR];
	struct hist io_hist;		/* IO round trips, nanoseconds */
	bool io_exit;			/* the last exit was a GUEST_PORT_IO */
	bool io_tainted;		/* paused during it: drop its sample */
	bool io_completed;		/* pending exit completed before parking */
	pthread_mutex_t hist_lock;	/* io_hist vs. query-stats */

	/*
	 * Naps between KVM_RUNs (throttle.c) end at a kick: cpu_kick() sets
	 * @nap_wake under @nap_lock and signals @nap_cond.
	 */
	pthread_mutex_t nap_lock;
	pthread_cond_t nap_cond;	/* CLOCK_MONOTONIC */
	bool nap_wake;			/* protected by nap_lock */

	/*
	 * Dirty-rate limit and CPU throttle (throttle.c), protected by
	 * vm->lock; the "in force" ones are written by the vCPU's thread
	 * only, which may read them without the lock.
	 */
	struct kvmig_dirty_limit limit_want;	/* asked for */
	enum limit_mech mech_want;		/* ... held by */
	unsigned int throttle_want;		/* ... CPU throttle, percent */
	uint64_t limit_want_seq;		/* bumped with each ask */
	uint64_t limit_done;			/* the vCPU took up to this */
	int limit_err;				/* ... with this result */
	const char *limit_err_what;		/* ... from this call */
	struct kvmig_dirty_limit limit;		/* in force */
	enum limit_mech mech;			/* ... held by */
	unsigned int throttle_pct;		/* ... CPU throttle */
	struct kvmig_vcpu_stats *kstats;	/* set once; KVM's counters */
	struct pace pace;			/* this vCPU's thread only */
	struct pace_stats pstats;		/* see struct pace_stats */
};

struct vm {
	int kvm_fd;
	gid_t control_gid;		/* --control-group, or (gid_t)-1 */
	int vm_fd;
	unsigned int run_size;
	uint64_t tsc_khz;

	unsigned int nr_slots;
	struct vm_slot slots[VM_MAX_SLOTS];
	uint64_t ram_bytes;
	/*
	 * The host's own copy of the data-page layout given to the guest:
	 * the verifier must not trust guest memory to tell it where to look.
	 */
	struct guest_params layout;
	struct kvmig_memmap *mem;	/* the slots, for libkvmig */
	uint32_t ring_entries;		/* per-vCPU dirty ring, 0 = none */

	unsigned int nr_cpus;
	struct cpu *cpus;
	struct workload_spec *specs;	/* nr_cpus */

	/*
	 * Run state.  A vCPU thread checks want_pause before every KVM_RUN
	 * and parks on @cond; the requester kicks threads out of KVM_RUN with
	 * immediate_exit + SIGUSR1 and waits until every vCPU says paused.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want_pause;		/* protected by lock */
	bool want_quit;			/* protected by lock */
	bool ever_ran;			/* protected by lock: vCPUs were let run */
	bool incoming;			/* --incoming: set once */
	uint64_t kick_seq;		/* protected by lock, see cpu_kick_all() */
	char *failure;			/* first fatal vCPU error, under lock */
	uint64_t start_ns;

	/*
	 * Dirty logging on behalf of a peer (control_dirty.c).  The control
	 * thread creates and destroys @dirty under the write side of
	 * @dirty_lock; vCPU threads take the read side to hand a full ring to
	 * it.  The bitmap memfd is shared with the peer for each sync's result.
	 */
	pthread_rwlock_t dirty_lock;
	struct kvmig_dirty *dirty;
	bool dirty_on;			/* started; control thread only */
	int dirty_bm_fd;
	uint64_t *dirty_bm;
	size_t dirty_bm_len;

	/* migration status published by a helper; control thread only */
	json_t *migration;
	bool migration_cancel;
	json_t *migration_params;	/* set by migrate-set-parameters, handed
					 * to the helper with its next status */

	/*
	 * Which control client (opaque) owns what, so that a helper that
	 * dies (SIGKILL, crash) leaves no dirty logging on, no stale "active"
	 * migration, and no guest paused for a switchover that will never
	 * come.  Control thread only.
	 */
	void *cur_client;		/* the client whose request runs now */
	void *dirty_owner;		/* started dirty logging */
	void *pause_owner;		/* paused a running VM */
	void *migration_owner;		/* publishes the migration status */
	void *limit_owner;		/* set dirty-rate limits */
	void *throttle_owner;		/* set CPU throttles */

	int limit_flags;		/* KVM_CAP_DIRTY_RATE_LIMIT, set once */
};

/* kvm.c */
struct vm_config {
	unsigned int nr_cpus;
	unsigned int nr_slots;
	uint64_t slot_size[VM_MAX_SLOTS];
	uint64_t slot_gap[VM_MAX_SLOTS];	/* hole before slot i (i > 0) */
	uint64_t seed;
	uint32_t ring_entries;			/* --dirty-ring, 0 = off */
};

int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);
struct guest_params *vm_params(struct vm *vm);
uint32_t *vm_ledger(struct vm *vm);
uint64_t vm_data_page_gpa(struct vm *vm, uint64_t n);

/* cpu.c */
int cpu_start_all(struct vm *vm);
void cpu_pause_all(struct vm *vm);
void cpu_resume_all(struct vm *vm);
void cpu_stop_all(struct vm *vm);
int cpu_kick_all(void *vm);
void cpu_kick(struct cpu *c);
bool vm_is_paused(struct vm *vm);
int cpu_guest_check(struct vm *vm, bool paused, uint64_t *pages,
		    uint64_t *bad);
uint64_t now_ns(void);
bool cpu_nap(struct cpu *c, uint64_t ns);
void vm_fail(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* workload.c */
int workload_parse(const char *s, struct workload_spec *spec, char *err,
		   size_t errlen);
int workload_setup(struct vm *vm, char *err, size_t errlen);
const char *workload_name(enum guest_workload w);

/* verify.c */
struct verify_result {
	uint64_t pages;		/* data pages examined */
	uint64_t bad;		/* pages that failed guest_page_check() */
	uint64_t first_bad_gpa;	/* valid when bad != 0 */
	enum guest_page_state first_bad_state;
};
void verify_pages(struct vm *vm, struct verify_result *res);
const char *verify_state_name(enum guest_page_state s);

/* control.c */
enum control_end {
	CONTROL_END_QUIT,	/* a "quit" request */
	CONTROL_END_SIGNAL,	/* SIGINT / SIGTERM */
	CONTROL_END_DEADLINE,	/* --duration elapsed */
	CONTROL_END_FAILURE,	/* a vCPU failed, vm->failure says why */
};
/*
 * The control socket at @path, mode 0600 (0660 and group @gid when @gid is
 * not -1); control_run() then serves only peers of this uid, root, or that
 * group (SO_PEERCRED).
 */
int control_listen(const char *path, gid_t gid);
enum control_end control_run(struct vm *vm, int listen_fd, int sig_fd,
			     uint64_t deadline_ns);

/* control_stats.c: query-stats' answer, also the end-of-run report's data */
json_t *control_stats_json(struct vm *vm);

/* control_dirty.c */
void control_dirty_release(struct vm *vm);

/* throttle.c */
/* A change asked of one or all vCPUs; what is not asked for stays. */
struct throttle_req {
	bool limit;			/* change the dirty-rate limit ... */
	struct kvmig_dirty_limit l;	/* ... to this */
	enum limit_mech mech;		/* ... held by (LIMIT_NONE: removed) */
	bool throttle;			/* change the CPU throttle ... */
	unsigned int pct;		/* ... to this (0: removed) */
};
void throttle_setup(struct vm *vm);
void throttle_free(struct vm *vm);
void throttle_apply(struct cpu *c);
bool throttle_pace(struct cpu *c);
void throttle_thread_exit(struct cpu *c);
void throttle_harvested(struct vm *vm);
void throttle_io_exit(struct cpu *c);
bool throttle_any(struct vm *vm, bool limits);
bool throttle_has_vmm(const struct vm *vm);
int throttle_limit_mech(struct vm *vm, const char *name,
			const struct kvmig_dirty_limit *l, enum limit_mech *mech,
			char *err, size_t len);
int throttle_set(struct vm *vm, int index, const struct throttle_req *req,
		 char *err, size_t len);
json_t *throttle_cpu_json(struct cpu *c);
json_t *throttle_query_json(struct vm *vm);

/* state.c */
int state_get(struct vm *vm, json_t **out, char *err, size_t errlen);
int state_set(struct vm *vm, json_t *args, char *err, size_t errlen);
/*
 * set-device-state's @args for a VM of @nr_cpus vCPUs, decoded: the blob
 * (malloc'd, *@len bytes) with its header checked, or NULL with why in
 * @err.  It touches no VM: state_set() loads what it returns, the fuzzer
 * (selftests/fuzz/fuzz_state.c) only decodes.
 */
uint8_t *state_decode(json_t *args, unsigned int nr_cpus, size_t *len,
		      char *err, size_t errlen);

/* main.c */
noreturn void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif /* KVMIG_VM_H */
