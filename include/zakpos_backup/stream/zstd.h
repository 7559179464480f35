/* zstd through libzstd's streaming API: a compressing stage (multi-threaded
 * with ZSTD_c_nbWorkers, frame checksum on) and a decompressing reader that
 * refuses a stream that ends early, carries bytes after its frame, or lacks
 * the frame's content checksum. */
#ifndef ZB_STREAM_ZSTD_H
#define ZB_STREAM_ZSTD_H

#include "zakpos_backup/stream/stage.h"

#define ZB_ZSTD_DEFAULT_LEVEL  3
/* The reader's cap on a frame's window (2^25 = 32 MiB), the decoder's
 * memory: levels 1-19, all the writer offers, use at most 8 MiB. */
#define ZB_ZSTD_WINDOW_LOG_MAX 25

int zb_stage_zstd_new(zb_stage **out, int level, int workers, zb_stage *next);
int zb_reader_zstd_new(zb_reader **out, zb_reader *inner);

#endif
