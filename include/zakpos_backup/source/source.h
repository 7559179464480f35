/* What is backed up, behind one interface: each source kind (a PostgreSQL
 * database, a Docker volume, a host path) is a table of operations that
 * backup, the restore plan, verification and rehearsal iterate over, as
 * remote/driver.h is for offsite storage. A new kind is one folder under
 * src/source/ and one entry in zb_source_kinds; nothing else compares kind
 * names. */
#ifndef ZB_SOURCE_SOURCE_H
#define ZB_SOURCE_SOURCE_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/source/docker/client.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/pg/pg.h"

#include <stddef.h>

/* A rehearsal's scratch database: this prefix, then the rehearsal's id. */
#define ZB_SOURCE_SCRATCH_DB_PREFIX "zakpos_backup_verify_"

/* Everything one backup was asked to read, each kind's part of it. */
typedef struct zb_source_selection {
    const char *const *paths; /* "[NAME=]DIR" */
    size_t path_count;
    int pg_selected;
    const char *pg_name; /* NULL: the database's own name when valid, else "db" */
    const zb_pg_backup_options *pg;
    zb_docker *docker;
    char *const *volumes; /* resolved volume names, in backup order */
    size_t volume_count;
    const zb_volume_backup_options *volume;
    int *retry; /* set when a volume changed while read: the archive starts again */
} zb_source_selection;

/* How one target of a restore is made, each kind reading its own part. */
typedef struct zb_source_restore_options {
    int force;                               /* path: replace a folder that is not empty */
    zb_docker *docker;                       /* volume: the daemon (stays the caller's) */
    const zb_volume_restore_options *volume; /* volume */
    const zb_pg_restore_options *pg;         /* pg */
} zb_source_restore_options;

/* A rehearsal's scratch environment (verify --restore, drill), shared by
 * the kinds: each opens or makes what it needs on first use. */
typedef struct zb_source_scratch {
    const char *id; /* this rehearsal's, in every scratch name */
    const char *pg_conninfo, *pg_password_file;
    int pg_jobs, no_owner, no_acl;
    const char *docker_host;
    const char *scratch_dir; /* parent of scratch folders; NULL: TMPDIR or /tmp */
    zb_docker *docker;       /* opened on first need */
    char *folder;            /* made on first need */
    int pg_count;            /* databases named so far */
    /* Kept across one scratch target's setup: its options point here. */
    zb_volume_restore_options volume;
    zb_pg_restore_options pg;
} zb_source_scratch;

/* What reading a restored source back found. */
typedef struct zb_source_check {
    char **differences; /* the first `limit`, each naming the entry and what differs */
    size_t kept, count; /* differences kept, and found in all */
    long long amount;   /* rows (a database) or entries (a tree) read back */
    int amount_is_rows;
    int has_amount;      /* amount was counted (a failed read-back may not have) */
    char **not_verified; /* objects the scratch restore could not create: "id: reason" */
    size_t not_verified_count;
    long long settings_left_out; /* owners and privileges it could not set */
    int has_left_out;            /* the kind reports the two above */
} zb_source_check;

typedef struct zb_source_ops {
    const char *kind;    /* in the archive: ZB_SOURCE_PG, ZB_SOURCE_VOLUME, ZB_SOURCE_PATH */
    const char *reading; /* the backup's progress phase ("reading folders") */
    /* backup: every source of this kind the selection names */
    int (*selected)(const zb_source_selection *sel);
    int (*backup)(zb_archive_writer *w, const zb_source_selection *sel);
    /* restore: a target per selected source; entries arrive in archive
     * order, finish once the archive was read to its end (verified) */
    int any_name; /* a target added without a name takes the archive's first source of the kind */
    int (*restore_begin)(void **state, const char *name, const char *target, const zb_source_restore_options *opts);
    int (*restore_entry)(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info);
    int (*restore_finish)(void *state, zb_archive_reader *r);
    const char *(*restore_target)(const void *state);
    void (*restore_free)(void *state);
    /* rehearsal: a scratch target for source `name` (*target allocated) */
    int (*scratch_target)(zb_source_scratch *s, const char *name, char **target, zb_source_restore_options *opts);
    /* reads a finished restore back and compares it with the archive */
    int (*verify)(zb_source_scratch *s, void *restore_state, zb_archive_reader *r, const char *name, const char *target,
                  size_t limit, zb_source_check *out);
    int (*scratch_remove)(zb_source_scratch *s, const char *target);
} zb_source_ops;

extern const zb_source_ops zb_source_pg, zb_source_volume, zb_source_path;

/* A kind's restore operations from its functions PREFIX_entry, _finish,
 * _target and _free, which take its own state type: one wrapper each (a
 * function must be called through a pointer of its own type). */
#define ZB_SOURCE_RESTORE_WRAPPERS(prefix, type)                                                                       \
    static int prefix##_entry_op(void *state, zb_archive_reader *r, struct archive_entry *e,                           \
                                 const zb_entry_info *info)                                                            \
    {                                                                                                                  \
        return prefix##_entry((type *)state, r, e, info);                                                              \
    }                                                                                                                  \
    static int prefix##_finish_op(void *state, zb_archive_reader *r) { return prefix##_finish((type *)state, r); }     \
    static const char *prefix##_target_op(const void *state) { return prefix##_target((const type *)state); }          \
    static void prefix##_free_op(void *state) { prefix##_free((type *)state); }

/* Every kind, NULL-terminated, in backup order: volumes first (a volume
 * that changed while read starts the archive again: less is redone), then
 * the database, then folders. */
extern const zb_source_ops *const zb_source_kinds[];

/* The kind named in an archive, or NULL. */
const zb_source_ops *zb_source_find(const char *kind);

/* For the kinds' scratch targets: the Docker daemon, and the folder of this
 * rehearsal's scratch folders, each on first use. */
int zb_source_scratch_docker(zb_source_scratch *s);
int zb_source_scratch_folder(zb_source_scratch *s);
void zb_source_scratch_free(zb_source_scratch *s);

/* Differences and objects as strings into a check (copied). */
int zb_source_check_add_difference(zb_source_check *c, const char *text);
/* Each string of a JSON array (as a comparison collects them), and the
 * total found, into a check. */
int zb_source_check_take_differences(zb_source_check *c, json_t *differences, size_t count);
int zb_source_check_add_not_verified(zb_source_check *c, const char *text);
void zb_source_check_free(zb_source_check *c);

#endif
