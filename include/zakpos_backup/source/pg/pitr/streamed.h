/* Transactions the server streams while they are in progress (pgoutput
 * protocol version 2, streaming on: PostgreSQL 14+ sends a transaction
 * larger than logical_decoding_work_mem in blocks before it commits, and
 * more than one may be open at a time). Each is spilled to its own unlinked
 * temporary file (memory stays flat), cut back when a subtransaction
 * aborts, dropped when it aborts, and handed on at its Stream Commit, in
 * commit order, as a committed transaction of protocol version 1: Begin,
 * its messages without the xid, Commit. Segments so hold version 1 only. */
#ifndef ZB_SOURCE_PG_PITR_STREAMED_H
#define ZB_SOURCE_PG_PITR_STREAMED_H

#include "zakpos_backup/source/pg/pitr/segment.h"

#include <stddef.h>
#include <stdint.h>

typedef struct zb_pitr_streamed zb_pitr_streamed;

/* dir: where the temporary files are made. */
int zb_pitr_streamed_new(zb_pitr_streamed **out, const char *dir);
/* Takes a message of the stream: 1 if it belongs to a streamed transaction
 * (Stream Start, Stop, Commit, Abort, or anything inside a Stream block),
 * 0 if it is an ordinary message the caller handles, <0 on error. At a
 * Stream Commit, fn gets the whole transaction (its records' LSNs; Begin and
 * Commit get the Stream Commit's), and a value != 0 from fn is returned. */
int zb_pitr_streamed_take(zb_pitr_streamed *s, const uint8_t *data, size_t len, uint64_t lsn, zb_pitr_record_fn fn,
                          void *payload);
/* Transactions begun and neither committed nor aborted. */
size_t zb_pitr_streamed_open_count(const zb_pitr_streamed *s);
void zb_pitr_streamed_free(zb_pitr_streamed *s);

#endif
