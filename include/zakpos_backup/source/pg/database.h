/* The database's own properties, as pg_dump --create keeps them: owner,
 * encoding, locale provider and collation/ctype (ICU locale where used),
 * connection limit, ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE
 * ... SET settings, comment and grants. Read at backup time into
 * catalog.json's "database", used to create the restored database with the
 * source's encoding and locale (or the ones asked for) and applied to it
 * before it is published. Also the encoding table rows are copied in. */
#ifndef ZB_SOURCE_PG_DATABASE_H
#define ZB_SOURCE_PG_DATABASE_H

#include "zakpos_backup/archive/reader.h"

#include <jansson.h>
#include <libpq-fe.h>

/* {"owner", "encoding", "lc_collate", "lc_ctype", "locale_provider" (c, i,
 * b), "icu_locale", "icu_rules", "connection_limit", "comment", "acl"
 * [aclitem text], "settings" ["name=value"], "role_settings" [{"role",
 * "settings"}]}: what the connection's database has. */
int zb_pg_database_read(json_t **out, PGconn *conn);

typedef struct zb_pg_database_locale {
    const char *locale;     /* --pg-locale: LC_COLLATE and LC_CTYPE, libc provider */
    const char *icu_locale; /* --pg-icu-locale: the ICU provider with this locale */
} zb_pg_database_locale;

/* CREATE DATABASE name from template0 with the source's encoding and locale
 * (props, or only `encoding` for archives without them), or the locale
 * asked for; a server that cannot provide them is an error naming them. */
int zb_pg_database_create(PGconn *maintenance, const char *name, json_t *props, const char *encoding,
                          const zb_pg_database_locale *locale);

/* Gives database name the source's owner, connection limit, settings, role
 * settings, comment and grants. A role the server does not have is warned
 * about and skipped (roles are not this command's to create). scratch: a
 * statement the role may not run is warned about and listed in left_out
 * ({"id": "DATABASE", "what", "reason"}) instead of failing. */
int zb_pg_database_apply(PGconn *maintenance, const char *name, json_t *props, int no_owner, int no_acl, int scratch,
                         json_t *left_out);

/* COPY data in the database's own encoding: the session's client_encoding
 * for a COPY of an archive made so (encoding NULL: the UTF8 of older
 * archives, nothing to change). */
int zb_pg_copy_encoding_set(PGconn *conn, const char *encoding);
int zb_pg_copy_encoding_reset(PGconn *conn, const char *encoding);

/* An archive entry read whole (at most limit bytes), NUL-terminated; *out
 * is free()d by the caller. */
int zb_pg_read_entry(char **out, size_t *len, zb_archive_reader *r, struct archive_entry *entry, size_t limit,
                     const char *what);
/* Reads a small JSON entry of the archive (catalog.json) whole. */
int zb_pg_read_json_entry(json_t **out, zb_archive_reader *r, struct archive_entry *entry, const char *what);

#endif
