/* The `sign` command: see its --help text and docs/SECURITY.md. */
#ifndef ZB_COMMAND_SIGN_H
#define ZB_COMMAND_SIGN_H

#include "zakpos_backup/config/context.h"

#include <stddef.h>

typedef struct zb_sign_request {
    const char *key_file;         /* proves the archives are readable by their recipients */
    const char *signing_key_file; /* keygen's FILE.sign */
    const char *const *archives;
    size_t archive_count;
} zb_sign_request;
/* Writes ARCHIVE.sig beside each archive. */
int zb_sign_run(zb_context *ctx, const zb_sign_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_sign(zb_context *ctx, int argc, char **argv);

#endif
