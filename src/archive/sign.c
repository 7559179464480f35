#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIGN_SECRET_PREFIX "ZBSS1:"
#define DETACHED_PREFIX    "ZBSIG1:"
#define B64_VARIANT        sodium_base64_VARIANT_ORIGINAL
#define TEXT_MAX           1024

/* Each kind of signed message starts with its own context string (NUL
 * included), so a signature made for one can never pass for the other. */
static const char embedded_context[] = "zakpos-backup archive header v2";
static const char detached_context[] = "zakpos-backup detached header signature v1";

void zb_sign_fingerprint(char *out, size_t size, const unsigned char pk[ZB_SIGN_PUBLIC_BYTES])
{
    unsigned char digest[8];
    char hex[sizeof(digest) * 2 + 1];
    crypto_generichash(digest, sizeof(digest), pk, ZB_SIGN_PUBLIC_BYTES, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, size, "zbs1:%s", hex);
}

static void put_b64_line(char *out, size_t size, const char *prefix, const unsigned char *bin, size_t len)
{
    char b64[sodium_base64_ENCODED_LEN(ZB_SIGN_SECRET_BYTES + ZB_SIGNATURE_BYTES, B64_VARIANT)];
    sodium_bin2base64(b64, sizeof(b64), bin, len, B64_VARIANT);
    snprintf(out, size, "%s%s\n", prefix, b64);
    sodium_memzero(b64, sizeof(b64));
}

int zb_sign_keypair_write(unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *sign_path, const char *signer_path)
{
    if (access(signer_path, F_OK) == 0)
        return zb_error_set(ZB_EEXIST, "%s already exists; refusing to overwrite a key file", signer_path);
    unsigned char *sk = sodium_malloc(ZB_SIGN_SECRET_BYTES);
    char *text = sodium_malloc(TEXT_MAX), line[TEXT_MAX / 2], fingerprint[64];
    int rc = 0;
    if (!sk || !text) {
        rc = zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
        goto done;
    }
    crypto_sign_keypair(pk, sk);
    zb_sign_fingerprint(fingerprint, sizeof(fingerprint), pk);
    put_b64_line(line, sizeof(line), SIGN_SECRET_PREFIX, sk, ZB_SIGN_SECRET_BYTES);
    snprintf(text, TEXT_MAX,
             "# zakpos-backup signing key %s\n"
             "# The backup host signs its archives with it; readers trust %s.\n%s",
             fingerprint, fingerprint, line);
    sodium_memzero(line, sizeof(line));
    if ((rc = zb_fs_write_new_file(sign_path, text, 0600)) < 0)
        goto done;
    put_b64_line(line, sizeof(line), ZB_SIGNER_PREFIX, pk, ZB_SIGN_PUBLIC_BYTES);
    snprintf(text, TEXT_MAX, "# zakpos-backup signer %s (give it to --trust or repository.trust)\n%s", fingerprint,
             line);
    if ((rc = zb_fs_write_new_file(signer_path, text, 0644)) < 0)
        unlink(sign_path);
done:
    sodium_free(text);
    sodium_free(sk);
    return rc;
}

int zb_sign_key_path(zb_buf *out, const char *signing_key_file, const char *first_recipient)
{
    if (signing_key_file && *signing_key_file)
        return zb_buf_puts(out, signing_key_file);
    size_t n = strlen(first_recipient);
    if (n > 4 && strcmp(first_recipient + n - 4, ".pub") == 0) {
        int rc = zb_buf_printf(out, "%.*s.sign", (int)(n - 4), first_recipient);
        if (rc < 0 || access(out->data, F_OK) == 0)
            return rc;
    }
    zb_error_set(ZB_EKEY,
                 "an archive for recipient keys is signed by the host that writes it, and no signing key "
                 "was found for %s",
                 first_recipient);
    return zb_error_hint(
        "give --signing-key FILE.sign or repository.signing_key_file (keygen writes it beside FILE.pub; 'zakpos-backup keygen "
        "--add-signing-key FILE' adds one to an older key pair)");
}

int zb_sign_load_secret(unsigned char **sk_out, unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *path)
{
    int rc = zb_keys_load_secret_line(sk_out, ZB_SIGN_SECRET_BYTES, path, SIGN_SECRET_PREFIX, "signing",
                                      "the signing key is keygen's FILE.sign");
    if (rc == 0)
        crypto_sign_ed25519_sk_to_pk(pk, *sk_out);
    return rc;
}

int zb_sign_load_signer(unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *path)
{
    char *text = NULL;
    size_t len = 0;
    /* Read as a secret: the file may be a secret key file naming its signer. */
    int rc = zb_fs_read_secret(&text, &len, path);
    if (rc < 0)
        return zb_error_context("cannot read the trusted signer");
    rc = zb_keys_decode_line(pk, ZB_SIGN_PUBLIC_BYTES, text, ZB_SIGNER_PREFIX, path, "signer");
    zb_fs_secret_free(text, len);
    if (rc == 0)
        return zb_error_set(ZB_ECONFIG, "%s names no signer", path)
                   ? zb_error_hint("a trusted signer is keygen's FILE.signer (a line starting %s)", ZB_SIGNER_PREFIX)
                   : 0;
    return rc < 0 ? rc : 0;
}

