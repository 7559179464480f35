#include "zakpos_backup/source/pg/restore_pool.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/source/pg/ident.h"
#include "zakpos_backup/source/pg/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COPY_SLICE (128u << 10)

void zb_pg_job_free(zb_pg_job *j)
{
    while (j) {
        zb_pg_job *next = j->next;
        free(j->data);
        free(j->what);
        free(j);
        j = next;
    }
}

static void pool_fail(zb_pg_pool *p)
{
    if (!p->failed) {
        p->failed = 1;
        zb_error_save(&p->failure);
    }
}

/* A statement; one that fails may be left out (pl->left_out) instead of
 * failing the pool. */
static int run_statement(zb_pg_pool *pl, PGconn *conn, const zb_pg_job *j)
{
    PGresult *res = PQexec(conn, j->data);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pthread_mutex_lock(&pl->lock);
        int left_out = pl->left_out && res && pl->left_out(pl->left_out_payload, j, res);
        pthread_mutex_unlock(&pl->lock);
        rc = left_out ? 0 : zb_pg_result_error(conn, res, "failed");
    }
    PQclear(res);
    return rc;
}

/* Whether a job may run as far as pre-data goes: a chunk waits until its
 * table is made (with what else pre-data does to it), its end with it. */
static int pre_data_allows(const zb_pg_pool *pl, const zb_pg_job *j)
{
    return !j->table || j->table->loadable_after < pl->pre_data_done;
}

/* The first job queued for this connection alone, or NULL. */
static const zb_pg_job *first_of_worker(const zb_pg_pool *pl, int worker)
{
    for (size_t i = 0; i < pl->queued; i++)
        if (pl->queue[i]->worker == worker)
            return pl->queue[i];
    return NULL;
}

/* The job a worker runs next (called with the lock held): nothing while a
 * batch is being queued or while its next table waits for pre-data (its
 * jobs run in their order), else the scheduler's pick. */
static long next_job(const zb_pg_pool *pl, const struct zb_pg_pool_worker *self)
{
    if (pl->held)
        return -1;
    const zb_pg_job *own = first_of_worker(pl, self->index);
    if (own && !pre_data_allows(pl, own))
        return -1;
    return zb_pg_schedule_next(pl->queue, pl->queued, pl->running, pl->started, self->index, self->loading);
}

