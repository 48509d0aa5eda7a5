/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* The VMM's throttling controls, for the source (converge_vmm.c). */
#ifndef KVMIG_CONVERGE_VMM_H
#define KVMIG_CONVERGE_VMM_H

#include "converge.h"

/*
 * Each vCPU's cumulative counters; *nr = 0 when the VMM has none.  With @m,
 * also what the VMM can do to slow vCPUs (nothing if it lacks the commands).
 */
int conv_vmm_sample(struct kvmig_vmm *vmm, struct conv_vcpu *v, unsigned int max,
		    unsigned int *nr, struct conv_mechs *m);
/* Put @p in force where it differs from @prev; -errno with @err. */
int conv_vmm_apply(struct kvmig_vmm *vmm, const struct conv_plan *p,
		   const struct conv_plan *prev, uint32_t io_stall_us,
		   char *err, size_t len);
/* Remove every limit (@limits) and CPU throttle (@cpu). */
int conv_vmm_clear(struct kvmig_vmm *vmm, bool limits, bool cpu);

#endif /* KVMIG_CONVERGE_VMM_H */
