/* The `config` command (`config check`): see its --help text. */
#ifndef ZB_COMMAND_CONFIG_H
#define ZB_COMMAND_CONFIG_H

#include "zakpos_backup/config/context.h"

typedef struct zb_config_check_request {
    const char
        *config_file; /* `config check --config FILE`; NULL: the context's (global --config, or the default places) */
} zb_config_check_request;

/* `config check`: the configuration the request or the context names
 * checked, and its effective settings printed. */
int zb_config_check_run(zb_context *ctx, const zb_config_check_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_config(zb_context *ctx, int argc, char **argv);

#endif
