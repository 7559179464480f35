#include "zakpos_backup/source/pg/restore_state.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/ident.h"
#include "zakpos_backup/source/pg/schema.h"
#include "zakpos_backup/source/pg/verify.h"

#include <stdio.h>
#include <string.h>

/* Kinds whose creation may need more than owning the database: an
 * untrusted extension, and the kinds a later format may carry (event
 * triggers, foreign-data wrappers and servers, access methods, languages). */
static int needs_privilege(const char *kind)
{
    static const char *const kinds[] = {"EXTENSION", "EVENT TRIGGER", "FOREIGN DATA WRAPPER", "SERVER",
                                        "ACCESS METHOD", "PROCEDURAL LANGUAGE", "LANGUAGE", NULL};
    for (const char *const *k = kinds; kind && *k; k++)
        if (strcmp(kind, *k) == 0)
            return 1;
    return 0;
}

/* A scratch restore leaves out what its role may not do (SQLSTATE 42501,
 * insufficient privilege), an owner or grantee role the server lacks
 * (42704), and records it; 1 when the failure was left out. The item's SQL
 * of any other kind is never left out: a statement the archive should not
 * hold fails the restore. */
static int leave_out(zb_pg_restore *p, PGresult *res, json_t *it, const char *what)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    int object = strcmp(what, "object") == 0;
    if (!p->opts.scratch || !state || !message)
        return 0;
    if (object ? strcmp(state, "42501") != 0 || !needs_privilege(json_string_value(json_object_get(it, "kind")))
               : strcmp(state, "42501") != 0 && strcmp(state, "42704") != 0)
        return 0;
    zb_buf id = ZB_BUF_INIT;
    zb_pg_item_id(&id, it);
    json_array_append_new(p->left_out, json_pack("{s:s, s:s, s:s}", "id", id.data ? id.data : "?", "what", what,
                                                 "reason", message));
    if (object)
        zb_log_warn("%s: not verified: the verification's role cannot create it here (%s)", id.data ? id.data : "?",
                    message);
    else
        zb_log_detail("%s: its %s left out of the scratch database (%s)", id.data ? id.data : "?", what, message);
    zb_buf_free(&id);
    return 1;
}

/* One of an item's statements: its SQL ("object"), its "owner" or its
 * "privileges". */
static int run_sql(zb_pg_restore *p, PGconn *conn, const char *sql, json_t *it, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if ((st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) && !leave_out(p, res, it, what)) {
        const char *kind = json_string_value(json_object_get(it, "kind"));
        const char *schema = json_string_value(json_object_get(it, "schema"));
        const char *name = json_string_value(json_object_get(it, "name"));
        char failed[512];
        snprintf(failed, sizeof(failed), "restoring %s %s%s%s failed", kind ? kind : "object", schema ? schema : "",
                 schema ? "." : "", name ? name : "");
        rc = zb_pg_result_error(conn, res, failed);
    }
    PQclear(res);
    return rc;
}

static int listed(const char *const *list, const char *value)
{
    for (; list && *list && value; list++)
        if (strcmp(*list, value) == 0)
            return 1;
    return 0;
}

static int filtering(const zb_pg_restore *p)
{
    return (p->opts.tables && *p->opts.tables) || (p->opts.schemas && *p->opts.schemas);
}

/* "schema.name" unquoted, as the user writes it. */
int zb_pg_restore_table_selected(const zb_pg_restore *p, const char *schema, const char *name)
{
    if (!filtering(p))
        return 1;
    if (listed(p->opts.schemas, schema))
        return 1;
    char full[1024];
    snprintf(full, sizeof(full), "%s.%s", schema ? schema : "", name ? name : "");
    return listed(p->opts.tables, full);
}

static int is_relation(const char *kind)
{
    return strcmp(kind, "TABLE") == 0 || strcmp(kind, "VIEW") == 0 || strcmp(kind, "MATERIALIZED VIEW") == 0;
}

/* Whether the table or view with this quoted name is selected. */
static int relation_selected(const zb_pg_restore *p, const char *quoted)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(p->toc, "items"), i, it) {
        const char *table = json_string_value(json_object_get(it, "table"));
        if (quoted && table && strcmp(table, quoted) == 0 && is_relation(json_string_value(json_object_get(it, "kind"))))
            return zb_pg_restore_table_selected(p, json_string_value(json_object_get(it, "schema")),
                                  json_string_value(json_object_get(it, "name")));
    }
    return 0;
}

/* Items a selection keeps: everything tables may need (schemas, extensions,
 * types, functions, sequences), the selected tables and views, and what
 * hangs off them; a foreign key only if the table it references is kept. */
static int item_selected(const zb_pg_restore *p, json_t *it)
{
    if (!filtering(p))
        return 1;
    const char *kind = json_string_value(json_object_get(it, "kind"));
    const char *schema = json_string_value(json_object_get(it, "schema"));
    const char *name = json_string_value(json_object_get(it, "name"));
    const char *table = json_string_value(json_object_get(it, "table"));
    if (is_relation(kind))
        return zb_pg_restore_table_selected(p, schema, name);
    if (table) {
        const char *references = json_string_value(json_object_get(it, "references"));
        return relation_selected(p, table) && (!references || relation_selected(p, references));
    }
    return 1;
}

