/* The `verify` command: see its --help text and docs/USER_GUIDE.md. Its
 * request is filled from the command line (zb_cmd_verify) or from the
 * configuration (`run JOB`'s verify and verify-restore actions). */
#ifndef ZB_COMMAND_VERIFY_H
#define ZB_COMMAND_VERIFY_H

#include "zakpos_backup/config/context.h"
#include "zakpos_backup/restore/rehearse.h"

typedef struct zb_verify_request {
    zb_rehearse_options ro; /* the archive and its keys; the rest with by_restore */
    int by_restore;         /* restore into scratch targets and compare */
    int as_json;            /* with by_restore: the report on stdout */
} zb_verify_request;

/* Adds repository.trust to the keys, verifies, and prints the one-line
 * result unless the context is quiet. */
int zb_verify_run(zb_context *ctx, zb_verify_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_verify(zb_context *ctx, int argc, char **argv);

#endif
