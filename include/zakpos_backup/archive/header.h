/* The plain header at the start of every archive (docs/FORMAT.md gives it
 * byte by byte): magic, format version, protection, compression, chunk size,
 * the secretstream header and the key slots that wrap the data key. */
#ifndef ZB_ARCHIVE_HEADER_H
#define ZB_ARCHIVE_HEADER_H

#include "zakpos_backup/stream/seal.h"

#include <stddef.h>
#include <stdint.h>

#define ZB_ARCHIVE_MAGIC          "ZAKPOSBK"
#define ZB_ARCHIVE_MAGIC_BYTES    8
#define ZB_ARCHIVE_FORMAT_VERSION 2
#define ZB_ARCHIVE_FORMAT_OLDEST  1 /* format 1: no signature slot (docs/FORMAT.md) */
#define ZB_ARCHIVE_FIXED_BYTES    44
#define ZB_ARCHIVE_MAX_HEADER     65535
#define ZB_ARCHIVE_MAX_SLOTS      64
#define ZB_ARCHIVE_EXTENSION      ".zbk"

enum zb_protection { ZB_PROTECTION_NONE = 0, ZB_PROTECTION_SECRETSTREAM = 1 };
enum zb_compression { ZB_COMPRESSION_ZSTD = 1 };
enum zb_slot_type { ZB_SLOT_X25519 = 1, ZB_SLOT_ARGON2ID = 2, ZB_SLOT_SIGNATURE = 3 };

/* X25519 slot: recipient public key, then crypto_box_seal(data key). */
#define ZB_SLOT_X25519_BYTES (crypto_box_PUBLICKEYBYTES + crypto_box_SEALBYTES + ZB_SEAL_KEY_BYTES)
/* Argon2id slot: alg(1) opslimit(8) memlimit(8) salt nonce aead(data key). */
#define ZB_SLOT_ARGON2ID_BYTES                                                                                         \
    (1 + 8 + 8 + crypto_pwhash_SALTBYTES + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + ZB_SEAL_KEY_BYTES +          \
     crypto_aead_xchacha20poly1305_ietf_ABYTES)
/* Signature slot (format 2, always the last): the writer's Ed25519 public
 * key, then its signature over every header byte before the signature. */
#define ZB_SLOT_SIGNATURE_BYTES (crypto_sign_PUBLICKEYBYTES + crypto_sign_BYTES)
#define ZB_SLOT_MAX_BYTES       160

typedef struct zb_key_slot {
    uint8_t type;
    uint16_t len;
    unsigned char body[ZB_SLOT_MAX_BYTES];
} zb_key_slot;

typedef struct zb_archive_header {
    uint16_t version;
    uint8_t protection;
    uint8_t compression;
    uint32_t chunk_size;
    unsigned char stream_header[ZB_SEAL_HEADER_BYTES];
    size_t slot_count;
    zb_key_slot slots[ZB_ARCHIVE_MAX_SLOTS];
    /* The exact bytes as stored: authenticated with the first chunk. */
    unsigned char raw[ZB_ARCHIVE_MAX_HEADER];
    size_t raw_len;
} zb_archive_header;

/* Serialises h into h->raw / h->raw_len. */
int zb_archive_header_encode(zb_archive_header *h);
/* Reads and parses the header at the start of fd; `what` names the file. */
int zb_archive_header_read(zb_archive_header *h, int fd, const char *what);
/* The same for the file at path (opened and closed). */
int zb_archive_header_read_file(zb_archive_header *h, const char *path);
const char *zb_archive_protection_name(uint8_t protection);

/* Key slots: wrap the data key for a recipient or a passphrase, and unwrap it. */
int zb_slot_wrap_recipient(zb_key_slot *slot, const unsigned char data_key[ZB_SEAL_KEY_BYTES],
                           const unsigned char pk[crypto_box_PUBLICKEYBYTES]);
int zb_slot_wrap_passphrase(zb_key_slot *slot, const unsigned char data_key[ZB_SEAL_KEY_BYTES], const char *passphrase,
                            size_t passphrase_len, uint64_t opslimit, size_t memlimit);
/* 1 and the key if this secret key opens the archive; 0 if no slot is for it. */
int zb_slots_unwrap_with_key(unsigned char data_key[ZB_SEAL_KEY_BYTES], const zb_archive_header *h,
                             const unsigned char *sk, const unsigned char pk[crypto_box_PUBLICKEYBYTES]);
int zb_slots_unwrap_with_passphrase(unsigned char data_key[ZB_SEAL_KEY_BYTES], const zb_archive_header *h,
                                    const char *passphrase, size_t passphrase_len);
/* Parameters of an Argon2id slot, for display. */
int zb_slot_kdf_params(const zb_key_slot *slot, uint64_t *opslimit, uint64_t *memlimit);

#define ZB_KDF_DEFAULT_OPSLIMIT 4
#define ZB_KDF_DEFAULT_MEMLIMIT (32u * 1024 * 1024)
/* A header may not ask the reader for more than this (a crafted header must
 * not make verify allocate without bound or run for hours); the writer stays
 * within the same bounds, and above its floors (a weak derivation would make
 * the passphrase cheap to guess). */
#define ZB_KDF_MAX_OPSLIMIT     16
#define ZB_KDF_MAX_MEMLIMIT     (1024ull * 1024 * 1024)
#define ZB_KDF_MIN_OPSLIMIT     3
#define ZB_KDF_MIN_MEMLIMIT     (8u * 1024 * 1024)

#endif
