/* The `backup` command: see its --help text and docs/USER_GUIDE.md. Its
 * request is filled from the command line (zb_cmd_backup) or from the
 * configuration (`run JOB`); zb_backup_run does the work. */
#ifndef ZB_COMMAND_BACKUP_H
#define ZB_COMMAND_BACKUP_H

#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/context.h"
#include "zakpos_backup/source/pg/pg.h"

typedef struct zb_backup_request {
    const char *repo;
    const char *name;
    zb_strv recipients;
    zb_strv paths; /* [NAME=]DIR each */
    const char *pg_name;
    int pg_selected;
    zb_pg_backup_options pg;
    zb_strv volumes, volume_labels, compose_projects, stop_containers, pause_containers;
    int volume_api;
    int volume_agent;
    zb_strv remotes;
    int no_remote;
    int lock_wait; /* seconds to wait for a busy repository */
    zb_archive_write_options write;
} zb_backup_request;

/* The defaults of the command line: name "zakpos", zstd workers per core. */
void zb_backup_request_init(zb_backup_request *req);
/* Frees the lists (not the strings they point to). */
void zb_backup_request_free(zb_backup_request *req);
/* Checks the request (usage errors name the flags) and writes the archive;
 * its path is the command's result (printed unless the context is quiet). */
int zb_backup_run(zb_context *ctx, zb_backup_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_backup(zb_context *ctx, int argc, char **argv);

#endif
