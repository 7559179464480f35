#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/segment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int zb_pitr_check_server(PGconn *conn)
{
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, conn, "SELECT pg_catalog.current_setting('wal_level')", "cannot read wal_level");
    if (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
        rc = zb_error_set(ZB_ECONFIG,
                          "the server runs with wal_level=%s; following changes needs wal_level=logical\n"
                          "hint: start the database with wal_level=logical: in the compose file, "
                          "`command: postgres -c wal_level=logical` under the database service (or run "
                          "ALTER SYSTEM SET wal_level = logical), then restart the database",
                          PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    /* 13+: without a limit a slot nobody reads keeps WAL until the disk is full */
    if (rc == 0 && PQserverVersion(conn) >= 130000 &&
        zb_pg_query(&res, conn, "SELECT pg_catalog.current_setting('max_slot_wal_keep_size')", "") == 0 &&
        strcmp(PQgetvalue(res, 0, 0), "-1") == 0)
        zb_log_warn(
            "max_slot_wal_keep_size is not set: if the follower stops for long, the slot keeps the server's "
            "WAL without limit; set it (e.g. -c max_slot_wal_keep_size=1GB)");
    PQclear(res);
    return rc;
}

static int listed(const char *const *list, const char *schema, const char *name)
{
    size_t sl = strlen(schema);
    for (; list && *list; list++)
        if (strncmp(*list, schema, sl) == 0 && (*list)[sl] == '.' && strcmp(*list + sl + 1, name) == 0)
            return 1;
    return 0;
}

/* Ordinary tables and partitions of the user's schemas, with whether a
 * change to them can be replicated: a primary key, an index chosen as
 * replica identity, or FULL. */
static const char tables_sql[] =
    "SELECT n.nspname, c.relname, c.relreplident, "
    "EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
    "AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "AND d.objid = c.oid AND d.deptype = 'e') "
    "ORDER BY 1, 2";

static int add_table(zb_buf *list, zb_buf *full_sql, PGconn *conn, const char *schema, const char *name, int full)
{
    char *s = PQescapeIdentifier(conn, schema, strlen(schema)), *n = PQescapeIdentifier(conn, name, strlen(name));
    int rc =
        s && n ? zb_buf_printf(list, "%s%s.%s", list->len ? ", " : "", s, n) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && full)
        rc = zb_buf_printf(full_sql, "ALTER TABLE %s.%s REPLICA IDENTITY FULL;", s, n);
    PQfreemem(s);
    PQfreemem(n);
    return rc;
}

static int publication_tables(zb_buf *list, zb_buf *full_sql, PGconn *conn, const char *const *full_identity,
                              const char *const *exclude)
{
    PGresult *res = NULL;
    zb_buf refused = ZB_BUF_INIT;
    int rc = zb_pg_query(&res, conn, tables_sql, "cannot list the tables to follow");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        const char *schema = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1), ident = PQgetvalue(res, i, 2)[0];
        int has_key = PQgetvalue(res, i, 3)[0] == 't';
        if (listed(exclude, schema, name))
            continue;
        int full = listed(full_identity, schema, name) && ident != 'f';
        if (!full && (ident == 'n' || (ident == 'd' && !has_key))) {
            rc = zb_buf_printf(&refused, "%s%s.%s", refused.len ? ", " : "", schema, name);
            continue;
        }
        rc = add_table(list, full_sql, conn, schema, name, full);
    }
    PQclear(res);
    if (rc == 0 && refused.len)
        rc = zb_error_set(ZB_ECONFIG,
                          "these tables have no primary key or replica identity, so their updates and deletes cannot "
                          "be replayed: %s\nhint: give each a primary key, or list it under [follow] "
                          "replica-identity-full (--replica-identity-full S.T) or exclude (--exclude-table S.T)",
                          refused.data);
    if (rc == 0 && list->len == 0)
        rc = zb_error_set(ZB_ECONFIG, "no table to follow");
    zb_buf_free(&refused);
    return rc;
}

