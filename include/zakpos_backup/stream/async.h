/* A stage that hands the rest of the chain to its own thread through a small
 * ring of fixed buffers, so that encryption and file writes overlap with the
 * work upstream (reading, hashing, compressing). Memory: depth x buffer_size. */
#ifndef ZB_STREAM_ASYNC_H
#define ZB_STREAM_ASYNC_H

#include "zakpos_backup/stream/stage.h"

int zb_stage_async_new(zb_stage **out, size_t buffer_size, size_t depth, zb_stage *next);

/* A signal ends the producer's waits (write, close) within a fraction of
 * ZB_STOP_SECONDS, but the rest of the chain may be busy for longer (a zstd
 * job at a high level cannot be cut short). After a signal, this marks the
 * stage abandoned unless its chain was closed: freeing it then
 * leaves the thread and everything after it to the process's exit instead of
 * waiting. Returns 1 when abandoned: the caller must not close what the
 * chain writes to (the thread may still write there). */
int zb_stage_async_abandon(zb_stage *s);

#endif
