/* Names the restore and the restore verification paste into statements of
 * their own (TRUNCATE, COPY, ANALYZE): built from the table of contents'
 * structured fields (schema, name, the column list) and quoted here, never
 * taken from its text, so a crafted toc.json cannot turn them into other
 * statements. The items' own SQL is another matter: docs/SECURITY.md. */
#ifndef ZB_SOURCE_PG_IDENT_H
#define ZB_SOURCE_PG_IDENT_H

#include "zakpos_backup/common/buf.h"

#include <jansson.h>

/* Appends name as a quoted identifier ("a""b"). */
int zb_pg_ident_append(zb_buf *out, const char *name);

/* Appends "schema"."name" of a toc entry (a table, or an item naming a
 * relation); ZB_EFORMAT when either field is missing. */
int zb_pg_ident_relation(zb_buf *out, json_t *entry);
/* The same of these fields (table: the entry's "table", for the message). */
int zb_pg_ident_relation_of(zb_buf *out, const char *schema, const char *name, const char *table);

/* Appends the column list of a toc table, each name quoted again: the list
 * must be names as pg_catalog.quote_ident writes them, joined by ", " (what
 * a backup records); anything else is ZB_EFORMAT. */
int zb_pg_ident_columns(zb_buf *out, json_t *table);
/* The same of a list (NULL: none) of the table named table. */
int zb_pg_ident_column_list(zb_buf *out, const char *list, const char *table);

#endif
