// SPDX-License-Identifier: GPL-2.0
/*
 * The VM itself on the control socket: its run state (query-status, stop,
 * cont), its memory and the memfds that hold it (query-memory, get-fds),
 * and the checks of the guest's pages (verify, guest-check).
 */
#include "control.h"

static json_t *memory_json(struct vm *vm, bool with_fd_index)
{
	json_t *slots = json_array();
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++) {
		json_t *s = json_pack("{sI sI sI}",
				      "id", (json_int_t)vm->slots[i].id,
				      "gpa", (json_int_t)vm->slots[i].gpa,
				      "size", (json_int_t)vm->slots[i].size);

		if (with_fd_index)
			json_object_set_new(s, "fd-index", json_integer(i));
		json_array_append_new(slots, s);
	}
	return json_pack("{sI sI so}", "page-size", (json_int_t)GUEST_PAGE_SIZE,
			 "ram-bytes", (json_int_t)vm->ram_bytes, "slots", slots);
}

void control_vm_query_status(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	bool paused = vm_is_paused(vm);

	r->ret = json_pack("{ss sb sI sI}",
			   "status", paused ? (vm->incoming && !vm->ever_ran ?
					       "inmigrate" : "paused") : "running",
			   "running", !paused,
			   "vcpus", (json_int_t)vm->nr_cpus,
			   "uptime-ms", (json_int_t)((now_ns() - vm->start_ns) /
						     1000000));
}

void control_vm_stop(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	if (!vm_is_paused(vm))
		vm->pause_owner = vm->cur_client;
	cpu_pause_all(vm);
	r->ret = json_object();
}

void control_vm_cont(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	vm->pause_owner = NULL;
	cpu_resume_all(vm);
	r->ret = json_object();
}

void control_vm_query_memory(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	r->ret = memory_json(vm, false);
}

/*
 * Hand the guest RAM memfds and the VM fd to the peer.  The reply carries
 * them as SCM_RIGHTS in slot order, the VM fd last; "fd-index" in each slot
 * and "vm-fd-index" say which is which.
 */
void control_vm_get_fds(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++)
		r->fds[i] = vm->slots[i].memfd;
	r->fds[i] = vm->vm_fd;
	r->ret = memory_json(vm, true);
	json_object_set_new(r->ret, "vm-fd-index", json_integer(i));
	r->nr_fds = i + 1;
}

void control_vm_verify(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	struct verify_result res;
	bool was_paused = vm_is_paused(vm);

	if (!was_paused)
		cpu_pause_all(vm);
	verify_pages(vm, &res);
	if (!was_paused)
		cpu_resume_all(vm);
	r->ret = json_pack("{sI sI}", "pages", (json_int_t)res.pages,
			   "bad", (json_int_t)res.bad);
	if (res.bad) {
		json_object_set_new(r->ret, "first-bad-gpa",
				    json_integer((json_int_t)res.first_bad_gpa));
		json_object_set_new(r->ret, "first-bad-reason",
				    json_string(verify_state_name(res.first_bad_state)));
	}
}

/*
 * The guest checks its own pages.  A paused VM is resumed for the check and
 * paused again; the guests hold still after checking (GUEST_CMD_CHECK_HOLD),
 * so nothing but the pages in flight at the pause changes meanwhile.
 */
void control_vm_guest_check(struct vm *vm, json_t *args, struct reply *r)
{
	bool was_paused = vm_is_paused(vm);
	uint64_t pages, bad;
	int err;

	(void)args;
	if (vm->incoming && !vm->ever_ran) {
		/* running it now would break the migration it waits for */
		reply_error(r, "GenericError", "guest-check: the guest has not run "
			    "yet (waiting for an incoming migration)");
		return;
	}
	err = cpu_guest_check(vm, was_paused, &pages, &bad);
	if (err) {
		reply_error(r, "GenericError", "the guest did not answer the "
			    "self-check request");
		return;
	}
	r->ret = json_pack("{sI sI}", "pages", (json_int_t)pages,
			   "bad", (json_int_t)bad);
}
