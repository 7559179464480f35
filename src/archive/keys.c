#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_PREFIX "ZBSK1:"
#define PUBLIC_PREFIX "ZBPK1:"
#define B64_VARIANT   sodium_base64_VARIANT_ORIGINAL

/* keygen's file names beside FILE. */
typedef struct key_paths {
    char pub[PATH_MAX], sign[PATH_MAX], signer[PATH_MAX];
} key_paths;

static int key_paths_of(key_paths *p, const char *secret_path)
{
    if (snprintf(p->pub, sizeof(p->pub), "%s.pub", secret_path) >= (int)sizeof(p->pub) ||
        snprintf(p->sign, sizeof(p->sign), "%s.sign", secret_path) >= (int)sizeof(p->sign) ||
        snprintf(p->signer, sizeof(p->signer), "%s.signer", secret_path) >= (int)sizeof(p->signer))
        return zb_error_set(ZB_EUSAGE, "key path too long: %s", secret_path);
    return 0;
}

static int refuse_existing(const char *path)
{
    if (access(path, F_OK) == 0)
        return zb_error_set(ZB_EEXIST, "%s already exists; refusing to overwrite a key file", path);
    return 0;
}

/* The comment and line by which a secret key file trusts its signer. */
static void signer_lines(char *out, size_t size, const unsigned char spk[ZB_SIGN_PUBLIC_BYTES])
{
    char b64[sodium_base64_ENCODED_LEN(ZB_SIGN_PUBLIC_BYTES, B64_VARIANT)], fingerprint[64];
    sodium_bin2base64(b64, sizeof(b64), spk, ZB_SIGN_PUBLIC_BYTES, B64_VARIANT);
    zb_sign_fingerprint(fingerprint, sizeof(fingerprint), spk);
    snprintf(out, size, "# It trusts archives signed by %s (the FILE.sign kept on the backup host).\n%s%s\n",
             fingerprint, ZB_SIGNER_PREFIX, b64);
}

int zb_keys_generate(const char *secret_path)
{
    key_paths p;
    int rc;
    if ((rc = key_paths_of(&p, secret_path)) < 0 || (rc = refuse_existing(secret_path)) < 0 ||
        (rc = refuse_existing(p.pub)) < 0 || (rc = refuse_existing(p.sign)) < 0 || (rc = refuse_existing(p.signer)) < 0)
        return rc;
    unsigned char pk[crypto_box_PUBLICKEYBYTES], spk[ZB_SIGN_PUBLIC_BYTES];
    unsigned char *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    char *text = sodium_malloc(1024);
    if (!sk || !text) {
        sodium_free(sk);
        sodium_free(text);
        return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
    }
    crypto_box_keypair(pk, sk);
    char b64[sodium_base64_ENCODED_LEN(crypto_box_SECRETKEYBYTES, B64_VARIANT)];
    char fingerprint[64], trust[256];
    zb_keys_fingerprint(fingerprint, sizeof(fingerprint), pk);
    if ((rc = zb_sign_keypair_write(spk, p.sign, p.signer)) < 0)
        goto done;
    signer_lines(trust, sizeof(trust), spk);
    sodium_bin2base64(b64, sizeof(b64), sk, crypto_box_SECRETKEYBYTES, B64_VARIANT);
    snprintf(text, 1024,
             "# zakpos-backup secret key %s\n"
             "# It opens every archive made for its public key: keep it off the backup host.\n"
             "%s%s\n%s",
             fingerprint, SECRET_PREFIX, b64, trust);
    sodium_memzero(b64, sizeof(b64));
    rc = zb_fs_write_new_file(secret_path, text, 0600);
    if (rc == 0) {
        sodium_bin2base64(b64, sizeof(b64), pk, crypto_box_PUBLICKEYBYTES, B64_VARIANT);
        snprintf(text, 1024, "# zakpos-backup public key %s\n%s%s\n", fingerprint, PUBLIC_PREFIX, b64);
        rc = zb_fs_write_new_file(p.pub, text, 0644);
        if (rc < 0)
            unlink(secret_path);
    }
    if (rc < 0) {
        unlink(p.sign);
        unlink(p.signer);
    }
done:
    sodium_free(text);
    sodium_free(sk);
    return rc;
}

int zb_keys_add_signing_key(const char *secret_path)
{
    key_paths p;
    char *text = NULL, *grown = NULL;
    size_t len = 0;
    unsigned char spk[ZB_SIGN_PUBLIC_BYTES], *sk = NULL, pk[ZB_KEY_PUBLIC_BYTES];
    int rc;
    if ((rc = key_paths_of(&p, secret_path)) < 0 || (rc = zb_keys_load_secret(&sk, pk, secret_path)) < 0)
        return rc;
    sodium_free(sk);
    if ((rc = zb_fs_read_secret(&text, &len, secret_path)) < 0)
        return rc;
    if ((rc = zb_keys_decode_line(spk, sizeof(spk), text, ZB_SIGNER_PREFIX, secret_path, "signer")) != 0) {
        if (rc > 0) {
            char fingerprint[64];
            zb_sign_fingerprint(fingerprint, sizeof(fingerprint), spk);
            rc = zb_error_set(ZB_EEXIST, "%s already trusts signer %s", secret_path, fingerprint);
        }
        goto done;
    }
    if ((rc = refuse_existing(p.sign)) < 0 || (rc = zb_sign_keypair_write(spk, p.sign, p.signer)) < 0)
        goto done;
    size_t cap = len + 512;
    if (!(grown = sodium_malloc(cap))) {
        rc = zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
    } else {
        char trust[256];
        signer_lines(trust, sizeof(trust), spk);
        snprintf(grown, cap, "%s\n%s", text, trust);
        /* Replaced as a whole, never half-written: the file is the only copy of the secret. */
        rc = zb_fs_write_file_atomic(secret_path, grown, strlen(grown), 0600);
        sodium_memzero(grown, cap);
        sodium_free(grown);
    }
    if (rc < 0) {
        unlink(p.sign);
        unlink(p.signer);
    }
done:
    zb_fs_secret_free(text, len);
    return rc;
}

