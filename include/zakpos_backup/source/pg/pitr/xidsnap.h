/* A snapshot's position in the change stream: which transactions a snapshot
 * (an archive's copy of the database) already holds. PostgreSQL prints a
 * snapshot as "xmin:xmax:xip,…" (pg_current_snapshot() on 13+,
 * txid_current_snapshot() on 12), with 64-bit transaction ids (epoch in the
 * high 32 bits). A transaction is visible in it, so its changes are in the
 * snapshot, iff its id is below xmin, or below xmax and not in xip.
 *
 * The stream's Begin message carries only the 32-bit id; it is widened
 * against the snapshot's xmax (the nearest 64-bit id with those low 32 bits):
 * exact for any transaction within 2^31 ids of the snapshot, which the
 * server's wraparound protection guarantees for every transaction that can
 * still commit after it. */
#ifndef ZB_SOURCE_PG_PITR_XIDSNAP_H
#define ZB_SOURCE_PG_PITR_XIDSNAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct zb_xid_snapshot {
    uint64_t xmin, xmax;
    uint64_t *xip; /* sorted */
    size_t xip_count;
} zb_xid_snapshot;

/* Parses "xmin:xmax:xip,…" (ZB_EFORMAT if malformed: xmin > xmax, an xip
 * outside [xmin, xmax)). */
int zb_xid_snapshot_parse(zb_xid_snapshot *out, const char *text);
void zb_xid_snapshot_clear(zb_xid_snapshot *s);
/* The 64-bit id nearest to the snapshot's xmax with these low 32 bits. */
uint64_t zb_xid_widen(const zb_xid_snapshot *s, uint32_t xid);
/* 1 if the transaction's changes are in the snapshot, else 0. */
int zb_xid_visible(const zb_xid_snapshot *s, uint32_t xid);

#endif
