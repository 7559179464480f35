/* The `follow` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_FOLLOW_H
#define ZB_COMMAND_FOLLOW_H

#include "zakpos_backup/config/context.h"

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_follow(zb_context *ctx, int argc, char **argv);

#endif
