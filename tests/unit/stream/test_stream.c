#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/stream/async.h"
#include "zakpos_backup/stream/handoff.h"
#include "zakpos_backup/stream/hash.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/stage.h"
#include "zakpos_backup/stream/zstd.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In-memory sink and source so the stages can be tested without files. */
typedef struct mem_stage {
    zb_stage base;
    unsigned char *data;
    size_t len, cap;
    int closed;
} mem_stage;

static int mem_write(zb_stage *s, const void *d, size_t n)
{
    mem_stage *m = (mem_stage *)s;
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, d, n);
    m->len += n;
    return 0;
}
static int mem_close(zb_stage *s)
{
    ((mem_stage *)s)->closed = 1;
    return 0;
}
static void mem_free(zb_stage *s) { (void)s; }

typedef struct mem_reader {
    zb_reader base;
    const unsigned char *data;
    size_t len, pos;
} mem_reader;

static ssize_t mem_read(zb_reader *r, void *buf, size_t n)
{
    mem_reader *m = (mem_reader *)r;
    size_t left = m->len - m->pos;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}
static void mem_reader_free(zb_reader *r) { (void)r; }

static unsigned char *sample_data(size_t len)
{
    unsigned char *d = malloc(len);
    for (size_t i = 0; i < len; i++)
        d[i] = (unsigned char)((i * 7) ^ (i >> 9)); /* compressible but not trivial */
    return d;
}

static const unsigned char test_ad[] = "header bytes";

/* Encrypts plain into out with chunk size 4096, written in pieces of
 * `piece` bytes (0: odd sizes); returns the stream header. */
static void seal_buffer_in(mem_stage *out, unsigned char key[ZB_SEAL_KEY_BYTES],
                           unsigned char hdr[ZB_SEAL_HEADER_BYTES], const unsigned char *plain, size_t len,
                           size_t piece)
{
    memset(out, 0, sizeof(*out));
    out->base.write = mem_write;
    out->base.close = mem_close;
    out->base.free = mem_free;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    void *state = NULL;
    assert_int_equal(zb_seal_begin(hdr, key, &state), 0);
    zb_stage *seal = NULL;
    assert_int_equal(zb_stage_seal_new(&seal, state, 4096, test_ad, sizeof(test_ad), &out->base), 0);
    /* Odd write sizes cross chunk boundaries in every way. */
    for (size_t at = 0; at < len;) {
        size_t n = piece ? piece : (at % 3 == 0) ? 1000 : 5000;
        if (n > len - at)
            n = len - at;
        assert_int_equal(zb_stage_write(seal, plain + at, n), 0);
        at += n;
    }
    assert_int_equal(zb_stage_close(seal), 0);
    assert_true(out->closed);
    seal->next = NULL;
    zb_stage_free_chain(seal);
}

static void seal_buffer(mem_stage *out, unsigned char key[ZB_SEAL_KEY_BYTES], unsigned char hdr[ZB_SEAL_HEADER_BYTES],
                        const unsigned char *plain, size_t len)
{
    seal_buffer_in(out, key, hdr, plain, len, 0);
}

