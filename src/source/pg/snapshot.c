#include "zakpos_backup/source/pg/snapshot.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/pg/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zb_pg_snapshot_export(zb_pg_snapshot *out, PGconn *leader)
{
    int rc = zb_pg_exec(leader, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "cannot start the snapshot");
    if (rc < 0)
        return rc;
    PGresult *res = PQexec(leader, "SELECT pg_catalog.pg_export_snapshot()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = zb_pg_result_error(leader, res, "cannot export the snapshot");
    } else if (zb_strlcpy_checked(out->id, sizeof(out->id), PQgetvalue(res, 0, 0)) < 0) {
        rc = zb_error_set(ZB_EPG, "the server returned an unexpected snapshot id");
    }
    PQclear(res);
    return rc;
}

int zb_pg_snapshot_import(PGconn *worker, const zb_pg_snapshot *snapshot)
{
    int rc =
        zb_pg_exec(worker, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "cannot start a worker transaction");
    if (rc < 0)
        return rc;
    char *literal = PQescapeLiteral(worker, snapshot->id, strlen(snapshot->id));
    if (!literal)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf sql = ZB_BUF_INIT;
    rc = zb_buf_printf(&sql, "SET TRANSACTION SNAPSHOT %s", literal);
    PQfreemem(literal);
    if (rc == 0)
        rc = zb_pg_exec(worker, sql.data, "a worker cannot adopt the leader's snapshot");
    zb_buf_free(&sql);
    return rc;
}

/* Tables and leaf partitions carry rows; partitioned parents are listed too
 * (they are locked, their rows are read through their partitions). Members of
 * extensions belong to the extension's own script and are left out. Sizes
 * are not read here: pg_relation_size takes a lock, which must wait for
 * zb_pg_lock_tables and its timeout. */
static const char tables_sql[] =
    "SELECT c.oid, n.nspname, c.relname, c.relkind "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "AND d.objid = c.oid AND d.deptype = 'e') "
    "ORDER BY n.nspname, c.relname";

int zb_pg_list_tables(zb_pg_table_list *out, PGconn *conn)
{
    out->items = NULL;
    out->count = 0;
    PGresult *res = PQexec(conn, tables_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = zb_pg_result_error(conn, res, "cannot list the tables");
        PQclear(res);
        return rc;
    }
    int n = PQntuples(res), rc = 0;
    out->items = calloc((size_t)n + 1, sizeof(*out->items));
    if (!out->items)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        zb_pg_table *t = &out->items[out->count++];
        t->oid = (unsigned int)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        t->schema = zb_strdup(PQgetvalue(res, i, 1));
        t->name = zb_strdup(PQgetvalue(res, i, 2));
        t->kind = PQgetvalue(res, i, 3)[0];
        if (!t->schema || !t->name)
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    if (rc < 0)
        zb_pg_table_list_free(out);
    return rc;
}

void zb_pg_table_list_free(zb_pg_table_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].schema);
        free(list->items[i].name);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

char *zb_pg_qualified_name(PGconn *conn, const zb_pg_table *t)
{
    char *schema = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
    char *name = PQescapeIdentifier(conn, t->name, strlen(t->name));
    zb_buf b = ZB_BUF_INIT;
    int ok = schema && name && zb_buf_printf(&b, "%s.%s", schema, name) == 0;
    PQfreemem(schema);
    PQfreemem(name);
    if (!ok) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

/* Tables locked in one query message at most, one LOCK statement each: a
 * round trip per batch instead of per table (20,000 at 20,000 tables). */
#define LOCK_BATCH 256

static int lock_failed(PGconn *leader, PGresult *res, const zb_pg_table *table)
{
    char *name = zb_pg_qualified_name(leader, table);
    zb_buf what = ZB_BUF_INIT;
    int rc = name && zb_buf_printf(&what, "cannot lock table %s for the backup", name) == 0
                 ? zb_pg_result_error(leader, res, what.data)
                 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc != ZB_ENOMEM && strstr(zb_error_message(), "lock timeout"))
        zb_error_hint(
            "another session holds a conflicting lock (a DROP, ALTER, TRUNCATE or VACUUM FULL in "
            "progress?); run the backup again when it is done");
    free(name);
    zb_buf_free(&what);
    return rc;
}