/* context (NUL included) followed by len header bytes; free(). */
static unsigned char *signed_message(size_t *out_len, const char *context, size_t context_len, const unsigned char *raw,
                                     size_t len)
{
    unsigned char *m = malloc(context_len + len);
    if (!m)
        return NULL;
    memcpy(m, context, context_len);
    memcpy(m + context_len, raw, len);
    *out_len = context_len + len;
    return m;
}

int zb_header_sign(zb_archive_header *h, const unsigned char *sk, const unsigned char pk[ZB_SIGN_PUBLIC_BYTES])
{
    if (h->slot_count >= ZB_ARCHIVE_MAX_SLOTS)
        return zb_error_set(ZB_EUSAGE, "too many recipients to sign the archive (%zu)", h->slot_count);
    zb_key_slot *s = &h->slots[h->slot_count++];
    s->type = ZB_SLOT_SIGNATURE;
    s->len = ZB_SLOT_SIGNATURE_BYTES;
    memset(s->body, 0, sizeof(s->body));
    memcpy(s->body, pk, ZB_SIGN_PUBLIC_BYTES);
    int rc = zb_archive_header_encode(h);
    if (rc < 0)
        return rc;
    size_t signed_len = h->raw_len - ZB_SIGNATURE_BYTES, m_len = 0;
    unsigned char *m = signed_message(&m_len, embedded_context, sizeof(embedded_context), h->raw, signed_len);
    if (!m)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    crypto_sign_detached(h->raw + signed_len, NULL, m, m_len, sk);
    memcpy(s->body + ZB_SIGN_PUBLIC_BYTES, h->raw + signed_len, ZB_SIGNATURE_BYTES);
    free(m);
    return 0;
}

static int check(const unsigned char *sig, const unsigned char *signer, const char *context, size_t context_len,
                 const unsigned char *raw, size_t len, int *valid)
{
    size_t m_len = 0;
    unsigned char *m = signed_message(&m_len, context, context_len, raw, len);
    if (!m)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    *valid = crypto_sign_verify_detached(sig, m, m_len, signer) == 0;
    free(m);
    return 1;
}

int zb_header_signature(unsigned char signer[ZB_SIGN_PUBLIC_BYTES], int *valid, const zb_archive_header *h,
                        const char *path)
{
    *valid = 0;
    if (h->slot_count > 0 && h->slots[h->slot_count - 1].type == ZB_SLOT_SIGNATURE) {
        const zb_key_slot *s = &h->slots[h->slot_count - 1];
        memcpy(signer, s->body, ZB_SIGN_PUBLIC_BYTES);
        return check(s->body + ZB_SIGN_PUBLIC_BYTES, signer, embedded_context, sizeof(embedded_context), h->raw,
                     h->raw_len - ZB_SIGNATURE_BYTES, valid);
    }
    zb_buf sig_path = ZB_BUF_INIT;
    char *text = NULL;
    int rc = zb_buf_printf(&sig_path, "%s%s", path, ZB_DETACHED_SIGNATURE_SUFFIX);
    if (rc == 0 && access(sig_path.data, F_OK) != 0 && errno == ENOENT)
        goto done; /* unsigned */
    unsigned char both[ZB_SIGN_PUBLIC_BYTES + ZB_SIGNATURE_BYTES];
    if (rc == 0)
        rc = zb_fs_read_text(&text, sig_path.data, TEXT_MAX);
    if (rc == 0 &&
        (rc = zb_keys_decode_line(both, sizeof(both), text, DETACHED_PREFIX, sig_path.data, "signature")) == 0)
        rc = zb_error_set(ZB_EUNTRUSTED, "%s is not a zakpos-backup signature", sig_path.data);
    if (rc == 1) {
        memcpy(signer, both, ZB_SIGN_PUBLIC_BYTES);
        rc = check(both + ZB_SIGN_PUBLIC_BYTES, signer, detached_context, sizeof(detached_context), h->raw, h->raw_len,
                   valid);
    }
done:
    free(text);
    zb_buf_free(&sig_path);
    return rc;
}

int zb_header_sign_detached(const char *path, const zb_archive_header *h, const unsigned char *sk,
                            const unsigned char pk[ZB_SIGN_PUBLIC_BYTES])
{
    unsigned char both[ZB_SIGN_PUBLIC_BYTES + ZB_SIGNATURE_BYTES];
    size_t m_len = 0;
    unsigned char *m = signed_message(&m_len, detached_context, sizeof(detached_context), h->raw, h->raw_len);
    if (!m)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    memcpy(both, pk, ZB_SIGN_PUBLIC_BYTES);
    crypto_sign_detached(both + ZB_SIGN_PUBLIC_BYTES, NULL, m, m_len, sk);
    free(m);
    char line[TEXT_MAX / 2], fingerprint[64], text[TEXT_MAX];
    zb_sign_fingerprint(fingerprint, sizeof(fingerprint), pk);
    put_b64_line(line, sizeof(line), DETACHED_PREFIX, both, sizeof(both));
    snprintf(text, sizeof(text), "# zakpos-backup signature of the archive's header, by %s\n%s", fingerprint, line);
    zb_buf sig_path = ZB_BUF_INIT;
    int rc = zb_buf_printf(&sig_path, "%s%s", path, ZB_DETACHED_SIGNATURE_SUFFIX);
    if (rc == 0)
        rc = zb_fs_write_file_atomic(sig_path.data, text, strlen(text), 0644);
    zb_buf_free(&sig_path);
    return rc;
}
