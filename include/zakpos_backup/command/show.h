/* The `show` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_SHOW_H
#define ZB_COMMAND_SHOW_H

#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/context.h"

typedef struct zb_show_request {
    zb_read_keys keys;
    const char *archive;
    int entries; /* every entry, not only the sources */
    int as_json;
} zb_show_request;

/* Prints the archive's header and, when it can be read, its manifest. */
int zb_show_run(zb_context *ctx, zb_show_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_show(zb_context *ctx, int argc, char **argv);

#endif