/* Decrypts everything; returns 0 and the plaintext, or the error code. */
static int unseal_buffer(unsigned char **plain, size_t *plain_len, const unsigned char *key, const unsigned char *hdr,
                         const unsigned char *cipher, size_t len)
{
    mem_reader src = {{mem_read, mem_reader_free, NULL}, cipher, len, 0};
    zb_reader *u = NULL;
    assert_int_equal(zb_reader_unseal_new(&u, key, hdr, 4096, test_ad, sizeof(test_ad), &src.base), 0);
    size_t cap = len + 1, got = 0;
    unsigned char *out = malloc(cap);
    int rc = 0;
    for (;;) {
        ssize_t n = zb_reader_read(u, out + got, 777);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    u->inner = NULL;
    zb_reader_free_chain(u);
    *plain = out;
    *plain_len = got;
    return rc;
}

static void seal_round_trip(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 4096, 4097, 3 * 4096, 100000};
    /* whole chunks with more after them are encrypted in place: written
     * whole, a stream of exact chunks still ends on a full FINAL chunk */
    size_t pieces[] = {0, 3 * 4096, 1 << 20};
    for (size_t k = 0; k < ZB_ARRAY_LEN(sizes) * ZB_ARRAY_LEN(pieces); k++) {
        size_t piece = pieces[k / ZB_ARRAY_LEN(sizes)], i = k % ZB_ARRAY_LEN(sizes);
        unsigned char *plain = sample_data(sizes[i] + 1), key[ZB_SEAL_KEY_BYTES], hdr[ZB_SEAL_HEADER_BYTES];
        mem_stage out;
        seal_buffer_in(&out, key, hdr, plain, sizes[i], piece);
        size_t chunks = sizes[i] / 4096 + (sizes[i] % 4096 || sizes[i] == 0 ? 1 : 0);
        assert_int_equal(out.len, sizes[i] + chunks * ZB_SEAL_CHUNK_OVERHEAD);
        unsigned char *back = NULL;
        size_t back_len = 0;
        assert_int_equal(unseal_buffer(&back, &back_len, key, hdr, out.data, out.len), 0);
        assert_int_equal(back_len, sizes[i]);
        assert_memory_equal(back, plain, sizes[i]);
        free(back);
        free(plain);
        free(out.data);
    }
}

static void seal_detects_truncation_at_chunk_boundaries(void **state)
{
    (void)state;
    unsigned char *plain = sample_data(5 * 4096), key[ZB_SEAL_KEY_BYTES], hdr[ZB_SEAL_HEADER_BYTES];
    mem_stage out;
    seal_buffer(&out, key, hdr, plain, 5 * 4096);
    size_t chunk = 4096 + ZB_SEAL_CHUNK_OVERHEAD;
    for (size_t k = 0; k < 5; k++) {
        unsigned char *back = NULL;
        size_t back_len = 0;
        assert_int_equal(unseal_buffer(&back, &back_len, key, hdr, out.data, k * chunk), ZB_EINTEGRITY);
        free(back);
        /* and inside a chunk */
        assert_int_equal(unseal_buffer(&back, &back_len, key, hdr, out.data, k * chunk + 100), ZB_EINTEGRITY);
        free(back);
    }
    free(plain);
    free(out.data);
}

static void seal_detects_appended_bytes_and_flips(void **state)
{
    (void)state;
    unsigned char *plain = sample_data(10000), key[ZB_SEAL_KEY_BYTES], hdr[ZB_SEAL_HEADER_BYTES];
    mem_stage out;
    seal_buffer(&out, key, hdr, plain, 10000);
    unsigned char *longer = malloc(out.len + 1), *back = NULL;
    size_t back_len;
    memcpy(longer, out.data, out.len);
    longer[out.len] = 0;
    assert_int_equal(unseal_buffer(&back, &back_len, key, hdr, longer, out.len + 1), ZB_EINTEGRITY);
    free(back);
    for (size_t at = 0; at < out.len; at += 997) {
        memcpy(longer, out.data, out.len);
        longer[at] ^= 0x01;
        assert_int_equal(unseal_buffer(&back, &back_len, key, hdr, longer, out.len), ZB_EINTEGRITY);
        free(back);
    }
    /* A different header (additional data) fails the first chunk. */
    unsigned char other_hdr[ZB_SEAL_HEADER_BYTES];
    memcpy(other_hdr, hdr, sizeof(other_hdr));
    other_hdr[0] ^= 1;
    assert_int_equal(unseal_buffer(&back, &back_len, key, other_hdr, out.data, out.len), ZB_EINTEGRITY);
    free(back);
    free(longer);
    free(plain);
    free(out.data);
}

