/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The statistics for a person (show.c): the progress line, the summary at
 * the end, and kvmig query's text.
 */
#ifndef KVMIG_SHOW_H
#define KVMIG_SHOW_H

#include <jansson.h>

#include "cli.h"

/* From the progress callback: the progress line on stderr. */
void show_progress(struct cli *c, const struct kvmig_migration_stats *st);
/* The end: the summary on stdout, or with --json the statistics' object. */
void show_final(struct cli *c, const struct kvmig_migration_stats *st);
/* kvmig query without --json: the statistics the VMM holds, @o. */
void show_query(json_t *o);

#endif
