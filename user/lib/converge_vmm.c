// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The VMM's side of convergence, as the source sees it over the control
 * socket (Documentation/control-protocol.rst, "Dirty-rate limits"): what
 * the VMM can do to slow vCPUs, each vCPU's counters, and putting a plan of
 * converge.c in force.  A VMM that knows none of these commands offers
 * nothing, and the policy falls back (auto) or is refused (asked for).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmig/kvmig.h"
#include "converge.h"
#include "converge_vmm.h"

/* The VMM does not know @cmd: it offers nothing of the kind. */
static bool unknown_command(struct kvmig_vmm *vmm, int r)
{
	return r == -EREMOTEIO && strstr(kvmig_vmm_last_error(vmm), "unknown command");
}

/* Request @cmd with @args; the "return" value parsed, or NULL and -errno. */
static json_t *request(struct kvmig_vmm *vmm, const char *cmd, const char *args,
		       int *err)
{
	char *reply = NULL;
	json_t *o;

	*err = kvmig_vmm_request(vmm, cmd, args, &reply, NULL, 0, NULL);
	if (*err)
		return NULL;
	o = json_loads(reply ? reply : "null", 0, NULL);
	free(reply);
	if (!o)
		*err = -EPROTO;
	return o;
}

/* What the VMM can do to slow vCPUs, from a query-vcpu-dirty-limit reply. */
static void mechs_of(json_t *o, struct conv_mechs *m)
{
	json_t *mechs = json_object_get(o, "mechanisms");

	memset(m, 0, sizeof(*m));
	if (json_is_object(mechs)) {
		m->kernel = json_is_true(json_object_get(mechs, "kernel"));
		m->vmm = json_is_true(json_object_get(mechs, "vmm"));
		m->cpu = json_is_true(json_object_get(mechs, "cpu"));
	} else {
		m->kernel = json_is_true(json_object_get(o, "kernel"));
	}
}

/*
 * Each vCPU's counters: dirty bytes from query-vcpu-dirty-limit (the
 * kernel's or the VMM's), IO exits from query-stats.  *nr = 0 if the VMM
 * gives no dirty counters; a VMM without the command offers nothing.  With
 * @m, also what the VMM can do, from the same reply.
 */
int conv_vmm_sample(struct kvmig_vmm *vmm, struct conv_vcpu *v, unsigned int max,
		    unsigned int *nr, struct conv_mechs *m)
{
	json_t *lim, *st, *a, *b;
	unsigned int i, n;
	int r;

	*nr = 0;
	if (m)
		memset(m, 0, sizeof(*m));
	lim = request(vmm, "query-vcpu-dirty-limit", NULL, &r);
	if (!lim)
		return unknown_command(vmm, r) ? 0 : r;
	if (m)
		mechs_of(lim, m);
	st = request(vmm, "query-stats", NULL, &r);
	if (!st) {
		json_decref(lim);
		return r;
	}
	a = json_object_get(lim, "vcpus");
	b = json_object_get(st, "vcpus");
	n = json_is_array(a) ? (unsigned int)json_array_size(a) : 0;
	if (n > max || !json_is_array(b) || json_array_size(b) != n)
		n = 0;
	for (i = 0; i < n; i++) {
		json_t *d = json_object_get(json_array_get(a, i), "dirty-bytes");
		json_t *ex = json_object_get(json_array_get(b, i), "exits");

		if (!json_is_integer(d)) {
			n = 0;
			break;
		}
		v[i].dirty_bytes = (uint64_t)json_integer_value(d);
		v[i].stall_ns = (uint64_t)json_integer_value(json_object_get(
			json_array_get(a, i), "stall-ns")) +
			(uint64_t)json_integer_value(json_object_get(
			json_array_get(a, i), "throttle-ns"));
		v[i].io_exits = (uint64_t)json_integer_value(json_object_get(ex, "io")) +
				(uint64_t)json_integer_value(json_object_get(ex, "mmio"));
	}
	*nr = n;
	json_decref(lim);
	json_decref(st);
	return 0;
}

int conv_vmm_apply(struct kvmig_vmm *vmm, const struct conv_plan *p,
		   const struct conv_plan *prev, uint32_t io_stall_us,
		   char *err, size_t len)
{
	char args[256];
	unsigned int i;
	json_t *o;
	int r;

	/* a CPU throttle given up is set to 0 */
	if ((p->mech == CONV_MECH_CPU && p->cpu_pct != prev->cpu_pct) ||
	    (p->mech != CONV_MECH_CPU && prev->mech == CONV_MECH_CPU)) {
		snprintf(args, sizeof(args), "{\"percentage\": %u}",
			 p->mech == CONV_MECH_CPU ? p->cpu_pct : 0);
		o = request(vmm, "set-vcpu-throttle", args, &r);
		if (!o)
			goto err;
		json_decref(o);
	}
	for (i = 0; i < p->nr_vcpus || i < prev->nr_vcpus; i++) {
		uint64_t l = p->mech == CONV_MECH_LIMIT && i < p->nr_vcpus ?
			     p->limit[i] : 0;
		uint64_t was = prev->mech == CONV_MECH_LIMIT && i < prev->nr_vcpus ?
			       prev->limit[i] : 0;

		if (l == was)
			continue;
		if (l)
			snprintf(args, sizeof(args), "{\"cpu-index\": %u, "
				 "\"bytes-per-sec\": %llu, \"io-stall-us\": %u}", i,
				 (unsigned long long)l, io_stall_us);
		else
			snprintf(args, sizeof(args), "{\"cpu-index\": %u}", i);
		o = request(vmm, l ? "set-vcpu-dirty-limit" : "cancel-vcpu-dirty-limit",
			    args, &r);
		if (!o)
			goto err;
		json_decref(o);
	}
	return 0;
err:
	snprintf(err, len, "%s", r == -EREMOTEIO ? kvmig_vmm_last_error(vmm) :
		 strerror(-r));
	return r;
}

int conv_vmm_clear(struct kvmig_vmm *vmm, bool limits, bool cpu)
{
	json_t *o;
	int r = 0, e;

	if (limits) {
		o = request(vmm, "cancel-vcpu-dirty-limit", NULL, &e);
		json_decref(o);
		r = o ? 0 : e;
	}
	if (cpu) {
		o = request(vmm, "set-vcpu-throttle", "{\"percentage\": 0}", &e);
		json_decref(o);
		if (!o && !r)
			r = e;
	}
	return r;
}
