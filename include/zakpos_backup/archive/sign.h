/* Writer identity: the Ed25519 signing keys keygen makes for the backup host
 * (FILE.sign) and for trusting it (FILE.signer, and the signer line of the
 * secret key file), and the signature over an archive's plain header, held
 * in the header itself (format 2) or beside the archive in ARCHIVE.sig (how
 * a format-1 archive is vouched for). docs/FORMAT.md gives the bytes. */
#ifndef ZB_ARCHIVE_SIGN_H
#define ZB_ARCHIVE_SIGN_H

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/common/buf.h"

#include <sodium.h>
#include <stddef.h>

#define ZB_SIGN_PUBLIC_BYTES         crypto_sign_PUBLICKEYBYTES
#define ZB_SIGN_SECRET_BYTES         crypto_sign_SECRETKEYBYTES
#define ZB_SIGNATURE_BYTES           crypto_sign_BYTES
#define ZB_SIGNER_PREFIX             "ZBSP1:"
#define ZB_DETACHED_SIGNATURE_SUFFIX ".sig"

/* Makes a signing key pair: sign_path (secret, mode 0600) and signer_path
 * (public); neither may exist. pk receives the public key. */
int zb_sign_keypair_write(unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *sign_path, const char *signer_path);
/* The signing key a writer uses (into out): signing_key_file when given,
 * else FILE.sign beside the first recipient's FILE.pub, where keygen puts
 * it; ZB_EKEY with a hint when there is none. */
int zb_sign_key_path(zb_buf *out, const char *signing_key_file, const char *first_recipient);
/* Loads a signing secret into sodium-locked memory (sodium_free) and its public key. */
int zb_sign_load_secret(unsigned char **sk, unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *path);
/* Loads a signer public key: any file with a ZBSP1: line (FILE.signer, or a
 * secret key file, which names the signer it trusts). */
int zb_sign_load_signer(unsigned char pk[ZB_SIGN_PUBLIC_BYTES], const char *path);
/* "zbs1:" and 16 hex digits: how messages name a signer. */
void zb_sign_fingerprint(char *out, size_t size, const unsigned char pk[ZB_SIGN_PUBLIC_BYTES]);

/* Appends the signature slot to h (the last slot) and encodes it: the
 * signature covers every header byte before it, key slots included. */
int zb_header_sign(zb_archive_header *h, const unsigned char *sk, const unsigned char pk[ZB_SIGN_PUBLIC_BYTES]);
/* The signature over h, from its signature slot or else from the detached
 * file path.sig: 1 with the signer and *valid, 0 when there is none. */
int zb_header_signature(unsigned char signer[ZB_SIGN_PUBLIC_BYTES], int *valid, const zb_archive_header *h,
                        const char *path);
/* Writes path.sig: a detached signature over the whole plain header h. */
int zb_header_sign_detached(const char *path, const zb_archive_header *h, const unsigned char *sk,
                            const unsigned char pk[ZB_SIGN_PUBLIC_BYTES]);

#endif
