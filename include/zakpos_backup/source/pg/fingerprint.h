/* A catalog fingerprint: every object of a database and the attributes that
 * make it what it is, read straight from the system catalogs (not from the
 * generated DDL), so a restore can be checked by something that does not
 * share the DDL generator's blind spots. Recorded at backup time as
 * pg/<name>/catalog.json, read again on a restored database and compared
 * attribute by attribute; see docs/FORMAT.md for the entry and the
 * normalisation rule across server versions. */
#ifndef ZB_SOURCE_PG_FINGERPRINT_H
#define ZB_SOURCE_PG_FINGERPRINT_H

#include <jansson.h>
#include <libpq-fe.h>

#define ZB_PG_CATALOG_NAME   "catalog.json"
#define ZB_PG_CATALOG_FORMAT 1

/* {"format", "server_version", "objects": {object: {attribute: value}}}.
 * A value is a string, or {"hex": "..."} for text that is not UTF-8 (an
 * SQL_ASCII database). */
int zb_pg_fingerprint_read(json_t **out, PGconn *conn);

/* The catalog queries (NULL-terminated), and one of them as a server of
 * server_version (a server_version_num) runs it (free()). */
extern const char *const zb_pg_fingerprint_queries[];
int zb_pg_fingerprint_sql(char **out, const char *sql, int server_version);

typedef struct zb_pg_fingerprint_scope {
    int no_owner;          /* owners were not restored: not compared */
    int no_acl;            /* privileges were not restored: not compared */
    int objects_missing;   /* some objects were left out on purpose: missing ones are not differences */
    int database_left_out; /* the database's own properties could not all be set: not compared */
} zb_pg_fingerprint_scope;

/* Called once per difference with its text: "OBJECT: ATTRIBUTE: archive
 * 'X', restored 'Y'", or "OBJECT: missing from the restored database". */
typedef void (*zb_pg_fingerprint_difference_fn)(const char *text, void *payload);

/* Compares a recorded fingerprint with one read on the restored database.
 * Deparsed text (definitions, defaults, expressions) is compared as is when
 * both come from the same major version. Across major versions, a view's
 * recorded definition is deparsed again by the restored database's server
 * (conn: a temporary view, rolled back) and compared with the restored
 * view's; other deparsed text is normalised (zb_pg_fingerprint_normalise),
 * and privileges the older server does not have (MAINTAIN, "m") are not
 * compared. Returns the number of differences. */
size_t zb_pg_fingerprint_compare(json_t *recorded, json_t *restored, PGconn *conn, const zb_pg_fingerprint_scope *scope,
                                 zb_pg_fingerprint_difference_fn difference, void *payload);

/* Deparsed SQL as compared across major versions: whitespace, parentheses
 * and type casts (::name) removed, so a newer server that prints the same
 * expression with other spacing, parentheses or explicit casts agrees. */
char *zb_pg_fingerprint_normalise(const char *text);

#endif
