/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The options structs' rule (opts.c): what a function that takes one reads
 * of it, and when it refuses it; internal to libkvmig.
 */
#ifndef KVMIG_OPTS_H
#define KVMIG_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "kvmig/kvmig.h"
#include "log.h"

/*
 * Options structs grow at the end; a caller built against an older header
 * passes a smaller .sz.  OPTS_GET reads a field only if the caller's struct
 * has it, else gives the default.
 */
#define OPTS_HAS(opts, field)						\
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) +	\
				 sizeof((opts)->field))
#define OPTS_GET(opts, field, def)					\
	(OPTS_HAS(opts, field) ? (opts)->field : (def))
/*
 * ... and a caller's struct is refused if its .sz does not cover .sz, or if
 * it sets bytes past what this library knows (opts.c): 0 or -EINVAL with
 * @why.  A NULL @opts is valid (every default).
 */
int kvmig_opts_check(const void *opts, size_t known, const char *name,
		     char *why, size_t len);
#define OPTS_CHECK(opts, why, len)					\
	kvmig_opts_check(opts, sizeof(*(opts)), opts_name(opts), why, len)
/*
 * ... or says why through @log, after @prefix, and returns true if @opts
 * is refused; OPTS_REFUSED uses the struct's own print callback.
 */
bool kvmig_opts_refused(const void *opts, size_t known, const char *name,
			const struct kvmig_log *log, const char *prefix);
#define OPTS_REFUSED_LOG(opts, log, prefix)				\
	kvmig_opts_refused(opts, sizeof(*(opts)), opts_name(opts), log, prefix)
#define OPTS_REFUSED(opts, prefix)					\
	OPTS_REFUSED_LOG(opts, (&(const struct kvmig_log){		\
		OPTS_GET(opts, print, NULL),				\
		OPTS_GET(opts, print_opaque, NULL) }), prefix)
#define opts_name(opts) _Generic((opts),				\
	const struct kvmig_memmap_opts *: "kvmig_memmap_opts",		\
	const struct kvmig_slot_desc *: "kvmig_slot_desc",		\
	const struct kvmig_kvm_desc *: "kvmig_kvm_desc",		\
	const struct kvmig_dirty_opts *: "kvmig_dirty_opts",		\
	const struct kvmig_dirty_limit *: "kvmig_dirty_limit",		\
	const struct kvmig_vmm_opts *: "kvmig_vmm_opts",		\
	const struct kvmig_migrate_opts *: "kvmig_migrate_opts",	\
	const struct kvmig_incoming_opts *: "kvmig_incoming_opts")

#endif /* KVMIG_OPTS_H */
