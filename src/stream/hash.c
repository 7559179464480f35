#include "zakpos_backup/stream/hash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const EVP_MD *sha256;
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static const unsigned char zero_block[ZB_HASH_BLOCK];

/* SHA-256 is looked up once: given EVP_sha256() instead, OpenSSL 3 looks the
 * implementation up again at every block's init (a lock and a property
 * query, about 1% of a backup's CPU). */
static void hash_setup(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); /* held for the process's life */
#endif
    if (!sha256)
        sha256 = EVP_sha256();
}

/* Allocation failure of a digest context is not recoverable in any useful
 * way here (a few hundred bytes): abort rather than hash wrongly. */
static EVP_MD_CTX *new_sha256(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, sha256, NULL) != 1)
        abort();
    return c;
}

void zb_hash_init(zb_hash *h)
{
    pthread_once(&hash_once, hash_setup);
    h->outer = new_sha256();
    h->block = new_sha256();
    h->block_fill = 0;
    h->held_zeros = 0;
    h->zero_run = 0;
    h->bytes = 0;
    h->blocks_digested = 0;
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

/* The block's leading zeros not yet given to SHA-256 go in now: the block
 * holds other bytes too, or ends short. */
static void release_held_zeros(zb_hash *h)
{
    if (h->held_zeros)
        EVP_DigestUpdate(h->block, zero_block, h->held_zeros);
    h->held_zeros = 0;
}

static void close_block(zb_hash *h)
{
    if (h->held_zeros == ZB_HASH_BLOCK) { /* zeros written as data hash like a hole, unhashed */
        h->zero_run++;
        h->held_zeros = h->block_fill = 0;
        return;
    }
    release_held_zeros(h);
    unsigned char digest[ZB_HASH_BYTES];
    EVP_DigestFinal_ex(h->block, digest, NULL);
    h->blocks_digested++;
    flush_zero_run(h); /* a block digested holds a byte other than zero */
    outer_record(h, 0x01, digest, ZB_HASH_BYTES);
    EVP_DigestInit_ex(h->block, sha256, NULL);
    h->block_fill = 0;
}

/* memcmp against the bytes one further on: every byte equals the first. */
static int all_zero(const unsigned char *p, size_t n) { return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0); }

/* Zeros are held back while a block holds nothing else: a block of zeros
 * written as data (a sparse file's hole read through Docker's tar, a
 * preallocated file) is then counted like a hole instead of hashed, which
 * the outer hash cannot tell apart. Testing a piece for zeros stops at its
 * first other byte, so other data pays almost nothing for it. */
void zb_hash_update(zb_hash *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h->bytes += len;
    while (len > 0) {
        size_t n = ZB_HASH_BLOCK - h->block_fill;
        if (n > len)
            n = len;
        if (h->held_zeros == h->block_fill && all_zero(p, n)) {
            h->held_zeros += n;
        } else {
            release_held_zeros(h);
            EVP_DigestUpdate(h->block, p, n);
        }
        h->block_fill += n;
        p += n;
        len -= n;
        if (h->block_fill == ZB_HASH_BLOCK)
            close_block(h);
    }
}

void zb_hash_update_zeros(zb_hash *h, uint64_t count)
{
    if (h->block_fill > 0) { /* finish the partial block first */
        size_t n = ZB_HASH_BLOCK - h->block_fill;
        if (n > count)
            n = (size_t)count;
        zb_hash_update(h, zero_block, n);
        count -= n;
    }
    uint64_t blocks = count / ZB_HASH_BLOCK; /* whole zero blocks: counted, not hashed */
    h->zero_run += blocks;
    h->bytes += blocks * ZB_HASH_BLOCK;
    count -= blocks * ZB_HASH_BLOCK;
    if (count > 0)
        zb_hash_update(h, zero_block, (size_t)count);
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
