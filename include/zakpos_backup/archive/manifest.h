/* The manifest: the last entry of every archive, describing each source and
 * each of its entries (type, size, metadata, content hash). Entries are
 * written one per line so a reader can stream them; see docs/FORMAT.md. */
#ifndef ZB_ARCHIVE_MANIFEST_H
#define ZB_ARCHIVE_MANIFEST_H

#include "zakpos_backup/stream/hash.h"

#include <archive_entry.h>
#include <jansson.h>
#include <stdint.h>

#define ZB_MANIFEST_NAME   "manifest.json"
#define ZB_MANIFEST_FORMAT 1

/* Tar prefix of a source kind ("pg" -> "pg", "volume" -> "volumes", ...), or NULL. */
const char *zb_manifest_kind_prefix(const char *kind);
/* Kind for a tar prefix, or NULL. */
const char *zb_manifest_prefix_kind(const char *prefix, size_t len);
/* Source names are one path component of [A-Za-z0-9._@+=-], not "." or "..". */
int zb_manifest_check_source_name(const char *name);
/* A relative entry name is safe: not absolute, no "." or ".." components
 * (except the whole name "." for the source root), no empty components. */
int zb_manifest_check_relative(const char *relative, const char *what);

const char *zb_manifest_type_name(mode_t filetype);
/* The manifest object for one entry; hash_hex may be NULL (not a regular file). */
json_t *zb_manifest_entry_new(struct archive_entry *entry, const char *relative, const char *hardlink_relative,
                              uint64_t content_bytes, const char *hash_hex);

#endif
