/* The `list` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_LIST_H
#define ZB_COMMAND_LIST_H

#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/context.h"

typedef struct zb_list_request {
    const char *repo;
    zb_read_keys keys; /* for rebuild_index only */
    int rebuild_index; /* read every archive again for the index */
    int as_json;
} zb_list_request;

/* Prints the repository's archives (a table, or JSON). */
int zb_list_run(zb_context *ctx, zb_list_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_list(zb_context *ctx, int argc, char **argv);

#endif
