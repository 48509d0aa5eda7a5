// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging run here on behalf of the peer (KVM answers VM ioctls only
 * from the process that created the VM).  dirty-start creates the source
 * and a memfd bitmap over all guest pages, passed to the peer; each
 * dirty-sync overwrites it with the pages dirtied since the previous one;
 * before dirty-rearm the peer writes into it the pages it will read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "control.h"

/* Stop dirty logging and free its source and bitmap (at exit). */
void control_dirty_release(struct vm *vm)
{
	pthread_rwlock_wrlock(&vm->dirty_lock);
	kvmig_dirty_free(vm->dirty);	/* stops logging */
	vm->dirty = NULL;
	vm->dirty_on = false;
	pthread_rwlock_unlock(&vm->dirty_lock);
	if (vm->dirty_bm)
		munmap(vm->dirty_bm, vm->dirty_bm_len);
	if (vm->dirty_bm_fd >= 0)
		close(vm->dirty_bm_fd);
	vm->dirty_bm = NULL;
	vm->dirty_bm_fd = -1;
}

/* libkvmig's messages: warnings to stderr, the last error kept for replies */
static void print_to_stderr(enum kvmig_log_level level, const char *msg,
			    void *opaque)
{
	char *last = opaque;

	if (level <= KVMIG_LOG_WARN)
		fprintf(stderr, "kvmig-vm: %s\n", msg);
	if (level == KVMIG_LOG_ERROR && last)
		snprintf(last, 256, "%s", msg);
}

