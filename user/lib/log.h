/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libkvmig's messages (log.c): they go through the caller's print callback,
 * stderr by default; internal to libkvmig.
 */
#ifndef KVMIG_LOG_H
#define KVMIG_LOG_H

#include "kvmig/kvmig.h"

/* Where an object's messages go. */
struct kvmig_log {
	kvmig_print_fn fn;
	void *opaque;
};

void kvmig_log(const struct kvmig_log *log, enum kvmig_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define pr_err(log, ...)	kvmig_log(log, KVMIG_LOG_ERROR, __VA_ARGS__)
#define pr_warn(log, ...)	kvmig_log(log, KVMIG_LOG_WARN, __VA_ARGS__)
#define pr_info(log, ...)	kvmig_log(log, KVMIG_LOG_INFO, __VA_ARGS__)
#define pr_debug(log, ...)	kvmig_log(log, KVMIG_LOG_DEBUG, __VA_ARGS__)

#endif /* KVMIG_LOG_H */
