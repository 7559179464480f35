/* Content hashes for the manifest: BLAKE2b-256 (libsodium's generichash),
 * shown as lowercase hex. Holes of sparse files are hashed as the zeros they read as. */
#ifndef ZB_STREAM_HASH_H
#define ZB_STREAM_HASH_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_HASH_BYTES 32
#define ZB_HASH_HEX_BYTES (ZB_HASH_BYTES * 2 + 1)
#define ZB_HASH_NAME "blake2b-256"

typedef struct zb_hash {
    crypto_generichash_state state;
    uint64_t bytes;
} zb_hash;

void zb_hash_init(zb_hash *h);
void zb_hash_update(zb_hash *h, const void *data, size_t len);
void zb_hash_update_zeros(zb_hash *h, uint64_t count);
void zb_hash_final(zb_hash *h, unsigned char out[ZB_HASH_BYTES]);
void zb_hash_final_hex(zb_hash *h, char out[ZB_HASH_HEX_BYTES]);
void zb_hash_to_hex(char out[ZB_HASH_HEX_BYTES], const unsigned char raw[ZB_HASH_BYTES]);

#endif
