/* Read-ahead for a folder being backed up: a thread walks the tree in the
 * same order as the backup and asks the kernel to read each file ahead
 * (posix_fadvise WILLNEED), staying at most a bounded window ahead. Disk reads
 * then overlap with hashing, compression and encryption, as tar | zstd gets
 * from its two processes. Uses page cache, not process memory. */
#ifndef ZB_SOURCE_PATH_PREFETCH_H
#define ZB_SOURCE_PATH_PREFETCH_H

#include <stdint.h>

typedef struct zb_prefetch zb_prefetch;

/* Failure to start is not an error for the backup: *out is NULL then. */
void zb_prefetch_start(zb_prefetch **out, const char *root, uint64_t window_bytes);
/* The backup consumed this many more bytes of file content. */
void zb_prefetch_advance(zb_prefetch *p, uint64_t bytes);
void zb_prefetch_stop(zb_prefetch *p);

#endif
