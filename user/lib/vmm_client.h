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

/*
 * Decode the VMM's reply @line (@len bytes) to request @cmd, sent on the
 * socket at @path (both for messages only).  Returns 0 with the "return"
 * value as compact JSON in *@reply_json (malloc'd; if @reply_json is not
 * NULL), -EREMOTEIO with the VMM's error (escaped) in @err, -EPROTO for a
 * line that is not a reply, with why in @err, or -ENOMEM.  The transport
 * (kvmig_vmm_request()) and the fuzzer (selftests/fuzz/fuzz_control.c)
 * call it.
 */
int vmm_reply_parse(const char *cmd, const char *path, const char *line,
		    size_t len, char **reply_json, char *err, size_t errlen);

#endif /* KVMIG_VMM_CLIENT_H */
