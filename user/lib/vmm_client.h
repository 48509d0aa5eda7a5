/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vmm_client.c's calls for the other files, beside the public
 * kvmig_vmm_*(); internal to libkvmig.
 */
#ifndef KVMIG_VMM_CLIENT_H
#define KVMIG_VMM_CLIENT_H

#include <stddef.h>

#include "kvmig/kvmig.h"

/*
 * The VMM's run state, query-status's "status" ("running",
 * "paused", "inmigrate": waiting for an incoming migration, its guest
 * never ran), into @buf; 0 or a negative errno, kvmig_vmm_last_error()
 * saying why.
 */
int kvmig_vmm_status(struct kvmig_vmm *v, char *buf, size_t len);
/* The socket path @v was connected to, for messages. */
const char *kvmig_vmm_path(const struct kvmig_vmm *v);

#endif /* KVMIG_VMM_CLIENT_H */