static int note_truncated(struct zb_pg_pool_worker *self, size_t table)
{
    if (self->truncated_count == self->truncated_capacity) {
        size_t capacity = self->truncated_capacity ? self->truncated_capacity * 2 : 64;
        size_t *grown = realloc(self->truncated, capacity * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        self->truncated = grown;
        self->truncated_capacity = capacity;
    }
    self->truncated[self->truncated_count++] = table;
    return 0;
}

/* The statements that open a table's load, put before its COPY in the same
 * query message: BEGIN where no transaction is open, then TRUNCATE (which
 * lets COPY load frozen). One round trip a table instead of three, which a
 * database of thousands of small tables pays thousands of times. ONLY: an
 * inheritance child is loaded on its own, maybe elsewhere. */
static int start_table(struct zb_pg_pool_worker *self, zb_pg_table_load *t, zb_buf *sql)
{
    int rc = 0;
    if (self->commit_pending) /* the transaction of the tables before */
        rc = zb_buf_puts(sql, "COMMIT; BEGIN; ");
    else if (!self->loading)
        rc = zb_buf_puts(sql, "BEGIN; ");
    self->loading = 1;
    self->open++;
    t->started = 1;
    if (rc == 0)
        rc = zb_buf_puts(sql, "TRUNCATE ONLY ");
    if (rc == 0)
        rc = zb_pg_ident_relation_of(sql, t->plan->schema, t->plan->name, t->plan->quoted);
    if (rc == 0)
        rc = zb_buf_puts(sql, "; ");
    return rc;
}

/* Every table the transaction just committed truncated has all its rows. */
static void mark_truncated_committed(struct zb_pg_pool_worker *self)
{
    zb_pg_pool *pl = self->pool;
    pthread_mutex_lock(&pl->lock);
    for (size_t k = 0; k < self->truncated_count; k++) {
        zb_pg_table_load *t = &pl->tables[self->truncated[k]];
        if (t->worker == self->index && t->started && !t->committed)
            zb_pg_pool_mark_committed(pl, self->truncated[k]);
    }
    self->truncated_count = 0;
    self->commit_pending = 0;
    pthread_mutex_unlock(&pl->lock);
}

static int end_loading(struct zb_pg_pool_worker *self)
{
    if (!self->loading)
        return 0;
    self->loading = 0;
    self->open = 0;
    int rc = zb_pg_exec(self->conn, "COMMIT", "cannot commit the loaded rows");
    if (rc == 0)
        mark_truncated_committed(self);
    return rc;
}

/* Whether the next job of this connection is queued already, opens a
 * table and may start now: its query message can carry the commit
 * (start_table), a round trip less a table. One that waits for pre-data
 * does not: the rows in would wait uncommitted with it. */
static int next_starts_table(struct zb_pg_pool_worker *self)
{
    zb_pg_pool *pl = self->pool;
    pthread_mutex_lock(&pl->lock);
    const zb_pg_job *own = first_of_worker(pl, self->index);
    int starts = own && own->starts_table && pre_data_allows(pl, own);
    pthread_mutex_unlock(&pl->lock);
    return starts;
}

/* A table's last chunk is in: commit once no other table of the
 * transaction still expects rows. */
static int end_table(struct zb_pg_pool_worker *self)
{
    if (self->open > 0)
        self->open--;
    if (self->open > 0)
        return 0;
    if (self->loading && next_starts_table(self)) {
        self->commit_pending = 1;
        return 0;
    }
    return end_loading(self);
}

static int run_copy(struct zb_pg_pool_worker *self, zb_pg_job *j, long long *rows)
{
    PGconn *conn = self->conn;
    zb_buf sql = ZB_BUF_INIT;
    const char *encoding = self->pool->copy_encoding;
    int rc = zb_pg_copy_encoding_set(conn, encoding);
    if (rc == 0 && j->starts_table)
        rc = start_table(self, j->table, &sql);
    if (rc == 0)
        rc = zb_pg_copy_sql_of(&sql,
                               &(zb_pg_copy_table){j->table->plan->schema, j->table->plan->name, j->table->plan->quoted,
                                                   j->table->plan->columns, j->table->plan->binary},
                               "FROM STDIN", self->pool->frozen);
    /* of several statements, PQexec returns at the COPY, or at the first
     * that failed (the server runs none after it) */
    PGresult *res = rc == 0 ? PQexec(conn, sql.data) : NULL;
    zb_buf_free(&sql);
    if (rc == 0 && PQresultStatus(res) != PGRES_COPY_IN)
        rc = zb_pg_result_error(conn, res,
                                j->starts_table ? "cannot prepare the table for loading" : "cannot start loading");
    PQclear(res);
    if (rc == 0 && j->starts_table) {
        if (self->commit_pending)
            mark_truncated_committed(self);
        rc = note_truncated(self, (size_t)(j->table - self->pool->tables));
    }
    /* in slices: libpq copies what it is given into its own buffer, which
     * would otherwise grow to a whole chunk per connection */
    for (size_t at = 0; rc == 0 && at < j->len; at += COPY_SLICE) {
        size_t n = j->len - at < COPY_SLICE ? j->len - at : COPY_SLICE;
        if (PQputCopyData(conn, j->data + at, (int)n) != 1)
            rc = zb_pg_result_error(conn, NULL, "cannot send rows");
    }
    if (rc == 0 && PQputCopyEnd(conn, NULL) != 1)
        rc = zb_pg_result_error(conn, NULL, "cannot send rows");
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = zb_pg_result_error(conn, res, "loading failed");
        else if (rc == 0)
            *rows = strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    return rc == 0 ? zb_pg_copy_encoding_reset(conn, encoding) : rc;
}

/* Takes queue[at] out of the queue with the statements that may go with it
 * (zb_pg_schedule_group), chained by next (called with the lock held). The
 * first stands for the group among the running jobs, with the locks of all
 * (they are on its table, or ANALYZE of others). */
static zb_pg_job *take_job(zb_pg_pool *pl, const struct zb_pg_pool_worker *self, long at)
{
    zb_pg_job *j = pl->queue[at];
    size_t group[ZB_PG_GROUP_MAX], count = 1;
    if (!zb_pg_job_is_loading(j))
        count = zb_pg_schedule_group(pl->queue, pl->queued, pl->running, pl->started, self->index, (size_t)at, group,
                                     ZB_PG_GROUP_MAX);
    zb_pg_job *last = j;
    for (size_t g = 1; g < count; g++) {
        last = last->next = pl->queue[group[g]];
        j->modes[0] |= last->modes[0];
        pl->queue[group[g]] = NULL;
    }
    pl->queue[at] = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < pl->queued; i++)
        if (pl->queue[i])
            pl->queue[kept++] = pl->queue[i];
    pl->queued = kept;
    return j;
}

