// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the two decoders of the control protocol's JSON lines
 * (Documentation/control-protocol.rst), one input being one line:
 *  - the VMM's request parser (tools/vm/control.c, control_request_parse()):
 *    the bytes before the first newline, as the VMM cuts them.  It must
 *    find a command of its table whose argument names all appear in that
 *    row, or refuse the line with a class and a message;
 *  - the library's reply decoder (user/lib/vmm_client.c, vmm_reply_parse()):
 *    the whole input, as recv_line() passes it.  It must return the
 *    "return" value as JSON that parses again, or refuse with a message
 *    that is printable text, since the VMM's bytes reach the user's terminal
 *    through it.
 * Neither may read out of bounds (ASan) or misbehave (UBSan).  The handlers
 * never run: they need a VM.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/vm/control.h"
#include "../../user/lib/vmm_client.h"
#include "fuzz.h"

static void request(const char *line, size_t len)
{
	struct reply r = { 0 };
	const struct control_command *c;
	json_t *req, *args, *id = NULL;

	c = control_request_parse(line, len, &r, &req, &args, &id);
	if (c) {
		json_t *exec = json_object_get(req, "execute");
		const char *key;
		json_t *val;

		if (r.err_class || strcmp(c->name, json_string_value(exec)) ||
		    (args && !json_is_object(args)))
			abort();
		json_object_foreach(args, key, val) {
			const char *const *a;

			for (a = c->args; a && *a && strcmp(*a, key); a++)
				;
			if (!a || !*a)
				abort();	/* an argument its row lacks */
		}
	} else if (!r.err_class || !r.err[0] || r.ret) {
		abort();	/* a refusal has a class and a message */
	}
	json_decref(req);
	json_decref(id);
}

static void reply(const char *line, size_t len)
{
	char err[384] = "", *out = NULL;
	json_t *back;
	size_t i;
	int r;

	r = vmm_reply_parse("fuzz", "/fuzz.sock", line, len, &out, err,
			    sizeof(err));
	if (!r) {
		back = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
		if (!back)
			abort();
		json_decref(back);
		free(out);
		return;
	}
	if (out || (r != -EPROTO && r != -EREMOTEIO && r != -ENOMEM))
		abort();
	if (!err[0] && r != -ENOMEM)
		abort();
	for (i = 0; err[i]; i++)
		if (err[i] < 0x20 || err[i] > 0x7e)
			abort();	/* the VMM's bytes, unescaped */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	const char *nl = memchr(line, '\n', size);

	request(line, nl ? (size_t)(nl - line) : size);
	reply(line, size);
	return 0;
}

#ifndef KVMIG_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_control", CORPUS_DIR "/control");
}
#endif
