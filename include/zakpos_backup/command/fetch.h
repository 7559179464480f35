/* The `fetch` command: see its --help text. */
#ifndef ZB_COMMAND_FETCH_H
#define ZB_COMMAND_FETCH_H

#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/context.h"

typedef struct zb_fetch_request {
    const char *remote;  /* a [remote NAME] of the configuration */
    const char *archive; /* a name there, or "latest" */
    const char *out;     /* the folder it is downloaded into */
    zb_read_keys keys;   /* whose signers are trusted */
} zb_fetch_request;
/* Downloads the archive, checks its header against the trusted signers
 * before it is published, and prints its path. */
int zb_fetch_run(zb_context *ctx, const zb_fetch_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_fetch(zb_context *ctx, int argc, char **argv);

#endif
