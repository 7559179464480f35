/* One transaction-consistent view for a parallel backup: the leader opens a
 * REPEATABLE READ, READ ONLY transaction and exports its snapshot; every
 * worker adopts it, so N connections read exactly what one would. Tables are
 * locked in ACCESS SHARE mode with a lock timeout, so a concurrent DROP or
 * ALTER makes the backup fail fast and clearly instead of breaking it or
 * hanging; ordinary writes go on unblocked. */
#ifndef ZB_SOURCE_PG_SNAPSHOT_H
#define ZB_SOURCE_PG_SNAPSHOT_H

#include "zakpos_backup/common/map.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct zb_pg_snapshot {
    char id[64];
} zb_pg_snapshot;

int zb_pg_snapshot_export(zb_pg_snapshot *out, PGconn *leader);
int zb_pg_snapshot_import(PGconn *worker, const zb_pg_snapshot *snapshot);

/* A table to be read: oid, schema and name (as in the catalog), kind. */
typedef struct zb_pg_table {
    unsigned int oid;
    char *schema;
    char *name;
    char kind;       /* 'r' table or partition, 'p' partitioned table (no rows of its own) */
    long long bytes; /* pg_relation_size, once measured */
} zb_pg_table;

typedef struct zb_pg_table_list {
    zb_pg_table *items;
    size_t count;
} zb_pg_table_list;

/* User tables (not the system's, not an extension's), by name. */
int zb_pg_list_tables(zb_pg_table_list *out, PGconn *conn);
void zb_pg_table_list_free(zb_pg_table_list *list);
/* A map from each table's oid to its position in the list. */
int zb_pg_table_list_index(zb_map **out, const zb_pg_table_list *list);
/* "schema"."name", quoted for SQL (free()). */
char *zb_pg_qualified_name(PGconn *conn, const zb_pg_table *t);
/* Locks every table, one statement each so an error names its table (256
 * statements to a query message). */
int zb_pg_lock_tables(PGconn *leader, const zb_pg_table_list *tables, int timeout_ms);
/* Reads each table's size (after the locks: reading it takes one) and sorts
 * the list largest first, so the longest copies start first. */
int zb_pg_measure_tables(PGconn *leader, zb_pg_table_list *tables);

#endif
