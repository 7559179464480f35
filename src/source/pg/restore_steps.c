#include "zakpos_backup/source/pg/restore_state.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/ident.h"
#include "zakpos_backup/source/pg/verify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether an object was left out of the scratch database so far. */
static int objects_left_out(const zb_pg_restore *p)
{
    for (size_t i = 0; i < json_array_size(p->left_out); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(p->left_out, i), "what")), "object") == 0)
            return 1;
    return 0;
}

/* A scratch restore leaves out what its role may not do (SQLSTATE 42501,
 * insufficient privilege; for an object of a kind that may need a
 * superuser, also 42P13, a definition only a superuser may make), an owner
 * or grantee role the server lacks
 * (42704), and records it; 1 when the failure was left out. The item's SQL
 * of any other kind is never left out: a statement the archive should not
 * hold fails the restore. */
static int leave_out(zb_pg_restore *p, PGresult *res, const zb_pg_plan_item *it, const char *what)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    int object = strcmp(what, "object") == 0;
    if (!p->opts.scratch || !state || !message)
        return 0;
    /* 42P13: a form of the object only a superuser may define (an
     * aggregate whose state is internal) */
    int not_allowed = it->needs_privilege && (strcmp(state, "42501") == 0 || strcmp(state, "42P13") == 0);
    /* an object, or its privileges, naming one left out before (a text
     * search dictionary of a template only a superuser may make) */
    int needs_left_out = objects_left_out(p) && (strcmp(state, "42704") == 0 || strcmp(state, "42883") == 0 ||
                                                 strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0);
    if (object ? !not_allowed && !needs_left_out
               : strcmp(state, "42501") != 0 && strcmp(state, "42704") != 0 && !needs_left_out)
        return 0;
    zb_buf id = ZB_BUF_INIT;
    zb_pg_item_id_of(&id, it->kind_name, it->schema, it->name, it->table >= 0 ? p->plan->relations[it->table] : NULL);
    /* the id and the server's message are an SQL_ASCII database's bytes, UTF-8 or not */
    const char *shown = id.data ? id.data : "?";
    json_array_append_new(p->left_out, json_pack("{s:o, s:s, s:o}", "id", zb_json_bytes(shown, strlen(shown)), "what",
                                                 what, "reason", zb_json_bytes(message, strlen(message))));
    if (object && !not_allowed)
        zb_log_warn("%s: not verified: it needs an object not verified here (%s)", id.data ? id.data : "?", message);
    else if (object)
        zb_log_warn("%s: not verified: the verification's role cannot create it here (%s)", id.data ? id.data : "?",
                    message);
    else
        zb_log_detail("%s: its %s left out of the scratch database (%s)", id.data ? id.data : "?", what, message);
    zb_buf_free(&id);
    return 1;
}

int zb_pg_restore_pool_left_out(void *payload, const zb_pg_job *j, PGresult *res)
{
    zb_pg_restore *p = payload;
    if (j->item == 0 || j->item > p->plan->item_count)
        return 0; /* not an item's statement (ANALYZE) */
    return leave_out(p, res, &p->plan->items[j->item - 1], "object");
}

/* One of an item's statements: its SQL ("object"), its "owner" or its
 * "privileges". */
static int sql_result(zb_pg_restore *p, PGconn *conn, PGresult *res, const zb_pg_plan_item *it, const char *what)
{
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if ((st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) && !leave_out(p, res, it, what)) {
        char failed[512];
        snprintf(failed, sizeof(failed), "restoring %s %s%s%s failed", it->kind_name, it->schema ? it->schema : "",
                 it->schema ? "." : "", it->name ? it->name : "");
        rc = zb_pg_result_error(conn, res, failed);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        /* an object only a superuser may make (an operator class, and so the
         * indexes of it): failed here, in order, before anything is published */
        if (it->needs_privilege && state && strcmp(state, "42501") == 0)
            zb_error_hint(
                "only a superuser may create it: restore as a superuser, or run verify --restore as this "
                "role to learn every object that needs one");
    }
    PQclear(res);
    return rc;
}

/* One of an item's statements, read from the plan as it runs: 0 when it
 * has none. */
