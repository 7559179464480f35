/* The slot watcher: how far a logical replication slot holds the server
 * back (WAL it retains, changes not yet confirmed and for how long), read
 * from pg_replication_slots by the daemon even while the follower is down,
 * the verdict against the configured limits, and the last observation kept
 * in daemon.state_dir/follow.json for `healthcheck`. */
#ifndef ZB_SOURCE_PG_PITR_WATCH_H
#define ZB_SOURCE_PG_PITR_WATCH_H

#include <libpq-fe.h>
#include <stdint.h>

#define ZB_PITR_WATCH_FILE "follow.json"

typedef struct zb_pitr_slot_status {
    int exists;
    int active;              /* a walsender streams from it */
    uint64_t retained_bytes; /* pg_current_wal_lsn() - restart_lsn: WAL the server keeps for it */
    uint64_t lag_bytes;      /* pg_current_wal_lsn() - confirmed_flush_lsn */
    uint64_t confirmed_lsn;
} zb_pitr_slot_status;

/* The age of the oldest unconfirmed change, as one watcher sees it: the
 * server keeps no time with a slot, so the watcher notes when it first saw
 * WAL past the confirmed position, and starts again whenever that moves. */
typedef struct zb_pitr_watch {
    uint64_t confirmed_lsn;
    double behind_since; /* Unix seconds; 0: caught up */
} zb_pitr_watch;

typedef enum zb_pitr_verdict {
    ZB_PITR_SLOT_OK,
    ZB_PITR_SLOT_TOO_MUCH_WAL,
    ZB_PITR_SLOT_TOO_OLD,
} zb_pitr_verdict;

int zb_pitr_slot_status_read(zb_pitr_slot_status *out, PGconn *conn, const char *slot);
/* Takes one observation at now; returns the lag in seconds. */
double zb_pitr_watch_update(zb_pitr_watch *w, const zb_pitr_slot_status *s, double now);
/* Past a limit (max_wal_bytes, max_age_seconds), the slot must go. */
zb_pitr_verdict zb_pitr_watch_verdict(const zb_pitr_slot_status *s, double lag_seconds, long long max_wal_bytes,
                                      int max_age_seconds);
/* state_dir/follow.json: {SLOT: {observed, exists, lag_bytes, lag_seconds, retained_bytes, confirmed_lsn}} */
int zb_pitr_watch_record(const char *state_dir, const char *slot, const zb_pitr_slot_status *s, double lag_seconds,
                         double now);
/* The last observation of slot: *observed 0 when there is none. */
int zb_pitr_watch_load(double *observed, double *lag_seconds, const char *state_dir, const char *slot);

#endif