int zb_pitr_publication_setup(PGconn *conn, const char *publication, const char *const *full_identity,
                              const char *const *exclude)
{
    zb_buf list = ZB_BUF_INIT, full_sql = ZB_BUF_INIT, sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    char *pub = PQescapeIdentifier(conn, publication, strlen(publication));
    char *lit = PQescapeLiteral(conn, publication, strlen(publication));
    int rc = pub && lit ? publication_tables(&list, &full_sql, conn, full_identity, exclude)
                        : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && full_sql.len)
        rc = zb_pg_exec(conn, full_sql.data, "cannot set REPLICA IDENTITY FULL");
    if (rc == 0)
        rc = zb_buf_printf(&sql, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = %s", lit);
    if (rc == 0)
        rc = zb_pg_query(&res, conn, sql.data, "cannot look up the publication");
    int exists = rc == 0 && PQntuples(res) > 0;
    zb_buf_reset(&sql);
    /* the tables are named, never FOR ALL TABLES: that needs a superuser and
     * makes UPDATE and DELETE fail on every table without a replica identity,
     * also on those a later migration adds */
    if (rc == 0)
        rc = exists ? zb_buf_printf(&sql, "ALTER PUBLICATION %s SET TABLE %s", pub, list.data)
                    : zb_buf_printf(&sql, "CREATE PUBLICATION %s FOR TABLE %s", pub, list.data);
    if (rc == 0)
        rc = zb_pg_exec(conn, sql.data, "cannot set up the publication");
    PQclear(res);
    PQfreemem(pub);
    PQfreemem(lit);
    zb_buf_free(&list);
    zb_buf_free(&full_sql);
    zb_buf_free(&sql);
    return rc;
}

