/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The subcommands, for kvmig.c's commands[]: each file cmd_NAME.c gives
 * its options with their help, and the function that runs it (exit status
 * 0, 1 or 2, Documentation/kvmig.rst).
 */
#ifndef KVMIG_CMD_H
#define KVMIG_CMD_H

#include "cli.h"

/* cmd_migrate.c */
extern const struct optdoc cmd_migrate_opts[];
int cmd_migrate(const struct command *cmd, int argc, char **argv);

/* cmd_incoming.c */
extern const struct optdoc cmd_incoming_opts[];
int cmd_incoming(const struct command *cmd, int argc, char **argv);

/* cmd_vmm.c: the short requests to a VMM */
extern const struct optdoc cmd_vmm_query_opts[];
int cmd_vmm_query(const struct command *cmd, int argc, char **argv);
extern const struct optdoc cmd_vmm_cancel_opts[];
int cmd_vmm_cancel(const struct command *cmd, int argc, char **argv);
extern const struct optdoc cmd_vmm_set_opts[];
int cmd_vmm_set(const struct command *cmd, int argc, char **argv);
extern const struct optdoc cmd_vmm_request_opts[];	/* kvmig vm */
int cmd_vmm_request(const struct command *cmd, int argc, char **argv);

#endif