/* Statements queued by reference get their SQL now, as they are about to
 * run: the queue holds no statement text (thousands of keys and indexes
 * wait there while tables load). */
static int fetch_sql(struct zb_pg_pool_worker *self, zb_pg_job *j)
{
    for (zb_pg_job *k = j; k; k = k->next) {
        if (k->data || !k->text)
            continue;
        const char *sql = NULL;
        int rc = zb_textpack_read(self->pool->texts, &self->texts_cursor, k->text, &sql);
        if (rc < 0)
            return rc;
        if (!(k->data = zb_strdup(sql ? sql : "")))
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return 0;
}

/* A statement, or a group of them in one query message: the server runs
 * them as one transaction, so when one fails none is done, and they run
 * again one by one for the failure to name its own object. */
static int run_statements(zb_pg_pool *pl, PGconn *conn, zb_pg_job *j)
{
    int rc = 0;
    if (j->next) {
        zb_buf sql = ZB_BUF_INIT;
        for (zb_pg_job *k = j; rc == 0 && k; k = k->next)
            if ((rc = zb_buf_puts(&sql, k->data)) == 0)
                rc = zb_buf_puts(&sql, "\n;\n"); /* the newline ends a trailing line comment */
        PGresult *res = rc == 0 ? PQexec(conn, sql.data) : NULL;
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (rc == 0 && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            PQclear(res);
            zb_buf_free(&sql);
            return 0;
        }
        if (rc == 0)
            zb_log_detail("statements sent together failed (%s): running them one by one",
                          PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                              ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                              : "?");
        PQclear(res);
        zb_buf_free(&sql);
    }
    for (zb_pg_job *k = j; rc == 0 && k; k = k->next)
        if ((rc = run_statement(pl, conn, k)) < 0)
            zb_error_context("restoring %s", k->what);
    return rc;
}

static int run_queued_statements(struct zb_pg_pool_worker *self, PGconn *conn, zb_pg_job *j)
{
    int rc = fetch_sql(self, j);
    return rc < 0 ? rc : run_statements(self->pool, conn, j);
}

static void *pool_worker(void *arg)
{
    struct zb_pg_pool_worker *self = arg;
    zb_pg_pool *pl = self->pool;
    PGconn *conn = self->conn;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        long at;
        while ((at = next_job(pl, self)) < 0 && !(pl->stopping && pl->queued == 0))
            pthread_cond_wait(&pl->changed, &pl->lock);
        if (at < 0)
            break;
        zb_pg_job *j = take_job(pl, self, at);
        if (j->table && !j->ends_table)
            pl->chunks_queued--;
        pl->running[self->index] = j;
        pl->busy++;
        int skip = pl->failed;
        pthread_cond_broadcast(&pl->changed);
        pthread_mutex_unlock(&pl->lock);
        long long rows = 0;
        double began = zb_time_monotonic();
        int loading = zb_pg_job_is_loading(j);
        int rc = skip              ? 0
                 : j->ends_table   ? end_table(self)
                 : j->table        ? run_copy(self, j, &rows)
                 : j->ends_loading ? end_loading(self)
                                   : run_queued_statements(self, conn, j);
        for (zb_pg_job *k = loading ? NULL : j; k; k = k->next)
            zb_log_debug("%s: %.1f s%s", k->what, zb_time_monotonic() - began,
                         j->next ? " (statements sent together)" : "");
        if (rc < 0 && loading)
            zb_error_context("restoring %s", j->what);
        pthread_mutex_lock(&pl->lock);
        if (rc < 0)
            pool_fail(pl);
        else if (j->table)
            j->table->rows_loaded += rows;
        if (j->table)
            pl->pending[self->index] -= j->len;
        if (loading)
            pl->loading_jobs--;
        pl->running[self->index] = NULL;
        pl->busy--;
        zb_pg_job_free(j);
        pthread_cond_broadcast(&pl->changed);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Waits for a change in the pool (called with the lock held), and on
 * SIGINT or SIGTERM fails the pool and cancels the statements running on
 * the server: an index build or a lock wait there may last minutes, and
 * the operator who pressed Ctrl-C should not wait for it. The workers then
 * skip what is queued, and the restore's cleanup drops the database. */
static void pool_wait(zb_pg_pool *pl)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&pl->changed, &pl->lock, &until);
    if (pl->failed || !zb_interrupted())
        return;
    zb_check_interrupt();
    pool_fail(pl);
    char why[256];
    for (int w = 0; w < pl->started; w++)
        if (pl->running[w] && pl->cancels[w])
            PQcancel(pl->cancels[w], why, sizeof(why));
    pthread_cond_broadcast(&pl->changed);
}