static void zstd_round_trip_and_trailing_garbage(void **state)
{
    (void)state;
    size_t len = 3 * 1024 * 1024 + 17;
    unsigned char *plain = sample_data(len);
    mem_stage out;
    memset(&out, 0, sizeof(out));
    out.base.write = mem_write;
    out.base.close = mem_close;
    out.base.free = mem_free;
    zb_stage *z = NULL;
    assert_int_equal(zb_stage_zstd_new(&z, 3, 2, &out.base), 0);
    assert_int_equal(zb_stage_write(z, plain, len), 0);
    assert_int_equal(zb_stage_close(z), 0);
    z->next = NULL;
    zb_stage_free_chain(z);
    assert_true(out.len < len / 2);

    for (int variant = 0; variant < 3; variant++) {
        size_t clen = variant == 1 ? out.len - 10 : out.len + (variant == 2 ? 1 : 0);
        unsigned char *c = calloc(1, out.len + 1);
        memcpy(c, out.data, out.len);
        mem_reader src = {{mem_read, mem_reader_free, NULL}, c, clen, 0};
        zb_reader *zr = NULL;
        assert_int_equal(zb_reader_zstd_new(&zr, &src.base), 0);
        unsigned char *back = malloc(len + 65536);
        size_t got = 0;
        ssize_t n;
        while ((n = zb_reader_read(zr, back + got, 65536)) > 0)
            got += (size_t)n;
        if (variant == 0) {
            assert_int_equal(n, 0);
            assert_int_equal(got, len);
            assert_memory_equal(back, plain, len);
        } else {
            assert_int_equal(n, ZB_EINTEGRITY); /* truncated, or bytes after the frame */
        }
        zr->inner = NULL;
        zb_reader_free_chain(zr);
        free(back);
        free(c);
    }
    free(plain);
    free(out.data);
}

static void hash_of_zeros_matches_plain_zeros(void **state)
{
    (void)state;
    zb_hash a, b;
    zb_hash_init(&a);
    zb_hash_init(&b);
    unsigned char *zeros = calloc(1, 200000);
    zb_hash_update(&a, zeros, 200000);
    zb_hash_update_zeros(&b, 200000);
    char ha[ZB_HASH_HEX_BYTES], hb[ZB_HASH_HEX_BYTES];
    zb_hash_final_hex(&a, ha);
    zb_hash_final_hex(&b, hb);
    assert_string_equal(ha, hb);
    assert_int_equal(strlen(ha), 64);
    /* Zeros fed across block boundaries in any split hash the same. */
    zb_hash c;
    zb_hash_init(&c);
    zb_hash_update(&c, zeros, 1000);
    zb_hash_update_zeros(&c, 150000);
    zb_hash_update(&c, zeros, 49000);
    char hc[ZB_HASH_HEX_BYTES];
    zb_hash_final_hex(&c, hc);
    assert_string_equal(ha, hc);
    /* The length is part of the hash: one more zero byte differs. */
    zb_hash_init(&c);
    zb_hash_update_zeros(&c, 200001);
    zb_hash_final_hex(&c, hc);
    assert_string_not_equal(ha, hc);
    free(zeros);
}

/* The tree hash as docs/FORMAT.md states it, written plainly: every block
 * hashed, full blocks of zeros then recognised by their bytes. */
