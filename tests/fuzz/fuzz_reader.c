/* libFuzzer target for the archive reader. The first input byte picks what
 * the rest is:
 *   even: a plaintext tar stream, wrapped here in a valid unencrypted header
 *         and zstd frame, so the fuzzer reaches the tar, name and manifest
 *         checks instead of dying at the checksum;
 *   odd:  a whole archive file, header included, read as is.
 * Whatever the input, the reader must return an error or success, never crash,
 * hang or leak. */
#include "zakpos_backup/archive/header.h"
#include "fuzz_read.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

static int write_input(int fd, const uint8_t *data, size_t size)
{
    if (size == 0 || (data[0] & 1)) {
        return write(fd, data + (size ? 1 : 0), size ? size - 1 : 0) < 0 ? -1 : 0;
    }
    static zb_archive_header h;
    memset(&h, 0, sizeof(h));
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.protection = ZB_PROTECTION_NONE;
    h.compression = ZB_COMPRESSION_ZSTD;
    zb_archive_header_encode(&h);
    size_t bound = ZSTD_compressBound(size - 1);
    void *z = malloc(bound);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(cctx, z, bound, data + 1, size - 1);
    ZSTD_freeCCtx(cctx);
    int rc = ZSTD_isError(n) || write(fd, h.raw, h.raw_len) < 0 || write(fd, z, n) < 0 ? -1 : 0;
    free(z);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        ready = 1;
    }
    int fd = memfd_create("zb-fuzz", MFD_CLOEXEC);
    if (fd < 0 || write_input(fd, data, size) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    zb_read_keys keys = {0};
    fuzz_read_archive(path, &keys);
    close(fd);
    return 0;
}
