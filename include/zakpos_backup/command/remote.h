/* The `remote` command (list, push, delete, prune on a configured remote):
 * see its --help text. */
#ifndef ZB_COMMAND_REMOTE_H
#define ZB_COMMAND_REMOTE_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_remote(zb_context *ctx, int argc, char **argv);

#endif
