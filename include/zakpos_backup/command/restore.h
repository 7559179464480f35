/* The `restore` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_RESTORE_H
#define ZB_COMMAND_RESTORE_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/context.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/pitr/replay.h"

/* What to restore from which archive, and how. */
typedef struct zb_restore_request {
    zb_read_keys keys;
    const char *archive;
    /* With --until or --until-lsn, every ARCHIVE given: the newest snapshot
     * before the point becomes archive (NULL: archive alone) */
    const char *const *archives;
    size_t archive_count;
    zb_strv paths;   /* NAME=TARGETDIR each */
    zb_strv volumes; /* NAME or NAME=NEWNAME each */
    const char *pg_source;
    int pg_selected;
    zb_strv pg_tables, pg_schemas;
    zb_pg_restore_options pg;
    int force;
    zb_volume_restore_options volume;
    int pitr;             /* --until or --until-lsn given (twice: refused) */
    zb_pitr_target until; /* the point a point-in-time recovery stops at */
} zb_restore_request;

/* Frees the lists (not the strings they point to). */
void zb_restore_request_free(zb_restore_request *req);
/* Checks the request, restores every selected source (published only once
 * the archive verified) and prints one line per target restored. */
int zb_restore_run(zb_context *ctx, zb_restore_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_restore(zb_context *ctx, int argc, char **argv);

#endif
