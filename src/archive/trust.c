#include "zakpos_backup/archive/trust.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct trusted_set {
    unsigned char keys[ZB_TRUST_MAX_FILES + 1][ZB_SIGN_PUBLIC_BYTES];
    size_t count;
} trusted_set;

/* The signer the key file was made with (none for a key file from before
 * signing), then every --trust / repository.trust file. */
static int load_trusted(trusted_set *t, const zb_read_keys *keys)
{
    t->count = 0;
    int rc = 0;
    if (keys->key_file) {
        char *text = NULL;
        size_t len = 0;
        if (zb_fs_read_secret(&text, &len, keys->key_file) < 0)
            return zb_error_context("cannot read secret key");
        rc = zb_keys_decode_line(t->keys[t->count], ZB_SIGN_PUBLIC_BYTES, text, ZB_SIGNER_PREFIX, keys->key_file,
                                 "signer");
        zb_fs_secret_free(text, len);
        if (rc < 0)
            return rc;
        t->count += (size_t)rc;
    }
    for (size_t i = 0; i < keys->trust_count && i < ZB_TRUST_MAX_FILES; i++) {
        if ((rc = zb_sign_load_signer(t->keys[t->count], keys->trust_files[i])) < 0)
            return rc;
        t->count++;
    }
    return 0;
}

static int is_trusted(const trusted_set *t, const unsigned char signer[ZB_SIGN_PUBLIC_BYTES])
{
    for (size_t i = 0; i < t->count; i++)
        if (sodium_memcmp(t->keys[i], signer, ZB_SIGN_PUBLIC_BYTES) == 0)
            return 1;
    return 0;
}

/* A refusal, or under --allow-untrusted a warning with the same words. */
static int refuse_or_warn(const zb_read_keys *keys, const char *message, const char *hint)
{
    if (keys->allow_untrusted) {
        zb_log_warn("%s; reading it anyway (--allow-untrusted)", message);
        return 0;
    }
    zb_error_set(ZB_EUNTRUSTED, "%s", message);
    return zb_error_hint("%s", hint);
}

static int check_signature(const zb_archive_header *h, const char *path, const zb_read_keys *keys)
{
    trusted_set t;
    unsigned char signer[ZB_SIGN_PUBLIC_BYTES];
    int valid = 0, rc;
    if ((rc = load_trusted(&t, keys)) < 0 || (rc = zb_header_signature(signer, &valid, h, path)) < 0)
        return rc;
    char message[1024], fingerprint[64];
    if (rc == 0) {
        snprintf(message, sizeof(message), "%s is not signed: nothing proves which host wrote it", path);
        return refuse_or_warn(keys, message,
                              h->version < 2 ? "an archive of format 1 you know to be yours can be vouched for "
                                               "with 'zakpos-backup sign' (docs/SECURITY.md); --allow-untrusted "
                                               "reads it anyway"
                                             : "an archive for recipient keys is always signed by its writer: this "
                                               "one was made by someone else; --allow-untrusted reads it anyway");
    }
    zb_sign_fingerprint(fingerprint, sizeof(fingerprint), signer);
    if (!valid) {
        snprintf(message, sizeof(message), "%s: the signature by %s does not match the archive header", path,
                 fingerprint);
        return refuse_or_warn(keys, message,
                              "the header was altered, or the signature belongs to another archive; "
                              "--allow-untrusted reads it anyway");
    }
    if (!is_trusted(&t, signer)) {
        snprintf(message, sizeof(message), "%s is signed by %s, a writer this reader does not trust", path,
                 fingerprint);
        return refuse_or_warn(keys, message,
                              t.count ? "if that host is yours, trust its FILE.signer with --trust FILE or "
                                        "repository.trust"
                                      : "the key file names no trusted signer (made before signing existed): "
                                        "give --trust FILE.signer, or run 'zakpos-backup keygen "
                                        "--add-signing-key KEYFILE'");
    }
    zb_log_detail("%s is signed by %s, a trusted writer", path, fingerprint);
    return 0;
}

/* What the header says protects the archive, for messages. */
static void describe_slots(zb_buf *out, const zb_archive_header *h)
{
    char fp[64];
    for (size_t i = 0; i < h->slot_count; i++) {
        const zb_key_slot *s = &h->slots[i];
        if (s->type == ZB_SLOT_X25519) {
            zb_keys_fingerprint(fp, sizeof(fp), s->body);
            zb_buf_printf(out, "%srecipient key %s", out->len ? ", " : "", fp);
        } else if (s->type == ZB_SLOT_ARGON2ID) {
            zb_buf_printf(out, "%sa passphrase", out->len ? ", " : "");
        }
    }
}

