#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

const char *zb_archive_protection_name(uint8_t protection)
{
    return protection == ZB_PROTECTION_SECRETSTREAM ? "xchacha20poly1305-secretstream" : "none";
}

int zb_archive_header_encode(zb_archive_header *h)
{
    size_t len = ZB_ARCHIVE_FIXED_BYTES;
    for (size_t i = 0; i < h->slot_count; i++)
        len += 3 + h->slots[i].len;
    if (len > ZB_ARCHIVE_MAX_HEADER || h->slot_count > ZB_ARCHIVE_MAX_SLOTS)
        return zb_error_set(ZB_EUSAGE, "too many recipients for one archive (%zu)", h->slot_count);
    unsigned char *p = h->raw;
    memset(p, 0, len);
    memcpy(p, ZB_ARCHIVE_MAGIC, ZB_ARCHIVE_MAGIC_BYTES);
    put_u16(p + 8, h->version);
    put_u16(p + 10, (uint16_t)len);
    p[12] = h->protection;
    p[13] = h->compression;
    put_u16(p + 14, (uint16_t)h->slot_count);
    put_u32(p + 16, h->chunk_size);
    memcpy(p + 20, h->stream_header, ZB_SEAL_HEADER_BYTES);
    size_t at = ZB_ARCHIVE_FIXED_BYTES;
    for (size_t i = 0; i < h->slot_count; i++) {
        p[at] = h->slots[i].type;
        put_u16(p + at + 1, h->slots[i].len);
        memcpy(p + at + 3, h->slots[i].body, h->slots[i].len);
        at += 3 + h->slots[i].len;
    }
    h->raw_len = len;
    return 0;
}

static int parse_slots(zb_archive_header *h, const char *what)
{
    size_t at = ZB_ARCHIVE_FIXED_BYTES;
    for (size_t i = 0; i < h->slot_count; i++) {
        if (at + 3 > h->raw_len)
            return zb_error_set(ZB_EINTEGRITY, "%s: key slot %zu runs past the end of the header", what, i + 1);
        zb_key_slot *s = &h->slots[i];
        s->type = h->raw[at];
        s->len = get_u16(h->raw + at + 1);
        size_t want = s->type == ZB_SLOT_X25519                         ? ZB_SLOT_X25519_BYTES
                      : s->type == ZB_SLOT_ARGON2ID                     ? ZB_SLOT_ARGON2ID_BYTES
                      : s->type == ZB_SLOT_SIGNATURE && h->version >= 2 ? ZB_SLOT_SIGNATURE_BYTES
                                                                        : 0;
        if (want == 0)
            return zb_error_set(ZB_EFORMAT, "%s: key slot %zu has unknown type %u", what, i + 1, s->type);
        if (s->len != want || at + 3 + s->len > h->raw_len)
            return zb_error_set(ZB_EINTEGRITY, "%s: key slot %zu has a wrong length", what, i + 1);
        memcpy(s->body, h->raw + at + 3, s->len);
        at += 3 + s->len;
    }
    if (at != h->raw_len)
        return zb_error_set(ZB_EINTEGRITY, "%s: the header length does not match its key slots", what);
    /* The signature covers what precedes it: only the last slot may be one,
     * and it wraps no key. */
    for (size_t i = 0; i < h->slot_count; i++)
        if (h->slots[i].type == ZB_SLOT_SIGNATURE && (i + 1 != h->slot_count || h->slot_count == 1))
            return zb_error_set(ZB_EINTEGRITY, "%s: a signature slot out of place", what);
    return 0;
}

static int parse_fixed(zb_archive_header *h, const char *what)
{
    const unsigned char *p = h->raw;
    h->version = get_u16(p + 8);
    if (h->version < ZB_ARCHIVE_FORMAT_OLDEST || h->version > ZB_ARCHIVE_FORMAT_VERSION)
        return zb_error_set(ZB_EFORMAT,
                            "%s: archive format version %u is not supported (this build reads versions %u to %u)", what,
                            h->version, ZB_ARCHIVE_FORMAT_OLDEST, ZB_ARCHIVE_FORMAT_VERSION);
    h->protection = p[12];
    h->compression = p[13];
    h->slot_count = get_u16(p + 14);
    h->chunk_size = get_u32(p + 16);
    memcpy(h->stream_header, p + 20, ZB_SEAL_HEADER_BYTES);
    if (h->protection != ZB_PROTECTION_NONE && h->protection != ZB_PROTECTION_SECRETSTREAM)
        return zb_error_set(ZB_EFORMAT, "%s: unknown protection %u", what, h->protection);
    if (h->compression != ZB_COMPRESSION_ZSTD)
        return zb_error_set(ZB_EFORMAT, "%s: unknown compression %u", what, h->compression);
    if (h->slot_count > ZB_ARCHIVE_MAX_SLOTS)
        return zb_error_set(ZB_EINTEGRITY, "%s: the header claims %zu key slots", what, h->slot_count);
    if (h->protection == ZB_PROTECTION_SECRETSTREAM) {
        if (h->slot_count == 0)
            return zb_error_set(ZB_EINTEGRITY, "%s: an encrypted archive without key slots", what);
        if (h->chunk_size < ZB_SEAL_MIN_CHUNK || h->chunk_size > ZB_SEAL_MAX_CHUNK)
            return zb_error_set(ZB_EINTEGRITY, "%s: chunk size %u is out of range", what, (unsigned)h->chunk_size);
    } else if (h->slot_count != 0 || h->chunk_size != 0) {
        return zb_error_set(ZB_EINTEGRITY, "%s: an unencrypted archive with key fields set", what);
    }
    return 0;
}

