/* A restore in one pass over an archive: the sources selected, each with the
 * target it goes to (a folder, a Docker volume, a database), the archive read
 * once from start to end and every entry handed to its source's target, each
 * target finished only once the whole archive proved intact. The restore
 * command, verify --restore and drill all restore through this. */
#ifndef ZB_RESTORE_PLAN_H
#define ZB_RESTORE_PLAN_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/source/docker/client.h"
#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/source.h"

#include <stddef.h>

typedef struct zb_restore_plan zb_restore_plan;

/* What a target restored and how long it took (seconds spent in its own
 * work: entries written or loaded, and the final step). */
typedef struct zb_restore_target_info {
    const char *kind;   /* ZB_SOURCE_PATH, ZB_SOURCE_VOLUME, ZB_SOURCE_PG */
    const char *name;   /* in the archive */
    const char *target; /* folder, volume or database restored into */
    double load_seconds;
    double finish_seconds;
    int finished;
    const zb_source_ops *ops; /* the kind */
    void *state;              /* its restore (for its verify) */
} zb_restore_target_info;

/* Called for the first entry of a source no target was added for: it may add
 * one (then the source is restored) or not (then it is only verified). */
typedef int (*zb_restore_plan_select_fn)(zb_restore_plan *plan, const char *kind, const char *name, void *payload);

/* Called for every entry before it is handed to its target: returns 1 when
 * it took the entry (it may read its content), 0 to pass it on, <0 error.
 * recover takes the cluster globals this way, ahead of the database. */
typedef int (*zb_restore_plan_entry_fn)(zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info,
                                        void *payload);

/* Called once the whole archive is read and proven intact, before any
 * target is finished: recover creates the roles there, so nothing reaches
 * the server from an archive that turns out truncated or altered. */
typedef int (*zb_restore_plan_verified_fn)(void *payload);

int zb_restore_plan_new(zb_restore_plan **out);
void zb_restore_plan_free(zb_restore_plan *p);
void zb_restore_plan_on_unselected(zb_restore_plan *p, zb_restore_plan_select_fn select, void *payload);
void zb_restore_plan_on_entry(zb_restore_plan *p, zb_restore_plan_entry_fn fn, void *payload);
void zb_restore_plan_on_verified(zb_restore_plan *p, zb_restore_plan_verified_fn fn, void *payload);

/* A target for source `name` of a kind (NULL name: the archive's first of
 * the kind, where the kind allows it), made as opts say. */
int zb_restore_plan_add(zb_restore_plan *p, const zb_source_ops *ops, const char *name, const char *target,
                        const zb_source_restore_options *opts);
/* The same for each kind, as the restore command selects them. */
int zb_restore_plan_add_path(zb_restore_plan *p, const char *name, const char *target, int force);
/* d stays the caller's. */
int zb_restore_plan_add_volume(zb_restore_plan *p, zb_docker *d, const char *name, const char *target,
                               const zb_volume_restore_options *opts);
/* name NULL: the archive's database source, whatever its name. */
int zb_restore_plan_add_pg(zb_restore_plan *p, const char *name, const zb_pg_restore_options *opts);

/* Reads the whole archive, restoring the selected sources; a selected source
 * the archive does not have is an error naming those it has. */
int zb_restore_plan_run(zb_restore_plan *p, zb_archive_reader *r);

size_t zb_restore_plan_count(const zb_restore_plan *p);
zb_restore_target_info zb_restore_plan_target(const zb_restore_plan *p, size_t i);

#endif
