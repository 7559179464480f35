/* Recovery to a point in time: a chain's segments applied, in commit order,
 * to a database restored from the chain's base snapshot, up to a commit
 * time or LSN; then the sequences. Transactions the snapshot already holds
 * (commit LSN before its position) are skipped; each segment is verified
 * whole before any of its changes is applied. */
#ifndef ZB_SOURCE_PG_PITR_REPLAY_H
#define ZB_SOURCE_PG_PITR_REPLAY_H

#include "zakpos_backup/archive/keys.h"

#include <jansson.h>
#include <stdint.h>

typedef struct zb_pitr_target {
    int by_time;
    double until; /* Unix seconds: commits at or before it are applied */
    int by_lsn;
    uint64_t until_lsn; /* transactions whose commit LSN is at most this are applied */
} zb_pitr_target;

typedef struct zb_pitr_replay_options {
    const char *repo; /* the folder of the base archive */
    json_t *base;     /* the base archive's "pitr" metadata (borrowed) */
    const zb_read_keys *keys;
    const char *conninfo; /* the server restored into */
    const char *password_file;
    const char *dbname;        /* the restored database */
    const char *const *tables; /* "schema.name" to replay (NULL: all) */
    zb_pitr_target target;
    json_t *snapshot_tables; /* the restored snapshot's summary "tables" (borrowed): rows to start counting from */
    /* Starting from a snapshot other than the chain's base (a nightly
     * archive): its xmin:xmax:xip. Then base's "lsn" is where reading
     * begins, and a transaction is skipped iff its xid is visible in this
     * snapshot (docs/FORMAT.md, "Snapshot positions"). NULL: the chain's
     * base, whose consistent point divides the stream exactly. */
    const char *snapshot;
    /* With snapshot: the WAL position read after it. The follower's row
     * counts of a segment that ends before it cannot be compared with counts
     * that start from this snapshot (it may hold later commits). */
    const char *snapshot_lsn;
    /* The database source's name in the archives (NULL: the only one): a
     * later snapshot of the chain the replay passes is compared with the
     * replayed database at its position (passed.h). */
    const char *source;
} zb_pitr_replay_options;

typedef struct zb_pitr_replay_result {
    uint64_t transactions, changes;
    uint64_t last_lsn;   /* end LSN of the last transaction applied (the base's position if none) */
    int64_t last_commit; /* its commit time (pgoutput's microseconds), 0 if none */
    int reached_target;  /* 0: the chain ends before the target */
    unsigned int segments;
    /* the later snapshot compared at its position ("" if none was passed),
     * and how many tables were compared */
    char compared_with[512];
    unsigned int tables_compared;
    /* the chain ended before the target (a schema change): why, where, and
     * the chain that goes on ("" if it did not end so) */
    char chain_end[256];
} zb_pitr_replay_result;

int zb_pitr_replay(zb_pitr_replay_result *out, const zb_pitr_replay_options *opts);
/* Parses --until (a UTC time, fractions of a second allowed) */
int zb_pitr_parse_time(double *out, const char *text);

#endif