static int run_sql(zb_pg_restore *p, PGconn *conn, zb_pg_text ref, const zb_pg_plan_item *it, const char *what)
{
    const char *sql = NULL;
    int rc = zb_pg_plan_text(p->plan, ref, &sql);
    return rc < 0 || !sql ? rc : sql_result(p, conn, PQexec(conn, sql), it, what);
}

enum { WAITS_NOTHING, WAITS_OWNER_ACL, WAITS_WHOLE };

/* Before the roles exist (opts.roles_at_finish): the object is made, its
 * owner and grants wait; an object whose statement fails for a missing
 * object (42704: the role a user mapping names) waits whole. A statement
 * that fails again once the roles exist fails the restore then. */
static int run_item_without_roles(zb_pg_restore *p, PGconn *conn, const zb_pg_plan_item *it)
{
    const char *sql = NULL;
    int rc = zb_pg_plan_text(p->plan, it->sql, &sql);
    if (rc < 0)
        return rc;
    if (sql && *sql) {
        PGresult *res = PQexec(conn, sql);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQresultStatus(res) == PGRES_FATAL_ERROR && state && strcmp(state, "42704") == 0) {
            PQclear(res);
            zb_log_detail("%s %s waits for the roles", it->kind_name, it->name ? it->name : "");
            p->item_waiting[it->index] = WAITS_WHOLE;
            return 0;
        }
        rc = sql_result(p, conn, res, it, "object");
        if (rc < 0)
            return rc;
    }
    if ((it->owner && !p->opts.no_owner) || (it->acl && !p->opts.no_acl))
        p->item_waiting[it->index] = WAITS_OWNER_ACL;
    return 0;
}

static int run_item(zb_pg_restore *p, PGconn *conn, const zb_pg_plan_item *it)
{
    zb_log_debug("restoring %s %s.%s", it->kind_name, it->schema ? it->schema : "", it->name ? it->name : "");
    if (p->opts.roles_at_finish && !p->roles_ready)
        return run_item_without_roles(p, conn, it);
    size_t left_before = json_array_size(p->left_out);
    const char *sql = NULL;
    int rc = zb_pg_plan_text(p->plan, it->sql, &sql);
    if (rc == 0 && sql && *sql)
        rc = sql_result(p, conn, PQexec(conn, sql), it, "object");
    if (json_array_size(p->left_out) > left_before)
        return rc; /* not created: it has no owner or privileges to set */
    if (rc == 0 && it->owner && !p->opts.no_owner)
        rc = run_sql(p, conn, it->owner, it, "owner");
    if (rc == 0 && it->acl && !p->opts.no_acl)
        rc = run_sql(p, conn, it->acl, it, "privileges");
    return rc;
}

/* An item's weight: the bytes of the data table it works on. */
static unsigned long long item_weight(const zb_pg_restore *p, const zb_pg_plan_item *it)
{
    return it->data_table >= 0 ? p->tables[it->data_table].bytes : 0;
}

/* Whether an item works on a small table (ZB_PG_SMALL_TABLE_BYTES): one with
 * rows in the archive, so not a partitioned table whose indexes cover all
 * its partitions. */
static int small_table(const zb_pg_restore *p, long data_table)
{
    return data_table >= 0 && p->tables[data_table].bytes < ZB_PG_SMALL_TABLE_BYTES;
}

/* A statement's order among equals: its item's place in the table of
 * contents, then its step's. */
static unsigned long long statement_key(size_t item, size_t step)
{
    return (unsigned long long)item * (ZB_PG_PLAN_MAX_STEPS + 1) + step;
}

/* An item's work on the pool: its steps when the backup recorded them
 * (each with the locks it takes), else its one statement under its lock
 * (the strongest on the table it references). */
static int submit_item(zb_pg_restore *p, const zb_pg_plan_item *it)
{
    zb_buf what = ZB_BUF_INIT;
    int rc = zb_buf_printf(&what, "%s %s.%s", it->kind_name, it->schema ? it->schema : "", it->name ? it->name : "");
    /* the SQL by reference: a worker reads it from the plan as it runs */
    zb_pg_statement s = {NULL,
                         what.data,
                         {it->table, it->references},
                         {it->lock, ZB_PG_LOCK_ACCESS_EXCLUSIVE},
                         item_weight(p, it),
                         it->index + 1,
                         statement_key(it->index, 0),
                         0,
                         small_table(p, it->data_table) && it->data_references < 0,
                         it->sql};
    for (size_t i = 0; rc == 0 && i < it->step_count; i++) {
        s.text = it->steps[i].sql;
        s.modes[0] = it->steps[i].lock;
        s.modes[1] = it->steps[i].references_lock;
        s.key = statement_key(it->index, i);
        rc = zb_pg_pool_submit_sql(&p->pool, &s);
    }
    if (rc == 0 && it->step_count == 0)
        rc = zb_pg_pool_submit_sql(&p->pool, &s);
    zb_buf_free(&what);
    return rc;
}

