#include "zakpos_backup/stream/spool.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* A fast level: the text is catalog JSON, repetitive enough that level 1
 * holds it at about a tenth of its size. */
#define SPOOL_LEVEL      1
#define SPOOL_READ_BYTES (64 * 1024)

struct zb_spool {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    zb_buf held;     /* the compressed frame */
    uint64_t size;   /* bytes written */
    size_t read_pos; /* into held */
    int frame_ended; /* the decompressor reached the frame's end */
    char *block;     /* decompressed, not yet handed out: block[block_pos, block_len) */
    size_t block_pos, block_len;
    zb_buf line;
};

int zb_spool_new(zb_spool **out)
{
    *out = NULL;
    zb_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->cctx = ZSTD_createCCtx())) {
        free(s);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, SPOOL_LEVEL);
    *out = s;
    return 0;
}

static int compress(zb_spool *s, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        size_t room = ZSTD_CStreamOutSize();
        if (zb_buf_reserve(&s->held, room) < 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        ZSTD_outBuffer out = {s->held.data + s->held.len, room, 0};
        size_t remaining = ZSTD_compressStream2(s->cctx, &out, in, mode);
        if (ZSTD_isError(remaining))
            return zb_error_set(ZB_EFAIL, "zstd compression failed: %s", ZSTD_getErrorName(remaining));
        s->held.len += out.pos;
        if (mode == ZSTD_e_end ? remaining == 0 : in->pos == in->size)
            return 0;
    }
}

int zb_spool_write(zb_spool *s, const void *data, size_t len)
{
    if (!s->cctx)
        return zb_error_set(ZB_EFAIL, "the spool was already finished");
    ZSTD_inBuffer in = {data, len, 0};
    s->size += len;
    return compress(s, &in, ZSTD_e_continue);
}

int zb_spool_finish(zb_spool *s)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    int rc = s->cctx ? compress(s, &in, ZSTD_e_end) : 0;
    ZSTD_freeCCtx(s->cctx); /* its tables are the largest part while writing */
    s->cctx = NULL;
    if (rc == 0 && !s->dctx && (!(s->dctx = ZSTD_createDCtx()) || !(s->block = malloc(SPOOL_READ_BYTES))))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    return rc;
}

uint64_t zb_spool_size(const zb_spool *s) { return s ? s->size : 0; }
size_t zb_spool_held(const zb_spool *s) { return s ? s->held.len : 0; }

/* Decompresses the next block; block_len 0 at the frame's end. */
static int refill(zb_spool *s)
{
    s->block_pos = s->block_len = 0;
    while (s->block_len == 0 && !s->frame_ended) {
        ZSTD_inBuffer in = {s->held.data, s->held.len, s->read_pos};
        ZSTD_outBuffer out = {s->block, SPOOL_READ_BYTES, 0};
        size_t r = ZSTD_decompressStream(s->dctx, &out, &in);
        if (ZSTD_isError(r))
            return zb_error_set(ZB_EFAIL, "zstd decompression failed: %s", ZSTD_getErrorName(r));
        s->read_pos = in.pos;
        s->block_len = out.pos;
        s->frame_ended = r == 0; /* the frame decoded and flushed */
        if (!s->frame_ended && out.pos == 0 && in.pos == in.size)
            return zb_error_set(ZB_EFAIL, "the spooled text ends early");
    }
    return 0;
}

ssize_t zb_spool_read(zb_spool *s, void *buf, size_t len)
{
    if (!s->dctx)
        return zb_error_set(ZB_EFAIL, "the spool is read before it is finished");
    if (s->block_pos == s->block_len) {
        int rc = refill(s);
        if (rc < 0)
            return rc;
    }
    size_t n = s->block_len - s->block_pos < len ? s->block_len - s->block_pos : len;
    memcpy(buf, s->block + s->block_pos, n);
    s->block_pos += n;
    return (ssize_t)n;
}

int zb_spool_line(zb_spool *s, const char **line, size_t *len)
{
    zb_buf_reset(&s->line);
    for (;;) {
        if (s->block_pos == s->block_len) {
            int rc = s->dctx ? refill(s) : zb_error_set(ZB_EFAIL, "the spool is read before it is finished");
            if (rc < 0)
                return rc;
            if (s->block_len == 0)
                break;
        }
        const char *start = s->block + s->block_pos;
        const char *nl = memchr(start, '\n', s->block_len - s->block_pos);
        size_t n = nl ? (size_t)(nl - start) : s->block_len - s->block_pos;
        if (zb_buf_append(&s->line, start, n) < 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        s->block_pos += n + (nl ? 1 : 0);
        if (nl) {
            *line = s->line.data ? s->line.data : "";
            *len = s->line.len;
            return 1;
        }
    }
    if (s->line.len == 0)
        return 0;
    *line = s->line.data; /* a last line without '\n' */
    *len = s->line.len;
    return 1;
}

void zb_spool_free(zb_spool *s)
{
    if (!s)
        return;
    ZSTD_freeCCtx(s->cctx);
    ZSTD_freeDCtx(s->dctx);
    zb_buf_free(&s->held);
    zb_buf_free(&s->line);
    free(s->block);
    free(s);
}
