// SPDX-License-Identifier: GPL-2.0
/*
 * Every malformed control request gets a JSON error that names the problem,
 * and the VM lives on: after each one the guest must still make progress
 * and the connection must still answer.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

struct bad_req {
	const char *line;
	const char *cls;
	const char *desc;	/* substring the error must contain */
};

static const struct bad_req bad[] = {
	{ "this is not json", "GenericError", "malformed JSON" },
	{ "{\"execute\": \"stop\"", "GenericError", "malformed JSON" },
	{ "[1, 2, 3]", "GenericError", "must be a JSON object" },
	{ "\"stop\"", "GenericError", "must be a JSON object" },
	{ "{}", "GenericError", "no 'execute'" },
	{ "{\"execute\": 5}", "GenericError", "'execute' must be a string" },
	{ "{\"execute\": null}", "GenericError", "'execute' must be a string" },
	{ "{\"execute\": \"frobnicate\"}", "CommandNotFound", "unknown command 'frobnicate'" },
	{ "{\"execute\": \"stop\", \"arguments\": {\"now\": true}}", "GenericError",
	  "takes no arguments" },
	{ "{\"execute\": \"stop\", \"arguments\": 7}", "GenericError",
	  "'arguments' must be an object" },
	{ "{\"execute\": \"dirty-start\", \"arguments\": {\"backend\": \"magic\"}}",
	  "GenericError", "unknown dirty-log backend 'magic'" },
	{ "{\"execute\": \"dirty-start\", \"arguments\": {\"backend\": 3}}",
	  "GenericError", "'backend' must be a string" },
	{ "{\"execute\": \"dirty-start\", \"arguments\": {\"speed\": 3}}",
	  "GenericError", "command 'dirty-start' has no argument 'speed'" },
	{ "{\"execute\": \"dirty-start\", \"arguments\": {\"backend\": \"ring\"}}",
	  "GenericError", "the VM has no dirty rings" },
	{ "{\"execute\": \"dirty-sync\"}", "GenericError", "dirty logging is not on" },
	{ "{\"execute\": \"dirty-rearm\", \"arguments\": {\"first\": 0, \"count\": 1}}",
	  "GenericError", "dirty logging is not on" },
	{ "{\"execute\": \"stop\", \"extra\": 1}", "GenericError", "unknown member 'extra'" },
	{ "{\"execute\": \"query-status\\u0000\"}", "GenericError", "malformed JSON" },
};

static int64_t pages(struct test_vm *vm)
{
	json_t *st = test_vm_cmd(vm, "query-stats");
	int64_t n = json_path_int(st, "pages-written");

	json_decref(st);
	return n;
}

static bool check_error(json_t *r, const char *cls, const char *desc)
{
	json_t *e = json_object_get(r, "error");
	const char *c = json_string_value(json_object_get(e, "class"));
	const char *d = json_string_value(json_object_get(e, "desc"));

	ksft_print_msg("  -> %s\n", json_text(r));
	return e && c && d && !strcmp(c, cls) && strstr(d, desc) &&
	       !json_object_get(r, "return");
}