/* Leader items sent together: their statements (object, owner,
 * privileges) in one query message, which the server runs as one implicit
 * transaction. A database of many small tables has a few statements a
 * table; sent one by one, each is a round trip and a commit. */
typedef struct leader_batch {
    zb_buf sql;
    size_t *items; /* plan item indexes, in order */
    size_t count;
} leader_batch;

/* Whether an item's statements may go in a batch: not while the roles are
 * missing, where a failure for a missing role is not an error
 * (run_item_without_roles). */
static int batchable(const zb_pg_restore *p) { return !(p->opts.roles_at_finish && !p->roles_ready); }

/* One of an item's statements, if it has it, read from the plan. */
static int batch_statement(zb_pg_restore *p, zb_buf *sql, zb_pg_text ref)
{
    const char *statement = NULL;
    int rc = zb_pg_plan_text(p->plan, ref, &statement);
    if (rc < 0 || !statement || !*statement) /* an empty one is no statement */
        return rc;
    /* the newline ends a trailing line comment before the separator */
    rc = zb_buf_puts(sql, statement);
    return rc == 0 ? zb_buf_puts(sql, "\n;\n") : rc;
}

static int batch_add(zb_pg_restore *p, leader_batch *b, const zb_pg_plan_item *it)
{
    zb_log_debug("restoring %s %s.%s", it->kind_name, it->schema ? it->schema : "", it->name ? it->name : "");
    int rc = batch_statement(p, &b->sql, it->sql);
    if (rc == 0 && !p->opts.no_owner)
        rc = batch_statement(p, &b->sql, it->owner);
    if (rc == 0 && !p->opts.no_acl)
        rc = batch_statement(p, &b->sql, it->acl);
    if (rc == 0)
        b->items[b->count++] = it->index;
    return rc;
}

/* Pre-data beside the loading stops between statements when told to (a
 * failure elsewhere); else only a signal stops it. */
static int pre_data_check(zb_pg_restore *p)
{
    if (atomic_load(&p->pre_data_stop))
        return zb_error_set(ZB_EINTR, "pre-data stopped: the restore failed");
    return zb_check_interrupt();
}

/* Pre-data has run every item before `done`: the pool may load the tables
 * that waited for it. */
static void pre_data_progress(zb_pg_restore *p, size_t done)
{
    if (p->pre_data_beside)
        zb_pg_pool_pre_data_done(&p->pool, done);
}

/* Runs the batch. When any of its statements fails, the server has rolled
 * the whole batch back, and its items run again one by one: the one that
 * fails is then named as when items ran alone, and a scratch restore
 * leaves out what its role may not do exactly as then. A statement that
 * may not run inside a transaction block fails in a batch and runs alone. */
static int batch_flush(zb_pg_restore *p, leader_batch *b)
{
    int rc = 0, failed = 0;
    if (b->count > 1) {
        if (!PQsendQuery(p->leader, b->sql.data))
            failed = 1;
        PGresult *res;
        while ((res = PQgetResult(p->leader)) != NULL) {
            ExecStatusType st = PQresultStatus(res);
            if (!failed && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
                failed = 1;
                zb_log_detail("a batch of %zu items failed (%s): running them one by one", b->count,
                              PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                  ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                  : "?");
            }
            PQclear(res);
        }
    }
    for (size_t k = 0; rc == 0 && (b->count == 1 || failed) && k < b->count; k++)
        if ((rc = pre_data_check(p)) == 0)
            rc = run_item(p, p->leader, &p->plan->items[b->items[k]]);
    if (rc == 0 && b->count > 0)
        pre_data_progress(p, b->items[b->count - 1] + 1);
    b->count = 0;
    zb_buf_reset(&b->sql);
    return rc;
}

