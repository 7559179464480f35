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

struct archive_entry;
typedef struct zb_archive_reader zb_archive_reader;
typedef struct zb_spool zb_spool;

/* One side of a comparison: its objects one at a time, in name order
 * (zb_pg_fingerprint_name_order). next() hands over *name (free()) and
 * *attributes ({attribute: value}, json_decref()) and returns 1, or 0 at
 * the end, or an error code. A value is a string, or {"hex": "..."} for
 * text that is not UTF-8 (an SQL_ASCII database). */
typedef int (*zb_pg_fingerprint_next_fn)(char **name, json_t **attributes, void *payload);
typedef struct zb_pg_fingerprint_side {
    int server_version;
    zb_pg_fingerprint_next_fn next;
    void *payload;
    void (*free)(void *payload);
} zb_pg_fingerprint_side;

/* The catalog of the database conn is connected to, read as a stream: one
 * cursor per catalog query, each sorted by name on the server, merged on
 * the client, so what is held is a few rows of each query, not the catalog.
 * Runs in conn's transaction, or in one of its own. */
typedef struct zb_pg_fingerprint_stream zb_pg_fingerprint_stream;
int zb_pg_fingerprint_open(zb_pg_fingerprint_stream **out, PGconn *conn);
/* A zb_pg_fingerprint_next_fn; payload is the stream. */
int zb_pg_fingerprint_next(char **name, json_t **attributes, void *payload);
size_t zb_pg_fingerprint_count(const zb_pg_fingerprint_stream *s);
void zb_pg_fingerprint_close(zb_pg_fingerprint_stream *s);

/* catalog.json written to out, from a stream over conn: {"format",
 * "server_version", "database": database (borrowed), "objects": {...}}
 * with one object a line (docs/FORMAT.md). *objects: how many. */
int zb_pg_fingerprint_write(zb_spool *out, PGconn *conn, json_t *database, size_t *objects);

/* catalog.json read from an archive entry: *header is the document without
 * its objects; the objects, when keep_objects, go to *objects (a spool of
 * one object a line), or, in a document written before the objects were
 * one a line, stay in (*header)["objects"]. */
int zb_pg_fingerprint_load(json_t **header, zb_spool **objects, zb_archive_reader *r, struct archive_entry *entry,
                           int keep_objects);

/* The recorded side of a comparison: header and objects as
 * zb_pg_fingerprint_load gave them (borrowed; objects may be NULL). */
int zb_pg_fingerprint_recorded_side(zb_pg_fingerprint_side *side, json_t *header, zb_spool *objects);
/* A fingerprint held whole ({"server_version", "objects"}, borrowed) as a
 * side, its names sorted. */
int zb_pg_fingerprint_tree_side(zb_pg_fingerprint_side *side, json_t *fingerprint);
/* Frees what a side's payload holds (its free), not the side. */
void zb_pg_fingerprint_side_free(zb_pg_fingerprint_side *side);

/* The order of names in a stream: by their bytes, a name in hex ("hex:...")
 * by the bytes it stands for, as the server's ORDER BY ... COLLATE "C". */
int zb_pg_fingerprint_name_order(const char *a, const char *b);

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

/* The same over two streams, merged in name order: *found is the number of
 * differences. Either side out of name order is an error. */
int zb_pg_fingerprint_compare_streams(size_t *found, const zb_pg_fingerprint_side *recorded,
                                      const zb_pg_fingerprint_side *restored, PGconn *conn,
                                      const zb_pg_fingerprint_scope *scope, zb_pg_fingerprint_difference_fn difference,
                                      void *payload);

/* Deparsed SQL as compared across major versions: whitespace, parentheses
 * and type casts (::name) removed, so a newer server that prints the same
 * expression with other spacing, parentheses or explicit casts agrees. */
char *zb_pg_fingerprint_normalise(const char *text);

#endif
