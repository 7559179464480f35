/* The `config` command (`config check`): see its --help text. */
#ifndef ZB_COMMAND_CONFIG_H
#define ZB_COMMAND_CONFIG_H

#include "zakpos_backup/config/context.h"

/* `config check`: the configuration the context names (its file, or the
 * default places) checked, and its effective settings printed. The request
 * is the context's configuration file itself. */
int zb_config_check_run(zb_context *ctx);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_config(zb_context *ctx, int argc, char **argv);

#endif
