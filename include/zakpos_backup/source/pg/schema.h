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

/* The tables whose rows are copied: a JSON array of {"oid", "table" (quoted,
 * qualified), "schema", "name", "columns" (quoted, comma-separated, generated
 * columns left out)}, in the order of oids (the caller sorts). */
int zb_pg_schema_data_tables(json_t **tables, PGconn *conn);

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

#endif
