/* Encryption with libsodium's crypto_secretstream_xchacha20poly1305 over
 * fixed-size chunks. The last chunk carries the FINAL tag; the reader treats
 * an end of file before it, or any byte after it, as damage, and binds the
 * archive's plain header to the first chunk as additional data. */
#ifndef ZB_STREAM_SEAL_H
#define ZB_STREAM_SEAL_H

#include "zakpos_backup/stream/stage.h"

#include <sodium.h>

#define ZB_SEAL_KEY_BYTES      crypto_secretstream_xchacha20poly1305_KEYBYTES
#define ZB_SEAL_HEADER_BYTES   crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ZB_SEAL_CHUNK_OVERHEAD crypto_secretstream_xchacha20poly1305_ABYTES
#define ZB_SEAL_DEFAULT_CHUNK  (256 * 1024)
#define ZB_SEAL_MIN_CHUNK      4096
#define ZB_SEAL_MAX_CHUNK      (16 * 1024 * 1024)

/* Starts a stream under key; fills stream_header (stored in the archive's
 * plain header). Nothing is written until the first chunk. */
int zb_seal_begin(unsigned char stream_header[ZB_SEAL_HEADER_BYTES], const unsigned char key[ZB_SEAL_KEY_BYTES],
                  void **state_out);
/* The stage takes the state from zb_seal_begin; first_chunk_ad (copied) is
 * authenticated with the first chunk. */
int zb_stage_seal_new(zb_stage **out, void *state, size_t chunk_size, const void *first_chunk_ad, size_t ad_len,
                      zb_stage *next);
int zb_reader_unseal_new(zb_reader **out, const unsigned char key[ZB_SEAL_KEY_BYTES],
                         const unsigned char stream_header[ZB_SEAL_HEADER_BYTES], size_t chunk_size,
                         const void *first_chunk_ad, size_t ad_len, zb_reader *inner);
/* Number of chunks the reader has authenticated (for messages). */
uint64_t zb_reader_unseal_chunks(const zb_reader *r);

#endif
