/* Host paths as a source: bind-mounted config and data folders (or single
 * files) read with libarchive's disk reader (sparse files, hard links, xattrs,
 * ACLs), and restored into a staging folder that replaces the target only
 * after the whole archive was read and verified. */
#ifndef ZB_SOURCE_PATH_PATH_H
#define ZB_SOURCE_PATH_PATH_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"

/* Parses "[NAME=]DIR"; the default name is DIR's last component. *name and
 * *dir are allocated (free()). */
int zb_path_parse_spec(char **name, char **dir, const char *spec);

int zb_path_backup(zb_archive_writer *w, const char *name, const char *dir);
/* The folder's entries into the source being written, named under prefix
 * (the folder itself is prefix): a Docker volume read from its mount point. */
int zb_path_add_tree(zb_archive_writer *w, const char *dir, const char *prefix);

typedef struct zb_path_restore zb_path_restore;

/* A target that exists and is not empty is refused unless force; the check is
 * made again when the restored folder is published. */
int zb_path_restore_begin(zb_path_restore **out, const char *name, const char *target, int force);
int zb_path_restore_entry(zb_path_restore *p, zb_archive_reader *r, struct archive_entry *entry,
                          const zb_entry_info *info);
/* Call once the reader reached the end (archive verified): publishes the
 * staging folder as the target. */
int zb_path_restore_finish(zb_path_restore *p, zb_archive_reader *r);
const char *zb_path_restore_target(const zb_path_restore *p);
/* Removes the staging folder if the restore was not finished. NULL is fine. */
void zb_path_restore_free(zb_path_restore *p);

#endif
