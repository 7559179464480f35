/* The `check` command: see its --help text. */
#ifndef ZB_COMMAND_CHECK_H
#define ZB_COMMAND_CHECK_H

#include "zakpos_backup/config/context.h"

typedef struct zb_check_request {
    const char *conninfo;      /* NULL: postgres.conninfo */
    const char *password_file; /* NULL: postgres.password_file */
} zb_check_request;
/* Connects as a backup would and reports what it found. */
int zb_check_run(zb_context *ctx, const zb_check_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_check(zb_context *ctx, int argc, char **argv);

#endif
