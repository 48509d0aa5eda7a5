// SPDX-License-Identifier: GPL-2.0
/*
 * Device state for migration: what kvmig-vm must carry besides RAM.  The
 * guest has no devices, so it is the vCPUs: general registers, special
 * registers and the TSC (the guest paces itself by it).  The state is
 * serialised as a versioned binary blob in base64 inside the JSON answer
 * of get-device-state; the migration helper carries that answer as is and
 * hands it to set-device-state on the destination.
 *
 *   blob: u32 magic "KVMS", u32 version 1, u32 nr_vcpus, u32 regs size,
 *         u32 sregs size, then per vCPU: kvm_regs, kvm_sregs, u64 tsc
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm.h"

#define STATE_MAGIC	0x534d564bU	/* "KVMS" */
#define STATE_VERSION	1
#define MSR_IA32_TSC	0x10
#define STATE_HDR	20
#define STATE_PER_CPU	(sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) + 8)

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = 0;
	return out;
}

/*
 * Strict: only the alphabet, '=' padding at the end, length % 4 == 0, and
 * zero in the bits the padding drops, so that one blob has one text, the
 * one base64_encode() writes (RFC 4648's canonical encoding).  @n is the
 * text's length: a NUL inside it is refused, not an end.
 */
static uint8_t *base64_decode(const char *s, size_t n, size_t *len)
{
	size_t i, o = 0;
	uint8_t *out;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n; i += 4) {
		uint32_t v = 0;
		int k, pad = 0;

		for (k = 0; k < 4; k++) {
			const char *c = strchr(b64, s[i + k]);

			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (!s[i + k] || !c || pad)
				goto bad;
			v = v << 6 | (uint32_t)(c - b64);
		}
		if (v & (pad == 2 ? 0xffff : pad == 1 ? 0xff : 0))
			goto bad;	/* bits of a byte the padding drops */
		out[o++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)v;
	}
	*len = o;
	return out;
bad:
	free(out);
	return NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* the blob is host-endian: x86 to x86 */
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

struct msr_one {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e;
};

int state_get(struct vm *vm, json_t **out, char *err, size_t errlen)
{
	size_t len = STATE_HDR + vm->nr_cpus * STATE_PER_CPU;
	uint8_t *blob = calloc(1, len), *p;
	unsigned int i;
	char *text;

	if (!blob)
		return -ENOMEM;
	put32(blob, STATE_MAGIC);
	put32(blob + 4, STATE_VERSION);
	put32(blob + 8, vm->nr_cpus);
	put32(blob + 12, sizeof(struct kvm_regs));
	put32(blob + 16, sizeof(struct kvm_sregs));
	p = blob + STATE_HDR;
	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];
		struct msr_one m = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };

		if (ioctl(c->fd, KVM_GET_REGS, p) ||
		    ioctl(c->fd, KVM_GET_SREGS, p + sizeof(struct kvm_regs)) ||
		    ioctl(c->fd, KVM_GET_MSRS, &m) != 1) {
			snprintf(err, errlen, "vcpu %u: reading its state: %s", i,
				 strerror(errno));
			free(blob);
			return -EIO;
		}
		memcpy(p + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs),
		       &m.e.data, 8);
		p += STATE_PER_CPU;
	}
	text = base64_encode(blob, len);
	free(blob);
	if (!text)
		return -ENOMEM;
	*out = json_pack("{ss sI ss}", "format", "kvmig-vm/1",
			 "vcpus", (json_int_t)vm->nr_cpus, "blob", text);
	free(text);
	return *out ? 0 : -ENOMEM;
}

uint8_t *state_decode(json_t *args, unsigned int nr_cpus, size_t *len,
		      char *err, size_t errlen)
{
	const char *fmt = json_string_value(json_object_get(args, "format"));
	json_t *text = json_object_get(args, "blob");
	json_t *nv = json_object_get(args, "vcpus");
	uint8_t *blob;

	if (!fmt || strcmp(fmt, "kvmig-vm/1")) {
		snprintf(err, errlen, "'format' must be \"kvmig-vm/1\"");
		return NULL;
	}
	if (!json_is_integer(nv) || json_integer_value(nv) != nr_cpus) {
		snprintf(err, errlen, "'vcpus' must be %u, this VM's vCPU count",
			 nr_cpus);
		return NULL;
	}
	if (!json_is_string(text) ||
	    !(blob = base64_decode(json_string_value(text),
				   json_string_length(text), len))) {
		snprintf(err, errlen, "'blob' is not base64");
		return NULL;
	}
	if (*len != STATE_HDR + nr_cpus * STATE_PER_CPU ||
	    get32(blob) != STATE_MAGIC || get32(blob + 4) != STATE_VERSION ||
	    get32(blob + 8) != nr_cpus ||
	    get32(blob + 12) != sizeof(struct kvm_regs) ||
	    get32(blob + 16) != sizeof(struct kvm_sregs)) {
		snprintf(err, errlen, "'blob': %zu bytes, not a kvmig-vm/1 state "
			 "for %u vCPUs", *len, nr_cpus);
		free(blob);
		return NULL;
	}
	return blob;
}

int state_set(struct vm *vm, json_t *args, char *err, size_t errlen)
{
	uint8_t *blob, *p;
	size_t len;
	unsigned int i;

	blob = state_decode(args, vm->nr_cpus, &len, err, errlen);
	if (!blob)
		return -EINVAL;
	p = blob + STATE_HDR;
	for (i = 0; i < vm->nr_cpus; i++) {
		struct cpu *c = &vm->cpus[i];
		struct msr_one m = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };

		memcpy(&m.e.data, p + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs), 8);
		/* the round trip in flight at the source's pause spans the move */
		c->io_tainted = true;
		if (ioctl(c->fd, KVM_SET_SREGS, p + sizeof(struct kvm_regs)) ||
		    ioctl(c->fd, KVM_SET_REGS, p) ||
		    ioctl(c->fd, KVM_SET_MSRS, &m) != 1) {
			snprintf(err, errlen, "vcpu %u: loading its state: %s", i,
				 strerror(errno));
			free(blob);
			return -EIO;
		}
		p += STATE_PER_CPU;
	}
	free(blob);
	return 0;
}
