// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* Messages go through the caller's print callback; stderr by default. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"
#include "log.h"

KVMIG_EXPORT const char *kvmig_version(void)
{
#define STR_(x)	#x
#define STR(x)	STR_(x)
	return STR(KVMIG_VERSION_MAJOR) "." STR(KVMIG_VERSION_MINOR);
}

void kvmig_log(const struct kvmig_log *log, enum kvmig_log_level level,
	       const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char buf[512];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log && log->fn)
		log->fn(level, buf, log->opaque);
	else if (level <= KVMIG_LOG_WARN)
		fprintf(stderr, "libkvmig: %s: %s\n", names[level], buf);
	errno = saved;
}

uint64_t kvmig_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
