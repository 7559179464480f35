/* Read-ahead for a folder being backed up: a thread walks the tree in the
 * same order as the reader (this process, or Docker reading a volume for
 * it) and asks the kernel to read each file ahead
 * (posix_fadvise WILLNEED), staying at most a bounded window ahead. Disk reads
 * then overlap with hashing, compression and encryption, as tar | zstd gets
 * from its two processes. Uses page cache, not process memory. */
#ifndef ZB_SOURCE_PATH_PREFETCH_H
#define ZB_SOURCE_PATH_PREFETCH_H

#include <stdint.h>

typedef struct zb_prefetch zb_prefetch;

/* How far the read-ahead may run ahead of the reader: enough to keep the
 * disk busy, small enough not to evict what is about to be read. */
#define ZB_PREFETCH_WINDOW (64ull * 1024 * 1024)

/* Failure to start is not an error for the backup: *out is NULL then.
 * name_order walks each folder's entries sorted by name (bytewise), the
 * order Docker's archive endpoint sends them in; else in directory order,
 * as libarchive's disk reader does. */
void zb_prefetch_start(zb_prefetch **out, const char *root, uint64_t window_bytes, int name_order);
/* The backup consumed this many more bytes of file content. */
void zb_prefetch_advance(zb_prefetch *p, uint64_t bytes);
void zb_prefetch_stop(zb_prefetch *p);

#endif
