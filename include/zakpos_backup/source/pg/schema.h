/* The schema of a database as SQL, generated from the system catalogs with
 * the server's own pg_get_*def functions, split into restorable items:
 *
 *   pre-data   schemas, extensions, types, functions, sequences, tables and
 *              views, in dependency order (pg_depend, topologically sorted)
 *   post-data  sequence values, indexes and key constraints (these may be
 *              built in parallel), checks, foreign keys, triggers, row
 *              security, materialized view refreshes
 *
 * Each item is a JSON object {"section", "kind", "schema", "name", "table",
 * "sql", "owner", "acl", "parallel"}: owner and acl are kept apart so a
 * restore can skip them. Objects that belong to an extension are left to
 * the extension's own script. An object kind this module cannot reproduce
 * makes the read fail, naming the object, unless skipping was allowed (it is
 * then listed in *skipped). Runs on the backup's leader connection, inside
 * its snapshot. */
#ifndef ZB_SOURCE_PG_SCHEMA_H
#define ZB_SOURCE_PG_SCHEMA_H

#include "zakpos_backup/common/buf.h"

#include <jansson.h>
#include <libpq-fe.h>

typedef struct zb_pg_schema_options {
    int skip_unsupported; /* list unsupported objects instead of failing */
    int legacy_acl;       /* ACL statements as toc format 1 has them (to verify its archives) */
} zb_pg_schema_options;

/* *items: a JSON array of items in restore order; *skipped: a JSON array of
 * object descriptions (empty unless skipping was allowed). */
int zb_pg_schema_read(json_t **items, json_t **skipped, PGconn *conn, const zb_pg_schema_options *opts);

/* The same, held compact from the catalog reading to the writing of the
 * toc: per item its identity, rank, interned names and its JSON as text in
 * a pack compressed by blocks, so that memory grows by a small record per
 * object, not by a JSON tree. */
typedef struct zb_pg_schema zb_pg_schema;
int zb_pg_schema_load(zb_pg_schema **out, PGconn *conn, const zb_pg_schema_options *opts);
/* The objects skipped (a JSON array, borrowed). */
json_t *zb_pg_schema_skipped(const zb_pg_schema *schema);
size_t zb_pg_schema_item_count(const zb_pg_schema *schema);
/* Hands each item, in restore order, as the JSON zb_pg_schema_read would
 * give it, to fn (which does not keep it); fn's error ends the walk. */
typedef int (*zb_pg_schema_item_fn)(json_t *item, void *payload);
int zb_pg_schema_each_item(zb_pg_schema *schema, zb_pg_schema_item_fn fn, void *payload);
/* *out (allocated): zb_pg_schema_fingerprint of the items, computed
 * without them all in memory at once. */
int zb_pg_schema_items_fingerprint(char **out, zb_pg_schema *schema);
void zb_pg_schema_free(zb_pg_schema *schema);

/* The tables whose rows are copied, a row at a time in the order of oids
 * (the caller sorts): fn gets each (its texts valid during the call); fn's
 * error ends the reading. */
typedef struct zb_pg_data_table {
    unsigned int oid;
    const char *schema, *name;
    const char *table;   /* quoted, qualified */
    const char *columns; /* quoted, comma-separated, generated columns left out */
    int binary;          /* copied in binary (else text) */
} zb_pg_data_table;
typedef int (*zb_pg_data_table_fn)(const zb_pg_data_table *table, void *payload);
int zb_pg_schema_each_data_table(PGconn *conn, zb_pg_data_table_fn fn, void *payload);
/* A table as the toc lists it: {"oid", "schema", "name", "table", "columns",
 * "format" ("binary" or "text")}. NULL: out of memory. */
json_t *zb_pg_data_table_json(const zb_pg_data_table *table);

/* The COPY statement for one of those tables ("TO STDOUT" or "FROM STDIN"),
 * in the table's format (binary or text), appended to sql. freeze (loading
 * only) writes the rows already frozen, which the server allows only when
 * the table was created or truncated in the same transaction. */
int zb_pg_copy_sql(zb_buf *sql, json_t *table, const char *direction, int freeze);
/* The same of a table's fields, as a restore plan holds them. */
typedef struct zb_pg_copy_table {
    const char *schema, *name;
    const char *table;   /* quoted and qualified, for messages */
    const char *columns; /* NULL or empty: no list */
    int binary;
} zb_pg_copy_table;
int zb_pg_copy_sql_of(zb_buf *sql, const zb_pg_copy_table *table, const char *direction, int freeze);
int zb_pg_table_is_binary(json_t *table);

/* COPYs one of those tables out, handing each COPY message (one row; a
 * binary stream's header comes with the first, its trailer alone last) to
 * message(); the COPY's own result decides success. */
typedef int (*zb_pg_copy_message_fn)(const char *data, size_t len, void *payload);
int zb_pg_copy_out(PGconn *conn, json_t *table, zb_pg_copy_message_fn message, void *payload);
/* The next COPY ... TO STDOUT of a query message already sent (several
 * tables' COPY statements in one message): its rows, then its outcome. */
int zb_pg_copy_read(PGconn *conn, zb_pg_copy_message_fn message, void *payload);
int zb_pg_copy_out_of(PGconn *conn, const zb_pg_copy_table *table, zb_pg_copy_message_fn message, void *payload);

#endif
