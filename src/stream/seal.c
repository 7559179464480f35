#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>
#include <string.h>

typedef crypto_secretstream_xchacha20poly1305_state seal_state;

int zb_seal_begin(unsigned char stream_header[ZB_SEAL_HEADER_BYTES], const unsigned char key[ZB_SEAL_KEY_BYTES],
                  void **state_out)
{
    seal_state *st = sodium_malloc(sizeof(*st));
    if (!st)
        return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory for the stream state");
    crypto_secretstream_xchacha20poly1305_init_push(st, stream_header, key);
    *state_out = st;
    return 0;
}

typedef struct seal_stage {
    zb_stage base;
    seal_state *state;
    size_t chunk_size;
    unsigned char *plain; /* one chunk of plaintext being gathered */
    size_t plain_len;
    unsigned char *cipher; /* chunk_size + overhead */
    unsigned char *ad;     /* authenticated with the first chunk, then dropped */
    size_t ad_len;
} seal_stage;

static int seal_emit_from(seal_stage *s, const unsigned char *plain, size_t len, unsigned char tag)
{
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(s->state, s->cipher, &clen, plain, len, s->ad, s->ad_len, tag);
    free(s->ad);
    s->ad = NULL;
    s->ad_len = 0;
    return zb_stage_write(s->base.next, s->cipher, (size_t)clen);
}

static int seal_emit(seal_stage *s, unsigned char tag)
{
    size_t len = s->plain_len;
    s->plain_len = 0;
    return seal_emit_from(s, s->plain, len, tag);
}