int zb_archive_header_read(zb_archive_header *h, int fd, const char *what)
{
    memset(h, 0, sizeof(*h) - sizeof(h->raw));
    size_t got = 0;
    int rc = zb_fs_read_full(fd, h->raw, ZB_ARCHIVE_FIXED_BYTES, &got, what);
    if (rc < 0)
        return rc;
    if (got < ZB_ARCHIVE_MAGIC_BYTES || memcmp(h->raw, ZB_ARCHIVE_MAGIC, ZB_ARCHIVE_MAGIC_BYTES) != 0)
        return zb_error_set(ZB_EFORMAT, "%s is not a zakpos-backup archive (no %s signature)", what, ZB_ARCHIVE_MAGIC);
    if (got < ZB_ARCHIVE_FIXED_BYTES)
        return zb_error_set(ZB_EINTEGRITY, "%s: the archive header is truncated", what);
    h->raw_len = get_u16(h->raw + 10);
    if (h->raw_len < ZB_ARCHIVE_FIXED_BYTES)
        return zb_error_set(ZB_EINTEGRITY, "%s: the header length %zu is too small", what, h->raw_len);
    if ((rc = parse_fixed(h, what)) < 0)
        return rc;
    if ((rc = zb_fs_read_full(fd, h->raw + ZB_ARCHIVE_FIXED_BYTES, h->raw_len - ZB_ARCHIVE_FIXED_BYTES, &got, what)) <
        0)
        return rc;
    if (got != h->raw_len - ZB_ARCHIVE_FIXED_BYTES)
        return zb_error_set(ZB_EINTEGRITY, "%s: the archive header is truncated", what);
    return parse_slots(h, what);
}

int zb_archive_header_read_file(zb_archive_header *h, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", path);
    int rc = zb_archive_header_read(h, fd, path);
    close(fd);
    return rc;
}

int zb_slot_wrap_recipient(zb_key_slot *slot, const unsigned char data_key[ZB_SEAL_KEY_BYTES],
                           const unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    slot->type = ZB_SLOT_X25519;
    slot->len = ZB_SLOT_X25519_BYTES;
    memcpy(slot->body, pk, crypto_box_PUBLICKEYBYTES);
    if (crypto_box_seal(slot->body + crypto_box_PUBLICKEYBYTES, data_key, ZB_SEAL_KEY_BYTES, pk) != 0)
        return zb_error_set(ZB_EKEY, "cannot seal the data key to a recipient (invalid public key)");
    return 0;
}

/* Layout offsets inside an Argon2id slot body. */
enum {
    A2_ALG = 0,
    A2_OPS = 1,
    A2_MEM = 9,
    A2_SALT = 17,
    A2_NONCE = A2_SALT + crypto_pwhash_SALTBYTES,
    A2_BOX = A2_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
};

