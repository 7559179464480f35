/* The `remote` command (list, push, delete, prune on a configured remote):
 * see its --help text. */
#ifndef ZB_COMMAND_REMOTE_H
#define ZB_COMMAND_REMOTE_H

#include "zakpos_backup/config/context.h"

#include <stddef.h>

typedef enum zb_remote_action {
    ZB_REMOTE_LIST,
    ZB_REMOTE_PUSH,   /* args: local archive files */
    ZB_REMOTE_DELETE, /* args: archive names there */
    ZB_REMOTE_PRUNE,
    ZB_REMOTE_SYNC,
} zb_remote_action;

typedef struct zb_remote_request {
    zb_remote_action action;
    const char *name; /* a [remote NAME] of the configuration */
    const char *const *args;
    size_t arg_count;
    int as_json; /* list */
    int dry_run; /* prune */
} zb_remote_request;

/* Does the action on the configured remote. */
int zb_remote_run(zb_context *ctx, const zb_remote_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_remote(zb_context *ctx, int argc, char **argv);

#endif
