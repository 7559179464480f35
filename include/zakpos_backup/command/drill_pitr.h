/* drill --until: rehearses a recovery to a point. The start is chosen as
 * restore --until chooses it (the newest snapshot before the point among the
 * archives given, or among the repository's), the rehearsal restores and
 * verifies that snapshot in the scratch database, then the chain's changes
 * are replayed into it up to the point, timed. */
#ifndef ZB_COMMAND_DRILL_PITR_H
#define ZB_COMMAND_DRILL_PITR_H

#include "zakpos_backup/restore/rehearse.h"
#include "zakpos_backup/source/pg/pitr/replay.h"
#include "zakpos_backup/source/pg/pitr/start.h"

#include <jansson.h>
#include <stdio.h>

typedef struct zb_drill_pitr {
    int wanted;             /* --until or --until-lsn given */
    const char *until_text; /* as given */
    zb_pitr_target target;
    zb_pitr_start start;
    char *repo;    /* the chosen archive's folder (free()) */
    char *archive; /* the chosen archive (free()) */
    int replayed;
    double replay_seconds;
    zb_pitr_replay_result result;
} zb_drill_pitr;

/* archives: the ones given, or every archive of repo when count is 0. */
int zb_drill_pitr_choose(zb_drill_pitr *p, const char *const *archives, size_t count, const char *repo);
/* The chain's changes replayed into the scratch database db, once the
 * start's position (from the repository index, which is not signed) was
 * found equal to the one in the archive's signed manifest (source_meta,
 * the database source's "meta"): ZB_EINTEGRITY if not. */
int zb_drill_pitr_replay(zb_drill_pitr *p, const zb_rehearse_options *ro, const char *db, json_t *source_meta);
/* {"archive", "chain", "from", "until", "replay_seconds", "transactions",
 * "changes", "changes_per_second", "segments", "last_lsn", "last_commit",
 * "reached_target"} (new reference) */
json_t *zb_drill_pitr_json(const zb_drill_pitr *p);
void zb_drill_pitr_markdown(FILE *out, const zb_drill_pitr *p);
void zb_drill_pitr_clear(zb_drill_pitr *p);

#endif
