/* The fixed key material the keyed fuzz target and its corpus share: an
 * X25519 pair derived from a constant seed and a passphrase with the cheapest
 * Argon2id parameters, so seeds written by make_corpus open with the keys the
 * target hands to the reader, and every input costs microseconds. */
#ifndef ZB_FUZZ_KEYS_H
#define ZB_FUZZ_KEYS_H

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/stage.h"
#include "zakpos_backup/stream/zstd.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_PASSPHRASE   "correct horse battery staple"
#define FUZZ_KDF_OPSLIMIT ZB_KDF_MIN_OPSLIMIT /* the writer's floors: the cheapest slot it makes */
#define FUZZ_KDF_MEMLIMIT ZB_KDF_MIN_MEMLIMIT

enum fuzz_slot { FUZZ_SLOT_RECIPIENT = 0, FUZZ_SLOT_PASSPHRASE = 1 };

static inline void fuzz_keypair(unsigned char pk[crypto_box_PUBLICKEYBYTES],
                                unsigned char sk[crypto_box_SECRETKEYBYTES])
{
    unsigned char seed[crypto_box_SEEDBYTES];
    memset(seed, 0x5a, sizeof(seed));
    crypto_box_seed_keypair(pk, sk, seed);
}

static inline int fuzz_write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = zb_fs_write_all(fd, text, strlen(text), path);
    close(fd);
    return rc;
}

/* Writes DIR/fuzz.key (secret, 0600) and DIR/fuzz.pass. */
static inline int fuzz_write_key_files(const char *dir, char *key_path, char *pass_path, size_t size)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_box_SECRETKEYBYTES, sodium_base64_VARIANT_ORIGINAL)];
    char text[256];
    fuzz_keypair(pk, sk);
    sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk), sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof(text), "ZBSK1:%s\n", b64);
    snprintf(key_path, size, "%s/fuzz.key", dir);
    snprintf(pass_path, size, "%s/fuzz.pass", dir);
    return fuzz_write_text(key_path, text) < 0 || fuzz_write_text(pass_path, FUZZ_PASSPHRASE "\n") < 0 ? -1 : 0;
}

/* An encrypted header with one slot of the given kind, and the stream state
 * that goes with it (sodium_malloc'd, copied for each input). */
typedef struct fuzz_sealer {
    zb_archive_header header;
    crypto_secretstream_xchacha20poly1305_state state;
} fuzz_sealer;

static inline int fuzz_sealer_init(fuzz_sealer *s, enum fuzz_slot slot)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES], key[ZB_SEAL_KEY_BYTES];
    void *state = NULL;
    fuzz_keypair(pk, sk);
    memset(&s->header, 0, sizeof(s->header));
    s->header.version = ZB_ARCHIVE_FORMAT_VERSION;
    s->header.protection = ZB_PROTECTION_SECRETSTREAM;
    s->header.compression = ZB_COMPRESSION_ZSTD;
    s->header.chunk_size = ZB_SEAL_MIN_CHUNK; /* many chunks from small inputs */
    s->header.slot_count = 1;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    int rc = slot == FUZZ_SLOT_RECIPIENT
                 ? zb_slot_wrap_recipient(&s->header.slots[0], key, pk)
                 : zb_slot_wrap_passphrase(&s->header.slots[0], key, FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE),
                                           FUZZ_KDF_OPSLIMIT, FUZZ_KDF_MEMLIMIT);
    if (rc < 0 || zb_seal_begin(s->header.stream_header, key, &state) < 0 || zb_archive_header_encode(&s->header) < 0)
        return -1;
    memcpy(&s->state, state, sizeof(s->state));
    sodium_free(state);
    return 0;
}

/* Writes header + secretstream(zstd(plain)) to fd: a well-formed encrypted
 * archive around whatever plaintext tar stream the fuzzer made. */
static inline int fuzz_seal(int fd, const fuzz_sealer *s, const void *plain, size_t len)
{
    void *state = sodium_malloc(sizeof(s->state));
    if (!state)
        return -1;
    memcpy(state, &s->state, sizeof(s->state));
    zb_stage *file = NULL, *seal = NULL, *zstd = NULL;
    int rc = zb_fs_write_all(fd, s->header.raw, s->header.raw_len, "fuzz");
    if (rc == 0)
        rc = zb_stage_fd_new(&file, fd, "fuzz");
    if (rc == 0) {
        rc = zb_stage_seal_new(&seal, state, s->header.chunk_size, s->header.raw, s->header.raw_len, file);
        state = NULL;
        if (rc < 0)
            zb_stage_free_chain(file);
    }
    if (rc == 0 && (rc = zb_stage_zstd_new(&zstd, 1, 0, seal)) < 0)
        zb_stage_free_chain(seal);
    if (rc == 0 && (rc = zb_stage_write(zstd, plain, len)) == 0)
        rc = zb_stage_close(zstd);
    zb_stage_free_chain(zstd);
    if (state)
        sodium_free(state);
    return rc;
}

#endif
