/* Writing an archive: sources add entries (libarchive entries with names
 * relative to the source) and stream their content; the writer prefixes the
 * names, hashes every entry for the manifest, and pushes the pax tar stream
 * through zstd and libsodium into a temporary file that is published only by
 * zb_archive_writer_close. Not thread-safe: one thread at a time. */
#ifndef ZB_ARCHIVE_WRITER_H
#define ZB_ARCHIVE_WRITER_H

#include "zakpos_backup/archive/keys.h"

#include <archive_entry.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zb_archive_writer zb_archive_writer;

typedef struct zb_archive_write_options {
    zb_write_keys keys;
    int zstd_level;    /* 0: default (3) */
    int zstd_workers;  /* <0: default (number of cores); 0: single-threaded */
    size_t chunk_size; /* 0: default; plaintext bytes per encrypted chunk */
} zb_archive_write_options;

/* Source kinds and the prefix their entries get inside the tar stream. */
#define ZB_SOURCE_PG     "pg"     /* pg/<name>/...      */
#define ZB_SOURCE_VOLUME "volume" /* volumes/<name>/... */
#define ZB_SOURCE_PATH   "path"   /* paths/<name>/...   */

/* Opens a writer for final_path; nothing exists at final_path until close. */
int zb_archive_writer_open(zb_archive_writer **out, const char *final_path, const zb_archive_write_options *opts);

/* Entries that follow belong to this source. meta (a JSON object, reference
 * stolen, may be NULL) is recorded in the manifest: driver, labels, server
 * version... */
int zb_archive_writer_begin_source(zb_archive_writer *w, const char *kind, const char *name, json_t *meta);
/* summary (reference stolen, may be NULL) joins the source in the manifest:
 * row counts and table hashes, skipped objects... */
int zb_archive_writer_end_source(zb_archive_writer *w, json_t *summary);
/* The same with the summary already encoded (compact JSON text, taken and
 * freed by the writer; NULL: out of memory): for a summary that grows with
 * the source's objects, held as its text rather than as a JSON tree. */
int zb_archive_writer_end_source_text(zb_archive_writer *w, char *summary);

/* The entry's pathname (and hard-link target) are relative to the source; the
 * size must be set for regular files and exactly that many bytes written.
 * The writer does not keep the entry: the caller frees it. */
int zb_archive_writer_begin_entry(zb_archive_writer *w, struct archive_entry *entry);
int zb_archive_writer_write(zb_archive_writer *w, const void *data, size_t len);
/* Zeros for a hole of a sparse file; the tar stream skips holes the entry's
 * sparse map names, so they cost no space. */
int zb_archive_writer_write_zeros(zb_archive_writer *w, uint64_t count);
int zb_archive_writer_end_entry(zb_archive_writer *w);
/* A small regular file held in memory, in one call. */
int zb_archive_writer_add_file(zb_archive_writer *w, const char *name, const void *data, size_t len, mode_t mode);
/* The same, from pieces written one after another (no copy joins them). */
int zb_archive_writer_add_parts(zb_archive_writer *w, const char *name, const void *const *parts, const size_t *lens,
                                size_t count, mode_t mode);
/* A regular file whose text was spooled (finished; read here to its end). */
typedef struct zb_spool zb_spool;
int zb_archive_writer_add_spool(zb_archive_writer *w, const char *name, zb_spool *text, mode_t mode);

/* Uncompressed bytes of entry content written so far (for progress). */
uint64_t zb_archive_writer_bytes_in(const zb_archive_writer *w);
/* Entries of the source being written so far (0 outside a source): a source
 * cross-checks what it stored against its own count of what it read. */
uint64_t zb_archive_writer_source_entries(const zb_archive_writer *w);
/* The sources written: [{kind, name, entries, bytes, position?}] (a new
 * reference); position is a PostgreSQL snapshot's place in its change stream,
 * so restore --until can choose among archives from the index alone. */
json_t *zb_archive_writer_sources(const zb_archive_writer *w);
/* The summary a source was ended with (borrowed), or NULL. */
json_t *zb_archive_writer_source_summary(const zb_archive_writer *w, const char *kind, const char *name);
/* Writes manifest.json, finishes every layer, fsyncs and publishes the file. */
int zb_archive_writer_close(zb_archive_writer *w);
/* Frees; if close did not succeed, the temporary file is removed. NULL is fine. */
void zb_archive_writer_free(zb_archive_writer *w);

#endif
