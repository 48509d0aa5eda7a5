// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The options structs' rule (as libbpf's OPTS_VALID): a struct the caller
 * passes holds at least its own .sz, and every byte past the struct this
 * library knows is zero.  A caller built against a newer header that sets
 * a field this library lacks is refused, not silently ignored; one built
 * against an older header passes a smaller .sz and gets the defaults for
 * the rest (OPTS_GET).
 */
#include <errno.h>
#include <stdio.h>

#include "kvmig/kvmig.h"
#include "log.h"
#include "opts.h"

int kvmig_opts_check(const void *opts, size_t known, const char *name,
		     char *why, size_t len)
{
	const unsigned char *b = opts;
	size_t sz, i;

	if (!opts)
		return 0;	/* every default */
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t)) {
		snprintf(why, len, "struct %s: .sz %zu does not cover .sz itself: "
			 "set .sz = sizeof(struct %s)", name, sz, name);
		return -EINVAL;
	}
	for (i = known; i < sz; i++)
		if (b[i]) {
			snprintf(why, len, "struct %s: byte %zu of its %zu is set, "
				 "past the %zu bytes this libkvmig (%s) knows: a "
				 "field of a newer version", name, i, sz, known,
				 kvmig_version());
			return -EINVAL;
		}
	return 0;
}

bool kvmig_opts_refused(const void *opts, size_t known, const char *name,
			const struct kvmig_log *log, const char *prefix)
{
	char why[200];

	if (!kvmig_opts_check(opts, known, name, why, sizeof(why)))
		return false;
	pr_err(log, "%s%s", prefix, why);
	return true;
}
