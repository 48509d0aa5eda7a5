// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target for the device-state decoder of the reference VMM
 * (tools/vm/state.c, state_decode()): an input is the "arguments" of a
 * set-device-state request, as JSON text, decoded for VMs of 1 to 4 vCPUs.
 * The decoder must accept it or refuse it with a message; it must never
 * read past the blob (ASan) or misbehave (UBSan).  What it accepts is a
 * kvmig-vm/1 state of exactly the VM's size, and the one text that encodes
 * it: strict base64, as state_get() writes it (the encoder here is a
 * second one, written from RFC 4648, not the VMM's).
 */
#include <jansson.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/vm/vm.h"
#include "fuzz.h"

#define PER_CPU	(sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) + 8)

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Whether @text (@n bytes) is the canonical base64 of @p (@len bytes). */
static bool is_base64_of(const char *text, size_t n, const uint8_t *p,
			 size_t len)
{
	size_t i, o = 0;

	if (n != (len + 2) / 3 * 4)
		return false;
	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];

		v |= i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0;
		v |= i + 2 < len ? p[i + 2] : 0;
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? b64[v & 63] : '=';
		if (memcmp(text + o, q, 4))
			return false;
		o += 4;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *args = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	unsigned int nr;

	if (!args)
		return 0;	/* jansson's own parser is not what is under test */
	for (nr = 1; nr <= 4; nr++) {
		json_t *text = json_object_get(args, "blob");
		char err[256] = "";
		uint8_t *blob;
		size_t len;
		uint32_t hdr[5];

		blob = state_decode(args, nr, &len, err, sizeof(err));
		if (!blob) {
			if (!err[0])
				abort();	/* a refusal says why */
			continue;
		}
		if (len != sizeof(hdr) + nr * PER_CPU)
			abort();
		memcpy(hdr, blob, sizeof(hdr));
		if (hdr[0] != 0x534d564bU || hdr[1] != 1 || hdr[2] != nr ||
		    hdr[3] != sizeof(struct kvm_regs) ||
		    hdr[4] != sizeof(struct kvm_sregs))
			abort();
		if (!is_base64_of(json_string_value(text), json_string_length(text),
				  blob, len))
			abort();	/* accepted a text state_get() never writes */
		free(blob);
	}
	json_decref(args);
	return 0;
}

#ifndef KVMIG_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_state", CORPUS_DIR "/state");
}
#endif
