/* A stage that hands the rest of the chain to its own thread through a small
 * ring of fixed buffers, so that encryption and file writes overlap with the
 * work upstream (reading, hashing, compressing). Memory: depth x buffer_size. */
#ifndef ZB_STREAM_ASYNC_H
#define ZB_STREAM_ASYNC_H

#include "zakpos_backup/stream/stage.h"

int zb_stage_async_new(zb_stage **out, size_t buffer_size, size_t depth, zb_stage *next);

#endif
