/* A later snapshot a replay passes: a nightly archive of the same chain,
 * taken while the follower ran, whose position lies between where the
 * replay starts and the target. The replayed database, at the point of the
 * stream where it holds exactly the transactions that snapshot holds, must
 * equal it: each replayed table's rows are read back and their count and
 * row hash (the summary's "rowset", docs/FORMAT.md) compared with the
 * archive's. The archive is read whole (which verifies it) only once the
 * replay reaches that point. */
#ifndef ZB_SOURCE_PG_PITR_PASSED_H
#define ZB_SOURCE_PG_PITR_PASSED_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/source/pg/pitr/replay.h"
#include "zakpos_backup/source/pg/pitr/xidsnap.h"
#include "zakpos_backup/source/pg/verify.h"

#include <jansson.h>
#include <stdint.h>

typedef struct zb_pitr_passed {
    char *archive;            /* its path; NULL: the replay passes no later snapshot */
    json_t *position;         /* as the repository index records it */
    zb_xid_snapshot snapshot; /* what it holds */
    uint64_t lsn;             /* every transaction it holds committed before this */
} zb_pitr_passed;

/* The newest such snapshot of chain after scan_lsn before the target
 * (out->archive NULL if none). */
int zb_pitr_passed_find(zb_pitr_passed *out, const char *repo, const char *source, const char *chain, uint64_t scan_lsn,
                        const zb_pitr_target *target);
/* Reads the archive (its signed manifest must hold the index's position)
 * and compares the tables named in tables ("schema.name", NULL-terminated)
 * of the database vo names with it: ZB_EVERIFY naming the tables that
 * differ. *compared: how many tables were compared. */
int zb_pitr_passed_compare(unsigned int *compared, const zb_pitr_passed *p, const zb_read_keys *keys,
                           const char *source, const zb_pg_verify_options *vo, const char *const *tables);
void zb_pitr_passed_clear(zb_pitr_passed *p);

#endif
