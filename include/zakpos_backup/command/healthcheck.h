/* The `healthcheck` command: see its --help text. */
#ifndef ZB_COMMAND_HEALTHCHECK_H
#define ZB_COMMAND_HEALTHCHECK_H

#include "zakpos_backup/config/context.h"

typedef struct zb_healthcheck_request {
    const char *repo;    /* NULL: repository.path */
    int max_age_seconds; /* -1: daemon.healthcheck_max_age */
    const char *slot;    /* NULL: follow.slot */
    int max_lag_seconds; /* -1: follow.max_lag */
} zb_healthcheck_request;
/* Exit 0 when the last successful backup is recent enough. */
int zb_healthcheck_run(zb_context *ctx, const zb_healthcheck_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_healthcheck(zb_context *ctx, int argc, char **argv);

#endif
