#include "zakpos_backup/stream/hash.h"

#include <string.h>

void zb_hash_init(zb_hash *h)
{
    crypto_generichash_init(&h->state, NULL, 0, ZB_HASH_BYTES);
    h->bytes = 0;
}

void zb_hash_update(zb_hash *h, const void *data, size_t len)
{
    crypto_generichash_update(&h->state, data, len);
    h->bytes += len;
}

void zb_hash_update_zeros(zb_hash *h, uint64_t count)
{
    static const unsigned char zeros[64 * 1024];
    while (count > 0) {
        size_t n = count < sizeof(zeros) ? (size_t)count : sizeof(zeros);
        zb_hash_update(h, zeros, n);
        count -= n;
    }
}

void zb_hash_final(zb_hash *h, unsigned char out[ZB_HASH_BYTES])
{
    crypto_generichash_final(&h->state, out, ZB_HASH_BYTES);
}

void zb_hash_to_hex(char out[ZB_HASH_HEX_BYTES], const unsigned char raw[ZB_HASH_BYTES])
{
    sodium_bin2hex(out, ZB_HASH_HEX_BYTES, raw, ZB_HASH_BYTES);
}

void zb_hash_final_hex(zb_hash *h, char out[ZB_HASH_HEX_BYTES])
{
    unsigned char raw[ZB_HASH_BYTES];
    zb_hash_final(h, raw);
    zb_hash_to_hex(out, raw);
}
