#include "zakpos_backup/stream/textpack.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* A fast level: DDL is repetitive enough that level 1 holds it at a
 * fraction of its size, and a block decompresses in microseconds. */
#define TEXTPACK_LEVEL 1

typedef struct sealed_block {
    void *data; /* the compressed block */
    size_t compressed, size;
} sealed_block;

struct zb_textpack {
    sealed_block *sealed;
    size_t sealed_count, sealed_capacity;
    zb_buf open;               /* the block texts are added to, not yet compressed */
    zb_textpack_cursor cursor; /* zb_textpack_get's */
    uint64_t size;             /* bytes added */
    size_t held;               /* compressed bytes and the open block's */
};

/* A reference is the block (from 0; the open one is sealed_count) in the
 * high 32 bits and the offset in it, plus one, in the low ones. */
static zb_textpack_ref make_ref(size_t block, size_t offset)
{
    return ((uint64_t)block << 32) | (uint64_t)(offset + 1);
}

int zb_textpack_new(zb_textpack **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int seal(zb_textpack *t)
{
    if (t->open.len == 0)
        return 0;
    int rc = zb_array_reserve((void **)&t->sealed, &t->sealed_capacity, t->sealed_count, sizeof(*t->sealed), 16);
    if (rc < 0)
        return rc;
    size_t bound = ZSTD_compressBound(t->open.len);
    void *data = malloc(bound);
    if (!data)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    size_t n = ZSTD_compress(data, bound, t->open.data, t->open.len, TEXTPACK_LEVEL);
    if (ZSTD_isError(n)) {
        free(data);
        return zb_error_set(ZB_EFAIL, "zstd compression failed: %s", ZSTD_getErrorName(n));
    }
    void *fitted = realloc(data, n ? n : 1); /* the bound is a worst case: keep what it took */
    t->sealed[t->sealed_count++] = (sealed_block){fitted ? fitted : data, n, t->open.len};
    t->held += n;
    t->held -= t->open.len;
    zb_buf_free(&t->open); /* a block of one large text must not stay allocated */
    return 0;
}

int zb_textpack_add(zb_textpack *t, zb_textpack_ref *ref, const char *text)
{
    size_t len = strlen(text) + 1;
    *ref = 0;
    /* a text never spans two blocks; one longer than a block has its own */
    if (t->open.len > 0 && t->open.len + len > ZB_TEXTPACK_BLOCK_BYTES) {
        int rc = seal(t);
        if (rc < 0)
            return rc;
    }
    if (t->sealed_count >= UINT32_MAX || t->open.len >= UINT32_MAX - len)
        return zb_error_set(ZB_ENOMEM, "out of memory: too many texts");
    size_t offset = t->open.len;
    if (zb_buf_append(&t->open, text, len) < 0)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    t->size += len - 1;
    t->held += len;
    *ref = make_ref(t->sealed_count, offset);
    return t->open.len >= ZB_TEXTPACK_BLOCK_BYTES ? seal(t) : 0;
}

static int load_block(const zb_textpack *t, zb_textpack_cursor *c, size_t block)
{
    const sealed_block *b = &t->sealed[block];
    if (c->cache_size < b->size) {
        char *grown = realloc(c->cache, b->size);
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        c->cache = grown, c->cache_size = b->size;
    }
    if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    size_t n = ZSTD_decompressDCtx(c->dctx, c->cache, b->size, b->data, b->compressed);
    if (ZSTD_isError(n) || n != b->size) {
        c->cached = 0;
        return zb_error_set(ZB_EFAIL, "a held text does not decompress: %s",
                            ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
    }
    c->cached = block + 1;
    /* a cache grown for one large text is not kept for the small ones after it */
    if (c->cache_size > 4 * ZB_TEXTPACK_BLOCK_BYTES && b->size <= ZB_TEXTPACK_BLOCK_BYTES) {
        char *shrunk = realloc(c->cache, ZB_TEXTPACK_BLOCK_BYTES);
        if (shrunk)
            c->cache = shrunk, c->cache_size = ZB_TEXTPACK_BLOCK_BYTES;
    }
    return 0;
}

int zb_textpack_read(const zb_textpack *t, zb_textpack_cursor *c, zb_textpack_ref ref, const char **text)
{
    *text = NULL;
    if (ref == 0)
        return 0;
    size_t block = (size_t)(ref >> 32), offset = (size_t)(ref & 0xffffffffu) - 1;
    if (block == t->sealed_count) {
        if (offset >= t->open.len)
            return zb_error_set(ZB_EFAIL, "no such held text");
        *text = t->open.data + offset;
        return 0;
    }
    if (block > t->sealed_count || offset >= t->sealed[block].size)
        return zb_error_set(ZB_EFAIL, "no such held text");
    if (c->cached != block + 1) {
        int rc = load_block(t, c, block);
        if (rc < 0)
            return rc;
    }
    *text = c->cache + offset;
    return 0;
}

int zb_textpack_get(zb_textpack *t, zb_textpack_ref ref, const char **text)
{
    return zb_textpack_read(t, &t->cursor, ref, text);
}

void zb_textpack_cursor_free(zb_textpack_cursor *c)
{
    if (!c)
        return;
    free(c->cache);
    ZSTD_freeDCtx(c->dctx);
    *c = (zb_textpack_cursor){0};
}

uint64_t zb_textpack_size(const zb_textpack *t) { return t->size; }
size_t zb_textpack_held(const zb_textpack *t) { return t->held; }

void zb_textpack_free(zb_textpack *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->sealed_count; i++)
        free(t->sealed[i].data);
    free(t->sealed);
    zb_buf_free(&t->open);
    zb_textpack_cursor_free(&t->cursor);
    free(t);
}
