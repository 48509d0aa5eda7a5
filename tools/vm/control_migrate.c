// SPDX-License-Identifier: GPL-2.0
/*
 * The migration on the control socket: the device state that travels with
 * the RAM (get-device-state, set-device-state, in state.c), the status a
 * migration helper publishes and the parameters and cancel request it
 * picks up in return (migrate-set-status), and what an operator asks of
 * it (query-migrate, migrate-set-parameters, migrate-cancel).
 */
#include <errno.h>
#include <string.h>

#include "control.h"

bool control_migrate_is_active(struct vm *vm)
{
	const char *st = json_string_value(json_object_get(vm->migration, "status"));

	return st && (!strcmp(st, "active") || !strcmp(st, "setup"));
}

static bool paused_required(struct vm *vm, struct reply *r, const char *what)
{
	if (vm_is_paused(vm))
		return true;
	reply_error(r, "GenericError", "%s needs a paused VM (stop)", what);
	return false;
}

void control_migrate_get_device_state(struct vm *vm, json_t *args,
				      struct reply *r)
{
	char err[256];
	int e;

	(void)args;
	if (!paused_required(vm, r, "get-device-state"))
		return;
	e = state_get(vm, &r->ret, err, sizeof(err));
	if (e)
		reply_error(r, "GenericError", "%s", e == -ENOMEM ? "out of memory" : err);
}

void control_migrate_set_device_state(struct vm *vm, json_t *args,
				      struct reply *r)
{
	char err[256];

	if (!paused_required(vm, r, "set-device-state"))
		return;
	if (state_set(vm, args, err, sizeof(err))) {
		reply_error(r, "GenericError", "set-device-state: %s", err);
		return;
	}
	r->ret = json_object();
}

/*
 * A migration helper publishes its statistics here (so that query-migrate
 * and "kvmig query" show them) and learns whether it was cancelled.
 */
void control_migrate_set_status(struct vm *vm, json_t *args, struct reply *r)
{
	json_t *st = json_object_get(args, "status");

	if (!json_is_object(st)) {
		reply_error(r, "GenericError", "'status' must be an object");
		return;
	}
	json_decref(vm->migration);
	vm->migration = json_incref(st);
	vm->migration_owner = vm->cur_client;
	r->ret = json_pack("{sb}", "cancel", vm->migration_cancel);
	if (vm->migration_params) {
		/* handed over once; the helper applies and reports them */
		json_object_set_new(r->ret, "parameters", vm->migration_params);
		vm->migration_params = NULL;
	}
	/* a finished migration clears the cancel request for the next one */
	if (json_is_string(json_object_get(st, "status")) &&
	    !control_migrate_is_active(vm))
		vm->migration_cancel = false;
}

/*
 * Change knobs of the running migration: the helper picks them up with
 * its next status report (about every 100 ms) and applies what is valid
 * (query-migrate then shows the values in force).
 */
void control_migrate_set_parameters(struct vm *vm, json_t *args,
				    struct reply *r)
{
	static const char *const ints[] = {
		"workers", "level", "max-bandwidth", "downtime-limit",
		"cpu-throttle-initial", "cpu-throttle-increment",
		"max-cpu-throttle", "io-stall",
	};
	json_t *codec = json_object_get(args, "codec");
	json_t *io_aware = json_object_get(args, "io-aware");
	unsigned int i;

	if (!control_migrate_is_active(vm)) {
		reply_error(r, "GenericError", "no migration is running");
		return;
	}
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *v = json_object_get(args, ints[i]);

		if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
			reply_error(r, "GenericError", "'%s' must be an integer >= 0",
				    ints[i]);
			return;
		}
	}
	if (codec && !json_is_string(codec)) {
		reply_error(r, "GenericError", "'codec' must be a string");
		return;
	}
	if (io_aware && !json_is_boolean(io_aware)) {
		reply_error(r, "GenericError", "'io-aware' must be true or false");
		return;
	}
	if (!vm->migration_params)
		vm->migration_params = json_object();
	json_object_update(vm->migration_params, args);
	r->ret = json_object();
}

void control_migrate_query(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	r->ret = vm->migration ? json_deep_copy(vm->migration) :
		 json_pack("{ss}", "status", "none");
}

void control_migrate_cancel(struct vm *vm, json_t *args, struct reply *r)
{
	(void)args;
	if (!control_migrate_is_active(vm)) {
		reply_error(r, "GenericError", "no migration is running");
		return;
	}
	vm->migration_cancel = true;
	r->ret = json_object();
}
