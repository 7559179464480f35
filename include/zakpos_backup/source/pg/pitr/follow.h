/* The follower: a PostgreSQL database's committed changes, streamed from a
 * logical replication slot into segments beside a base snapshot taken from
 * the slot's own exported snapshot (no gap, no overlap), the position
 * confirmed to the server only once the segment holding it is durable. */
#ifndef ZB_SOURCE_PG_PITR_FOLLOW_H
#define ZB_SOURCE_PG_PITR_FOLLOW_H

#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/source/pg/pg.h"

#include <stddef.h>

#define ZB_PITR_DEFAULT_SLOT            "zakpos_backup"
#define ZB_PITR_DEFAULT_SEGMENT_SECONDS 10
#define ZB_PITR_DEFAULT_SEGMENT_BYTES   ((size_t)16 * 1024 * 1024)

typedef struct zb_pitr_follow_options {
    const char *repo;
    const char *name;                 /* the base archive's name prefix (default zakpos) */
    const char *source_name;          /* the database's name in archives and segments */
    const char *slot;                 /* the slot's and the publication's name */
    int segment_seconds;              /* a segment closes this long after its first commit */
    size_t segment_bytes;             /* ... or once this large */
    const char *const *full_identity; /* "schema.table" given REPLICA IDENTITY FULL (NULL-terminated) */
    const char *const *exclude;       /* "schema.table" left out of the stream */
    zb_archive_write_options write;
    zb_pg_backup_options pg; /* conninfo, password file, jobs for the base snapshot */
} zb_pitr_follow_options;

/* Runs until SIGINT/SIGTERM; then publishes the complete transactions it
 * holds, confirms them and returns 0. Once streaming, a lost connection (a
 * server restart) is retried after zb_pitr_reconnect_delay() seconds,
 * resuming from the newest published segment. */
int zb_pitr_follow(const zb_pitr_follow_options *opts);
/* The wait before the next try after `failures` failed ones in a row:
 * 1 s, 2 s, 4 s ... at most 60 s (the daemon restarts its follower alike). */
int zb_pitr_reconnect_delay(int failures);
/* Drops the slot and the publication; the segments stay for recovery. */
int zb_pitr_follow_stop(const zb_pitr_follow_options *opts);

#endif
