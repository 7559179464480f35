/* The logical replication connection of the follower, through libpq alone:
 * the slot (created with an exported snapshot, so a base backup that adopts
 * it ends exactly where the stream begins), START_REPLICATION with pgoutput,
 * the CopyData frames (XLogData, keepalive) and the standby status updates
 * that confirm to the server how far the stream is durable. */
#ifndef ZB_SOURCE_PG_PITR_STREAM_H
#define ZB_SOURCE_PG_PITR_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct zb_pitr_stream zb_pitr_stream;

int zb_pitr_stream_open(zb_pitr_stream **out, const char *conninfo, const char *password_file);
/* CREATE_REPLICATION_SLOT slot LOGICAL pgoutput, exporting its snapshot:
 * snapshot (the id for SET TRANSACTION SNAPSHOT) stays valid until the next
 * command on this connection. consistent_point: where the stream starts. */
int zb_pitr_stream_create_slot(zb_pitr_stream *s, const char *slot, char *snapshot, size_t snapshot_size,
                               uint64_t *consistent_point);
/* START_REPLICATION of slot from start_lsn, pgoutput protocol version 1 for
 * the publication. */
int zb_pitr_stream_start(zb_pitr_stream *s, const char *slot, const char *publication, uint64_t start_lsn);
/* Waits up to timeout_ms for the next change message: 1 with *data and *len
 * (valid until the next call) and *lsn (its XLogData start), 0 when none
 * came (a keepalive, or the time ran out), <0 on error. Keepalives that ask
 * for a reply are answered with the confirmed position. */
int zb_pitr_stream_next(zb_pitr_stream *s, const uint8_t **data, size_t *len, uint64_t *lsn, int timeout_ms);
/* The server's end of WAL as its last message told it (0 if none yet). */
uint64_t zb_pitr_stream_server_end(const zb_pitr_stream *s);
/* Confirms flushed (everything before it is durable) and sends a status
 * update now. The position never moves back. */
int zb_pitr_stream_confirm(zb_pitr_stream *s, uint64_t flushed);
/* Sends a status update if the last one is older than interval_seconds. */
int zb_pitr_stream_keepalive(zb_pitr_stream *s, double interval_seconds);
void zb_pitr_stream_free(zb_pitr_stream *s);

#endif
