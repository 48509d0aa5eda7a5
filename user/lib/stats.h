/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * stats.c: the public entry points run on a complete statistics struct of
 * their own and copy what fits into the caller's (.sz) at the end; internal
 * to libkvmig.
 */
#ifndef KVMIG_STATS_H
#define KVMIG_STATS_H

#include <stdbool.h>

#include "kvmig/kvmig.h"

bool kvmig_stats_sz_ok(const struct kvmig_migration_stats *st);
/* The library's own copy for @caller's run (status "setup"), or NULL with
 * errno (EINVAL: the caller's .sz is too small to know); then ... */
struct kvmig_migration_stats *kvmig_stats_begin(const struct kvmig_migration_stats *caller);
/* ... what fits into the caller's, and the copy freed. */
void kvmig_stats_end(struct kvmig_migration_stats *caller,
		     struct kvmig_migration_stats *full);

#endif /* KVMIG_STATS_H */