int zb_pitr_publication_missing(char **first, PGconn *conn, const char *publication, const char *const *exclude)
{
    static const char prefix[] = "SELECT t.nspname, t.relname FROM (";
    static const char suffix[] =
        ") t WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p "
        "WHERE p.pubname = $1 AND p.schemaname = t.nspname AND p.tablename = t.relname)";
    zb_buf sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    int rc = zb_buf_puts(&sql, prefix), missing = 0;
    if (rc == 0)
        rc = zb_buf_puts(&sql, tables_sql);
    if (rc == 0)
        rc = zb_buf_puts(&sql, suffix);
    const char *params[1] = {publication};
    if (rc == 0) {
        res = PQexecParams(conn, sql.data, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = zb_pg_result_error(conn, res, "cannot compare the tables with the publication");
    }
    *first = NULL;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        if (listed(exclude, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)))
            continue;
        if (missing++ == 0) {
            zb_buf name = ZB_BUF_INIT;
            if ((rc = zb_buf_printf(&name, "%s.%s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1))) == 0)
                *first = zb_buf_detach(&name);
            zb_buf_free(&name);
        }
    }
    PQclear(res);
    zb_buf_free(&sql);
    return rc < 0 ? rc : missing;
}

/* What the chain's base and its stream assume of the catalog: each
 * published table's oid, schema, name, columns and their types, replica
 * identity (and its index) and whether it is a partition; and the user's
 * sequences, whose values each segment records. A hash, so that the plain
 * state file holds no names. */
static const char fingerprint_sql[] =
    "SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(t, ';' ORDER BY t), '')), "
    "pg_catalog.count(*) FILTER (WHERE k = 't'), pg_catalog.count(*) FILTER (WHERE k = 's') FROM ("
    "SELECT 't' AS k, c.oid::text || ':' || n.nspname || '.' || c.relname || ':' || c.relreplident::text || ':' || "
    "c.relispartition::text || ':' || coalesce((SELECT i.indexrelid::text FROM pg_catalog.pg_index i "
    "WHERE i.indrelid = c.oid AND i.indisreplident), '') || ':' || coalesce((SELECT pg_catalog.string_agg("
    "a.attname || ' ' || a.atttypid::text || ' ' || a.atttypmod::text, ',' ORDER BY a.attnum) "
    "FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS t "
    "FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid "
    "JOIN pg_catalog.pg_class c ON c.oid = r.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE p.pubname = $1 "
    "UNION ALL SELECT 's', 's:' || c.oid::text || ':' || n.nspname || '.' || c.relname "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_') f";

int zb_pitr_catalog_fingerprint(json_t **out, PGconn *conn, const char *publication)
{
    const char *params[1] = {publication};
    PGresult *res = PQexecParams(conn, fingerprint_sql, 1, NULL, params, NULL, NULL, 0);
    int rc =
        PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(conn, res, "cannot read the followed tables");
    *out = NULL;
    if (rc == 0) {
        *out = json_pack("{s:s, s:I, s:I}", "hash", PQgetvalue(res, 0, 0), "tables",
                         (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10), "sequences",
                         (json_int_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10));
        rc = *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

const char *zb_pitr_catalog_change(json_t *before, json_t *now)
{
    if (json_equal(json_object_get(before, "hash"), json_object_get(now, "hash")))
        return NULL;
    if (json_integer_value(json_object_get(now, "tables")) < json_integer_value(json_object_get(before, "tables")))
        return "a followed table was dropped";
    if (!json_equal(json_object_get(before, "sequences"), json_object_get(now, "sequences")))
        return "a sequence was created or dropped";
    return "a followed table's columns, schema, replica identity or partitioning changed";
}

int zb_pitr_publication_drop(PGconn *conn, const char *publication)
{
    char *pub = PQescapeIdentifier(conn, publication, strlen(publication));
    zb_buf sql = ZB_BUF_INIT;
    int rc = pub ? zb_buf_printf(&sql, "DROP PUBLICATION IF EXISTS %s", pub) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_exec(conn, sql.data, "cannot drop the publication");
    PQfreemem(pub);
    zb_buf_free(&sql);
    return rc;
}

/* select: what to run for the slot named in the WHERE clause */
static int slot_query(PGconn *conn, const char *select, const char *slot, const char *what, int *rows)
{
    char *lit = PQescapeLiteral(conn, slot, strlen(slot));
    zb_buf sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    int rc =
        lit ? zb_buf_printf(&sql, "SELECT %s FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", select, lit)
            : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_query(&res, conn, sql.data, what);
    if (rc == 0 && rows)
        *rows = PQntuples(res);
    PQclear(res);
    PQfreemem(lit);
    zb_buf_free(&sql);
    return rc;
}

int zb_pitr_slot_exists(PGconn *conn, const char *slot)
{
    int rows = 0;
    int rc = slot_query(conn, "1", slot, "cannot look up the replication slot", &rows);
    return rc < 0 ? rc : rows > 0;
}

int zb_pitr_slot_drop(PGconn *conn, const char *slot)
{
    return slot_query(conn, "pg_catalog.pg_drop_replication_slot(slot_name)", slot, "cannot drop the replication slot",
                      NULL);
}

/* A chain's slot: <name>_<chain stamp in lower case>, the name cut so that
 * the whole fits PostgreSQL's 63 bytes. */
#define CHAIN_SLOT_SUFFIX_LEN 17 /* "_20261207t191000z" */
#define SLOT_NAME_MAX         63

static size_t slot_prefix_len(const char *name)
{
    size_t len = strlen(name);
    return len > SLOT_NAME_MAX - CHAIN_SLOT_SUFFIX_LEN ? SLOT_NAME_MAX - CHAIN_SLOT_SUFFIX_LEN : len;
}

int zb_pitr_chain_slot_name(char *out, size_t size, const char *name, const char *chain)
{
    int len = snprintf(out, size, "%.*s_%s", (int)slot_prefix_len(name), name, chain);
    if (len < 0 || (size_t)len >= size || (size_t)len > SLOT_NAME_MAX)
        return zb_error_set(ZB_EUSAGE, "replication slot name too long for chain %s", chain);
    for (char *c = out + len - strlen(chain); *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    return 0;
}

/* The follower's slots in this database: the plain name (repositories
 * older than per-chain slots) and <name>_<chain>; $3 is the one to leave
 * out. */
static const char family_sql[] =
    "SELECT %s FROM pg_catalog.pg_replication_slots WHERE database = pg_catalog.current_database() "
    "AND (slot_name = $1 OR (pg_catalog.left(slot_name, pg_catalog.length($2)) = $2 "
    "AND pg_catalog.substr(slot_name, pg_catalog.length($2) + 1) ~ '^_[0-9]{8}t[0-9]{6}z$')) "
    "AND slot_name <> $3%s ORDER BY slot_name";

static int family_query(PGresult **res, PGconn *conn, const char *select, const char *name, const char *keep,
                        int only_inactive, const char *what)
{
    char prefix[SLOT_NAME_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%.*s", (int)slot_prefix_len(name), name);
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_buf_printf(&sql, family_sql, select, only_inactive ? " AND NOT active" : "");
    const char *params[3] = {name, prefix, keep ? keep : ""};
    if (rc == 0) {
        *res = PQexecParams(conn, sql.data, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(*res) != PGRES_TUPLES_OK)
            rc = zb_pg_result_error(conn, *res, what);
    }
    zb_buf_free(&sql);
    return rc;
}

int zb_pitr_slot_family_find(char **first, PGconn *conn, const char *name, const char *keep)
{
    PGresult *res = NULL;
    *first = NULL;
    int rc = family_query(&res, conn, "slot_name", name, keep, 0, "cannot list the replication slots");
    int found = rc == 0 ? PQntuples(res) : 0;
    if (found > 0 && !(*first = zb_strdup(PQgetvalue(res, 0, 0))))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    PQclear(res);
    return rc < 0 ? rc : found;
}

int zb_pitr_slot_family_drop(PGconn *conn, const char *name, const char *keep, int only_inactive)
{
    PGresult *res = NULL;
    int rc = family_query(&res, conn, "slot_name, pg_catalog.pg_drop_replication_slot(slot_name)", name, keep,
                          only_inactive, "cannot drop the replication slot");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        zb_log_info("dropped replication slot %s", PQgetvalue(res, i, 0));
    int dropped = rc == 0 ? PQntuples(res) : 0;
    PQclear(res);
    return rc < 0 ? rc : dropped;
}

static char *state_path(const char *repo, const char *slot)
{
    zb_buf p = ZB_BUF_INIT;
    if (zb_buf_printf(&p, "%s/%s/%s.json", repo, ZB_PITR_DIR, slot) < 0) {
        zb_buf_free(&p);
        return NULL;
    }
    return zb_buf_detach(&p);
}

char *zb_pitr_chain_dir(const char *repo, const char *chain)
{
    zb_buf p = ZB_BUF_INIT;
    if (zb_buf_printf(&p, "%s/%s/%s", repo, ZB_PITR_DIR, chain) < 0) {
        zb_buf_free(&p);
        return NULL;
    }
    return zb_buf_detach(&p);
}

int zb_pitr_state_read(json_t **out, const char *repo, const char *slot)
{
    *out = NULL;
    char *path = state_path(repo, slot);
    if (!path)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = 0;
    if (access(path, F_OK) == 0) {
        json_error_t error;
        *out = json_load_file(path, 0, &error);
        if (!*out || !json_is_string(json_object_get(*out, "chain")) || !json_is_string(json_object_get(*out, "lsn")))
            rc = zb_error_set(ZB_EFORMAT, "%s is damaged: %s", path, *out ? "fields missing" : error.text);
    }
    if (rc < 0)
        json_decref(*out), *out = NULL;
    free(path);
    return rc;
}

int zb_pitr_current_slot(char *out, size_t size, const char *repo, const char *name)
{
    json_t *state = NULL;
    int rc = repo ? zb_pitr_state_read(&state, repo, name) : 0;
    const char *slot = json_string_value(json_object_get(state, "slot"));
    if (rc == 0 && (size_t)snprintf(out, size, "%s", slot ? slot : name) >= size)
        rc = zb_error_set(ZB_EFORMAT, "replication slot name too long: %s", slot ? slot : name);
    json_decref(state);
    return rc;
}

int zb_pitr_state_write(const char *repo, const char *slot, json_t *state)
{
    char *path = state_path(repo, slot);
    int rc = path ? zb_json_write_file(path, state, JSON_INDENT(1) | JSON_SORT_KEYS, 0600)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    free(path);
    return rc;
}

int zb_pitr_state_remove(const char *repo, const char *slot)
{
    char *path = state_path(repo, slot);
    if (!path)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc =
        unlink(path) == 0 || errno == ENOENT ? 0 : zb_error_set(ZB_EIO, "cannot remove %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

#define CHAIN_END_FILE "end.json"

int zb_pitr_chain_end_write(const char *chain_dir, uint64_t end_lsn, const char *reason, const char *next_chain)
{
    char lsn[32];
    zb_pgo_lsn_format(lsn, sizeof(lsn), end_lsn);
    zb_buf path = ZB_BUF_INIT;
    json_t *end = json_pack("{s:s, s:s, s:s}", "end_lsn", lsn, "reason", reason, "next_chain", next_chain);
    int rc = zb_buf_printf(&path, "%s/%s", chain_dir, CHAIN_END_FILE);
    if (rc == 0)
        rc = zb_json_write_file(path.data, end, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    json_decref(end);
    zb_buf_free(&path);
    return rc;
}

int zb_pitr_chain_end_read(json_t **end, const char *chain_dir)
{
    *end = NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_buf_printf(&path, "%s/%s", chain_dir, CHAIN_END_FILE);
    if (rc == 0 && access(path.data, F_OK) == 0) {
        json_error_t error;
        *end = json_load_file(path.data, 0, &error);
        if (!*end || !json_is_string(json_object_get(*end, "end_lsn")))
            rc = zb_error_set(ZB_EFORMAT, "%s is damaged: %s", path.data, *end ? "fields missing" : error.text);
    }
    if (rc < 0)
        json_decref(*end), *end = NULL;
    zb_buf_free(&path);
    return rc;
}
