/* Proof that a restored tree (a folder, or a Docker volume read back through
 * the API) holds what the backup recorded: each restored entry is read, its
 * content hashed as the backup hashed it and its metadata taken, and the set
 * is compared with the manifest's entries of that source, whatever order
 * either side comes in. A restored entry costs about 80 bytes of memory; its
 * data is streamed. */
#ifndef ZB_SOURCE_PATH_CHECK_H
#define ZB_SOURCE_PATH_CHECK_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/source/path/fine.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stddef.h>

typedef struct zb_tree_check zb_tree_check;
struct zb_source_check; /* source/source.h */

int zb_tree_check_new(zb_tree_check **out);
void zb_tree_check_free(zb_tree_check *c);
/* Also compares the nanoseconds of mtimes and the xattrs with those `fine`
 * recorded (from the archive's entries), for the entries it holds: only for
 * a read-back that carries them (NULL: not compared). */
void zb_tree_check_set_fine(zb_tree_check *c, const zb_tree_fine *fine);
/* Entries added so far. */
size_t zb_tree_check_count(const zb_tree_check *c);

/* One restored entry: relative is its name inside the tree ("." for the
 * root), hardlink_relative the earlier name it is a hard link to (a tar
 * stream) or NULL; a regular file's data is read from `in`. Entries read from
 * disk carry their inode, so names of one file are known as such. */
int zb_tree_check_add(zb_tree_check *c, struct archive *in, struct archive_entry *e, const char *relative,
                      const char *hardlink_relative);

/* Compares the entries added with the manifest's entries of source kind/name
 * (the archive must have been read to its end). Manifest names under
 * `prefix` ("data" for a volume; NULL for a path source) are matched with the
 * restored names; others are ignored. Each difference is appended to
 * `differences` as a string naming the entry and what differs (at most
 * `limit`); *count is their total. */
int zb_tree_check_compare(zb_tree_check *c, zb_archive_reader *r, const char *kind, const char *name,
                          const char *prefix, json_t *differences, size_t limit, size_t *count);

/* The restored tree's entries read from disk as the path source reads them. */
int zb_tree_check_add_folder(zb_tree_check *c, const char *dir);

/* A tree source's read-back for a rehearsal (a folder, a volume): fill adds
 * the entries restored into target, which are compared with source
 * kind/name of the archive (its entries under `prefix`); the differences
 * (the first `limit`) and the entries read go into *out. */
typedef int (*zb_tree_fill_fn)(zb_tree_check *c, const char *target, void *payload);
int zb_tree_check_source(zb_archive_reader *r, const char *kind, const char *name, const char *prefix,
                         const char *target, zb_tree_fill_fn fill, void *payload, size_t limit,
                         struct zb_source_check *out);

#endif
