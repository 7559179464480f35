/* A chain's recoverable window, readable without a key: the follower keeps
 * pitr/<chain>/window.json (the base archive and the last segment's last
 * commit; the segments themselves are encrypted) beside the segments, and
 * holds pitr/<chain>.lock while it writes them. `list` shows the windows;
 * `prune` keeps the chains its kept snapshots need and removes the others
 * under the same lock. */
#ifndef ZB_SOURCE_PG_PITR_WINDOW_H
#define ZB_SOURCE_PG_PITR_WINDOW_H

#include "zakpos_backup/repo/repo.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ZB_PITR_WINDOW_FILE "window.json"
#define ZB_PITR_CUT_FILE    "cut.json"

typedef struct zb_pitr_chain_info {
    char *name;        /* the chain: its base snapshot's UTC stamp */
    char *base;        /* the base archive's file name, or NULL if unknown */
    time_t from;       /* the base snapshot's time */
    char *last_commit; /* the last segment's last commit ("2026-...Z"), or NULL: no segment yet */
    double until;      /* the same in Unix seconds (from when there is none) */
    size_t segments;
    int active; /* named by a follower's state file pitr/<slot>.json */
} zb_pitr_chain_info;

/* After a segment is published: records its last commit and the base. */
int zb_pitr_window_write(const char *chain_dir, const char *chain, const char *base, int64_t last_commit,
                         unsigned int segments);
/* The chains in repo/pitr, oldest first (none when there is no such folder). */
int zb_pitr_chains_scan(zb_pitr_chain_info **out, size_t *count, const char *repo);
void zb_pitr_chains_free(zb_pitr_chain_info *chains, size_t count);
/* pitr/<chain>.lock, waiting up to wait_seconds. */
int zb_pitr_chain_lock(zb_repo_lock **out, const char *repo, const char *chain, int wait_seconds);
/* Under the chain's lock: its segments, window and folder, then the lock file. */
int zb_pitr_chain_remove(const char *repo, const char *chain);
/* needed[i] = 1 for each chain a kept snapshot needs: every kept snapshot's
 * window runs up to the next kept one (the newest's has no end), so a
 * chain is needed when it is active or any of it lies at or after the
 * oldest kept snapshot. kept: the kept snapshots' times, any order. */
/* The chain of the oldest kept snapshot, when that is not the chain's base:
 * nothing before the snapshot is in a kept window, so, under the chain's
 * lock (not waiting), pitr/<chain>/cut.json records {"first_segment",
 * "from_lsn" (the snapshot's scan_lsn), "base" (the snapshot, where replay
 * starts now), "from" (its time)} and the segments replay from it does not
 * read go. *removed: how many (would go, with dry_run: no lock, no change).
 * 1 if cut (or it would be), 0 if the chain has no segment to cut. */
int zb_pitr_chain_cut(size_t *removed, const char *repo, const char *chain, const char *snapshot, time_t snapshot_time,
                      uint64_t scan_lsn, int dry_run);
/* *cut NULL if the chain was never cut. */
int zb_pitr_chain_cut_read(json_t **cut, const char *chain_dir);
void zb_pitr_chains_needed(int *needed, const zb_pitr_chain_info *chains, size_t count, const time_t *kept,
                           size_t kept_count);

#endif
