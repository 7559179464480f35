/* The `sign` command: see its --help text and docs/SECURITY.md. */
#ifndef ZB_COMMAND_SIGN_H
#define ZB_COMMAND_SIGN_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_sign(zb_context *ctx, int argc, char **argv);

#endif