/* Waits for the pool to finish what was queued before a leader item: pool
 * items of pre-data (only when it runs alone: beside the loading, the pool
 * holds rows that may wait for pre-data itself). */
static int drain_before_leader(zb_pg_restore *p) { return p->pre_data_beside ? 0 : zb_pg_pool_drain(&p->pool); }

/* Pool jobs are queued as a batch (each run of them between two leader
 * items), so the heaviest is known before the first one starts; leader
 * items go in batches of their own, each sent once the pool is done with
 * what was queued before it. */
static int run_pre_data(zb_pg_restore *p)
{
    size_t capacity = p->batch_items > 0 ? p->batch_items : 1;
    leader_batch b = {ZB_BUF_INIT, calloc(capacity, sizeof(size_t)), 0};
    int rc = b.items ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (it->section != ZB_PG_SECTION_PRE_DATA || !it->selected)
            continue;
        if (it->on_pool) {
            if ((rc = batch_flush(p, &b)) == 0) {
                zb_pg_pool_hold(&p->pool, 1);
                rc = submit_item(p, it);
            }
        } else if (!batchable(p)) {
            if ((rc = drain_before_leader(p)) == 0)
                rc = run_item(p, p->leader, it);
            if (rc == 0)
                pre_data_progress(p, i + 1);
        } else {
            if (b.count == 0)
                rc = drain_before_leader(p);
            if (rc == 0)
                rc = batch_add(p, &b, it);
            if (rc == 0 && (b.count == capacity || b.sql.len >= ZB_PG_BATCH_MAX_BYTES))
                rc = batch_flush(p, &b);
        }
        if (rc == 0)
            rc = pre_data_check(p);
    }
    if (rc == 0)
        rc = batch_flush(p, &b);
    zb_buf_free(&b.sql);
    free(b.items);
    if (rc == 0)
        pre_data_progress(p, SIZE_MAX);
    return rc < 0 || p->pre_data_beside ? rc : zb_pg_pool_drain(&p->pool);
}

/* Whether an item, run after a table was made, cannot lock that table:
 * a sequence, a schema, or a table of its own (no parent, no partition).
 * Any other (a view over the table, a column default set apart, a check
 * added later, a child) may: were the table's rows loading in an open
 * transaction then, the leader would wait for that transaction, and it for
 * rows stuck behind tables the leader has not made yet. */
static int locks_no_other_table(zb_pg_restore *p, const zb_pg_plan_item *it)
{
    if (!it->selected || strcmp(it->kind_name, "SEQUENCE") == 0 || strcmp(it->kind_name, "SCHEMA") == 0)
        return 1;
    if (it->kind != ZB_PG_KIND_TABLE || it->partition_of != ZB_PG_NO_RELATION)
        return 0;
    const char *sql = NULL;
    if (zb_pg_plan_text(p->plan, it->sql, &sql) < 0 || !sql)
        return 0;
    return !strstr(sql, "INHERITS") && !strstr(sql, "PARTITION OF") && !strstr(sql, "ATTACH PARTITION");
}

/* Each table's loadable_after: the item that makes it, or the last
 * pre-data item that may lock a table made before it, whichever is later
 * (the end of pre-data for a table no item makes). */
static void plan_loadable(zb_pg_restore *p)
{
    size_t last_unsafe = 0;
    for (size_t i = 0; i < p->plan->item_count; i++)
        if (p->plan->items[i].section == ZB_PG_SECTION_PRE_DATA && !locks_no_other_table(p, &p->plan->items[i]))
            last_unsafe = i;
    for (size_t t = 0; t < p->table_count; t++)
        p->tables[t].loadable_after = p->plan->item_count;
    for (size_t i = 0; i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (it->section == ZB_PG_SECTION_PRE_DATA && it->kind == ZB_PG_KIND_TABLE && it->data_table >= 0 &&
            (size_t)it->data_table < p->table_count)
            p->tables[it->data_table].loadable_after = i > last_unsafe ? i : last_unsafe;
    }
}

static void *pre_data_thread(void *payload)
{
    zb_pg_restore *p = payload;
    p->pre_data_rc = run_pre_data(p);
    if (p->pre_data_rc < 0) {
        zb_error_save(&p->pre_data_failure);
        zb_pg_pool_fail_with(&p->pool, &p->pre_data_failure);
    }
    return NULL;
}

