/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmig migrate --report FILE.html: the migration's timeline, pass by
 * pass, as one self-contained HTML page (inline CSS and SVG, no script,
 * nothing fetched).  Documentation/kvmig.rst, "The report".
 */
#ifndef KVMIG_REPORT_H
#define KVMIG_REPORT_H

#include <stdio.h>

#include "kvmig/kvmig.h"

struct report;

/* "pause P, sync S, pages R, device D, verify V, commit C ms" */
void downtime_parts_text(const struct kvmig_migration_stats *st, char *buf,
			 size_t len);

/* Creates (truncates) @path now, so a bad path fails before anything runs. */
struct report *report_open(const char *path, char *err, size_t len);
/* From the progress callback: records each pass as it ends. */
void report_progress(struct report *r, const struct kvmig_migration_stats *st);
/*
 * Writes the page for the migration that ended with @st, run with @mo
 * from @vm to @to, and frees @r; 0 or -errno with @err set.
 */
int report_close(struct report *r, const struct kvmig_migration_stats *st,
		 const struct kvmig_migrate_opts *mo, const char *vm,
		 const char *to, char *err, size_t len);

#endif
