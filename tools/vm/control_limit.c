// SPDX-License-Identifier: GPL-2.0
/*
 * Slowing a vCPU on the control socket, through throttle.c: its dirty-rate
 * limit (set-, cancel-, query-vcpu-dirty-limit) and its CPU throttle
 * (set-vcpu-throttle).
 */
#include <errno.h>
#include <string.h>

#include "control.h"

/*
 * Per-vCPU dirty-rate limits (QEMU's set-vcpu-dirty-limit family, in bytes):
 * {"cpu-index": N (all vCPUs if absent), "bytes-per-sec": N,
 *  "burst-bytes": N, "io-stall-us": N, "mechanism": "auto"|"kernel"|"vmm"}.
 * Everything is checked before any vCPU is touched.
 */
static int limit_args(struct vm *vm, json_t *args, bool set, int *index,
		      struct throttle_req *req, struct reply *r)
{
	static const char *const ints[] = {
		"cpu-index", "bytes-per-sec", "burst-bytes", "io-stall-us",
	};
	json_t *mech = json_object_get(args, "mechanism");
	json_int_t v[4] = { -1, 0, 0, 0 };
	char err[256];
	unsigned int i;

	for (i = 0; i < (set ? 4U : 1U); i++) {
		json_t *o = json_object_get(args, ints[i]);

		if (!o)
			continue;
		if (!json_is_integer(o) || json_integer_value(o) < 0) {
			reply_error(r, "GenericError", "'%s' must be an integer >= 0",
				    ints[i]);
			return -EINVAL;
		}
		v[i] = json_integer_value(o);
	}
	if (set && !json_object_get(args, "bytes-per-sec")) {
		reply_error(r, "GenericError", "'bytes-per-sec' is required "
			    "(cancel-vcpu-dirty-limit removes a limit)");
		return -EINVAL;
	}
	if (v[0] >= (json_int_t)vm->nr_cpus) {
		reply_error(r, "GenericError", "no vCPU %lld (the VM has %u)",
			    (long long)v[0], vm->nr_cpus);
		return -EINVAL;
	}
	if (v[3] > UINT32_MAX) {
		reply_error(r, "GenericError", "'io-stall-us' %lld is too large",
			    (long long)v[3]);
		return -EINVAL;
	}
	if (mech && !json_is_string(mech)) {
		reply_error(r, "GenericError", "'mechanism' must be a string");
		return -EINVAL;
	}
	*index = (int)v[0];
	memset(req, 0, sizeof(*req));
	req->limit = true;
	req->l.sz = sizeof(req->l);
	req->l.bytes_per_sec = (uint64_t)v[1];
	req->l.burst_bytes = (uint64_t)v[2];
	req->l.io_stall_max_us = (uint32_t)v[3];
	if (throttle_limit_mech(vm, mech ? json_string_value(mech) : NULL,
				&req->l, &req->mech, err, sizeof(err))) {
		reply_error(r, "GenericError", "%s", err);
		return -EINVAL;
	}
	return 0;
}

static void cmd_limit(struct vm *vm, json_t *args, struct reply *r, bool set)
{
	struct throttle_req req;
	char err[256];
	int index;

	if (limit_args(vm, args, set, &index, &req, r))
		return;
	if (throttle_set(vm, index, &req, err, sizeof(err))) {
		reply_error(r, "GenericError", "%s", err);
		return;
	}
	if (set)
		vm->limit_owner = vm->cur_client;
	r->ret = throttle_query_json(vm);
}

void control_limit_set(struct vm *vm, json_t *args, struct reply *r)
{
	cmd_limit(vm, args, r, true);
}

void control_limit_cancel(struct vm *vm, json_t *args, struct reply *r)
{
	cmd_limit(vm, args, r, false);
}

void control_limit_query(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	r->ret = throttle_query_json(vm);
}

/*
 * The CPU throttle (QEMU's auto-converge): {"cpu-index": N (all vCPUs if
 * absent), "percentage": 0..99}; 0 removes it.
 */
void control_limit_set_throttle(struct vm *vm, json_t *args, struct reply *r)
{
	json_t *idx = json_object_get(args, "cpu-index");
	json_t *pct = json_object_get(args, "percentage");
	struct throttle_req req = { .throttle = true };
	char err[256];
	int index = -1;

	if (idx && (!json_is_integer(idx) || json_integer_value(idx) < 0)) {
		reply_error(r, "GenericError", "'cpu-index' must be an integer >= 0");
		return;
	}
	if (!pct) {
		reply_error(r, "GenericError", "'percentage' is required (0 "
			    "removes the throttle)");
		return;
	}
	if (!json_is_integer(pct) || json_integer_value(pct) < 0 ||
	    json_integer_value(pct) > 99) {
		reply_error(r, "GenericError", "'percentage' must be an integer "
			    "from 0 to 99");
		return;
	}
	if (idx && json_integer_value(idx) >= (json_int_t)vm->nr_cpus) {
		reply_error(r, "GenericError", "no vCPU %lld (the VM has %u)",
			    (long long)json_integer_value(idx), vm->nr_cpus);
		return;
	}
	if (idx)
		index = (int)json_integer_value(idx);
	req.pct = (unsigned int)json_integer_value(pct);
	if (throttle_set(vm, index, &req, err, sizeof(err))) {
		reply_error(r, "GenericError", "%s", err);
		return;
	}
	vm->throttle_owner = vm->cur_client;
	r->ret = throttle_query_json(vm);
}
