/* Proof that a restored database holds what the backup read: every table's
 * rows are copied out again and hashed as the backup hashed them, and the
 * schema is read again from the catalogs and compared with the archive's
 * table of contents, object by object.
 *
 * The row hash is order-independent (a restore loads a table's chunks in
 * parallel, so rows land in another physical order): each COPY row is hashed
 * with SipHash-128 under a fixed key and the digests are added modulo 2^128,
 * with the row count beside it. The schema fingerprint is a BLAKE2b hash of
 * the sorted (object, SQL) pairs without owners and privileges: tables,
 * columns and types, constraints, indexes, views, functions, sequences and
 * their values, and everything else the table of contents holds. Archives
 * with a catalog fingerprint (fingerprint.h) are also compared attribute by
 * attribute with the catalogs of the restored database; across major
 * versions, the fingerprint (which normalises deparsed text) decides about
 * definitions, and the table of contents only about which objects exist. */
#ifndef ZB_SOURCE_PG_VERIFY_H
#define ZB_SOURCE_PG_VERIFY_H

#include "zakpos_backup/common/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_PG_ROWSET_HEX_BYTES 33

typedef struct zb_pg_rowset {
    uint64_t lo, hi;
} zb_pg_rowset;

void zb_pg_rowset_add(zb_pg_rowset *set, const void *row, size_t len);
void zb_pg_rowset_hex(const zb_pg_rowset *set, char out[ZB_PG_ROWSET_HEX_BYTES]);

/* A COPY OUT message as the row it carries: a binary stream's first message
 * starts with the file header (*header_len says how long), its last one is
 * the trailer (returns 1: no row). 0 with the row at data + *header_len. */
int zb_pg_copy_message(const char *data, size_t len, int binary, int first, size_t *header_len);

/* How a difference and a left-out object name a toc item: "KIND
 * schema.name", plus " on TABLE" when the item belongs to a table its name
 * does not give. */
int zb_pg_item_id(zb_buf *out, json_t *item);
/* The same of an item's fields (table: its "table", or NULL). */
int zb_pg_item_id_of(zb_buf *out, const char *kind, const char *schema, const char *name, const char *table);

/* The schema fingerprint of a table of contents' items (hex, allocated). */
char *zb_pg_schema_fingerprint(json_t *items);

typedef struct zb_spool zb_spool;
typedef struct zb_pg_verify_options {
    const char *conninfo; /* the server holding the restored database */
    const char *password_file;
    const char *dbname;             /* the restored database */
    int jobs;                       /* connections copying in parallel; <= 0: cores */
    int no_owner, no_acl;           /* the restore left owners / privileges out: do not compare them */
    const char *before_compare_sql; /* run in the restored database first (tests of the comparison) */
    json_t *left_out;               /* what the restore left out (zb_pg_restore_left_out): not compared */
    json_t *catalog;                /* the archive's catalog.json (zb_pg_restore_catalog), or NULL */
    zb_spool *catalog_objects;      /* its objects (zb_pg_restore_catalog_objects), or NULL */
} zb_pg_verify_options;

/* Compares the restored database with the archive's table of contents and
 * the manifest's summary of the source. Each difference is appended to
 * `differences` (at most `limit`); *count is their total; *rows the rows
 * read back. Errors (no connection, a failing query) are returned. */
int zb_pg_verify_database(json_t *differences, size_t limit, size_t *count, long long *rows,
                          const zb_pg_verify_options *opts, json_t *toc, json_t *summary);
/* The rows alone: each of tables (entries of toc's "tables") read back and
 * its count and row hash compared with the summary's; differences as above.
 * toc gives the COPY encoding. */
int zb_pg_verify_rows(json_t *differences, size_t limit, size_t *count, const zb_pg_verify_options *opts, json_t *toc,
                      json_t *tables, json_t *summary);

#endif
