/* A restore rehearsal: every source of an archive restored into scratch
 * targets (a database zakpos_backup_verify_<id>, volumes <name>_verify_<id>,
 * folders under a temporary directory), each then read back and compared
 * with what the backup recorded (see source/path/check.h and source/pg/verify.h),
 * timed part by part, and the scratch targets removed unless kept. Used by
 * verify --restore and drill. */
#ifndef ZB_RESTORE_REHEARSE_H
#define ZB_RESTORE_REHEARSE_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/source/source.h"

#include <jansson.h>

typedef struct zb_rehearsal zb_rehearsal;

typedef struct zb_rehearse_options {
    const char *archive;
    zb_read_keys keys;
    const char *pg_conninfo; /* server for the scratch database; NULL: DATABASE_URL / libpq defaults */
    const char *pg_password_file;
    int pg_jobs;
    int no_owner, no_acl;
    const char *docker_host; /* NULL: DOCKER_HOST or the local socket */
    const char *scratch_dir; /* parent of scratch folders; NULL: TMPDIR or /tmp */
    int keep;                /* leave the scratch targets for inspection */
    double fetch_seconds;    /* time already spent fetching the archive (reported) */
    /* Runs once everything was restored and compared, before the scratch
     * targets go (a drill's own checks), with the rehearsal so far; returns
     * 0, or an error that fails the rehearsal. */
    int (*before_cleanup)(const zb_rehearsal *r, void *payload);
    void *payload;
} zb_rehearse_options;

/* How one part (a source of the archive) came out. */
typedef enum zb_part_result {
    ZB_PART_PASS,
    ZB_PART_FAIL,         /* read back, and it differs */
    ZB_PART_INCOMPLETE,   /* no difference, but objects the scratch role could not create */
    ZB_PART_ERROR,        /* the read-back itself failed */
    ZB_PART_NOT_VERIFIED, /* restored, not read back (an earlier failure) */
    ZB_PART_NOT_RESTORED
} zb_part_result;

typedef enum zb_rehearsal_result { ZB_REHEARSAL_PASS, ZB_REHEARSAL_FAIL, ZB_REHEARSAL_INCOMPLETE } zb_rehearsal_result;

typedef struct zb_rehearsal_part {
    const zb_source_ops *ops; /* its kind */
    char *name, *target;
    double restore_seconds;
    int verified; /* read back (or tried): what follows holds */
    int has_bytes;
    long long bytes; /* the source's size in the manifest */
    zb_source_check check;
    double verify_seconds;
    zb_part_result result;
    json_t *meta; /* the source's "meta" in the archive's signed manifest (a reference), or NULL */
} zb_rehearsal_part;

struct zb_rehearsal {
    char *archive;
    char id[9];
    char host[256];
    char started[32];
    int kept;
    zb_rehearsal_part *parts;
    size_t part_count;
    int read; /* the archive was read to its end: the facts below hold */
    int has_created;
    char created[64];
    long long age_seconds;
    long long bytes;
    zb_rehearsal_result result;
    char *error; /* the failure's message, or NULL */
    double fetch_seconds, read_seconds, restore_seconds, verify_seconds, total_seconds;
};

/* Runs the rehearsal. *out (always set unless memory ran out, even on
 * failure) says how each part came out. Returns 0 when everything matched,
 * ZB_EVERIFY when the restored data differs, another error when the restore
 * itself failed. */
int zb_rehearse_run(zb_rehearsal **out, const zb_rehearse_options *opts);
void zb_rehearsal_free(zb_rehearsal *r);

/* The rehearsal as its JSON report (docs/FORMAT.md): archive, id, host,
 * started, parts [{kind, name, target, restore_seconds, bytes, rows|entries,
 * not_verified, owners_privileges_left_out, differences, difference_count,
 * result, verify_seconds}], kept, archive_created, archive_age_seconds,
 * bytes, then extra's members (a drill's checks; may be NULL, not stolen),
 * result, error, seconds {fetch, read, restore, verify, total}. */
json_t *zb_rehearsal_json(const zb_rehearsal *r, json_t *extra);
const char *zb_part_result_name(zb_part_result result);

/* Records the result in the index of the archive's repository (how:
 * "restore" or "drill"), when it says something about the archive: a pass,
 * differences, damage; not a server that could not be reached. report is
 * the JSON report as written. */
void zb_rehearse_record(const char *archive, json_t *report, int rc, const char *how);

#endif