static void tree_hash_by_the_spec(unsigned char out[ZB_HASH_BYTES], const unsigned char *data, size_t len)
{
    EVP_MD_CTX *outer = EVP_MD_CTX_new();
    EVP_DigestInit_ex(outer, EVP_sha256(), NULL);
    uint64_t run = 0;
    for (size_t at = 0; at < len; at += ZB_HASH_BLOCK) {
        size_t n = len - at < ZB_HASH_BLOCK ? len - at : ZB_HASH_BLOCK;
        int zero = n == ZB_HASH_BLOCK;
        for (size_t i = 0; zero && i < n; i++)
            zero = data[at + i] == 0;
        if (zero) {
            run++;
            continue;
        }
        unsigned char le[9], digest[ZB_HASH_BYTES + 1];
        if (run) {
            le[0] = 0x00;
            for (int i = 0; i < 8; i++)
                le[1 + i] = (unsigned char)(run >> (8 * i));
            EVP_DigestUpdate(outer, le, 9);
            run = 0;
        }
        digest[0] = 0x01;
        EVP_Digest(data + at, n, digest + 1, NULL, EVP_sha256(), NULL);
        EVP_DigestUpdate(outer, digest, sizeof(digest));
    }
    unsigned char end[9] = {0x02};
    for (int i = 0; i < 8; i++)
        end[1 + i] = (unsigned char)((uint64_t)len >> (8 * i));
    EVP_DigestUpdate(outer, end, sizeof(end));
    EVP_DigestFinal_ex(outer, out, NULL);
    EVP_MD_CTX_free(outer);
}

/* Zeros written as data (Docker's tar has no holes) are counted, not run
 * through SHA-256, in whatever pieces they come and wherever the pieces
 * cut the blocks; the hash stays the format's. */
static void hash_counts_zero_blocks_written_as_data(void **state)
{
    (void)state;
    /* 1,000 bytes of text, 300,000 zeros, 5,000 bytes of text: blocks 1-3
     * are all zeros, blocks 0 and 4 are not */
    enum { LEN = 306000 };
    unsigned char *content = calloc(1, LEN);
    memset(content, 'x', 1000);
    memset(content + 301000, 'y', LEN - 301000);
    unsigned char expected[ZB_HASH_BYTES], got[ZB_HASH_BYTES];
    tree_hash_by_the_spec(expected, content, LEN);
    static const size_t pieces[] = {7000, 65536, 1, 100000, 3, ZB_HASH_BLOCK * 2};
    for (size_t k = 0; k < sizeof(pieces) / sizeof(*pieces); k++) {
        zb_hash h;
        zb_hash_init(&h);
        for (size_t at = 0; at < LEN; at += pieces[k])
            zb_hash_update(&h, content + at, LEN - at < pieces[k] ? LEN - at : pieces[k]);
        zb_hash_final(&h, got);
        assert_memory_equal(got, expected, ZB_HASH_BYTES);
        assert_int_equal(h.blocks_digested, 2);
    }
    /* a short last block of zeros is hashed, as the format says */
    memset(content, 0, LEN);
    tree_hash_by_the_spec(expected, content, 70000);
    zb_hash h;
    zb_hash_init(&h);
    zb_hash_update(&h, content, 70000);
    zb_hash_final(&h, got);
    assert_memory_equal(got, expected, ZB_HASH_BYTES);
    assert_int_equal(h.blocks_digested, 1);
    free(content);
}

/* A sink that blocks in write until a byte arrives on its pipe, as a zstd
 * call waits for a worker's job. */
typedef struct blocking_stage {
    zb_stage base;
    int gate[2];
    int writes, freed;
} blocking_stage;

static int blocking_write(zb_stage *s, const void *d, size_t n)
{
    blocking_stage *b = (blocking_stage *)s;
    char c;
    (void)d, (void)n;
    b->writes++;
    return read(b->gate[0], &c, 1) == 1 ? 0 : ZB_EIO;
}
static int blocking_close(zb_stage *s)
{
    (void)s;
    return 0;
}
static void blocking_free(zb_stage *s) { ((blocking_stage *)s)->freed = 1; }

/* After SIGTERM the producer's write returns ZB_EINTR although the chain
 * below is stuck, and freeing the abandoned stage neither waits for the
 * chain nor frees what its thread still uses. */
