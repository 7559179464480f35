/* The Prometheus textfile (node_exporter's textfile collector): per job the
 * last run, last success, result, duration, archive size and failures, and
 * per remote the archives it still lacks, and the repository's free space. The values live in a small JSON
 * state file (daemon.state_dir/metrics.json) and the textfile is rewritten
 * from it atomically after every run, valid for any job or remote name. */
#ifndef ZB_NOTIFY_METRICS_H
#define ZB_NOTIFY_METRICS_H

#include "zakpos_backup/common/buf.h"

#include <stddef.h>

typedef struct zb_metrics_run {
    const char *job;
    const char *action; /* backup, prune, verify, verify-restore */
    const char *repo;   /* its free space is recorded, or NULL */
    int ok;
    double seconds;
    long long bytes; /* the archive written, or -1 */
} zb_metrics_run;

/* A remote's count of archives its retention would keep that it lacks. */
typedef struct zb_metrics_remote {
    const char *name;
    long long pending;
} zb_metrics_remote;

/* Records one run (and, when remote_count > 0, the remotes' pending counts)
 * and rewrites metrics_file; nothing when metrics_file is empty. */
int zb_metrics_record(const char *metrics_file, const char *state_dir, const zb_metrics_run *run,
                      const zb_metrics_remote *remotes, size_t remote_count);
/* The follower's slot as the daemon's watcher saw it. */
typedef struct zb_metrics_slot {
    const char *slot;
    int exists;
    double lag_bytes, lag_seconds, confirmed_lsn, retained_bytes;
} zb_metrics_slot;

/* Records the slot's figures and rewrites metrics_file (nothing when it is
 * empty): zakpos_backup_follow_{lag_bytes,lag_seconds,confirmed_lsn,
 * retained_wal_bytes,slot_exists}{slot=...}. */
int zb_metrics_record_slot(const char *metrics_file, const char *state_dir, const zb_metrics_slot *slot);
/* Appends text as a label value of the exposition format: \ " and newline
 * escaped as \\ \" \n. */
int zb_metrics_label_value(zb_buf *b, const char *text);

#endif