static int run_item(zb_pg_restore *p, PGconn *conn, json_t *it)
{
    const char *kind = json_string_value(json_object_get(it, "kind"));
    const char *schema = json_string_value(json_object_get(it, "schema"));
    const char *name = json_string_value(json_object_get(it, "name"));
    zb_log_debug("restoring %s %s.%s", kind, schema ? schema : "", name ? name : "");
    const char *sql = json_string_value(json_object_get(it, "sql"));
    size_t left_before = json_array_size(p->left_out);
    int rc = sql && *sql ? run_sql(p, conn, sql, it, "object") : 0;
    if (json_array_size(p->left_out) > left_before)
        return rc; /* not created: it has no owner or privileges to set */
    const char *owner = json_string_value(json_object_get(it, "owner"));
    const char *acl = json_string_value(json_object_get(it, "acl"));
    if (rc == 0 && owner && !p->opts.no_owner)
        rc = run_sql(p, conn, owner, it, "owner");
    if (rc == 0 && acl && !p->opts.no_acl)
        rc = run_sql(p, conn, acl, it, "privileges");
    return rc;
}

/* Indexes and constraints (keys, checks, foreign keys) of one table at a
 * time build side by side with other tables' on the pool; the rest runs in
 * order on the leader once the pool is idle. */
static int runs_on_pool(json_t *it)
{
    const char *kind = json_string_value(json_object_get(it, "kind"));
    return json_is_true(json_object_get(it, "parallel")) ||
           (json_object_get(it, "table") && (strcmp(kind, "CONSTRAINT") == 0 || strcmp(kind, "FK CONSTRAINT") == 0));
}

/* An item's weight: the bytes of the data table it works on (item counts
 * from 1), found once by map_items. */
static unsigned long long item_weight(const zb_pg_restore *p, size_t item)
{
    long t = p->item_table[item - 1];
    return t >= 0 ? p->tables[t].bytes : 0;
}

/* An item's work on the pool: its steps when the backup recorded them
 * (each with the locks it takes), else its one statement under the
 * strongest lock. */
static int submit_item(zb_pg_restore *p, json_t *it, size_t item)
{
    const char *table = json_string_value(json_object_get(it, "table"));
    const char *references = json_string_value(json_object_get(it, "references"));
    json_t *steps = json_object_get(it, "steps");
    zb_buf what = ZB_BUF_INIT;
    int rc = zb_buf_printf(&what, "%s %s.%s", json_string_value(json_object_get(it, "kind")),
                           json_string_value(json_object_get(it, "schema")), json_string_value(json_object_get(it, "name")));
    if (rc == 0 && json_array_size(steps) > 0) {
        size_t i;
        json_t *step;
        json_array_foreach(steps, i, step) {
            const char *sql = json_string_value(json_object_get(step, "sql"));
            rc = sql ? zb_pg_pool_submit_sql(&p->pool, sql, what.data, table, zb_pg_lock_mode(json_string_value(json_object_get(step, "lock"))),
                                       references, zb_pg_lock_mode(json_string_value(json_object_get(step, "references_lock"))),
                                       item_weight(p, item), item)
                     : zb_error_set(ZB_EFORMAT, "the table of contents has a malformed step of %s", what.data);
            if (rc < 0)
                break;
        }
    } else if (rc == 0) {
        rc = zb_pg_pool_submit_sql(&p->pool, json_string_value(json_object_get(it, "sql")), what.data, table,
                             zb_pg_lock_mode(json_string_value(json_object_get(it, "lock"))), references, ZB_PG_LOCK_ACCESS_EXCLUSIVE,
                             item_weight(p, item), item);
    }
    zb_buf_free(&what);
    return rc;
}

/* Pool jobs are queued as a batch (each run of them between two leader
 * items), so the heaviest is known before the first one starts. */
int zb_pg_restore_run_section(zb_pg_restore *p, const char *section)
{
    size_t i;
    json_t *it;
    int rc = 0;
    json_array_foreach(json_object_get(p->toc, "items"), i, it) {
        if (strcmp(json_string_value(json_object_get(it, "section")), section) != 0 || !item_selected(p, it))
            continue;
        if (runs_on_pool(it)) {
            zb_pg_pool_hold(&p->pool, 1);
            rc = submit_item(p, it, i + 1);
        } else {
            if ((rc = zb_pg_pool_drain(&p->pool)) == 0)
                rc = run_item(p, p->leader, it);
        }
        if (rc == 0)
            rc = zb_check_interrupt();
        if (rc < 0)
            return rc;
    }
    return zb_pg_pool_drain(&p->pool);
}

/* Post-data items whose statements lock nothing but their table (and the
 * one a foreign key references): an index of a plain table or
 * materialized view, and the keys and foreign keys of plain tables the
 * backup split into steps. Others may reach further (a check constraint
 * of an inheritance parent is added to its children too) and wait for the
 * end of loading, so that no statement ever waits for a table still being
 * loaded. */
