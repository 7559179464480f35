/* The `fetch` command: see its --help text. */
#ifndef ZB_COMMAND_FETCH_H
#define ZB_COMMAND_FETCH_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_fetch(zb_context *ctx, int argc, char **argv);

#endif
