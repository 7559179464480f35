#include "zakpos_backup/stream/zstd.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/signal.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Measured on a 1.1 GiB mixed tree: 2 MiB jobs cut peak RSS from 78 to 33 MB
 * for 0.03% more output and no loss of speed (docs/BENCHMARKS.md). */
#define ZB_ZSTD_JOB_BYTES (2 * 1024 * 1024)

typedef struct zstd_stage {
    zb_stage base;
    ZSTD_CCtx *cctx;
    void *out;
    size_t out_size;
} zstd_stage;

/* Runs the compressor over input until it is consumed (or, when ending, until
 * the frame is complete), pushing every full output buffer downstream. */
static int zstd_stage_pump(zstd_stage *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer out = {z->out, z->out_size, 0};
        size_t remaining = ZSTD_compressStream2(z->cctx, &out, in, mode);
        if (ZSTD_isError(remaining))
            return zb_error_set(ZB_EFAIL, "zstd compression failed: %s", ZSTD_getErrorName(remaining));
        if (out.pos > 0) {
            int rc = zb_stage_write(z->base.next, z->out, out.pos);
            if (rc < 0)
                return rc;
        }
        int done = mode == ZSTD_e_end ? remaining == 0 : in->pos == in->size;
        if (done)
            return 0;
    }
}

static int zstd_stage_write(zb_stage *s, const void *data, size_t len)
{
    ZSTD_inBuffer in = {data, len, 0};
    return zstd_stage_pump((zstd_stage *)s, &in, ZSTD_e_continue);
}

static int zstd_stage_close(zb_stage *s)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    int rc = zstd_stage_pump((zstd_stage *)s, &in, ZSTD_e_end);
    return rc < 0 ? rc : zb_stage_close(s->next);
}

static void zstd_stage_free(zb_stage *s)
{
    zstd_stage *z = (zstd_stage *)s;
    ZSTD_freeCCtx(z->cctx);
    free(z->out);
    free(z);
}

static int zstd_param(ZSTD_CCtx *cctx, ZSTD_cParameter param, int value, const char *name)
{
    size_t r = ZSTD_CCtx_setParameter(cctx, param, value);
    if (ZSTD_isError(r))
        return zb_error_set(ZB_EUSAGE, "zstd rejects %s=%d: %s", name, value, ZSTD_getErrorName(r));
    return 0;
}

int zb_stage_zstd_new(zb_stage **out, int level, int workers, zb_stage *next)
{
    *out = NULL;
    zstd_stage *z = calloc(1, sizeof(*z));
    if (!z)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    z->base.write = zstd_stage_write;
    z->base.close = zstd_stage_close;
    z->base.free = zstd_stage_free;
    z->out_size = ZSTD_CStreamOutSize();
    z->cctx = ZSTD_createCCtx();
    z->out = malloc(z->out_size);
    int rc = 0;
    if (!z->cctx || !z->out) {
        rc = zb_error_set(ZB_ENOMEM, "cannot allocate a zstd compressor");
        goto fail;
    }
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
        rc = zb_error_set(ZB_EUSAGE, "zstd level %d is out of range (%d to %d)", level, ZSTD_minCLevel(),
                          ZSTD_maxCLevel());
        goto fail;
    }
    if ((rc = zstd_param(z->cctx, ZSTD_c_compressionLevel, level, "level")) < 0 ||
        (rc = zstd_param(z->cctx, ZSTD_c_checksumFlag, 1, "checksum")) < 0)
        goto fail;
    /* A libzstd built without threads refuses nbWorkers: fall back to one thread. */
    if (workers > 0 && ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, workers)))
        workers = 0;
    /* zstd sizes each worker's job from the window (8 MiB at level 3) and keeps
     * several jobs' input and output in flight; a bounded job keeps the whole
     * process within its memory budget at a negligible cost in ratio. */
    if (workers > 0)
        ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_jobSize, ZB_ZSTD_JOB_BYTES);
    z->base.next = next;
    *out = &z->base;
    return 0;
fail:
    zstd_stage_free(&z->base);
    return rc;
}

typedef struct zstd_reader {
    zb_reader base;
    ZSTD_DCtx *dctx;
    unsigned char *in;
    size_t in_size;
    ZSTD_inBuffer input;
    int header_checked;
    int frame_done; /* the frame ended and its output was flushed */
    int input_eof;
} zstd_reader;

/* A zstd frame starts with its magic number and a frame header descriptor
 * whose bit 2 says whether a content checksum ends the frame (RFC 8878,
 * 3.1.1 and 3.1.1.1.1). */
#define ZSTD_MAGIC_BYTES      4
#define ZSTD_FHD_CHECKSUM_BIT 0x04

