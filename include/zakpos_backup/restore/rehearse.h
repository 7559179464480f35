/* A restore rehearsal: every source of an archive restored into scratch
 * targets (a database zakpos_backup_verify_<id>, volumes <name>_verify_<id>,
 * folders under a temporary directory), each then read back and compared
 * with what the backup recorded (see restore/check.h and source/pg/verify.h),
 * timed part by part, and the scratch targets removed unless kept. Used by
 * verify --restore and drill. */
#ifndef ZB_RESTORE_REHEARSE_H
#define ZB_RESTORE_REHEARSE_H

#include "zakpos_backup/archive/keys.h"

#include <jansson.h>

#define ZB_REHEARSE_SCRATCH_DB_PREFIX "zakpos_backup_verify_"

typedef struct zb_rehearse_options {
    const char *archive;
    zb_read_keys keys;
    const char *pg_conninfo;      /* server for the scratch database; NULL: DATABASE_URL / libpq defaults */
    const char *pg_password_file;
    int pg_jobs;
    int no_owner, no_acl;
    const char *docker_host;      /* NULL: DOCKER_HOST or the local socket */
    const char *scratch_dir;      /* parent of scratch folders; NULL: TMPDIR or /tmp */
    int keep;                     /* leave the scratch targets for inspection */
    double fetch_seconds;         /* time already spent fetching the archive (reported) */
    /* Runs once everything was restored and compared, before the scratch
     * targets go (a drill's own checks); it may add to the report and
     * returns 0, or an error that fails the rehearsal. */
    int (*before_cleanup)(json_t *report, void *payload);
    void *payload;
} zb_rehearse_options;

/* Runs the rehearsal. *report (always set, even on failure) is a JSON object:
 * archive, id, result ("pass"/"fail"), error, seconds {fetch, read, restore,
 * verify, total}, bytes, parts [{kind, name, target, restore_seconds,
 * verify_seconds, result, differences, difference_count, rows|entries}],
 * kept. Returns 0 when everything matched, ZB_EVERIFY when the restored data
 * differs, another error when the restore itself failed. */
int zb_rehearse_run(json_t **report, const zb_rehearse_options *opts);

/* Records the result in the index of the archive's repository (how:
 * "restore" or "drill"), when it says something about the archive: a pass,
 * differences, damage; not a server that could not be reached. */
void zb_rehearse_record(const char *archive, json_t *report, int rc, const char *how);

#endif