int main(void)
{
	const char *const args[] = {
		"--workload", "dirty,rate=2000p,ws=2M", NULL,
	};
	struct test_vm vm, vm2;
	char *big;
	json_t *r;
	size_t i;
	int64_t before;
	bool ok;

	ksft_print_header();
	test_require_kvm();
	ksft_set_plan(sizeof(bad) / sizeof(bad[0]) + 7);

	test_vm_start(&vm, args);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = pages(&vm);
		r = test_vm_raw(&vm, bad[i].line);
		ok = check_error(r, bad[i].cls, bad[i].desc);
		json_decref(r);
		/* the guest writes on: its next page, however long it takes */
		ok &= TEST_POLL(pages(&vm) > before, TEST_DEADLINE_S);
		ksft_test_result(ok,
				 "'%s' refused with '%s', VM runs on", bad[i].line,
				 bad[i].desc);
	}

	/* an overlong line is refused once its newline arrives */
	big = malloc(70001);
	TEST_ASSERT(big, "malloc");
	memset(big, 'x', 70000);
	big[70000] = 0;
	r = test_vm_raw(&vm, big);
	ksft_test_result(check_error(r, "GenericError", "longer than 65536"),
			 "a 70000-byte request is refused");
	json_decref(r);
	free(big);

	/* the id is echoed, on errors too */
	r = test_vm_raw(&vm, "{\"execute\": \"query-status\", \"id\": \"abc\"}");
	ksft_test_result(json_is_string(json_object_get(r, "id")) &&
			 !strcmp(json_string_value(json_object_get(r, "id")), "abc") &&
			 json_object_get(r, "return"), "id is echoed");
	json_decref(r);
	r = test_vm_raw(&vm, "{\"execute\": \"nope\", \"id\": 42}");
	ksft_test_result(json_integer_value(json_object_get(r, "id")) == 42 &&
			 json_object_get(r, "error"), "id is echoed on errors");
	json_decref(r);

	/* help: every command, with the arguments it takes */
	{
		const char *argv[] = { test_bin("kvmig"), "vm", "--vm", vm.sock,
				       "help", NULL };
		char out[16384];
		json_t *e;
		size_t k;
		bool limit = false, status = false;

		r = test_vm_cmd(&vm, "help");
		json_array_foreach(r, k, e) {
			const char *name = json_string_value(json_object_get(e, "name"));

			status |= !strcmp(name, "query-status") &&
				  !json_array_size(json_object_get(e, "arguments"));
			limit |= !strcmp(name, "set-vcpu-dirty-limit") &&
				 strstr(json_text(json_object_get(e, "arguments")),
					"\"bytes-per-sec\"");
		}
		argv[0] = strdup(argv[0]);
		ok = test_run(argv, out, sizeof(out)) == 0 &&
		     strstr(out, "set-vcpu-dirty-limit  cpu-index, bytes-per-sec") &&
		     strstr(out, "query-status\n");
		free((void *)argv[0]);
		ksft_test_result(json_array_size(r) >= 24 && status && limit && ok,
				 "help lists %zu commands with their arguments; "
				 "kvmig vm SOCK help prints them", json_array_size(r));
		if (!ok)
			ksft_print_msg("kvmig vm help: %s\n", out);
		json_decref(r);
	}

	/* a second client works alongside; one that hangs up mid-line is dropped */
	vm2 = vm;
	vm2.ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int half;

		strcpy(a.sun_path, vm.sock);
		TEST_ASSERT(!connect(vm2.ctl, (struct sockaddr *)&a, sizeof(a)),
			    "connect second client");
		half = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		TEST_ASSERT(!connect(half, (struct sockaddr *)&a, sizeof(a)),
			    "connect third client");
		TEST_ASSERT(write(half, "{\"execute\": \"st", 15) == 15, "write");
		close(half);
	}
	r = test_vm_cmd(&vm2, "query-status");
	ksft_test_result(!strcmp(json_string_value(json_object_get(r, "status")),
				 "running"), "a second client is served");
	json_decref(r);
	close(vm2.ctl);

	/* guest-check on a paused VM works and leaves it paused */
	json_decref(test_vm_cmd(&vm, "stop"));
	r = test_vm_cmd(&vm, "guest-check");
	json_decref(r);
	r = test_vm_cmd(&vm, "query-status");
	ksft_test_result(!strcmp(json_string_value(json_object_get(r, "status")),
				 "paused"), "guest-check leaves a paused VM paused");
	json_decref(r);
	json_decref(test_vm_cmd(&vm, "cont"));

	r = test_vm_cmd(&vm, "verify");
	ksft_test_result(json_path_int(r, "bad") == 0, "guest memory intact after all that");
	json_decref(r);
	TEST_ASSERT(test_vm_quit(&vm) == 0, "kvmig-vm exit status");
	ksft_finished();
}