/* Queues a job (taking it); a chunk waits while the chunk slots are full,
 * then goes to its table's connection. */
int zb_pg_pool_submit(zb_pg_pool *pl, zb_pg_job *j)
{
    pthread_mutex_lock(&pl->lock);
    while (j->table && pl->chunks_queued >= pl->chunk_capacity && !pl->failed)
        pool_wait(pl);
    int rc = pl->failed ? 1 : 0;
    if (rc == 0 && pl->queued == pl->queue_cap) {
        size_t cap = pl->queue_cap ? pl->queue_cap * 2 : 64;
        zb_pg_job **grown = realloc(pl->queue, cap * sizeof(zb_pg_job *));
        if (grown)
            pl->queue = grown, pl->queue_cap = cap;
        else
            rc = -1;
    }
    /* unfrozen too, a table's chunks stay on one connection (its rows keep
     * the archive's order) and tables spread over the connections */
    if (rc == 0 && j->table && !j->ends_table) {
        if (j->table->worker < 0) {
            j->table->worker = zb_pg_schedule_table_worker(pl->open, pl->pending, pl->running, pl->started);
            j->starts_table = pl->frozen;
            pl->open[j->table->worker]++;
        }
        j->worker = j->table->worker;
        pl->pending[j->worker] += j->len;
    }
    if (rc == 0 && j->ends_table) {
        j->worker = j->table->worker;
        pl->open[j->worker]--;
    }
    if (rc == 0 && j->table && !j->ends_table)
        pl->chunks_queued++;
    if (rc == 0 && zb_pg_job_is_loading(j))
        pl->loading_jobs++;
    if (rc == 0) {
        pl->queue[pl->queued++] = j;
        pthread_cond_broadcast(&pl->changed);
    }
    pthread_mutex_unlock(&pl->lock);
    if (rc != 0)
        zb_pg_job_free(j);
    if (rc > 0)
        return zb_error_raise(&pl->failure);
    return rc < 0 ? zb_error_set(ZB_ENOMEM, "out of memory") : 0;
}

zb_pg_job *zb_pg_job_new(void)
{
    zb_pg_job *j = calloc(1, sizeof(*j));
    if (j)
        j->locks[0] = j->locks[1] = ZB_PG_NO_RELATION;
    return j;
}

zb_pg_job *zb_pg_job_sql(const zb_pg_statement *s)
{
    zb_pg_job *j = zb_pg_job_new();
    if (!j || (s->sql && !(j->data = zb_strdup(s->sql))) || !(j->what = zb_strdup(s->what))) {
        zb_pg_job_free(j);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        j->locks[i] = s->locks[i];
        j->modes[i] = s->modes[i];
    }
    j->text = s->sql ? 0 : s->text;
    j->weight = s->weight;
    j->item = s->item;
    j->key = s->key;
    j->after_table = s->after_table;
    j->small = s->small;
    j->worker = -1;
    return j;
}

