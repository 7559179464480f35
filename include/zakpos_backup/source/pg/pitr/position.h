/* Where a snapshot of a database lies in its change stream (the source's
 * meta.position in an archive, docs/FORMAT.md): the snapshot itself
 * (xmin:xmax:xip, so replay skips exactly the transactions it holds), the
 * WAL position read before it (replay reads the stream from there) and after
 * it, and the server's clock after it (a recovery to a time may start from
 * this snapshot only if that time is at or after it). Read by every backup
 * of a database; a standby (no WAL position of its own) records none. */
#ifndef ZB_SOURCE_PG_PITR_POSITION_H
#define ZB_SOURCE_PG_PITR_POSITION_H

#include "zakpos_backup/source/pg/pitr/replay.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PITR_POSITION_FORMAT 1

/* Before the snapshot is taken, outside its transaction: the WAL insert
 * position into scan_lsn ("X/Y"), or "" on a standby. */
int zb_pitr_position_before(char *scan_lsn, size_t size, PGconn *conn);
/* Inside the snapshot's transaction: the position object (new reference),
 * or *out NULL on a standby or when scan_lsn is "". chain names the change
 * stream the snapshot belongs to by construction (a chain's base), or NULL. */
int zb_pitr_position_read(json_t **out, PGconn *conn, const char *scan_lsn, const char *chain);

/* A position as recorded, parsed. */
typedef struct zb_pitr_position {
    const char *snapshot; /* borrowed from the JSON */
    const char *chain;    /* NULL: not a chain's base */
    uint64_t scan_lsn, lsn;
    double time; /* Unix seconds */
} zb_pitr_position;

int zb_pitr_position_parse(zb_pitr_position *out, json_t *position);
/* 1 if a recovery to target may start from this snapshot: everything it
 * holds committed at or before the target. */
int zb_pitr_position_before_target(const zb_pitr_position *pos, const zb_pitr_target *target);

#endif
