/* The `follow` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_FOLLOW_H
#define ZB_COMMAND_FOLLOW_H

#include "zakpos_backup/config/context.h"
#include "zakpos_backup/source/pg/pitr/follow.h"

/* What `follow` is asked: the follower's typed options (repository,
 * database, protection, segments), or to stop following. */
typedef struct zb_follow_request {
    zb_pitr_follow_options follow;
    int stop; /* drop the slot and the publication; the segments stay */
} zb_follow_request;

/* Follows until SIGINT/SIGTERM (or stops following); 0 or a negative zb
 * error code (message set). */
int zb_follow_run(zb_context *ctx, const zb_follow_request *req);

/* The command line into a request, then zb_follow_run. */
int zb_cmd_follow(zb_context *ctx, int argc, char **argv);

#endif