int zb_pg_pool_submit_sql(zb_pg_pool *pl, const zb_pg_statement *s)
{
    zb_pg_job *j = zb_pg_job_sql(s);
    return j ? zb_pg_pool_submit(pl, j) : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* Every connection commits the rows it loaded. */
int zb_pg_pool_end_loading(zb_pg_pool *pl)
{
    for (int w = 0; w < pl->started; w++) {
        zb_pg_job *j = zb_pg_job_new();
        if (!j || !(j->what = zb_strdup("the loaded rows"))) {
            zb_pg_job_free(j);
            return zb_error_set(ZB_ENOMEM, "out of memory");
        }
        j->worker = w;
        j->ends_loading = 1;
        int rc = zb_pg_pool_submit(pl, j);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Waits until every table's rows are committed (statements may still be
 * running); the first failure, if any. */
int zb_pg_pool_wait_loaded(zb_pg_pool *pl)
{
    pthread_mutex_lock(&pl->lock);
    pl->held = 0;
    pthread_cond_broadcast(&pl->changed);
    while (pl->loading_jobs > 0 && !pl->failed)
        pool_wait(pl);
    int failed = pl->failed;
    pthread_mutex_unlock(&pl->lock);
    return failed ? zb_error_raise(&pl->failure) : 0;
}

void zb_pg_pool_hold(zb_pg_pool *pl, int held)
{
    pthread_mutex_lock(&pl->lock);
    pl->held = held;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

/* Waits until every queued job is done; the first failure, if any. */
int zb_pg_pool_drain(zb_pg_pool *pl)
{
    zb_pg_pool_hold(pl, 0);
    pthread_mutex_lock(&pl->lock);
    while (pl->queued > 0 || pl->busy > 0)
        pool_wait(pl);
    int failed = pl->failed;
    pthread_mutex_unlock(&pl->lock);
    return failed ? zb_error_raise(&pl->failure) : 0;
}

void zb_pg_pool_pre_data_done(zb_pg_pool *pl, size_t done)
{
    pthread_mutex_lock(&pl->lock);
    pl->pre_data_done = done;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

void zb_pg_pool_fail_with(zb_pg_pool *pl, const zb_error_saved *failure)
{
    pthread_mutex_lock(&pl->lock);
    if (!pl->failed) {
        pl->failed = 1;
        pl->failure = *failure;
    }
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

void zb_pg_pool_stop(zb_pg_pool *pl)
{
    pthread_mutex_lock(&pl->lock);
    pl->stopping = 1;
    pl->failed = pl->failed || pl->queued > 0; /* pending work is dropped, not done */
    for (size_t i = 0; i < pl->queued; i++)
        zb_pg_job_free(pl->queue[i]);
    pl->queued = 0;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
    for (int i = 0; i < pl->started; i++)
        pthread_join(pl->threads[i], NULL);
    for (int i = 0; i < ZB_PG_MAX_JOBS; i++)
        if (pl->cancels[i])
            PQfreeCancel(pl->cancels[i]);
    for (int i = 0; i < ZB_PG_MAX_JOBS; i++)
        if (pl->conns[i])
            PQfinish(pl->conns[i]);
    for (int i = 0; i < ZB_PG_MAX_JOBS; i++) {
        free(pl->args[i].truncated);
        zb_textpack_cursor_free(&pl->args[i].texts_cursor);
    }
    free(pl->queue);
    free(pl->committed_order);
    pthread_mutex_destroy(&pl->lock);
    pthread_cond_destroy(&pl->changed);
    memset(pl, 0, sizeof(*pl));
}

void zb_pg_pool_mark_committed(zb_pg_pool *pl, size_t table)
{
    if (pl->tables[table].committed)
        return;
    pl->tables[table].committed = 1;
    pl->committed_new = 1;
    pl->committed_order[pl->committed_count++] = table;
}

int zb_pg_pool_start(zb_pg_pool *pl, int jobs, const char *conninfo, const char *password_file, const char *dbname,
                     const char *session_sql, zb_pg_table_load *tables, size_t table_count)
{
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->changed, NULL);
    pl->chunk_capacity = (size_t)jobs;
    pl->pre_data_done = SIZE_MAX; /* until pre-data runs beside the pool */
    pl->tables = tables;
    pl->table_count = table_count;
    if (!(pl->committed_order = calloc(table_count + 1, sizeof(*pl->committed_order))))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (int i = 0; i < jobs; i++) {
        int rc = zb_pg_connect_db(&pl->conns[i], conninfo, password_file, dbname);
        if (rc == 0)
            rc = zb_pg_exec(pl->conns[i], session_sql, "cannot set up a loading session");
        if (rc == 0 && !(pl->cancels[i] = PQgetCancel(pl->conns[i])))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < jobs; i++) {
        pl->args[i] = (struct zb_pg_pool_worker){.pool = pl, .conn = pl->conns[i], .index = i};
        if (pthread_create(&pl->threads[i], NULL, pool_worker, &pl->args[i]) != 0)
            return zb_error_set(ZB_EFAIL, "cannot start a restore thread");
        pl->started++;
    }
    zb_log_detail("loading with %d connection%s", jobs, jobs == 1 ? "" : "s");
    return 0;
}
