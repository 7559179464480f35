/* The reader's trust rules, applied to an archive's plain header before a
 * key is unwrapped or any entry read: given a key or a passphrase, an
 * unencrypted archive is refused; given a key, the archive must carry a valid
 * signature by a trusted writer; the protection the header names must match
 * what was given. docs/SECURITY.md explains why. */
#ifndef ZB_ARCHIVE_TRUST_H
#define ZB_ARCHIVE_TRUST_H

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/keys.h"

/* 0 when the archive at path (header h) may be read with keys; ZB_EUNTRUSTED
 * (or ZB_EKEY for a protection that does not match) naming the reason and
 * the signer otherwise. */
int zb_trust_check(const zb_archive_header *h, const char *path, const zb_read_keys *keys);
/* The same for a copy handed out whole (fetch: nothing is decrypted): the
 * header of `file`, checked as the archive `path` (messages name it, its
 * detached signature is path.sig). With neither a key nor a trusted signer
 * there is nothing to check against: refused as unsigned archives are
 * (ZB_EUNTRUSTED), or a warning under --allow-untrusted. */
int zb_trust_check_copy(const char *file, const char *path, const zb_read_keys *keys);

#endif
