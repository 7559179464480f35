/* What every reader fuzz target does with an archive: open it and read each
 * entry to the end, as verify does. */
#ifndef ZB_FUZZ_READ_H
#define ZB_FUZZ_READ_H

#include "zakpos_backup/archive/reader.h"

static inline void fuzz_read_archive(const char *path, const zb_read_keys *keys)
{
    zb_archive_reader *r = NULL;
    if (zb_archive_reader_open(&r, path, keys) == 0) {
        struct archive_entry *e;
        zb_entry_info info;
        const void *block;
        size_t len;
        int64_t offset;
        /* Blocks, not read(): a claimed exabyte hole must not be materialised here. */
        while (zb_archive_reader_next(r, &e, &info) > 0)
            while (zb_archive_reader_read_block(r, &block, &len, &offset) > 0)
                ;
    }
    zb_archive_reader_free(r);
}

#endif
