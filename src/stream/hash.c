#include "zakpos_backup/stream/hash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static unsigned char zero_block_digest[ZB_HASH_BYTES];
static pthread_once_t zero_block_once = PTHREAD_ONCE_INIT;

static void compute_zero_block_digest(void)
{
    static const unsigned char zeros[ZB_HASH_BLOCK];
    EVP_Digest(zeros, sizeof(zeros), zero_block_digest, NULL, EVP_sha256(), NULL);
}

/* Allocation failure of a digest context is not recoverable in any useful
 * way here (a few hundred bytes): abort rather than hash wrongly. */
static EVP_MD_CTX *new_sha256(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
        abort();
    return c;
}

void zb_hash_init(zb_hash *h)
{
    pthread_once(&zero_block_once, compute_zero_block_digest);
    h->outer = new_sha256();
    h->block = new_sha256();
    h->block_fill = 0;
    h->zero_run = 0;
    h->bytes = 0;
}

void zb_hash_free(zb_hash *h)
{
    EVP_MD_CTX_free(h->outer);
    EVP_MD_CTX_free(h->block);
    h->outer = h->block = NULL;
}

/* Outer records: 0x00 + count for a run of zero blocks, 0x01 + digest for any
 * other block, 0x02 + length at the end (integers little-endian, 8 bytes). */
static void outer_record(zb_hash *h, unsigned char tag, const unsigned char *body, size_t len)
{
    EVP_DigestUpdate(h->outer, &tag, 1);
    EVP_DigestUpdate(h->outer, body, len);
}

static void outer_u64(zb_hash *h, unsigned char tag, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    outer_record(h, tag, le, sizeof(le));
}

static void flush_zero_run(zb_hash *h)
{
    if (h->zero_run) {
        outer_u64(h, 0x00, h->zero_run);
        h->zero_run = 0;
    }
}

static void close_block(zb_hash *h)
{
    unsigned char digest[ZB_HASH_BYTES];
    EVP_DigestFinal_ex(h->block, digest, NULL);
    if (h->block_fill == ZB_HASH_BLOCK && memcmp(digest, zero_block_digest, ZB_HASH_BYTES) == 0) {
        h->zero_run++; /* zeros written as data hash like a hole */
    } else {
        flush_zero_run(h);
        outer_record(h, 0x01, digest, ZB_HASH_BYTES);
    }
    EVP_DigestInit_ex(h->block, EVP_sha256(), NULL);
    h->block_fill = 0;
}

void zb_hash_update(zb_hash *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h->bytes += len;
    while (len > 0) {
        size_t n = ZB_HASH_BLOCK - h->block_fill;
        if (n > len)
            n = len;
        EVP_DigestUpdate(h->block, p, n);
        h->block_fill += n;
        p += n;
        len -= n;
        if (h->block_fill == ZB_HASH_BLOCK)
            close_block(h);
    }
}

void zb_hash_update_zeros(zb_hash *h, uint64_t count)
{
    static const unsigned char zeros[ZB_HASH_BLOCK];
    if (h->block_fill > 0) { /* finish the partial block first */
        size_t n = ZB_HASH_BLOCK - h->block_fill;
        if (n > count)
            n = (size_t)count;
        zb_hash_update(h, zeros, n);
        count -= n;
    }
    uint64_t blocks = count / ZB_HASH_BLOCK; /* whole zero blocks: counted, not hashed */
    h->zero_run += blocks;
    h->bytes += blocks * ZB_HASH_BLOCK;
    count -= blocks * ZB_HASH_BLOCK;
    if (count > 0)
        zb_hash_update(h, zeros, (size_t)count);
}

void zb_hash_final(zb_hash *h, unsigned char out[ZB_HASH_BYTES])
{
    if (h->block_fill > 0)
        close_block(h);
    flush_zero_run(h);
    outer_u64(h, 0x02, h->bytes);
    EVP_DigestFinal_ex(h->outer, out, NULL);
    zb_hash_free(h);
}

void zb_hash_to_hex(char out[ZB_HASH_HEX_BYTES], const unsigned char raw[ZB_HASH_BYTES])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < ZB_HASH_BYTES; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * ZB_HASH_BYTES] = '\0';
}

void zb_hash_final_hex(zb_hash *h, char out[ZB_HASH_HEX_BYTES])
{
    unsigned char raw[ZB_HASH_BYTES];
    zb_hash_final(h, raw);
    zb_hash_to_hex(out, raw);
}
