/* The `healthcheck` command: see its --help text. */
#ifndef ZB_COMMAND_HEALTHCHECK_H
#define ZB_COMMAND_HEALTHCHECK_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_healthcheck(zb_context *ctx, int argc, char **argv);

#endif
