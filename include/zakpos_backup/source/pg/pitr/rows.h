/* Row counts kept from the change stream: a snapshot's counts (its
 * manifest summary), then each insert, delete and truncate. The follower
 * records them at each segment close; replay keeps them as it applies the
 * stream and compares them with the segments' records and, at the end, with
 * the recovered database's own counts, so a change lost on the way is
 * named instead of recovered silently. */
#ifndef ZB_SOURCE_PG_PITR_ROWS_H
#define ZB_SOURCE_PG_PITR_ROWS_H

#include <jansson.h>
#include <libpq-fe.h>

/* The rows a snapshot's summary (its "tables" array, names as quote_ident
 * writes them, schema.name) records for schema.name: 1 and *rows if it holds the
 * table, 0 if not. */
int zb_pitr_snapshot_rows(long long *rows, json_t *tables, const char *schema, const char *name);
/* Counts the rows of table (quoted) in conn's database: 0 and *rows, or <0. */
int zb_pitr_count_rows(long long *rows, PGconn *conn, const char *table);

#endif