/* tables->items[from, from + count) in one message. The server runs its
 * statements in order and stops at the first that fails, each with a result
 * of its own: the results before the failure say which table it was. */
static int lock_batch(PGconn *leader, const zb_pg_table_list *tables, size_t from, size_t count)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = 0;
    for (size_t i = from; rc == 0 && i < from + count; i++) {
        char *name = zb_pg_qualified_name(leader, &tables->items[i]);
        rc = name ? zb_buf_printf(&sql, "LOCK TABLE %s IN ACCESS SHARE MODE;", name)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
        free(name);
    }
    if (rc == 0 && !PQsendQuery(leader, sql.data))
        rc = zb_pg_result_error(leader, NULL, "cannot lock the tables for the backup");
    zb_buf_free(&sql);
    size_t locked = 0;
    PGresult *res;
    /* every result is read, also after a failure, so the connection is ready again */
    while (rc == 0 && (zb_pg_await_result(leader), res = PQgetResult(leader)) != NULL) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK && locked < count)
            locked++;
        else
            rc = lock_failed(leader, res, &tables->items[from + (locked < count ? locked : count - 1)]);
        PQclear(res);
    }
    while (rc < 0 && (res = PQgetResult(leader)) != NULL)
        PQclear(res);
    /* a lock wait cancelled by SIGINT or SIGTERM: the interruption is the error */
    if (rc < 0 && zb_interrupted())
        rc = zb_check_interrupt();
    return rc;
}

int zb_pg_lock_tables(PGconn *leader, const zb_pg_table_list *tables, int timeout_ms)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", timeout_ms);
    int rc = zb_pg_exec(leader, sql, "cannot set the lock timeout");
    for (size_t from = 0; rc == 0 && from < tables->count; from += LOCK_BATCH)
        rc = lock_batch(leader, tables, from, tables->count - from < LOCK_BATCH ? tables->count - from : LOCK_BATCH);
    return rc;
}

static int largest_first(const void *a, const void *b)
{
    const zb_pg_table *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    int c = strcmp(x->schema, y->schema);
    return c ? c : strcmp(x->name, y->name);
}

int zb_pg_measure_tables(PGconn *leader, zb_pg_table_list *tables)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_buf_printf(&sql,
                           "SELECT c.oid, pg_catalog.pg_relation_size(c.oid) FROM pg_catalog.pg_class c "
                           "WHERE c.oid = ANY ('{");
    for (size_t i = 0; rc == 0 && i < tables->count; i++)
        rc = zb_buf_printf(&sql, "%s%u", i ? "," : "", tables->items[i].oid);
    if (rc == 0)
        rc = zb_buf_printf(&sql, "}'::pg_catalog.oid[])");
    if (rc < 0) {
        zb_buf_free(&sql);
        return rc;
    }
    PGresult *res = PQexec(leader, sql.data);
    zb_buf_free(&sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = zb_pg_result_error(leader, res, "cannot read the table sizes");
        PQclear(res);
        return rc;
    }
    zb_map *by_oid = NULL;
    rc = zb_pg_table_list_index(&by_oid, tables);
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        size_t i;
        if (zb_map_get(by_oid, (unsigned int)strtoul(PQgetvalue(res, r, 0), NULL, 10), &i))
            tables->items[i].bytes = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    }
    zb_map_free(by_oid);
    PQclear(res);
    if (rc == 0)
        qsort(tables->items, tables->count, sizeof(*tables->items), largest_first);
    return rc;
}

int zb_pg_table_list_index(zb_map **out, const zb_pg_table_list *list)
{
    int rc = zb_map_new(out, list->count);
    for (size_t i = 0; rc == 0 && i < list->count; i++)
        rc = zb_map_add(*out, list->items[i].oid, i);
    if (rc < 0) {
        zb_map_free(*out);
        *out = NULL;
    }
    return rc;
}
