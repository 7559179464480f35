/* What a restored tree's read-back compares beyond the manifest's fields:
 * the nanoseconds of each entry's mtime and its xattrs, which the manifest
 * does not hold. They are recorded from the archive's own entries as a
 * rehearsal restores them, then compared with the entries read back, where
 * the read-back carries them (a folder read from disk, the volume agent's
 * stream; not Docker's own tar). About 16 bytes per entry. */
#ifndef ZB_SOURCE_PATH_FINE_H
#define ZB_SOURCE_PATH_FINE_H

#include <archive_entry.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zb_fine_attrs {
    uint32_t mtime_nsec;
    uint32_t xattrs; /* a digest of the xattrs (ACLs and SELinux labels apart); 0: none */
} zb_fine_attrs;

/* The entry's values. */
void zb_fine_attrs_of(struct archive_entry *e, zb_fine_attrs *out);

typedef struct zb_tree_fine zb_tree_fine;
int zb_tree_fine_new(zb_tree_fine **out);
void zb_tree_fine_free(zb_tree_fine *f);
/* Records entry e under its name inside the tree ("." the root). */
int zb_tree_fine_add(zb_tree_fine *f, const char *relative, struct archive_entry *e);
/* 1 and *out when relative (len bytes) was recorded, else 0. */
int zb_tree_fine_find(const zb_tree_fine *f, const char *relative, size_t len, zb_fine_attrs *out);

#endif