static int locks_only_its_tables(json_t *it)
{
    const char *lock = json_string_value(json_object_get(it, "lock"));
    return json_array_size(json_object_get(it, "steps")) > 0 ||
           (strcmp(json_string_value(json_object_get(it, "kind")), "INDEX") == 0 && lock && strcmp(lock, "SHARE") == 0);
}

/* Whether a post-data pool item may be queued while other tables still
 * load: it locks only its own tables, and every data table it works on has
 * its rows committed (called with the pool's lock held). */
static int item_ready(const zb_pg_restore *p, json_t *it, size_t i)
{
    long t = p->item_table[i], ref = p->item_references[i];
    return !p->item_queued[i] && t >= 0 && p->tables[t].committed && (ref == -2 || (ref >= 0 && p->tables[ref].committed)) &&
           strcmp(json_string_value(json_object_get(it, "section")), "post-data") == 0 && runs_on_pool(it) &&
           locks_only_its_tables(it) && item_selected(p, it);
}

/* Queues, as one batch, the indexes and constraints of tables committed
 * since the last call: they build while the archive still brings other
 * tables' rows. */
int zb_pg_restore_release_ready(zb_pg_restore *p)
{
    size_t count = 0, i;
    json_t *it, *items = json_object_get(p->toc, "items");
    pthread_mutex_lock(&p->pool.lock);
    if (p->pool.committed_new) {
        p->pool.committed_new = 0;
        json_array_foreach(items, i, it) if (item_ready(p, it, i)) p->ready[count++] = i;
    }
    pthread_mutex_unlock(&p->pool.lock);
    int rc = 0;
    if (count > 0)
        zb_pg_pool_hold(&p->pool, 1);
    for (size_t k = 0; rc == 0 && k < count; k++) {
        p->item_queued[p->ready[k]] = 1;
        rc = submit_item(p, json_array_get(items, p->ready[k]), p->ready[k] + 1);
    }
    if (count > 0)
        zb_pg_pool_hold(&p->pool, 0);
    return rc;
}

/* ANALYZE of every item of this kind (tables, materialized views) on the
 * pool, each after the work queued before it on its table: weighing
 * nothing, they fill the connections that the last tables' chains of
 * indexes and key checks leave idle. */
static int queue_analyze(zb_pg_restore *p, const char *kind_wanted)
{
    size_t i;
    json_t *it;
    int rc = 0;
    json_array_foreach(json_object_get(p->toc, "items"), i, it) {
        const char *kind = json_string_value(json_object_get(it, "kind"));
        if (rc < 0 || strcmp(kind, kind_wanted) != 0 || !item_selected(p, it))
            continue;
        const char *table = json_string_value(json_object_get(it, "table"));
        zb_buf sql = ZB_BUF_INIT, what = ZB_BUF_INIT;
        rc = zb_buf_puts(&sql, "ANALYZE ");
        if (rc == 0)
            rc = zb_pg_ident_relation(&sql, it);
        zb_buf_printf(&what, "ANALYZE of %s", table);
        zb_pg_job *j = rc == 0 && sql.data && what.data ? zb_pg_job_sql(sql.data, what.data, table, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NULL, 0, 0, 0) : NULL;
        if (j)
            j->after_table = 1;
        rc = rc < 0 ? rc : j ? zb_pg_pool_submit(&p->pool, j) : zb_error_set(ZB_ENOMEM, "out of memory");
        zb_buf_free(&sql);
        zb_buf_free(&what);
    }
    return rc;
}

/* Post-data once every table is loaded: the pool's items not queued yet
 * (they need nothing but tables, all loaded now) and the tables' ANALYZE
 * as one batch, then the leader's (triggers, policies, refreshes...) in
 * order once the pool is done, then the materialized views' ANALYZE. */
int zb_pg_restore_run_post_data(zb_pg_restore *p)
{
    size_t i;
    json_t *it, *items = json_object_get(p->toc, "items");
    int rc = 0;
    zb_pg_pool_hold(&p->pool, 1);
    json_array_foreach(items, i, it) {
        if (rc < 0 || p->item_queued[i] || strcmp(json_string_value(json_object_get(it, "section")), "post-data") != 0 ||
            !runs_on_pool(it) || !item_selected(p, it))
            continue;
        p->item_queued[i] = 1;
        rc = submit_item(p, it, i + 1);
    }
    if (rc == 0)
        rc = queue_analyze(p, "TABLE");
    if (rc == 0)
        rc = zb_pg_pool_drain(&p->pool);
    json_array_foreach(items, i, it) {
        if (rc < 0 || strcmp(json_string_value(json_object_get(it, "section")), "post-data") != 0 || runs_on_pool(it) ||
            !item_selected(p, it))
            continue;
        rc = run_item(p, p->leader, it);
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    /* materialized views once the leader has refreshed them */
    if (rc == 0)
        rc = queue_analyze(p, "MATERIALIZED VIEW");
    return rc < 0 ? rc : zb_pg_pool_drain(&p->pool);
}