int zb_keys_decode_line(unsigned char *out, size_t len, const char *text, const char *prefix, const char *path,
                        const char *kind)
{
    const char *line = text;
    while (line && *line) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            const char *b64 = line + strlen(prefix);
            const char *end = b64;
            while (*end && *end != '\n' && *end != '\r')
                end++;
            size_t bin_len = 0;
            if (sodium_base642bin(out, len, b64, (size_t)(end - b64), NULL, &bin_len, NULL, B64_VARIANT) != 0 ||
                bin_len != len)
                return zb_error_set(ZB_EKEY, "%s: the %s key is malformed", path, kind);
            return 1;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

/* Exactly one key of the kind the file must hold. */
static int decode_key_line(unsigned char *out, size_t len, const char *text, const char *prefix, const char *path,
                           const char *kind)
{
    int rc = zb_keys_decode_line(out, len, text, prefix, path, kind);
    if (rc == 0)
        return zb_error_set(ZB_EKEY, "%s is not a zakpos-backup %s key file", path, kind);
    return rc < 0 ? rc : 0;
}

int zb_keys_load_public(unsigned char pk[ZB_KEY_PUBLIC_BYTES], const char *path)
{
    char *text = NULL;
    int rc = zb_fs_read_text(&text, path, 4096);
    if (rc < 0)
        return zb_error_context("cannot read recipient key");
    rc = decode_key_line(pk, ZB_KEY_PUBLIC_BYTES, text, PUBLIC_PREFIX, path, "public");
    if (rc < 0 && strstr(text, SECRET_PREFIX))
        zb_error_hint("%s is a secret key; pass its .pub file with --recipient", path);
    free(text);
    return rc;
}

int zb_keys_load_secret_line(unsigned char **out, size_t len, const char *path, const char *prefix, const char *kind,
                             const char *absent_hint)
{
    *out = NULL;
    char *text = NULL;
    size_t text_len = 0;
    int rc = zb_secret_check_file_mode(path);
    if (rc == 0)
        rc = zb_fs_read_secret(&text, &text_len, path);
    if (rc < 0)
        return zb_error_context("cannot read the %s key", kind);
    unsigned char *key = sodium_malloc(len);
    if (!key)
        rc = zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
    else if ((rc = decode_key_line(key, len, text, prefix, path, kind)) < 0 && absent_hint && text &&
             !strstr(text, prefix))
        zb_error_hint("%s", absent_hint);
    zb_fs_secret_free(text, text_len);
    if (rc < 0) {
        sodium_free(key);
        return rc;
    }
    *out = key;
    return 0;
}

int zb_keys_load_secret(unsigned char **sk_out, unsigned char pk[ZB_KEY_PUBLIC_BYTES], const char *path)
{
    int rc = zb_keys_load_secret_line(sk_out, ZB_KEY_SECRET_BYTES, path, SECRET_PREFIX, "secret",
                                      "reading an archive needs the secret key file (keygen's FILE, not FILE.pub)");
    if (rc == 0)
        crypto_scalarmult_base(pk, *sk_out);
    return rc;
}

void zb_keys_fingerprint(char *out, size_t size, const unsigned char pk[ZB_KEY_PUBLIC_BYTES])
{
    unsigned char digest[8];
    char hex[sizeof(digest) * 2 + 1];
    crypto_generichash(digest, sizeof(digest), pk, ZB_KEY_PUBLIC_BYTES, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, size, "zbk1:%s", hex);
}

int zb_keys_env_has_passphrase(void)
{
    return zb_secret_env_get(ZB_ENV_PASSPHRASE) != NULL || getenv(ZB_ENV_PASSPHRASE_FILE) != NULL;
}

int zb_keys_load_passphrase(char **out, size_t *out_len, const char *passphrase_file)
{
    *out = NULL;
    *out_len = 0;
    const char *file = passphrase_file ? passphrase_file : getenv(ZB_ENV_PASSPHRASE_FILE);
    if (file) {
        if (zb_fs_read_secret(out, out_len, file) < 0)
            return zb_error_context("cannot read the passphrase");
    } else {
        const char *value = zb_secret_env_get(ZB_ENV_PASSPHRASE); /* taken out of the environment at start */
        if (!value)
            return zb_error_set(ZB_EKEY, "no passphrase given")
                       ? zb_error_hint("use --passphrase-file FILE or set %s or %s", ZB_ENV_PASSPHRASE_FILE,
                                       ZB_ENV_PASSPHRASE)
                       : 0;
        size_t len = strlen(value);
        char *copy = sodium_malloc(len + 1);
        if (!copy)
            return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
        memcpy(copy, value, len + 1);
        *out = copy;
        *out_len = len;
    }
    if (*out_len == 0) {
        zb_fs_secret_free(*out, 0);
        *out = NULL;
        return zb_error_set(ZB_EKEY, "the passphrase is empty");
    }
    return 0;
}
