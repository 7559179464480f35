/* Where a recovery to a point starts: among the archives given (a chain's
 * base and later nightly archives of the same database), the newest snapshot
 * taken before the target, and the chain whose stream continues it. Chosen
 * from the repository index (what each backup recorded of its snapshot's
 * position), so no archive is read to choose; the chosen archive's own
 * signed manifest is compared with the index once it is read
 * (zb_pitr_start_check). */
#ifndef ZB_SOURCE_PG_PITR_START_H
#define ZB_SOURCE_PG_PITR_START_H

#include "zakpos_backup/source/pg/pitr/replay.h"

#include <jansson.h>
#include <stddef.h>

typedef struct zb_pitr_start {
    const char *archive;  /* one of the paths given */
    json_t *position;     /* as the index records it (owned) */
    json_t *base;         /* {"chain", "lsn"}: the chain and where reading begins (owned) */
    const char *snapshot; /* xmin:xmax:xip when the archive is not the chain's base, else NULL */
} zb_pitr_start;

/* source: the PostgreSQL source's name in the archives (NULL: the only
 * one). An archive the index knows no position of is passed over; when the
 * index knows none at all, out->archive is NULL and the caller keeps to the
 * one archive it was given (an archive older than positions). Positions
 * known but all after the target: ZB_ENOTFOUND. */
int zb_pitr_start_choose(zb_pitr_start *out, const char *const *archives, size_t count, const char *source,
                         const zb_pitr_target *target);
/* The archive's manifest metadata of the source must hold the position the
 * index promised (the index is not signed; the manifest is). */
int zb_pitr_start_check(const zb_pitr_start *start, json_t *source_meta);
void zb_pitr_start_clear(zb_pitr_start *s);
/* The later snapshot a replay of chain from scan_lsn passes on its way to
 * target: among the archives of repo (same source), the newest nightly
 * snapshot of that chain whose stream position lies after scan_lsn and
 * before the target. *archive (its path, free()) and *position (as the index
 * records it, new reference) are NULL when there is none. */
int zb_pitr_start_passed(char **archive, json_t **position, const char *repo, const char *source, const char *chain,
                         uint64_t scan_lsn, const zb_pitr_target *target);
/* The position of the PostgreSQL source (of that name, or any if source is
 * NULL) the repository index records for one archive (borrowed from
 * index), or NULL. */
json_t *zb_pitr_recorded_position(json_t *index, const char *archive_name, const char *source);

#endif
