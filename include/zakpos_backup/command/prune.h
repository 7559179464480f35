/* The `prune` command: see its --help text. Its request is filled from the
 * command line (zb_cmd_prune) or from the configuration (`run JOB`). */
#ifndef ZB_COMMAND_PRUNE_H
#define ZB_COMMAND_PRUNE_H

#include "zakpos_backup/config/context.h"
#include "zakpos_backup/repo/retention.h"

typedef struct zb_prune_request {
    const char *repo;
    zb_retention_policy policy;
    int dry_run;
    int as_json;
    int lock_wait; /* seconds to wait for a busy repository */
} zb_prune_request;

/* Checks the request and removes what no rule keeps; one line per archive
 * (or the JSON document) is the result, printed unless the context is quiet. */
int zb_prune_run(zb_context *ctx, const zb_prune_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_prune(zb_context *ctx, int argc, char **argv);

#endif