static int dirty_bitmap_create(struct vm *vm)
{
	void *bm;
	int fd, e;

	vm->dirty_bm_len = kvmig_bitmap_words(kvmig_memmap_pages(vm->mem)) *
			   sizeof(uint64_t);
	fd = memfd_create("kvmig-dirty-bitmap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)vm->dirty_bm_len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto err_close;
	bm = mmap(NULL, vm->dirty_bm_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		  fd, 0);
	if (bm == MAP_FAILED)
		goto err_close;
	vm->dirty_bm_fd = fd;
	vm->dirty_bm = bm;
	return 0;

err_close:
	e = -errno;
	close(fd);	/* the next dirty-start makes another */
	return e;
}

/*
 * The source for @want: the one we have if it fits, else a new one.  A ring
 * source is never replaced: KVM does not tell where in each ring it will
 * write next, so only the harvester that has followed the rings from the
 * start knows; it lives as long as the VM.
 */
static struct kvmig_dirty *dirty_source(struct vm *vm,
					enum kvmig_dirty_backend want,
					char *err, size_t errlen)
{
	int vcpu_fds[GUEST_MAX_VCPUS];
	struct kvmig_kvm_desc kd = {
		.sz = sizeof(kd), .vm_fd = vm->vm_fd, .mem = vm->mem,
		.nr_vcpus = vm->nr_cpus, .vcpu_fds = vcpu_fds,
		.ring_entries = vm->ring_entries,
		.kick_vcpus = cpu_kick_all, .kick_opaque = vm,
	};
	char last_err[256] = "";
	struct kvmig_dirty_opts o = {
		.sz = sizeof(o), .backend = want, .print = print_to_stderr,
		.print_opaque = last_err,
	};
	struct kvmig_dirty *d;
	unsigned int i;

	if (vm->dirty) {
		enum kvmig_dirty_backend have = kvmig_dirty_backend(vm->dirty);

		if (want == have || (want == KVMIG_DIRTY_AUTO && vm->ring_entries))
			return vm->dirty;
		if (have == KVMIG_DIRTY_RING) {
			snprintf(err, errlen, "the VM uses dirty rings, which "
				 "exclude the '%s' backend",
				 kvmig_dirty_backend_name(want));
			return NULL;
		}
	}
	for (i = 0; i < vm->nr_cpus; i++)
		vcpu_fds[i] = vm->cpus[i].fd;
	d = kvmig_dirty_new(&kd, &o);
	if (!d) {
		snprintf(err, errlen, "dirty-log backend '%s' cannot run here: %.180s",
			 kvmig_dirty_backend_name(want),
			 last_err[0] ? last_err : strerror(errno));
		return NULL;
	}
	pthread_rwlock_wrlock(&vm->dirty_lock);
	kvmig_dirty_free(vm->dirty);
	vm->dirty = d;
	pthread_rwlock_unlock(&vm->dirty_lock);
	return d;
}

void control_dirty_start(struct vm *vm, json_t *args, struct reply *r)
{
	const char *name = "auto";
	json_t *b = json_object_get(args, "backend");
	enum kvmig_dirty_backend want;
	struct kvmig_dirty *d;
	char err[256];
	int e;

	if (b && !json_is_string(b)) {
		reply_error(r, "GenericError", "'backend' must be a string");
		return;
	}
	if (b)
		name = json_string_value(b);
	if (kvmig_dirty_backend_parse(name, &want) || want == KVMIG_DIRTY_REMOTE) {
		reply_error(r, "GenericError", "unknown dirty-log backend '%.32s' "
			    "(auto, bitmap, clear, ring, fastwp)", name);
		return;
	}
	if (vm->dirty_on) {
		reply_error(r, "GenericError", "dirty logging is already on (%s)",
			    kvmig_dirty_backend_name(kvmig_dirty_backend(vm->dirty)));
		return;
	}
	if (!vm->dirty_bm) {
		e = dirty_bitmap_create(vm);
		if (e) {
			reply_error(r, "GenericError", "dirty bitmap memfd: %s",
				    strerror(-e));
			return;
		}
	}
	d = dirty_source(vm, want, err, sizeof(err));
	if (!d) {
		reply_error(r, "GenericError", "%s", err);
		return;
	}
	e = kvmig_dirty_start(d);
	if (e) {
		reply_error(r, "GenericError", "starting dirty logging: %s",
			    strerror(-e));
		return;
	}
	vm->dirty_on = true;
	vm->dirty_owner = vm->cur_client;
	r->ret = json_pack("{ss ss sI sI sI}",
			   "backend", kvmig_dirty_backend_name(kvmig_dirty_backend(d)),
			   "reason", kvmig_dirty_reason(d),
			   "pages", (json_int_t)kvmig_memmap_pages(vm->mem),
			   "bitmap-bytes", (json_int_t)vm->dirty_bm_len,
			   "ring-entries", (json_int_t)vm->ring_entries);
	r->fds[0] = vm->dirty_bm_fd;
	r->nr_fds = 1;
}

static bool dirty_required(struct vm *vm, struct reply *r)
{
	if (vm->dirty_on)
		return true;
	reply_error(r, "GenericError", "dirty logging is not on (dirty-start)");
	return false;
}

void control_dirty_sync(struct vm *vm, json_t *args, struct reply *r)
{
	uint64_t counts[GUEST_MAX_VCPUS], t0;
	int n, nc;

	(void)args;
	if (!dirty_required(vm, r))
		return;
	t0 = now_ns();
	memset(vm->dirty_bm, 0, vm->dirty_bm_len);
	n = kvmig_dirty_sync(vm->dirty, vm->dirty_bm);
	if (n < 0) {
		reply_error(r, "GenericError", "dirty sync: %s", strerror(-n));
		return;
	}
	r->ret = json_pack("{sI sI}", "pages", (json_int_t)n,
			   "sync-ns", (json_int_t)(now_ns() - t0));
	nc = kvmig_dirty_vcpu_counts(vm->dirty, counts, vm->nr_cpus);
	if (nc >= 0) {
		json_t *a = json_array();
		int i;

		for (i = 0; i < (int)vm->nr_cpus; i++)
			json_array_append_new(a, json_integer((json_int_t)counts[i]));
		json_object_set_new(r->ret, "vcpu-pages", a);
	}
	/* vCPUs under a "vmm" limit charge what this harvest found */
	throttle_harvested(vm);
}

static bool get_u64_arg(json_t *args, const char *name, uint64_t *v,
			struct reply *r)
{
	json_t *a = json_object_get(args, name);

	if (!json_is_integer(a) || json_integer_value(a) < 0) {
		reply_error(r, "GenericError", "'%s' must be a non-negative "
			    "integer", name);
		return false;
	}
	*v = (uint64_t)json_integer_value(a);
	return true;
}

void control_dirty_rearm(struct vm *vm, json_t *args, struct reply *r)
{
	uint64_t first, count;
	int err;

	if (!dirty_required(vm, r) || !get_u64_arg(args, "first", &first, r) ||
	    !get_u64_arg(args, "count", &count, r))
		return;
	err = kvmig_dirty_rearm(vm->dirty, vm->dirty_bm, first, count);
	if (err) {
		reply_error(r, "GenericError", "re-arm pages [%llu, +%llu): %s",
			    (unsigned long long)first, (unsigned long long)count,
			    err == -ERANGE ? "outside guest RAM" : strerror(-err));
		return;
	}
	r->ret = json_object();
}

void control_dirty_stop(struct vm *vm, json_t *args, struct reply *r)
{
	struct kvmig_dirty_stats st = { 0 };
	int err;

	(void)args;
	if (!dirty_required(vm, r))
		return;
	kvmig_dirty_get_stats(vm->dirty, &st);
	/*
	 * Stop, but keep the source until the next dirty-start or exit: a
	 * vCPU whose ring filled up just before the stop still needs it.
	 */
	err = kvmig_dirty_stop(vm->dirty);
	vm->dirty_on = false;
	vm->dirty_owner = NULL;
	if (err) {
		reply_error(r, "GenericError", "stopping dirty logging: %s",
			    strerror(-err));
		return;
	}
	r->ret = json_pack("{sI sI sI sI}", "syncs", (json_int_t)st.syncs,
			   "pages-reported", (json_int_t)st.pages_reported,
			   "sync-ns", (json_int_t)st.sync_ns,
			   "ring-full", (json_int_t)st.ring_full);
}