static void async_stops_on_signal_and_abandons_a_busy_chain(void **state)
{
    (void)state;
    static blocking_stage sink; /* outlives the test: the abandoned thread uses it */
    memset(&sink, 0, sizeof(sink));
    sink.base.write = blocking_write;
    sink.base.close = blocking_close;
    sink.base.free = blocking_free;
    assert_int_equal(pipe(sink.gate), 0);
    zb_stage *a = NULL;
    assert_int_equal(zb_stage_async_new(&a, 4096, 2, &sink.base), 0);
    assert_int_equal(zb_stage_async_abandon(a), 0); /* no signal: never abandoned */
    zb_signal_install();
    raise(SIGTERM);
    unsigned char block[4096] = {0};
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = zb_stage_write(a, block, sizeof(block));
    assert_int_equal(rc, ZB_EINTR);
    assert_int_equal(zb_stage_async_abandon(a), 1);
    zb_stage_free_chain(a);
    assert_int_equal(sink.freed, 0);
    assert_int_equal(write(sink.gate[1], "x", 1), 1); /* lets the thread end */
    zb_signal_reset_for_tests();
}

/* A producer writing pieces of odd sizes (smaller and larger than a
 * buffer) through a small ring: the consumer sees every byte once, in
 * order, and then the end. */
typedef struct {
    zb_handoff *h;
    size_t total;
} handoff_producer;

static unsigned char pattern_byte(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

static void *produce_pattern(void *arg)
{
    handoff_producer *p = arg;
    static const size_t pieces[] = {1, 7, 100, 4096, 5000, 13, 9000, 3};
    unsigned char piece[9000];
    size_t sent = 0;
    for (size_t k = 0; sent < p->total; k++) {
        size_t n = pieces[k % (sizeof(pieces) / sizeof(pieces[0]))];
        if (n > p->total - sent)
            n = p->total - sent;
        for (size_t i = 0; i < n; i++)
            piece[i] = pattern_byte(sent + i);
        if (zb_handoff_write(p->h, piece, n) < 0)
            break;
        sent += n;
    }
    zb_handoff_end(p->h);
    return NULL;
}

static void handoff_passes_every_byte_once_in_order(void **state)
{
    (void)state;
    handoff_producer p = {NULL, 1000003};
    assert_int_equal(zb_handoff_new(&p.h, 4096, 3), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, produce_pattern, &p), 0);
    size_t got = 0, mismatches = 0;
    const void *data;
    ssize_t n;
    while ((n = zb_handoff_read(p.h, &data)) > 0) {
        assert_true((size_t)n <= 4096);
        for (ssize_t i = 0; i < n; i++)
            mismatches += ((const unsigned char *)data)[i] != pattern_byte(got + (size_t)i);
        got += (size_t)n;
    }
    assert_int_equal(n, 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(got, p.total);
    assert_int_equal(mismatches, 0);
    zb_handoff_free(p.h);
}

/* A consumer that stops (libarchive failed) releases a producer waiting
 * for room: its write fails instead of waiting for ever. */
static void handoff_stop_fails_a_waiting_writer(void **state)
{
    (void)state;
    handoff_producer p = {NULL, 1u << 20};
    assert_int_equal(zb_handoff_new(&p.h, 1024, 2), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, produce_pattern, &p), 0);
    const void *data;
    assert_true(zb_handoff_read(p.h, &data) > 0);
    zb_handoff_stop(p.h);
    assert_int_equal(pthread_join(t, NULL), 0); /* would hang if the writer kept waiting */
    unsigned char byte = 0;
    assert_true(zb_handoff_write(p.h, &byte, 1) < 0);
    zb_handoff_free(p.h);
}

ZB_TEST_MAIN(seal_round_trip, seal_detects_truncation_at_chunk_boundaries, seal_detects_appended_bytes_and_flips,
             zstd_round_trip_and_trailing_garbage, hash_of_zeros_matches_plain_zeros,
             hash_counts_zero_blocks_written_as_data, async_stops_on_signal_and_abandons_a_busy_chain,
             handoff_passes_every_byte_once_in_order, handoff_stop_fails_a_waiting_writer)
