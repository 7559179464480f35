/* Content hashes for the manifest, shown as lowercase hex. The hash is a
 * two-level SHA-256 tree (OpenSSL's libcrypto, which uses the CPU's SHA
 * instructions where present: twice BLAKE2b's speed on this kind of
 * machine): each 64 KiB block of
 * the content is hashed, and the outer hash takes those block hashes, with a
 * run of all-zero blocks written as one count, then the length. It depends on
 * the content alone, and holes of any size cost constant time, so a crafted
 * exabyte-sized sparse entry cannot stall a reader. docs/FORMAT.md defines it. */
#ifndef ZB_STREAM_HASH_H
#define ZB_STREAM_HASH_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_HASH_BYTES     32
#define ZB_HASH_HEX_BYTES (ZB_HASH_BYTES * 2 + 1)
#define ZB_HASH_NAME      "sha256-tree-64k"
#define ZB_HASH_BLOCK     (64 * 1024)

typedef struct zb_hash {
    EVP_MD_CTX *outer;
    EVP_MD_CTX *block;
    size_t block_fill;
    size_t held_zeros; /* the block's bytes so far, all zeros, not yet given to SHA-256 */
    uint64_t zero_run; /* all-zero blocks not yet written to the outer hash */
    uint64_t bytes;
    uint64_t blocks_digested; /* blocks that went through SHA-256 (zero blocks do not) */
} zb_hash;

/* Every zb_hash_init is paired with zb_hash_final (which releases it) or zb_hash_free. */
void zb_hash_init(zb_hash *h);
void zb_hash_free(zb_hash *h);
void zb_hash_update(zb_hash *h, const void *data, size_t len);
void zb_hash_update_zeros(zb_hash *h, uint64_t count);
void zb_hash_final(zb_hash *h, unsigned char out[ZB_HASH_BYTES]);
void zb_hash_final_hex(zb_hash *h, char out[ZB_HASH_HEX_BYTES]);
void zb_hash_to_hex(char out[ZB_HASH_HEX_BYTES], const unsigned char raw[ZB_HASH_BYTES]);

#endif