static int derive_kek(unsigned char kek[32], const char *passphrase, size_t passphrase_len, const unsigned char *salt,
                      uint64_t opslimit, uint64_t memlimit)
{
    if (crypto_pwhash(kek, 32, passphrase, passphrase_len, salt, opslimit, (size_t)memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return zb_error_set(ZB_ENOMEM, "argon2id key derivation failed (not enough memory for %llu MiB?)",
                            (unsigned long long)(memlimit >> 20));
    return 0;
}

int zb_slot_wrap_passphrase(zb_key_slot *slot, const unsigned char data_key[ZB_SEAL_KEY_BYTES], const char *passphrase,
                            size_t passphrase_len, uint64_t opslimit, size_t memlimit)
{
    if (opslimit < ZB_KDF_MIN_OPSLIMIT || opslimit > ZB_KDF_MAX_OPSLIMIT || memlimit < ZB_KDF_MIN_MEMLIMIT ||
        memlimit > ZB_KDF_MAX_MEMLIMIT)
        return zb_error_set(ZB_EUSAGE, "argon2id parameters out of range (ops %llu, memory %zu bytes)",
                            (unsigned long long)opslimit, memlimit)
                   ? zb_error_hint("passes %d to %d, memory %u MiB to %llu MiB", ZB_KDF_MIN_OPSLIMIT,
                                   ZB_KDF_MAX_OPSLIMIT, ZB_KDF_MIN_MEMLIMIT >> 20, ZB_KDF_MAX_MEMLIMIT >> 20)
                   : 0;
    slot->type = ZB_SLOT_ARGON2ID;
    slot->len = ZB_SLOT_ARGON2ID_BYTES;
    unsigned char *b = slot->body;
    b[A2_ALG] = 2; /* crypto_pwhash_ALG_ARGON2ID13, pinned: the library constant could change */
    put_u64(b + A2_OPS, opslimit);
    put_u64(b + A2_MEM, memlimit);
    randombytes_buf(b + A2_SALT, crypto_pwhash_SALTBYTES);
    randombytes_buf(b + A2_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned char kek[32];
    int rc = derive_kek(kek, passphrase, passphrase_len, b + A2_SALT, opslimit, memlimit);
    if (rc == 0)
        crypto_aead_xchacha20poly1305_ietf_encrypt(b + A2_BOX, NULL, data_key, ZB_SEAL_KEY_BYTES, b, A2_NONCE, NULL,
                                                   b + A2_NONCE, kek);
    sodium_memzero(kek, sizeof(kek));
    return rc;
}

int zb_slot_kdf_params(const zb_key_slot *slot, uint64_t *opslimit, uint64_t *memlimit)
{
    if (slot->type != ZB_SLOT_ARGON2ID)
        return zb_error_set(ZB_EFAIL, "not a passphrase slot");
    *opslimit = get_u64(slot->body + A2_OPS);
    *memlimit = get_u64(slot->body + A2_MEM);
    return 0;
}

int zb_slots_unwrap_with_key(unsigned char data_key[ZB_SEAL_KEY_BYTES], const zb_archive_header *h,
                             const unsigned char *sk, const unsigned char pk[crypto_box_PUBLICKEYBYTES])
{
    for (size_t i = 0; i < h->slot_count; i++) {
        const zb_key_slot *s = &h->slots[i];
        if (s->type != ZB_SLOT_X25519 || sodium_memcmp(s->body, pk, crypto_box_PUBLICKEYBYTES) != 0)
            continue;
        if (crypto_box_seal_open(data_key, s->body + crypto_box_PUBLICKEYBYTES,
                                 crypto_box_SEALBYTES + ZB_SEAL_KEY_BYTES, pk, sk) != 0)
            return zb_error_set(ZB_EINTEGRITY, "the key slot for this key is damaged (the archive header was altered)");
        return 1;
    }
    return 0;
}

int zb_slots_unwrap_with_passphrase(unsigned char data_key[ZB_SEAL_KEY_BYTES], const zb_archive_header *h,
                                    const char *passphrase, size_t passphrase_len)
{
    for (size_t i = 0; i < h->slot_count; i++) {
        const zb_key_slot *s = &h->slots[i];
        if (s->type != ZB_SLOT_ARGON2ID)
            continue;
        const unsigned char *b = s->body;
        uint64_t ops = get_u64(b + A2_OPS), mem = get_u64(b + A2_MEM);
        if (b[A2_ALG] != 2 || ops < crypto_pwhash_OPSLIMIT_MIN || ops > ZB_KDF_MAX_OPSLIMIT ||
            mem < crypto_pwhash_MEMLIMIT_MIN || mem > ZB_KDF_MAX_MEMLIMIT)
            return zb_error_set(ZB_EINTEGRITY,
                                "the passphrase slot has invalid argon2id parameters (the header is damaged)");
        unsigned char kek[32];
        int rc = derive_kek(kek, passphrase, passphrase_len, b + A2_SALT, ops, mem);
        if (rc < 0)
            return rc;
        int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
            data_key, NULL, NULL, b + A2_BOX, ZB_SEAL_KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES, b,
            A2_NONCE, b + A2_NONCE, kek);
        sodium_memzero(kek, sizeof(kek));
        if (bad)
            return zb_error_set(ZB_EKEY, "wrong passphrase (or the archive header is damaged)");
        return 1;
    }
    return 0;
}
