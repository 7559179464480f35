/* The `config` command (`config check`): see its --help text. */
#ifndef ZB_COMMAND_CONFIG_H
#define ZB_COMMAND_CONFIG_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_config(zb_context *ctx, int argc, char **argv);

#endif
