/* Keys: X25519 key files made by `keygen`, passphrases from a file or the
 * environment, and the options that say how an archive's data key is wrapped
 * (for writing) or unwrapped (for reading). */
#ifndef ZB_ARCHIVE_KEYS_H
#define ZB_ARCHIVE_KEYS_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_KEY_PUBLIC_BYTES crypto_box_PUBLICKEYBYTES
#define ZB_KEY_SECRET_BYTES crypto_box_SECRETKEYBYTES
#define ZB_ENV_PASSPHRASE "ZAKPOS_BACKUP_PASSPHRASE"
#define ZB_ENV_PASSPHRASE_FILE "ZAKPOS_BACKUP_PASSPHRASE_FILE"

/* How the writer protects an archive. Exactly one of: recipients (one or more
 * public key files), a passphrase, or no_encryption. */
typedef struct zb_write_keys {
    const char **recipient_files;
    size_t recipient_count;
    const char *passphrase_file; /* NULL: use the environment if use_env_passphrase */
    int use_env_passphrase;
    int no_encryption;
    uint64_t kdf_opslimit;       /* 0: default */
    size_t kdf_memlimit;         /* 0: default */
} zb_write_keys;

/* What the reader may use to open an archive: a secret key file, or a
 * passphrase file; with neither, the ZAKPOS_BACKUP_PASSPHRASE(_FILE) environment. */
typedef struct zb_read_keys {
    const char *key_file;
    const char *passphrase_file;
} zb_read_keys;

/* Writes FILE (secret, mode 0600, never replaced) and FILE.pub. */
int zb_keys_generate(const char *secret_path);
int zb_keys_load_public(unsigned char pk[ZB_KEY_PUBLIC_BYTES], const char *path);
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
