/* A PostgreSQL database as a source, through libpq alone (no pg_dump).
 *
 * In the archive, under pg/<name>/:
 *   catalog.json                the database's own properties and its catalog
 *                               fingerprint (fingerprint.h, database.h)
 *   globals.json                the cluster's roles and tablespaces (globals.h),
 *                               read only by recover
 *   toc.json                    the schema as restorable SQL items and the
 *                               tables whose rows follow (see schema.h)
 *   data/<oid>/<NNNNNN>.copy    a table's rows in COPY text format, cut into
 *                               chunks of about chunk_bytes
 * and in the manifest, per table: rows, bytes, chunks and a BLAKE2b hash of
 * its COPY stream, so a restore proves it loaded every row. */
#ifndef ZB_SOURCE_PG_PG_H
#define ZB_SOURCE_PG_PG_H

#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"

#include <libpq-fe.h>
#include <stddef.h>

#define ZB_PG_TOC_NAME   "toc.json"
#define ZB_PG_TOC_FORMAT 2

typedef struct zb_pg_backup_options {
    const char *conninfo;      /* NULL: DATABASE_URL, else libpq's defaults */
    const char *password_file; /* NULL: ZAKPOS_BACKUP_PG_PASSWORD_FILE */
    int jobs;                  /* connections reading in parallel; <= 0: number of cores */
    int lock_timeout_ms;       /* <= 0: 10000 */
    size_t chunk_bytes;        /* 0: 4 MiB */
    int skip_unsupported;
    int with_role_passwords; /* store the roles' password verifiers too (globals.json) */
    /* A snapshot exported elsewhere (a replication slot's): adopted instead
     * of exporting one, so the backup ends exactly where that stream begins */
    const char *snapshot_id;
    json_t *pitr_meta; /* borrowed: the source's "pitr" metadata (chain, slot, LSN) */
} zb_pg_backup_options;

int zb_pg_backup(zb_archive_writer *w, const char *name, const zb_pg_backup_options *opts);

typedef struct zb_pg_restore_options {
    const char *conninfo;  /* the target server; its dbname, if given, names the target database */
    const char *target_db; /* names the target database instead of conninfo's dbname */
    const char *password_file;
    int jobs;                  /* <= 0: number of cores */
    int force;                 /* replace a target database that is not empty */
    int no_owner;              /* skip ALTER ... OWNER TO */
    int no_acl;                /* skip GRANT/REVOKE */
    const char *const *tables; /* selective restore: "schema.name" (NULL-terminated) */
    const char *const *schemas;
    /* A verification's scratch database, restored by a role that may own
     * little: an owner or privileges it cannot set (no such role there, or
     * not allowed) and an object of a kind that needs more than owning the
     * database (an untrusted extension) are left out and listed
     * (zb_pg_restore_left_out) instead of failing the restore. */
    int scratch;
    /* the restored database's locale instead of the source's: libc
     * (LC_COLLATE and LC_CTYPE), or ICU (NULL: the source's) */
    const char *locale;
    const char *icu_locale;
    /* The roles the database names are created only once the archive is
     * verified (recover): owners and grants of the objects made while the
     * archive streams, and an object whose statement names a role the
     * server lacks yet (a user mapping), wait for the finish. */
    int roles_at_finish;
    /* Called once the data is loaded and checked and before the database
     * takes the target's name, with the temporary database's name: a
     * point-in-time recovery brings it forward here, so a replay that fails
     * leaves the target as it was. A negative return fails the restore. */
    int (*before_publish)(const char *source_name, const char *database, void *payload);
    void *before_publish_payload;
} zb_pg_restore_options;

typedef struct zb_pg_restore zb_pg_restore;

/* The data is loaded into a new database under a temporary name, which
 * becomes the target only once the archive was read to its end (verified),
 * every table's row count and hash matched the manifest, and the target was
 * counted again; until then nothing looks complete. */
int zb_pg_restore_begin(zb_pg_restore **out, const char *name, const zb_pg_restore_options *opts);
int zb_pg_restore_entry(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info);
int zb_pg_restore_finish(zb_pg_restore *p, zb_archive_reader *r);
/* What a scratch restore left out, as [{"id", "what", "reason"}] (borrowed):
 * id names the toc item as zb_pg_item_id does, what is "owner",
 * "privileges" or "object", reason the server's message. */
json_t *zb_pg_restore_left_out(const zb_pg_restore *p);
/* catalog.json (borrowed): the database's properties and its catalog
 * fingerprint (fingerprint.h), or NULL for archives made before it. */
json_t *zb_pg_restore_catalog(const zb_pg_restore *p);
/* Its objects (borrowed) when a scratch restore kept them one a line, or
 * NULL: then they are in the catalog's "objects" (older archives). */
typedef struct zb_spool zb_spool;
zb_spool *zb_pg_restore_catalog_objects(const zb_pg_restore *p);
/* The source's table of contents as JSON (borrowed), once read: a
 * verification's scratch restore keeps it, another restore NULL. */
json_t *zb_pg_restore_toc(const zb_pg_restore *p);
/* The target database's name, once known (after toc.json). */
const char *zb_pg_restore_target(const zb_pg_restore *p);
/* Drops the temporary database if the restore did not finish. NULL is fine. */
void zb_pg_restore_free(zb_pg_restore *p);
/* Drops the databases a restore run by process pid was filling when it was
 * killed (a killed process cannot drop its own): recover calls it for the
 * runs its journal records. Returns how many were dropped, or <0. */
int zb_pg_restore_drop_abandoned(PGconn *maintenance, long pid);

#endif