static size_t count_slots(const zb_archive_header *h, int type)
{
    size_t n = 0;
    for (size_t i = 0; i < h->slot_count; i++)
        n += h->slots[i].type == type;
    return n;
}

static int has_slot_for_key(const zb_archive_header *h, const char *key_file)
{
    unsigned char *sk = NULL, pk[ZB_KEY_PUBLIC_BYTES];
    int rc = zb_keys_load_secret(&sk, pk, key_file);
    sodium_free(sk);
    for (size_t i = 0; rc == 0 && i < h->slot_count; i++)
        if (h->slots[i].type == ZB_SLOT_X25519 && sodium_memcmp(h->slots[i].body, pk, ZB_KEY_PUBLIC_BYTES) == 0)
            return 1;
    return rc;
}

int zb_trust_check(const zb_archive_header *h, const char *path, const zb_read_keys *keys)
{
    int given_key = keys->key_file != NULL;
    int given_passphrase = !given_key && (keys->passphrase_file || zb_keys_env_has_passphrase());
    if (h->protection == ZB_PROTECTION_NONE) {
        if (!given_key && !given_passphrase && keys->trust_count == 0)
            return 0; /* a keyless read of an archive written with --no-encryption */
        if (!keys->allow_unencrypted)
            return zb_error_set(ZB_EUNTRUSTED,
                                "%s is not encrypted, but a %s was given: the header says no protection, so "
                                "anyone could have written it",
                                path,
                                given_key          ? "key"
                                : given_passphrase ? "passphrase"
                                                   : "trusted signer")
                       ? zb_error_hint(
                             "if you wrote it with --no-encryption yourself, read it with --allow-unencrypted")
                       : 0;
        zb_log_warn("%s is not encrypted and proves nothing about its writer; reading it anyway (--allow-unencrypted)",
                    path);
        return 0;
    }
    zb_buf said = ZB_BUF_INIT;
    int rc = 0;
    describe_slots(&said, h);
    if (given_key && count_slots(h, ZB_SLOT_X25519) == 0)
        rc = zb_error_set(ZB_EKEY, "%s is not protected by a recipient key: the header says %s", path,
                          said.data ? said.data : "nothing")
                 ? zb_error_hint("open it with --passphrase-file FILE")
                 : 0;
    else if (given_passphrase && count_slots(h, ZB_SLOT_ARGON2ID) == 0)
        rc = zb_error_set(ZB_EKEY, "%s is not protected by a passphrase: the header says %s", path,
                          said.data ? said.data : "nothing")
                 ? zb_error_hint("open it with --key SECRETKEYFILE")
                 : 0;
    zb_buf_free(&said);
    if (rc < 0)
        return rc;
    if (keys->vouching)
        return 0; /* `sign` reads the archive to vouch for it */
    /* No slot for this key: unwrapping refuses it, naming the keys that open it. */
    if (given_key && (rc = has_slot_for_key(h, keys->key_file)) <= 0)
        return rc;
    /* A passphrase authenticates by itself: only its holders can wrap a data
     * key for it. A recipient key is public: the signature says who wrote. */
    if (given_key || (!given_passphrase && keys->trust_count > 0))
        return check_signature(h, path, keys);
    return 0;
}

int zb_trust_check_copy(const char *file, const char *path, const zb_read_keys *keys)
{
    char message[1024];
    if (!keys->key_file && keys->trust_count == 0) {
        /* The same words as an unsigned archive's refusal: with nothing to
         * check against, a copy is as unproven as an archive without a
         * signature, and --allow-untrusted is the one way past both. */
        snprintf(message, sizeof(message),
                 "%s was not checked: no key and no trusted signer were given, so nothing proves which host wrote it",
                 path);
        return refuse_or_warn(keys, message,
                              "give --key FILE or --trust FILE.signer (or set repository.key_file or "
                              "repository.trust); --allow-untrusted hands it out unchecked");
    }
    zb_archive_header *h = malloc(sizeof(*h));
    if (!h)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_archive_header_read_file(h, file);
    if (rc == 0)
        rc = zb_trust_check(h, path, keys);
    free(h);
    return rc;
}