static int zstd_reader_fill(zstd_reader *z)
{
    ssize_t n = zb_reader_read(z->base.inner, z->in, z->in_size);
    if (n < 0)
        return (int)n;
    z->input.src = z->in;
    z->input.size = (size_t)n;
    z->input.pos = 0;
    if (n == 0)
        z->input_eof = 1;
    return 0;
}

/* After the frame: only the end of the stream may follow. */
static int zstd_reader_check_trailer(zstd_reader *z)
{
    if (z->input.pos < z->input.size)
        return zb_error_set(ZB_EINTEGRITY, "unexpected data after the end of the compressed stream");
    int rc = zstd_reader_fill(z);
    if (rc < 0)
        return rc;
    if (!z->input_eof)
        return zb_error_set(ZB_EINTEGRITY, "unexpected data after the end of the compressed stream");
    return 0;
}

/* The writer always sets the frame's content checksum, and the archive's
 * integrity without encryption rests on it (the hash of the last bytes of
 * the tar stream is nobody's): a frame without one was not written by this
 * tool, or was altered, and is refused before anything of it is used. */
static int zstd_reader_check_header(zstd_reader *z)
{
    static const unsigned char magic[ZSTD_MAGIC_BYTES] = {0x28, 0xb5, 0x2f, 0xfd};
    size_t have = 0;
    while (have < ZSTD_MAGIC_BYTES + 1) {
        ssize_t n = zb_reader_read(z->base.inner, z->in + have, z->in_size - have);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break; /* too short for a frame: decompression names the problem */
        have += (size_t)n;
    }
    z->input.src = z->in;
    z->input.size = have;
    z->input.pos = 0;
    z->input_eof = have < ZSTD_MAGIC_BYTES + 1;
    z->header_checked = 1;
    if (have > ZSTD_MAGIC_BYTES && memcmp(z->in, magic, ZSTD_MAGIC_BYTES) == 0 &&
        !(z->in[ZSTD_MAGIC_BYTES] & ZSTD_FHD_CHECKSUM_BIT))
        return zb_error_set(ZB_EINTEGRITY,
                            "the compressed stream has no content checksum (this tool always writes "
                            "one: the archive was altered or made by something else)");
    return 0;
}

static ssize_t zstd_reader_read(zb_reader *r, void *buf, size_t len)
{
    zstd_reader *z = (zstd_reader *)r;
    if (z->frame_done)
        return 0;
    if (!z->header_checked) {
        int rc = zstd_reader_check_header(z);
        if (rc < 0)
            return rc;
    }
    ZSTD_outBuffer out = {buf, len, 0};
    while (out.pos == 0) {
        int rc;
        if (z->input.pos == z->input.size && !z->input_eof && (rc = zstd_reader_fill(z)) < 0)
            return rc;
        if (z->input.pos == z->input.size && z->input_eof)
            return zb_error_set(ZB_EINTEGRITY, "the compressed stream ends early (the archive is truncated)");
        size_t hint = ZSTD_decompressStream(z->dctx, &out, &z->input);
        if (ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge)
            return zb_error_set(ZB_EUNSAFE, "the compressed stream asks for a zstd window over %u MiB; refused",
                                (1u << ZB_ZSTD_WINDOW_LOG_MAX) >> 20)
                       ? zb_error_hint(
                             "zakpos-backup writes windows of at most 8 MiB (level 19); this archive was not written by it")
                       : 0;
        if (ZSTD_isError(hint))
            return zb_error_set(ZB_EINTEGRITY, "zstd: %s", ZSTD_getErrorName(hint));
        if (hint == 0) {
            z->frame_done = 1;
            if ((rc = zstd_reader_check_trailer(z)) < 0)
                return rc;
            break;
        }
    }
    return (ssize_t)out.pos;
}

static void zstd_reader_free(zb_reader *r)
{
    zstd_reader *z = (zstd_reader *)r;
    ZSTD_freeDCtx(z->dctx);
    free(z->in);
    free(z);
}

int zb_reader_zstd_new(zb_reader **out, zb_reader *inner)
{
    *out = NULL;
    zstd_reader *z = calloc(1, sizeof(*z));
    if (!z)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    z->base.read = zstd_reader_read;
    z->base.free = zstd_reader_free;
    z->in_size = ZSTD_DStreamInSize();
    z->in = malloc(z->in_size);
    z->dctx = ZSTD_createDCtx();
    if (!z->in || !z->dctx) {
        zstd_reader_free(&z->base);
        return zb_error_set(ZB_ENOMEM, "cannot allocate a zstd decompressor");
    }
    /* The window is the decoder's memory: a crafted frame must not set it. */
    ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, ZB_ZSTD_WINDOW_LOG_MAX);
    z->base.inner = inner;
    *out = &z->base;
    return 0;
}
