/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the control socket's files share; internal to kvmig-vm (vm.h has
 * the control_* calls the rest of the VMM makes).  control.c reads a
 * request, finds its row in the command table and calls the handler, which
 * lives in the file of its concern and answers through a struct reply.
 */
#ifndef KVMIG_VM_CONTROL_H
#define KVMIG_VM_CONTROL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "vm.h"

/*
 * A handler's answer, which control.c sends as one line: "return" with
 * @ret, or "error" with @err_class and @err.
 */
struct reply {
	json_t *ret;		/* owned; NULL with err set on failure */
	const char *err_class;
	char err[256];
	int fds[VM_MAX_SLOTS + 1];	/* to pass with the reply, not owned */
	unsigned int nr_fds;
	bool quit;
};

/* Make @r an error; what it was to return so far is dropped. */
static inline void reply_error(struct reply *r, const char *cls,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void reply_error(struct reply *r, const char *cls,
			       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->err_class = cls;
	json_decref(r->ret);
	r->ret = NULL;
}

/*
 * A command's handler.  @args is the request's "arguments" object, or NULL;
 * control_request_parse() has checked that it holds only names the command's table row
 * accepts, but not their types or values.  It answers in @r.
 */
typedef void control_cmd_fn(struct vm *vm, json_t *args, struct reply *r);

/* A row of control.c's command table. */
struct control_command {
	const char *name;
	control_cmd_fn *fn;
	const char *const *args;	/* accepted argument names, or NULL */
};

/*
 * Parse the request on one line (@len bytes, without its newline) and check
 * it against the command table: its members, the command it names, and the
 * names of its arguments.  Returns the command's row, with *@args its
 * "arguments" object (NULL if none); or NULL with the refusal in @r.
 * Either way *@req is the parsed request (NULL if it is not JSON), which
 * *@args points into and the caller drops, and *@id its "id" (a new
 * reference, left as it was when there is none or the request is not an
 * object).  It runs nothing: control.c's dispatch calls the row's handler,
 * and the fuzzer (selftests/fuzz/fuzz_control.c) only parses.
 */
const struct control_command *control_request_parse(const char *line,
						   size_t len, struct reply *r,
						   json_t **req, json_t **args,
						   json_t **id);

/* control_vm.c */
void control_vm_query_status(struct vm *vm, json_t *args, struct reply *r);
void control_vm_stop(struct vm *vm, json_t *args, struct reply *r);
void control_vm_cont(struct vm *vm, json_t *args, struct reply *r);
void control_vm_query_memory(struct vm *vm, json_t *args, struct reply *r);
void control_vm_get_fds(struct vm *vm, json_t *args, struct reply *r);
void control_vm_verify(struct vm *vm, json_t *args, struct reply *r);
void control_vm_guest_check(struct vm *vm, json_t *args, struct reply *r);

/* control_stats.c */
void control_stats_query(struct vm *vm, json_t *args, struct reply *r);

/* control_dirty.c */
void control_dirty_start(struct vm *vm, json_t *args, struct reply *r);
void control_dirty_sync(struct vm *vm, json_t *args, struct reply *r);
void control_dirty_rearm(struct vm *vm, json_t *args, struct reply *r);
void control_dirty_stop(struct vm *vm, json_t *args, struct reply *r);

/* control_migrate.c */
void control_migrate_get_device_state(struct vm *vm, json_t *args,
				      struct reply *r);
void control_migrate_set_device_state(struct vm *vm, json_t *args,
				      struct reply *r);
void control_migrate_set_status(struct vm *vm, json_t *args, struct reply *r);
void control_migrate_set_parameters(struct vm *vm, json_t *args,
				    struct reply *r);
void control_migrate_query(struct vm *vm, json_t *args, struct reply *r);
void control_migrate_cancel(struct vm *vm, json_t *args, struct reply *r);
/* Whether the status last published says the migration is under way. */
bool control_migrate_is_active(struct vm *vm);

/* control_limit.c */
void control_limit_set(struct vm *vm, json_t *args, struct reply *r);
void control_limit_cancel(struct vm *vm, json_t *args, struct reply *r);
void control_limit_query(struct vm *vm, json_t *args, struct reply *r);
void control_limit_set_throttle(struct vm *vm, json_t *args, struct reply *r);

#endif /* KVMIG_VM_CONTROL_H */
