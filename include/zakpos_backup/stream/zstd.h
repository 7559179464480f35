/* zstd through libzstd's streaming API: a compressing stage (multi-threaded
 * with ZSTD_c_nbWorkers, frame checksum on) and a decompressing reader that
 * refuses a stream that ends early, carries bytes after its frame, or lacks
 * the frame's content checksum. */
#ifndef ZB_STREAM_ZSTD_H
#define ZB_STREAM_ZSTD_H

#include "zakpos_backup/stream/stage.h"

#define ZB_ZSTD_DEFAULT_LEVEL 3

int zb_stage_zstd_new(zb_stage **out, int level, int workers, zb_stage *next);
int zb_reader_zstd_new(zb_reader **out, zb_reader *inner);

#endif
