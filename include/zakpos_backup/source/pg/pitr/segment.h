/* Change-stream segments (docs/FORMAT.md): the follower spools records to an
 * unlinked temporary file (memory stays flat whatever a transaction's size)
 * and publishes them as one archive-format file through the archive writer,
 * so a segment is encrypted, compressed, signed and published atomically
 * like an archive. Replay reads a segment back only after it verified. */
#ifndef ZB_SOURCE_PG_PITR_SEGMENT_H
#define ZB_SOURCE_PG_PITR_SEGMENT_H

#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/writer.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PITR_DIR               "pitr"
#define ZB_PITR_SEGMENT_EXTENSION ".zbseg"
#define ZB_PITR_CHANGES_ENTRY     "changes.pgo"
#define ZB_PITR_SEGMENT_FORMAT    1
/* a single message larger than this is refused on reading */
#define ZB_PITR_MAX_MESSAGE       (1024u * 1024u * 1024u)

typedef struct zb_pitr_spool zb_pitr_spool;

/* An empty spool: an unlinked temporary file in dir. */
int zb_pitr_spool_new(zb_pitr_spool **out, const char *dir);
int zb_pitr_spool_add(zb_pitr_spool *s, uint64_t lsn, const uint8_t *msg, size_t len);
uint64_t zb_pitr_spool_bytes(const zb_pitr_spool *s);
/* Cuts the spool back to bytes (a transaction received in part). */
int zb_pitr_spool_truncate(zb_pitr_spool *s, uint64_t bytes);
/* Writes the spool as the segment final_path, the source pg/<source_name>
 * with meta (stolen) as its metadata; published (fsync, rename, fsync of the
 * folder) when this returns 0. The spool is emptied either way. */
int zb_pitr_spool_publish(zb_pitr_spool *s, const char *final_path, const zb_archive_write_options *opts,
                          const char *source_name, json_t *meta);
void zb_pitr_spool_free(zb_pitr_spool *s);

/* One segment file in a chain folder. */
typedef struct zb_pitr_segment_name {
    unsigned int number;
    uint64_t end_lsn;
} zb_pitr_segment_name;

/* 1 and the parts if name is a finished segment's file name, else 0. */
int zb_pitr_segment_parse_name(zb_pitr_segment_name *out, const char *name);
/* "NNNNNNNN-XXXXXXXXXXXXXXXX.zbseg" */
void zb_pitr_segment_format_name(char *out, size_t size, unsigned int number, uint64_t end_lsn);
/* The chain's segments, by number (free() each path and the array). */
int zb_pitr_segment_list(char ***paths, zb_pitr_segment_name **names, size_t *count, const char *chain_dir);
void zb_pitr_segment_list_free(char **paths, zb_pitr_segment_name *names, size_t count);

/* Called with each record of a segment in order; a value > 0 stops the
 * reading (the target was reached), < 0 fails it. */
typedef int (*zb_pitr_record_fn)(uint64_t lsn, const uint8_t *msg, size_t len, void *payload);
/* Verifies the whole segment first (every tag, hash and the manifest, and
 * the writer's signature under the reader's trust rules), keeping its
 * changes in an unlinked spool (in TMPDIR) as they are read, then calls fn
 * with each record from the spool: the segment is decrypted and
 * decompressed once. *meta (a new reference, may be NULL
 * to ignore) is the segment's metadata. Returns 0, fn's stop value, or <0. */
int zb_pitr_segment_read(json_t **meta, const char *path, const zb_read_keys *keys, zb_pitr_record_fn fn,
                         void *payload);
/* Calls fn with each record of the spool in order (a value != 0 from fn
 * stops and is returned); the spool stays as it is, to be added to. */
int zb_pitr_spool_each(zb_pitr_spool *s, zb_pitr_record_fn fn, void *payload);

#endif
