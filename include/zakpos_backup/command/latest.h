/* The `latest` command: see its --help text. */
#ifndef ZB_COMMAND_LATEST_H
#define ZB_COMMAND_LATEST_H

#include "zakpos_backup/config/context.h"

typedef struct zb_latest_request {
    const char *repo;
} zb_latest_request;

/* Prints the path of the repository's newest archive. */
int zb_latest_run(zb_context *ctx, const zb_latest_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_latest(zb_context *ctx, int argc, char **argv);

#endif
