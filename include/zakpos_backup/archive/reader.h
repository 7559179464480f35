/* Reading an archive: opens the plain header, unwraps the data key, and pulls
 * the tar stream through decryption and zstd. Every entry's content is hashed
 * as it is read; once the last entry (the manifest) is reached the reader
 * compares every hash and size with the manifest, so a caller that reads all
 * data and reaches the end has verified the archive. */
#ifndef ZB_ARCHIVE_READER_H
#define ZB_ARCHIVE_READER_H

#include "zakpos_backup/archive/keys.h"

#include <archive_entry.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zb_archive_reader zb_archive_reader;

/* Where an entry belongs: its source and its path inside that source. */
typedef struct zb_entry_info {
    const char *source_kind; /* ZB_SOURCE_PG, ZB_SOURCE_VOLUME, ZB_SOURCE_PATH */
    const char *source_name;
    const char *relative;          /* path inside the source, never absolute, no ".." */
    const char *hardlink_relative; /* hard-link target inside the same source, or NULL */
} zb_entry_info;

int zb_archive_reader_open(zb_archive_reader **out, const char *path, const zb_read_keys *keys);
/* 1 and the next entry (owned by the reader, valid until the next call);
 * 0 once the manifest was read and every entry checked against it; <0 error.
 * An entry whose name is absolute, contains "..", or lies outside every
 * source prefix is an error (ZB_EUNSAFE). Unread data of the previous entry
 * is read and hashed first. */
int zb_archive_reader_next(zb_archive_reader *r, struct archive_entry **entry, zb_entry_info *info);
/* Content of the current entry in blocks; *offset says where the block
 * belongs (sparse files have gaps, which are zeros). Returns 1 with a block,
 * 0 at the end of the entry, <0 on error. */
int zb_archive_reader_read_block(zb_archive_reader *r, const void **data, size_t *len, int64_t *offset);
/* Convenience: plain sequential read (gaps filled with zeros); returns bytes
 * read, 0 at the end of the entry, <0 on error. */
ssize_t zb_archive_reader_read(zb_archive_reader *r, void *buf, size_t len);

/* The manifest (borrowed), available once next() returned 0. Its sources
 * carry no "entries" arrays (they are compared as a stream, so memory does not
 * follow the number of entries) unless zb_archive_reader_keep_entries was
 * called before the end. */
json_t *zb_archive_reader_manifest(zb_archive_reader *r);
void zb_archive_reader_keep_entries(zb_archive_reader *r);
/* Manifest source object (borrowed) for a kind/name, or NULL. Both this and
 * zb_archive_reader_manifest give every summary whole, its "tables" list
 * parsed then (the reader keeps it out of memory until asked for). */
json_t *zb_archive_reader_manifest_source(zb_archive_reader *r, const char *kind, const char *name);
/* Once next() returned 0 (the archive verified): calls visit with each
 * manifest entry object of one source, in archive order, streamed from a
 * temporary file (memory does not follow the number of entries). */
typedef int (*zb_entry_visit_fn)(json_t *entry, void *payload);
int zb_archive_reader_each_entry(zb_archive_reader *r, const char *kind, const char *name, zb_entry_visit_fn visit,
                                 void *payload);
/* Once next() returned 0: calls visit with each record of the "tables" list
 * of a source's summary, in order, one at a time (a database's has a record
 * per table, which the reader does not hold as JSON). 1 when the source has
 * such a list, 0 when not, <0 on error. */
int zb_archive_reader_each_summary_table(zb_archive_reader *r, const char *kind, const char *name,
                                         zb_entry_visit_fn visit, void *payload);
/* Plain header facts, available right after open. */
int zb_archive_reader_is_encrypted(const zb_archive_reader *r);
uint64_t zb_archive_reader_bytes_in(const zb_archive_reader *r);
void zb_archive_reader_free(zb_archive_reader *r);

/* Reads every entry to the end, which verifies the whole archive. */
int zb_archive_reader_read_all(zb_archive_reader *r, uint64_t *entries);
/* Prints a plain-header summary (no key needed) of the archive at path. */
int zb_archive_describe_header(json_t **out, const char *path);

#endif
