/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What fast_wp_test and fast_wp_perf share: the host's side of the
 * variables through which it talks to running guest code.
 */
#ifndef KVMIG_SELFTESTS_FAST_WP_H
#define KVMIG_SELFTESTS_FAST_WP_H

#include "kvm_util.h"

/* Store to / load from guest global @var while its vCPUs run (seq_cst). */
static inline void guest_var_store(struct kvm_vm *vm, volatile uint64_t *var,
				   uint64_t v)
{
	__atomic_store_n((uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)var), v,
			 __ATOMIC_SEQ_CST);
}

static inline uint64_t guest_var_load(struct kvm_vm *vm, volatile uint64_t *var)
{
	return __atomic_load_n((uint64_t *)addr_gva2hva(vm, (vm_vaddr_t)var),
			       __ATOMIC_SEQ_CST);
}

#endif /* KVMIG_SELFTESTS_FAST_WP_H */
