/* `run JOB`: one job of the configuration, once, for system cron or a
 * systemd timer: silent on success (unless --verbose), one clear line and a
 * documented exit status on failure, and the metrics textfile updated. The
 * job's commands get requests built from the configuration (below) and run
 * in this process; the daemon starts `run JOB` as a child process. */
#ifndef ZB_COMMAND_RUN_H
#define ZB_COMMAND_RUN_H

#include "zakpos_backup/command/backup.h"
#include "zakpos_backup/command/prune.h"
#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/config/context.h"

int zb_cmd_run(zb_context *ctx, int argc, char **argv);

typedef struct zb_run_request {
    const char *job; /* a [job NAME] of the configuration */
    int lock_wait;   /* seconds; -1: daemon.lock_wait */
    int verbose;     /* log at info level; else warnings and errors only */
} zb_run_request;

/* Runs the job once: its command's request built from the configuration,
 * then the metrics file and the webhook. */
int zb_run_job(zb_context *ctx, const zb_run_request *req);

/* A backup job's request and what it owns: the words of the lists and the
 * NAME=DIR of each path. */
typedef struct zb_run_backup {
    zb_backup_request req;
    char *recipient_words, *volume_words;
    zb_buf path_specs[ZB_CONFIG_MAX_PATHS];
} zb_run_backup;

/* The backup the configuration describes: its repository, protection,
 * compression and sources, copied to every configured remote. */
int zb_run_backup_request(zb_run_backup *b, const zb_config *c, int lock_wait);
void zb_run_backup_free(zb_run_backup *b);
/* The repository's retention rules, as prune reads them. */
void zb_run_prune_request(zb_prune_request *req, const zb_config *c, int lock_wait);
/* verify of the newest archive, with the repository's key or passphrase;
 * by_restore: restored into scratch targets and compared (verify --restore).
 * *latest owns the archive's path (the caller frees it). */
int zb_run_verify_request(zb_verify_request *req, char **latest, const zb_config *c, int by_restore);

#endif
