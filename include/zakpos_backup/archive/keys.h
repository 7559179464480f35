/* Keys: X25519 key files made by `keygen`, passphrases from a file or the
 * environment, and the options that say how an archive's data key is wrapped
 * (for writing) or unwrapped (for reading). */
#ifndef ZB_ARCHIVE_KEYS_H
#define ZB_ARCHIVE_KEYS_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_KEY_PUBLIC_BYTES    crypto_box_PUBLICKEYBYTES
#define ZB_KEY_SECRET_BYTES    crypto_box_SECRETKEYBYTES
#define ZB_ENV_PASSPHRASE      "ZAKPOS_BACKUP_PASSPHRASE"
#define ZB_ENV_PASSPHRASE_FILE "ZAKPOS_BACKUP_PASSPHRASE_FILE"

/* How the writer protects an archive. Exactly one of: recipients (one or more
 * public key files), a passphrase, or no_encryption. */
typedef struct zb_write_keys {
    const char **recipient_files;
    size_t recipient_count;
    const char *passphrase_file; /* NULL: use the environment if use_env_passphrase */
    int use_env_passphrase;
    int no_encryption;
    /* Ed25519 signing secret (keygen's FILE.sign) for archives with
     * recipients; NULL: FILE.sign beside the first recipient's FILE.pub. */
    const char *signing_key_file;
    uint64_t kdf_opslimit; /* 0: default */
    size_t kdf_memlimit;   /* 0: default */
} zb_write_keys;

#define ZB_TRUST_MAX_FILES 16

/* What the reader may use to open an archive: a secret key file, or a
 * passphrase file; with neither, the ZAKPOS_BACKUP_PASSPHRASE(_FILE) environment.
 * With a key, the archive must be signed by a trusted writer: the signer
 * named in the key file, or one of trust_files (--trust, repository.trust).
 * The two allow_ switches exist only on the command line (docs/SECURITY.md). */
typedef struct zb_read_keys {
    const char *key_file;
    const char *passphrase_file;
    const char *trust_files[ZB_TRUST_MAX_FILES];
    size_t trust_count;
    int allow_untrusted;   /* unsigned, untrusted or badly signed: warn, read anyway */
    int allow_unencrypted; /* an unencrypted archive although a key or passphrase was given */
    int vouching;          /* `sign`: read whole to be vouched for, so no signature is asked */
} zb_read_keys;

/* Writes FILE (decryption secret and the signer it trusts, mode 0600),
 * FILE.pub (recipient), FILE.sign (signing secret, mode 0600) and
 * FILE.signer (signer public key); never replaces a file. */
int zb_keys_generate(const char *secret_path);
/* Adds a signing key to a key pair made before signing existed: writes
 * FILE.sign and FILE.signer, and the signer line into FILE. */
int zb_keys_add_signing_key(const char *secret_path);
/* Finds the line "PREFIX<base64>" in a key file's text and decodes exactly
 * len bytes; 1 when found, 0 when absent, <0 when malformed. */
int zb_keys_decode_line(unsigned char *out, size_t len, const char *text, const char *prefix, const char *path,
                        const char *kind);
int zb_keys_load_public(unsigned char pk[ZB_KEY_PUBLIC_BYTES], const char *path);
/* The one way a secret is read from a key file (decryption and signing
 * keys alike): the file's mode is checked as ssh checks it, then the line
 * "PREFIX<base64>" is decoded into sodium-locked memory (sodium_free) of
 * exactly len bytes; absent_hint is the hint when the file lacks the line. */
int zb_keys_load_secret_line(unsigned char **out, size_t len, const char *path, const char *prefix, const char *kind,
                             const char *absent_hint);
/* Loads a secret key file into sodium-locked memory (free with sodium_free);
 * also returns its public key. */
int zb_keys_load_secret(unsigned char **sk, unsigned char pk[ZB_KEY_PUBLIC_BYTES], const char *path);
/* A short printable fingerprint of a public key ("zbk1:ab12cd34ef56"). */
void zb_keys_fingerprint(char *out, size_t size, const unsigned char pk[ZB_KEY_PUBLIC_BYTES]);
/* Loads the passphrase from the file given, else from the environment; the
 * result is sodium-locked (free with zb_fs_secret_free). */
int zb_keys_load_passphrase(char **out, size_t *out_len, const char *passphrase_file);
int zb_keys_env_has_passphrase(void);

#endif