/* Beside the loading only where pre-data puts nothing on the pool and a
 * verification's bookkeeping of what it left out stays on one thread. */
static int may_run_beside(const zb_pg_restore *p)
{
    if (p->opts.scratch)
        return 0;
    for (size_t i = 0; i < p->plan->item_count; i++)
        if (p->plan->items[i].section == ZB_PG_SECTION_PRE_DATA && p->plan->items[i].selected &&
            p->plan->items[i].on_pool)
            return 0;
    return 1;
}

int zb_pg_restore_pre_data_begin(zb_pg_restore *p)
{
    if (!may_run_beside(p))
        return run_pre_data(p);
    plan_loadable(p);
    if (!(p->pre_data_cancel = PQgetCancel(p->leader)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    p->pre_data_beside = 1;
    zb_pg_pool_pre_data_done(&p->pool, 0);
    if (pthread_create(&p->pre_data_thread, NULL, pre_data_thread, p) != 0) {
        p->pre_data_beside = 0;
        zb_pg_pool_pre_data_done(&p->pool, SIZE_MAX);
        return run_pre_data(p);
    }
    p->pre_data_running = 1;
    return 0;
}

int zb_pg_restore_pre_data_end(zb_pg_restore *p)
{
    if (!p->pre_data_running)
        return 0;
    pthread_join(p->pre_data_thread, NULL);
    p->pre_data_running = 0;
    return p->pre_data_rc < 0 ? zb_error_raise(&p->pre_data_failure) : 0;
}

void zb_pg_restore_pre_data_stop(zb_pg_restore *p)
{
    if (p->pre_data_running) {
        char why[256];
        atomic_store(&p->pre_data_stop, 1);
        PQcancel(p->pre_data_cancel, why, sizeof(why));
        pthread_join(p->pre_data_thread, NULL);
        p->pre_data_running = 0;
    }
    if (p->pre_data_cancel)
        PQfreeCancel(p->pre_data_cancel);
    p->pre_data_cancel = NULL;
}

static int table_committed(size_t table, void *payload)
{
    const zb_pg_restore *p = payload;
    return p->tables[table].committed;
}

/* Queues, as one batch, the indexes and constraints of tables committed
 * since the last call: they build while the archive still brings other
 * tables' rows. The batch is queued in the table of contents' order (a key
 * that adopts an index, a foreign key the key it points to, come after
 * them there), and the scheduler picks among it by weight. */
static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int zb_pg_restore_release_ready(zb_pg_restore *p)
{
    size_t count = 0;
    pthread_mutex_lock(&p->pool.lock);
    if (p->pool.committed_new) {
        p->pool.committed_new = 0;
        /* only the items of the tables committed since the last look can have
         * become ready: each table's are looked at once in the whole restore */
        for (; p->released < p->pool.committed_count; p->released++) {
            const size_t *items;
            size_t n = zb_pg_plan_table_items(p->plan, p->pool.committed_order[p->released], &items);
            for (size_t k = 0; k < n; k++)
                if (!p->item_queued[items[k]] &&
                    zb_pg_plan_item_ready(p->plan, &p->plan->items[items[k]], table_committed, p)) {
                    p->item_queued[items[k]] = 1; /* an item of two tables is found once */
                    p->ready[count++] = items[k];
                }
        }
    }
    pthread_mutex_unlock(&p->pool.lock);
    qsort(p->ready, count, sizeof(*p->ready), by_index);
    if (count == 0)
        return 0;
    int rc = 0;
    zb_pg_pool_hold(&p->pool, 1);
    for (size_t k = 0; rc == 0 && k < count; k++)
        rc = submit_item(p, &p->plan->items[p->ready[k]]);
    zb_pg_pool_hold(&p->pool, 0);
    return rc;
}

/* ANALYZE of every item of this kind (tables, materialized views) on the
 * pool, each after the work queued before it on its table: weighing
 * nothing, they fill the connections that the last tables' chains of
 * indexes and key checks leave idle. */
/* The root of the partition tree relation r is in (r itself when it is no
 * partition): what a key or index of a partitioned table is queued on. */
static long partition_root(const zb_pg_plan *plan, const long *parent_of, long r)
{
    for (size_t depth = 0; r >= 0 && parent_of[r] >= 0 && depth < plan->relation_count; depth++)
        r = parent_of[r];
    return r;
}

/* A partition's ANALYZE also counts as a lock on its partition tree's root
 * (the server's ANALYZE takes ACCESS SHARE on every partition of a
 * partitioned table it analyzes): a key or index of the partitioned table,
 * queued on the root, locks each partition as it goes, and the two would
 * otherwise wait for each other (a deadlock). */
static int queue_analyze(zb_pg_restore *p, zb_pg_kind kind)
{
    long *parent_of = malloc((p->plan->relation_count + 1) * sizeof(*parent_of));
    if (!parent_of)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t r = 0; r < p->plan->relation_count; r++)
        parent_of[r] = ZB_PG_NO_RELATION;
    for (size_t i = 0; i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (it->relation && it->table >= 0 && it->partition_of >= 0)
            parent_of[it->table] = it->partition_of;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (it->kind != kind || !it->selected)
            continue;
        zb_buf sql = ZB_BUF_INIT, what = ZB_BUF_INIT;
        rc = zb_buf_puts(&sql, "ANALYZE ");
        if (rc == 0)
            rc = zb_pg_ident_relation_of(&sql, it->schema, it->name,
                                         it->table >= 0 ? p->plan->relations[it->table] : NULL);
        if (rc == 0)
            rc = zb_buf_printf(&what, "ANALYZE of %s", it->table >= 0 ? p->plan->relations[it->table] : "(null)");
        long root = partition_root(p->plan, parent_of, it->table);
        /* after every item's statements in the order */
        zb_pg_statement s = {sql.data,
                             what.data,
                             {it->table, root != it->table ? root : ZB_PG_NO_RELATION},
                             {ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, ZB_PG_LOCK_ROW_SHARE},
                             0,
                             0,
                             statement_key(p->plan->item_count + it->index, 0),
                             1,
                             small_table(p, it->data_table),
                             0};
        if (rc == 0)
            rc = zb_pg_pool_submit_sql(&p->pool, &s);
        zb_buf_free(&sql);
        zb_buf_free(&what);
    }
    free(parent_of);
    return rc;
}

/* Post-data once every table is loaded: the pool's items not queued yet
 * (they need nothing but tables, all loaded now) and the tables' ANALYZE
 * as one batch, then the leader's (triggers, policies, refreshes...) in
 * order once the pool is done, then the materialized views' ANALYZE. */
int zb_pg_restore_run_post_data(zb_pg_restore *p)
{
    int rc = 0;
    zb_pg_pool_hold(&p->pool, 1);
    for (size_t i = 0; rc == 0 && i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (p->item_queued[i] || it->section != ZB_PG_SECTION_POST_DATA || !it->on_pool || !it->selected)
            continue;
        p->item_queued[i] = 1;
        rc = submit_item(p, it);
    }
    if (rc == 0)
        rc = queue_analyze(p, ZB_PG_KIND_TABLE);
    if (rc == 0)
        rc = zb_pg_pool_drain(&p->pool);
    for (size_t i = 0; rc == 0 && i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (it->section != ZB_PG_SECTION_POST_DATA || it->on_pool || !it->selected)
            continue;
        rc = run_item(p, p->leader, it);
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    /* materialized views once the leader has refreshed them */
    if (rc == 0)
        rc = queue_analyze(p, ZB_PG_KIND_MATERIALIZED_VIEW);
    return rc < 0 ? rc : zb_pg_pool_drain(&p->pool);
}

int zb_pg_restore_run_waiting(zb_pg_restore *p)
{
    int rc = 0;
    p->roles_ready = 1;
    for (size_t i = 0; rc == 0 && i < p->plan->item_count; i++) {
        const zb_pg_plan_item *it = &p->plan->items[i];
        if (p->item_waiting[i] == WAITS_WHOLE)
            rc = run_item(p, p->leader, it);
        else if (p->item_waiting[i] == WAITS_OWNER_ACL && it->owner && !p->opts.no_owner)
            rc = run_sql(p, p->leader, it->owner, it, "owner");
        if (rc == 0 && p->item_waiting[i] == WAITS_OWNER_ACL && it->acl && !p->opts.no_acl)
            rc = run_sql(p, p->leader, it->acl, it, "privileges");
        p->item_waiting[i] = WAITS_NOTHING;
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    return rc;
}