static int seal_write(zb_stage *st, const void *data, size_t len)
{
    seal_stage *s = (seal_stage *)st;
    const unsigned char *p = data;
    while (len > 0) {
        /* A full chunk is sent only when more data follows, so the FINAL chunk
         * is never empty unless the whole stream is. */
        if (s->plain_len == s->chunk_size) {
            int rc = seal_emit(s, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
            if (rc < 0)
                return rc;
        }
        /* a whole chunk with more after it is encrypted where it lies, not
         * copied first: the same chunks, one copy of each byte fewer */
        if (s->plain_len == 0 && len > s->chunk_size) {
            int rc = seal_emit_from(s, p, s->chunk_size, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
            if (rc < 0)
                return rc;
            p += s->chunk_size;
            len -= s->chunk_size;
            continue;
        }
        size_t room = s->chunk_size - s->plain_len;
        size_t n = len < room ? len : room;
        memcpy(s->plain + s->plain_len, p, n);
        s->plain_len += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int seal_close(zb_stage *st)
{
    seal_stage *s = (seal_stage *)st;
    int rc = seal_emit(s, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    return rc < 0 ? rc : zb_stage_close(s->base.next);
}

static void seal_free(zb_stage *st)
{
    seal_stage *s = (seal_stage *)st;
    if (s->plain) {
        sodium_memzero(s->plain, s->chunk_size);
        free(s->plain);
    }
    free(s->cipher);
    free(s->ad);
    if (s->state)
        sodium_free(s->state);
    free(s);
}

int zb_stage_seal_new(zb_stage **out, void *state, size_t chunk_size, const void *first_chunk_ad, size_t ad_len,
                      zb_stage *next)
{
    *out = NULL;
    seal_stage *s = calloc(1, sizeof(*s));
    if (!s) {
        sodium_free(state);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    s->base.write = seal_write;
    s->base.close = seal_close;
    s->base.free = seal_free;
    s->state = state;
    s->chunk_size = chunk_size;
    s->plain = malloc(chunk_size);
    s->cipher = malloc(chunk_size + ZB_SEAL_CHUNK_OVERHEAD);
    s->ad = ad_len ? malloc(ad_len) : NULL;
    if (!s->plain || !s->cipher || (ad_len && !s->ad)) {
        seal_free(&s->base);
        return zb_error_set(ZB_ENOMEM, "cannot allocate encryption buffers");
    }
    if (ad_len)
        memcpy(s->ad, first_chunk_ad, ad_len);
    s->ad_len = ad_len;
    s->base.next = next;
    *out = &s->base;
    return 0;
}

typedef struct unseal_reader {
    zb_reader base;
    seal_state *state;
    size_t chunk_size;
    unsigned char *cipher;
    unsigned char *plain;
    size_t plain_len;
    size_t plain_pos;
    unsigned char *ad;
    size_t ad_len;
    uint64_t chunks;
    int final_seen;
} unseal_reader;

/* Bytes after the FINAL chunk mean the file was altered: check for them. */
static int unseal_expect_end(unseal_reader *u)
{
    unsigned char probe;
    ssize_t n = zb_reader_read(u->base.inner, &probe, 1);
    if (n < 0)
        return (int)n;
    if (n > 0)
        return zb_error_set(ZB_EINTEGRITY, "unexpected data after the final encrypted chunk (chunk %llu)",
                            (unsigned long long)u->chunks);
    return 0;
}

static int unseal_next_chunk(unseal_reader *u)
{
    size_t want = u->chunk_size + ZB_SEAL_CHUNK_OVERHEAD, got = 0;
    int rc = zb_reader_read_full(u->base.inner, u->cipher, want, &got);
    if (rc < 0)
        return rc;
    if (got == 0)
        return zb_error_set(ZB_EINTEGRITY,
                            "the archive ends after encrypted chunk %llu without the final chunk (it is truncated)",
                            (unsigned long long)u->chunks);
    if (got < ZB_SEAL_CHUNK_OVERHEAD)
        return zb_error_set(ZB_EINTEGRITY, "encrypted chunk %llu is cut short (the archive is truncated)",
                            (unsigned long long)u->chunks + 1);
    unsigned long long plen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(u->state, u->plain, &plen, &tag, u->cipher, got, u->ad, u->ad_len) !=
        0)
        return zb_error_set(ZB_EINTEGRITY,
                            "encrypted chunk %llu failed authentication (the archive%s is damaged, was altered, "
                            "or has bytes appended)",
                            (unsigned long long)u->chunks + 1, u->chunks == 0 ? " header or its first chunk" : "");
    u->chunks++;
    free(u->ad);
    u->ad = NULL;
    u->ad_len = 0;
    u->plain_len = (size_t)plen;
    u->plain_pos = 0;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        u->final_seen = 1;
        return unseal_expect_end(u);
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return zb_error_set(ZB_EINTEGRITY, "encrypted chunk %llu has an unknown tag %u", (unsigned long long)u->chunks,
                            (unsigned)tag);
    if (got < want)
        return zb_error_set(ZB_EINTEGRITY, "the archive ends inside encrypted chunk %llu (it is truncated)",
                            (unsigned long long)u->chunks + 1);
    return 0;
}

static ssize_t unseal_read(zb_reader *r, void *buf, size_t len)
{
    unseal_reader *u = (unseal_reader *)r;
    while (u->plain_pos == u->plain_len) {
        if (u->final_seen)
            return 0;
        int rc = unseal_next_chunk(u);
        if (rc < 0)
            return rc;
    }
    size_t n = u->plain_len - u->plain_pos;
    if (n > len)
        n = len;
    memcpy(buf, u->plain + u->plain_pos, n);
    u->plain_pos += n;
    return (ssize_t)n;
}

static void unseal_free(zb_reader *r)
{
    unseal_reader *u = (unseal_reader *)r;
    if (u->plain) {
        sodium_memzero(u->plain, u->chunk_size);
        free(u->plain);
    }
    free(u->cipher);
    free(u->ad);
    if (u->state)
        sodium_free(u->state);
    free(u);
}

int zb_reader_unseal_new(zb_reader **out, const unsigned char key[ZB_SEAL_KEY_BYTES],
                         const unsigned char stream_header[ZB_SEAL_HEADER_BYTES], size_t chunk_size,
                         const void *first_chunk_ad, size_t ad_len, zb_reader *inner)
{
    *out = NULL;
    unseal_reader *u = calloc(1, sizeof(*u));
    if (!u)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    u->base.read = unseal_read;
    u->base.free = unseal_free;
    u->chunk_size = chunk_size;
    u->state = sodium_malloc(sizeof(*u->state));
    u->cipher = malloc(chunk_size + ZB_SEAL_CHUNK_OVERHEAD);
    u->plain = malloc(chunk_size);
    u->ad = ad_len ? malloc(ad_len) : NULL;
    if (!u->state || !u->cipher || !u->plain || (ad_len && !u->ad)) {
        unseal_free(&u->base);
        return zb_error_set(ZB_ENOMEM, "cannot allocate decryption buffers");
    }
    if (ad_len)
        memcpy(u->ad, first_chunk_ad, ad_len);
    u->ad_len = ad_len;
    if (crypto_secretstream_xchacha20poly1305_init_pull(u->state, stream_header, key) != 0) {
        unseal_free(&u->base);
        return zb_error_set(ZB_EINTEGRITY, "the archive's stream header is invalid");
    }
    u->base.inner = inner;
    *out = &u->base;
    return 0;
}

uint64_t zb_reader_unseal_chunks(const zb_reader *r) { return ((const unseal_reader *)r)->chunks; }
