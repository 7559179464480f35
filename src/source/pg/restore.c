#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/globals.h"
#include "zakpos_backup/source/pg/ident.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/schema.h"
#include "zakpos_backup/source/pg/verify.h"

#include <libpq/libpq-fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOC_BYTES ZB_JSON_MAX_TEXT
#define MAX_CHUNK_BYTES (1024u << 20)
#define COPY_SLICE (128u << 10)

/* A table being loaded: what the archive's chunks add up to, and what the
 * server says it inserted. */
typedef struct table_load {
    json_t *toc; /* borrowed from the toc */
    unsigned int oid;
    int selected;
    unsigned int chunks;
    unsigned long long bytes; /* of COPY data */
    int worker;               /* the connection loading it, once known */
    long long rows_loaded; /* the server's count (COPY's command tag) */
    int ended;             /* its end marker arrived: no more chunks */
    int started;           /* truncated in its connection's loading transaction */
    int committed;         /* its rows are committed (frozen loading) */
} table_load;

typedef struct job {
    table_load *table; /* a COPY chunk, or NULL for a statement */
    char *data;        /* chunk bytes, or the SQL */
    size_t len;
    char *what;        /* names the object for errors */
    char *locks[2];    /* tables the statement locks (quoted names), or NULL */
    int modes[2];      /* how it locks them: a LOCK_ bit */
    size_t item;       /* statements: the toc item it is a step of, from 1 */
    unsigned long long weight; /* statements: bytes of the table it works on */
    int worker;        /* the connection that must run it, or -1 for any */
    int starts_table;  /* a table's first chunk: truncate it first */
    int ends_table;    /* the table has no more chunks: commit once nothing else is open */
    int ends_loading;  /* commit the connection's loading transaction */
    int after_table;   /* statements: follows every earlier queued job on its table (ANALYZE) */
} job;

/* Worker connections taking jobs from a queue. Each table's rows are loaded
 * (where the server's lock table has room: choose_frozen_load) by one
 * connection, inside one transaction per connection that truncates
 * the table before its first chunk: that lets COPY write the rows already
 * frozen and marked all-visible, so the index builds, key checks and
 * ANALYZE that scan them next do not rewrite every page to set hint bits,
 * and the restored database needs no freezing pass later. A table goes to
 * the connection with the fewest bytes waiting when its first chunk
 * arrives; tables copied side by side at backup time (as a parallel backup
 * writes them) load side by side. Chunks wait for a free slot
 * (memory holds at most workers + capacity chunks); statements are small
 * and queue freely. A statement starts only when no running statement
 * holds a lock that conflicts with one it takes (so two jobs never wait on
 * each other's locks: indexes of one table build side by side, each under
 * a SHARE lock) and no earlier queued one must come first (must_follow).
 * Archives that mark each table's end let a table's connection commit its
 * rows there; the table's indexes and keys may then be built while other
 * tables still load, by any connection outside a loading transaction (one
 * whose tables are all in, or one the backup's fewer connections leave
 * without a table).
 * Among the jobs free to start, the one on the largest table goes first:
 * the largest table's work is the longest (its keys attach and its foreign
 * keys are checked one after another), and started last it would finish
 * alone on one connection while the others sit idle. */
typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    job **queue;
    size_t queued, queue_cap;
    size_t chunks_queued, chunk_capacity;
    unsigned long long pending[ZB_PG_MAX_JOBS]; /* chunk bytes queued or loading, per connection */
    int open[ZB_PG_MAX_JOBS];   /* tables given to a connection whose end marker has not arrived */
    size_t loading_jobs;        /* chunks and commits queued or running */
    int committed_new;          /* tables were committed since the last look */
    table_load *tables;         /* the restore's, to mark committed ones */
    size_t table_count;
    int busy;
    int held; /* workers start nothing while a batch is being queued */
    int frozen; /* tables load frozen, each on one connection (see above) */
    int stopping;
    int failed;
    zb_error_saved failure;
    PGconn *conns[ZB_PG_MAX_JOBS];
    PGcancel *cancels[ZB_PG_MAX_JOBS]; /* made when connected: PQcancel from another thread needs them */
    pthread_t threads[ZB_PG_MAX_JOBS];
    struct pool_worker_arg {
        struct pool *pool;
        PGconn *conn;
        job *running;
        int index;
        int loading; /* inside its loading transaction */
        int open;    /* tables truncated in it whose end has not been reached */
    } args[ZB_PG_MAX_JOBS];
    int started;
} pool;

struct zb_pg_restore {
    zb_pg_restore_options opts;
    char *source_name;
    json_t *toc;
    table_load *tables;
    size_t table_count;
    char *target;      /* the database name asked for */
    char temp[64];     /* the database being filled */
    int temp_created;
    int target_exists;
    int published;
    PGconn *maintenance;
    PGconn *leader;
    json_t *left_out;  /* scratch restores: what the role could not do */
    double started; /* when the toc arrived */
    pool pool;
    int pool_ready;
    /* per toc item: the data table it works on and the one it references
     * (indexes into tables, or -1), and whether it was queued already */
    long *item_table, *item_references; /* -2: references none */
    char *item_queued;
    size_t *ready; /* scratch: items found ready to queue */
};

/* Loading work: a chunk, a table's end, a connection's final commit (as
 * opposed to a statement). */
static int is_loading_job(const job *j) { return j->table || j->ends_loading; }

static void job_free(job *j)
{
    if (!j)
        return;
    free(j->data);
    free(j->what);
    free(j->locks[0]);
    free(j->locks[1]);
    free(j);
}

static void pool_fail(pool *p)
{
    if (!p->failed) {
        p->failed = 1;
        zb_error_save(&p->failure);
    }
}

/* The server's table lock modes that restore statements take, and which of
 * them conflict (as the server's lock manager has it). */
enum {
    LOCK_ROW_SHARE = 1 << 0,              /* what VALIDATE of a foreign key takes on the table it references */
    LOCK_SHARE_UPDATE_EXCLUSIVE = 1 << 1, /* VALIDATE, ANALYZE */
    LOCK_SHARE = 1 << 2,                  /* CREATE INDEX */
    LOCK_SHARE_ROW_EXCLUSIVE = 1 << 3,    /* adding a foreign key */
    LOCK_ACCESS_EXCLUSIVE = 1 << 4,       /* other ALTER TABLE */
};

static int lock_conflicts(int held, int wanted)
{
    static const int conflicts[] = {
        [0] = LOCK_ACCESS_EXCLUSIVE,
        [1] = LOCK_SHARE_UPDATE_EXCLUSIVE | LOCK_SHARE | LOCK_SHARE_ROW_EXCLUSIVE | LOCK_ACCESS_EXCLUSIVE,
        [2] = LOCK_SHARE_UPDATE_EXCLUSIVE | LOCK_SHARE_ROW_EXCLUSIVE | LOCK_ACCESS_EXCLUSIVE,
        [3] = LOCK_SHARE_UPDATE_EXCLUSIVE | LOCK_SHARE | LOCK_SHARE_ROW_EXCLUSIVE | LOCK_ACCESS_EXCLUSIVE,
        [4] = ~0,
    };
    for (int bit = 0; bit < 5; bit++)
        if (held == 1 << bit)
            return (conflicts[bit] & wanted) != 0;
    return 1;
}

/* A mode named in the table of contents; anything else is taken as the
 * strongest, which conflicts with everything. */
static int lock_mode(const char *name)
{
    static const struct {
        const char *name;
        int mode;
    } modes[] = {{"ROW SHARE", LOCK_ROW_SHARE},
                 {"SHARE UPDATE EXCLUSIVE", LOCK_SHARE_UPDATE_EXCLUSIVE},
                 {"SHARE", LOCK_SHARE},
                 {"SHARE ROW EXCLUSIVE", LOCK_SHARE_ROW_EXCLUSIVE}};
    for (size_t i = 0; name && i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(name, modes[i].name) == 0)
            return modes[i].mode;
    return LOCK_ACCESS_EXCLUSIVE;
}

static int same_table(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Whether a and b would wait for each other's locks. */
static int locks_conflict(const job *a, const job *b)
{
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            if (same_table(a->locks[i], b->locks[k]) && lock_conflicts(a->modes[i], b->modes[k]))
                return 1;
    return 0;
}

/* Whether job j must wait for the earlier queued job e: e is an earlier
 * step of the same object (an index before the key that adopts it), works
 * on a table j references (a foreign key waits for the key it points to),
 * or works on j's table and j is its ANALYZE. Indexes and constraints of
 * one table need no order among themselves, two foreign keys to one table
 * neither: they only must not run at once, which the running jobs' locks
 * decide. */
static int must_follow(const job *j, const job *e)
{
    return (j->item && j->item == e->item) || same_table(e->locks[0], j->locks[1]) ||
           (j->after_table && same_table(e->locks[0], j->locks[0]));
}

/* The job a worker runs next (called with the lock held): the first one
 * only it may run (its tables' chunks and commits: loading goes first, as
 * the archive's stream waits for it), else, outside a loading transaction,
 * the heaviest queued job free to start, the earliest of equals. Inside
 * one, a statement would keep its locks until the transaction's tables are
 * all in, and a key waiting for them could stall the stream those tables'
 * rows come by. */
static long next_job(pool *pl, int worker, int loading)
{
    for (size_t i = 0; !pl->held && i < pl->queued; i++)
        if (pl->queue[i]->worker == worker)
            return (long)i;
    if (loading)
        return -1;
    long best = -1;
    for (size_t i = 0; !pl->held && i < pl->queued; i++) {
        job *j = pl->queue[i];
        if ((j->worker >= 0 && j->worker != worker) || (best >= 0 && j->weight <= pl->queue[best]->weight))
            continue;
        int blocked = 0;
        for (int w = 0; !blocked && w < pl->started; w++)
            blocked = pl->args[w].running && locks_conflict(j, pl->args[w].running);
        for (size_t e = 0; !blocked && e < i; e++)
            blocked = must_follow(j, pl->queue[e]);
        if (!blocked)
            best = (long)i;
    }
    return best;
}

/* ONLY: an inheritance child is loaded on its own, maybe elsewhere. */
static int start_table(struct pool_worker_arg *self, table_load *t)
{
    int rc = self->loading ? 0 : zb_pg_exec(self->conn, "BEGIN", "cannot start the loading transaction");
    self->loading = 1;
    self->open++;
    t->started = 1;
    zb_buf sql = ZB_BUF_INIT;
    if (rc == 0)
        rc = zb_buf_puts(&sql, "TRUNCATE ONLY ");
    if (rc == 0)
        rc = zb_pg_ident_relation(&sql, t->toc);
    if (rc == 0)
        rc = zb_pg_exec(self->conn, sql.data, "cannot prepare the table for loading");
    zb_buf_free(&sql);
    return rc;
}

static int end_loading(struct pool_worker_arg *self)
{
    if (!self->loading)
        return 0;
    self->loading = 0;
    self->open = 0;
    int rc = zb_pg_exec(self->conn, "COMMIT", "cannot commit the loaded rows");
    if (rc < 0)
        return rc;
    /* every table this transaction truncated has all its rows now */
    pool *pl = self->pool;
    pthread_mutex_lock(&pl->lock);
    for (size_t i = 0; i < pl->table_count; i++) {
        table_load *t = &pl->tables[i];
        if (t->worker == self->index && t->started && !t->committed) {
            t->committed = 1;
            pl->committed_new = 1;
        }
    }
    pthread_mutex_unlock(&pl->lock);
    return 0;
}

/* A table's last chunk is in: commit once no other table of the
 * transaction still expects rows. */
static int end_table(struct pool_worker_arg *self)
{
    if (self->open > 0)
        self->open--;
    return self->open == 0 ? end_loading(self) : 0;
}

static int run_copy(struct pool_worker_arg *self, job *j, long long *rows)
{
    PGconn *conn = self->conn;
    zb_buf sql = ZB_BUF_INIT;
    int rc = j->starts_table ? start_table(self, j->table) : 0;
    if (rc == 0)
        rc = zb_pg_copy_sql(&sql, j->table->toc, "FROM STDIN", self->pool->frozen);
    PGresult *res = rc == 0 ? PQexec(conn, sql.data) : NULL;
    zb_buf_free(&sql);
    if (rc == 0 && PQresultStatus(res) != PGRES_COPY_IN)
        rc = zb_pg_result_error(conn, res, "cannot start loading");
    PQclear(res);
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
    return rc;
}

static void *pool_worker(void *arg)
{
    struct pool_worker_arg *self = arg;
    pool *pl = self->pool;
    PGconn *conn = self->conn;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        long at;
        while ((at = next_job(pl, self->index, self->loading)) < 0 && !(pl->stopping && pl->queued == 0))
            pthread_cond_wait(&pl->changed, &pl->lock);
        if (at < 0)
            break;
        job *j = pl->queue[at];
        memmove(&pl->queue[at], &pl->queue[at + 1], (pl->queued - (size_t)at - 1) * sizeof(job *));
        pl->queued--;
        if (j->table && !j->ends_table)
            pl->chunks_queued--;
        self->running = j;
        pl->busy++;
        int skip = pl->failed;
        pthread_cond_broadcast(&pl->changed);
        pthread_mutex_unlock(&pl->lock);
        long long rows = 0;
        double began = zb_time_monotonic();
        int loading = is_loading_job(j);
        int rc = skip              ? 0
                 : j->ends_table   ? end_table(self)
                 : j->table        ? run_copy(self, j, &rows)
                 : j->ends_loading ? end_loading(self)
                                   : zb_pg_exec(conn, j->data, "failed");
        if (!loading)
            zb_log_debug("%s: %.1f s", j->what, zb_time_monotonic() - began);
        if (rc < 0)
            zb_error_context("restoring %s", j->what);
        pthread_mutex_lock(&pl->lock);
        if (rc < 0)
            pool_fail(pl);
        else if (j->table)
            j->table->rows_loaded += rows;
        if (j->table && pl->frozen)
            pl->pending[self->index] -= j->len;
        if (loading)
            pl->loading_jobs--;
        self->running = NULL;
        pl->busy--;
        job_free(j);
        pthread_cond_broadcast(&pl->changed);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Whether a connection is busy with a statement (an index build, say),
 * so that rows given to it would wait. */
static int running_statement(const pool *pl, int w)
{
    const job *j = pl->args[w].running;
    return j && !is_loading_job(j);
}

/* The connection for a new table: one without a table still loading if
 * any (so its transaction can commit at the table's end), then one not
 * busy with a statement, then the one with the fewest bytes waiting. */
static int least_pending(const pool *pl)
{
    int best = 0;
    for (int w = 1; w < pl->started; w++) {
        int d = pl->open[w] - pl->open[best];
        if (d == 0)
            d = running_statement(pl, w) - running_statement(pl, best);
        if (d < 0 || (d == 0 && pl->pending[w] < pl->pending[best]))
            best = w;
    }
    return best;
}

/* Waits for a change in the pool (called with the lock held), and on
 * SIGINT or SIGTERM fails the pool and cancels the statements running on
 * the server: an index build or a lock wait there may last minutes, and
 * the operator who pressed Ctrl-C should not wait for it. The workers then
 * skip what is queued, and the restore's cleanup drops the database. */
static void pool_wait(pool *pl)
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
        if (pl->args[w].running && pl->cancels[w])
            PQcancel(pl->cancels[w], why, sizeof(why));
    pthread_cond_broadcast(&pl->changed);
}

/* Queues a job (taking it); a chunk waits while the chunk slots are full,
 * then goes to its table's connection. */
static int pool_submit(pool *pl, job *j)
{
    pthread_mutex_lock(&pl->lock);
    while (j->table && pl->chunks_queued >= pl->chunk_capacity && !pl->failed)
        pool_wait(pl);
    int rc = pl->failed ? 1 : 0;
    if (rc == 0 && pl->queued == pl->queue_cap) {
        size_t cap = pl->queue_cap ? pl->queue_cap * 2 : 64;
        job **grown = realloc(pl->queue, cap * sizeof(job *));
        if (grown)
            pl->queue = grown, pl->queue_cap = cap;
        else
            rc = -1;
    }
    if (rc == 0 && j->table && pl->frozen && !j->ends_table) {
        if (j->table->worker < 0) {
            j->table->worker = least_pending(pl);
            j->starts_table = 1;
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
    if (rc == 0 && is_loading_job(j))
        pl->loading_jobs++;
    if (rc == 0) {
        pl->queue[pl->queued++] = j;
        pthread_cond_broadcast(&pl->changed);
    }
    pthread_mutex_unlock(&pl->lock);
    if (rc != 0)
        job_free(j);
    if (rc > 0)
        return zb_error_raise(&pl->failure);
    return rc < 0 ? zb_error_set(ZB_ENOMEM, "out of memory") : 0;
}

/* A statement job; locks are the quoted names of the tables it locks and
 * modes how (LOCK_ bits). NULL when out of memory. */
static job *sql_job(const char *sql, const char *what, const char *lock1, int mode1, const char *lock2, int mode2,
                    unsigned long long weight, size_t item)
{
    job *j = calloc(1, sizeof(*j));
    if (!j || !(j->data = zb_strdup(sql)) || !(j->what = zb_strdup(what)) || (lock1 && !(j->locks[0] = zb_strdup(lock1))) ||
        (lock2 && !(j->locks[1] = zb_strdup(lock2)))) {
        job_free(j);
        return NULL;
    }
    j->weight = weight;
    j->modes[0] = mode1;
    j->modes[1] = mode2;
    j->item = item;
    j->worker = -1;
    return j;
}

static int pool_submit_sql(pool *pl, const char *sql, const char *what, const char *lock1, int mode1, const char *lock2,
                           int mode2, unsigned long long weight, size_t item)
{
    job *j = sql_job(sql, what, lock1, mode1, lock2, mode2, weight, item);
    return j ? pool_submit(pl, j) : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* Every connection commits the rows it loaded. */
static int pool_end_loading(pool *pl)
{
    for (int w = 0; w < pl->started; w++) {
        job *j = calloc(1, sizeof(*j));
        if (!j || !(j->what = zb_strdup("the loaded rows"))) {
            job_free(j);
            return zb_error_set(ZB_ENOMEM, "out of memory");
        }
        j->worker = w;
        j->ends_loading = 1;
        int rc = pool_submit(pl, j);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Waits until every table's rows are committed (statements may still be
 * running); the first failure, if any. */
static int pool_wait_loaded(pool *pl)
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

static void pool_hold(pool *pl, int held)
{
    pthread_mutex_lock(&pl->lock);
    pl->held = held;
    pthread_cond_broadcast(&pl->changed);
    pthread_mutex_unlock(&pl->lock);
}

/* Waits until every queued job is done; the first failure, if any. */
static int pool_drain(pool *pl)
{
    pool_hold(pl, 0);
    pthread_mutex_lock(&pl->lock);
    while (pl->queued > 0 || pl->busy > 0)
        pool_wait(pl);
    int failed = pl->failed;
    pthread_mutex_unlock(&pl->lock);
    return failed ? zb_error_raise(&pl->failure) : 0;
}

static void pool_stop(pool *pl)
{
    pthread_mutex_lock(&pl->lock);
    pl->stopping = 1;
    pl->failed = pl->failed || pl->queued > 0; /* pending work is dropped, not done */
    for (size_t i = 0; i < pl->queued; i++)
        job_free(pl->queue[i]);
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
    free(pl->queue);
    pthread_mutex_destroy(&pl->lock);
    pthread_cond_destroy(&pl->changed);
    memset(pl, 0, sizeof(*pl));
}

/* Loading sessions: commits need not wait for the disk (the rename that
 * publishes the database is a normal commit, and flushing its WAL flushes
 * everything before it), and sorts and hashes for index builds and foreign
 * key checks get at least 256 MB and 64 MB (a server set higher keeps its
 * own values). */
static const char loading_settings[] =
    "SET synchronous_commit = off; "
    "SELECT pg_catalog.set_config(v.name, GREATEST(pg_catalog.pg_size_bytes(pg_catalog.current_setting(v.name)), "
    "v.at_least) / 1024 || 'kB', false) FROM (VALUES ('maintenance_work_mem', 268435456), ('work_mem', 67108864)) v(name, at_least)";

static int pool_start(zb_pg_restore *p)
{
    pool *pl = &p->pool;
    int jobs = zb_pg_jobs(p->opts.jobs);
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->changed, NULL);
    p->pool_ready = 1;
    pl->chunk_capacity = (size_t)jobs;
    pl->tables = p->tables;
    pl->table_count = p->table_count;
    for (int i = 0; i < jobs; i++) {
        int rc = zb_pg_connect_db(&pl->conns[i], p->opts.conninfo, p->opts.password_file, p->temp);
        if (rc == 0)
            rc = zb_pg_exec(pl->conns[i], loading_settings, "cannot set up a loading session");
        if (rc == 0 && !(pl->cancels[i] = PQgetCancel(pl->conns[i])))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < jobs; i++) {
        pl->args[i] = (struct pool_worker_arg){pl, pl->conns[i], NULL, i, 0, 0};
        if (pthread_create(&pl->threads[i], NULL, pool_worker, &pl->args[i]) != 0)
            return zb_error_set(ZB_EFAIL, "cannot start a restore thread");
        pl->started++;
    }
    zb_log_detail("loading with %d connection%s", jobs, jobs == 1 ? "" : "s");
    return 0;
}

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

/* ---- selection ---- */

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
static int table_selected(const zb_pg_restore *p, const char *schema, const char *name)
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
            return table_selected(p, json_string_value(json_object_get(it, "schema")),
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
        return table_selected(p, schema, name);
    if (table) {
        const char *references = json_string_value(json_object_get(it, "references"));
        return relation_selected(p, table) && (!references || relation_selected(p, references));
    }
    return 1;
}

/* ---- the target database ---- */

static int database_exists(zb_pg_restore *p, const char *name, int *exists)
{
    const char *params[1] = {name};
    PGresult *res = PQexecParams(p->maintenance, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(p->maintenance, res, "cannot list databases");
    *exists = rc == 0 && PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

/* Objects a user made in a database: tables, views, sequences, functions, types. */
static const char user_objects_sql[] =
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')) + "
    "(SELECT count(*) FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_namespace n ON n.oid = f.pronamespace "
    "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e "
    "WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND e.objid = f.oid AND e.deptype = 'e'))";

static int check_target(zb_pg_restore *p)
{
    int rc = database_exists(p, p->target, &p->target_exists);
    if (rc < 0 || !p->target_exists)
        return rc;
    PGconn *conn = NULL;
    if ((rc = zb_pg_connect_db(&conn, p->opts.conninfo, p->opts.password_file, p->target)) < 0)
        return rc;
    PGresult *res = PQexec(conn, user_objects_sql);
    long long objects = PQresultStatus(res) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    if (objects < 0)
        rc = zb_pg_result_error(conn, res, "cannot look into the target database");
    PQclear(res);
    PQfinish(conn);
    if (rc == 0 && objects > 0 && !p->opts.force) {
        rc = zb_error_set(ZB_EEXIST, "target database \"%s\" exists and is not empty (%lld objects); nothing was changed",
                          p->target, objects);
        zb_error_hint("restore into a new database (dbname=NAME in --pg-target), or pass --force to replace it");
    }
    return rc;
}

static char *quoted_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    char *copy = q ? zb_strdup(q) : NULL;
    PQfreemem(q);
    return copy;
}

static int create_temp_database(zb_pg_restore *p)
{
    snprintf(p->temp, sizeof(p->temp), "zbrestore_%ld_%d", (long)time(NULL), (int)getpid());
    const char *encoding = json_string_value(json_object_get(p->toc, "encoding"));
    char *enc = PQescapeLiteral(p->maintenance, encoding ? encoding : "UTF8", strlen(encoding ? encoding : "UTF8"));
    zb_buf sql = ZB_BUF_INIT;
    int rc = enc ? zb_buf_printf(&sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING %s", p->temp, enc)
                 : zb_error_set(ZB_ENOMEM, "out of memory");
    PQfreemem(enc);
    if (rc == 0)
        rc = zb_pg_exec(p->maintenance, sql.data, "cannot create the database to restore into");
    zb_buf_free(&sql);
    if (rc == 0) {
        p->temp_created = 1;
        zb_log_detail("loading into temporary database %s (becomes \"%s\" once verified)", p->temp, p->target);
    }
    return rc;
}

static int rename_database(zb_pg_restore *p, const char *from, const char *to)
{
    char *a = quoted_ident(p->maintenance, from), *b = quoted_ident(p->maintenance, to);
    zb_buf sql = ZB_BUF_INIT;
    int rc = a && b ? zb_buf_printf(&sql, "ALTER DATABASE %s RENAME TO %s", a, b) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_exec(p->maintenance, sql.data, "cannot rename a database");
    zb_buf_free(&sql);
    free(a);
    free(b);
    return rc;
}

/* The filled database takes the target's name; a replaced target is kept
 * aside until the swap succeeded, then dropped. */
static int publish(zb_pg_restore *p)
{
    if (!p->target_exists)
        return rename_database(p, p->temp, p->target);
    char aside[64];
    snprintf(aside, sizeof(aside), "zbreplaced_%ld_%d", (long)time(NULL), (int)getpid());
    int rc = zb_pg_terminate_sessions(p->maintenance, p->target);
    if (rc == 0)
        rc = rename_database(p, p->target, aside);
    if (rc < 0)
        return rc;
    if ((rc = rename_database(p, p->temp, p->target)) < 0) {
        zb_error_saved why;
        zb_error_save(&why);
        rename_database(p, aside, p->target);
        return zb_error_raise(&why);
    }
    if (zb_pg_drop_database(p->maintenance, aside) < 0)
        zb_log_warn("the replaced database was kept as \"%s\": %s", aside, zb_error_message());
    return 0;
}

/* ---- reading the archive ---- */

static int read_entry(char **out, size_t *len, zb_archive_reader *r, struct archive_entry *entry, size_t limit,
                      const char *what)
{
    la_int64_t size = archive_entry_size(entry);
    if (size < 0 || (uint64_t)size > limit)
        return zb_error_set(ZB_EFORMAT, "%s is too large (%lld bytes)", what, (long long)size);
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        return zb_error_set(ZB_ENOMEM, "out of memory for %s", what);
    size_t got = 0;
    ssize_t n;
    while (got < (size_t)size && (n = zb_archive_reader_read(r, buf + got, (size_t)size - got)) > 0)
        got += (size_t)n;
    if (got != (size_t)size) {
        free(buf);
        return zb_error_code() < 0 ? zb_error_code() : zb_error_set(ZB_EFORMAT, "%s is truncated", what);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* Which data table each item works on and references, once, so that
 * finding the items a committed table lets start costs no name lookups. */
static long data_table_index(const zb_pg_restore *p, const char *quoted)
{
    for (size_t i = 0; quoted && i < p->table_count; i++)
        if (strcmp(json_string_value(json_object_get(p->tables[i].toc, "table")), quoted) == 0)
            return (long)i;
    return -1;
}

static int map_items(zb_pg_restore *p)
{
    json_t *items = json_object_get(p->toc, "items");
    size_t n = json_array_size(items) + 1, i;
    p->item_table = calloc(n, sizeof(long));
    p->item_references = calloc(n, sizeof(long));
    p->item_queued = calloc(n, 1);
    p->ready = calloc(n, sizeof(size_t));
    if (!p->item_table || !p->item_references || !p->item_queued || !p->ready)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *references = json_string_value(json_object_get(it, "references"));
        p->item_table[i] = data_table_index(p, json_string_value(json_object_get(it, "table")));
        /* a reference to a table without rows of its own (partitioned) never counts as loaded early */
        p->item_references[i] = references ? data_table_index(p, references) : -2;
    }
    return 0;
}

static int load_toc(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_entry(&text, &len, r, entry, MAX_TOC_BYTES, "the database's table of contents");
    if (rc < 0)
        return rc;
    rc = zb_json_parse_limited(&p->toc, text, len, "the database's table of contents");
    free(text);
    if (rc < 0)
        return rc;
    json_t *tables = json_object_get(p->toc, "tables");
    if (!json_is_array(json_object_get(p->toc, "items")) || !json_is_array(tables))
        return zb_error_set(ZB_EFORMAT, "the database's table of contents is not valid: fields missing");
    if (json_integer_value(json_object_get(p->toc, "format")) > ZB_PG_TOC_FORMAT)
        return zb_error_set(ZB_EFORMAT, "the database was saved in a newer format (%lld); upgrade zakpos-backup",
                            (long long)json_integer_value(json_object_get(p->toc, "format")));
    p->table_count = json_array_size(tables);
    p->tables = calloc(p->table_count + 1, sizeof(*p->tables));
    if (!p->tables)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->table_count; i++) {
        table_load *t = &p->tables[i];
        t->toc = json_array_get(tables, i);
        t->oid = (unsigned int)json_integer_value(json_object_get(t->toc, "oid"));
        t->worker = -1;
        t->selected = table_selected(p, json_string_value(json_object_get(t->toc, "schema")),
                                     json_string_value(json_object_get(t->toc, "name")));
    }
    return map_items(p);
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
            rc = sql ? pool_submit_sql(&p->pool, sql, what.data, table, lock_mode(json_string_value(json_object_get(step, "lock"))),
                                       references, lock_mode(json_string_value(json_object_get(step, "references_lock"))),
                                       item_weight(p, item), item)
                     : zb_error_set(ZB_EFORMAT, "the table of contents has a malformed step of %s", what.data);
            if (rc < 0)
                break;
        }
    } else if (rc == 0) {
        rc = pool_submit_sql(&p->pool, json_string_value(json_object_get(it, "sql")), what.data, table,
                             lock_mode(json_string_value(json_object_get(it, "lock"))), references, LOCK_ACCESS_EXCLUSIVE,
                             item_weight(p, item), item);
    }
    zb_buf_free(&what);
    return rc;
}

/* Pool jobs are queued as a batch (each run of them between two leader
 * items), so the heaviest is known before the first one starts. */
static int run_section(zb_pg_restore *p, const char *section)
{
    size_t i;
    json_t *it;
    int rc = 0;
    json_array_foreach(json_object_get(p->toc, "items"), i, it) {
        if (strcmp(json_string_value(json_object_get(it, "section")), section) != 0 || !item_selected(p, it))
            continue;
        if (runs_on_pool(it)) {
            pool_hold(&p->pool, 1);
            rc = submit_item(p, it, i + 1);
        } else {
            if ((rc = pool_drain(&p->pool)) == 0)
                rc = run_item(p, p->leader, it);
        }
        if (rc == 0)
            rc = zb_check_interrupt();
        if (rc < 0)
            return rc;
    }
    return pool_drain(&p->pool);
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
static int release_ready_items(zb_pg_restore *p)
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
        pool_hold(&p->pool, 1);
    for (size_t k = 0; rc == 0 && k < count; k++) {
        p->item_queued[p->ready[k]] = 1;
        rc = submit_item(p, json_array_get(items, p->ready[k]), p->ready[k] + 1);
    }
    if (count > 0)
        pool_hold(&p->pool, 0);
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
        job *j = rc == 0 && sql.data && what.data ? sql_job(sql.data, what.data, table, LOCK_SHARE_UPDATE_EXCLUSIVE, NULL, 0, 0, 0) : NULL;
        if (j)
            j->after_table = 1;
        rc = rc < 0 ? rc : j ? pool_submit(&p->pool, j) : zb_error_set(ZB_ENOMEM, "out of memory");
        zb_buf_free(&sql);
        zb_buf_free(&what);
    }
    return rc;
}

/* Post-data once every table is loaded: the pool's items not queued yet
 * (they need nothing but tables, all loaded now) and the tables' ANALYZE
 * as one batch, then the leader's (triggers, policies, refreshes...) in
 * order once the pool is done, then the materialized views' ANALYZE. */
static int run_post_data(zb_pg_restore *p)
{
    size_t i;
    json_t *it, *items = json_object_get(p->toc, "items");
    int rc = 0;
    pool_hold(&p->pool, 1);
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
        rc = pool_drain(&p->pool);
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
    return rc < 0 ? rc : pool_drain(&p->pool);
}

/* Loading frozen keeps a lock on every table loaded (with its TOAST table
 * and that one's index: three) until the end of the load, in the server's
 * shared lock table (max_locks_per_transaction x connections). Where the
 * tables would fill more than a quarter of it, they load unfrozen instead,
 * each chunk in its own transaction on any connection. */
static int choose_frozen_load(zb_pg_restore *p)
{
    PGresult *res = PQexec(p->leader, "SELECT pg_catalog.current_setting('max_locks_per_transaction')::bigint * "
                                      "(pg_catalog.current_setting('max_connections')::bigint + "
                                      "pg_catalog.current_setting('max_prepared_transactions')::bigint)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = zb_pg_result_error(p->leader, res, "cannot read the server's lock table size");
        PQclear(res);
        return rc;
    }
    long long slots = strtoll(PQgetvalue(res, 0, 0), NULL, 10), needed = 0;
    PQclear(res);
    for (size_t i = 0; i < p->table_count; i++)
        needed += p->tables[i].selected ? 3 : 0;
    /* from toc format 2 on, each table's end is marked and its rows are
     * committed then: the transactions hold only the tables whose chunks are
     * still arriving, at most one per connection of the backup */
    long long open_at_once = json_integer_value(json_object_get(p->toc, "connections"));
    if (json_integer_value(json_object_get(p->toc, "format")) >= 2 && needed > 3 * open_at_once)
        needed = 3 * (open_at_once > 0 ? open_at_once : ZB_PG_MAX_JOBS);
    p->pool.frozen = needed <= slots / 4;
    if (!p->pool.frozen)
        zb_log_detail("%zu tables would take %lld of the server's %lld lock slots: loading them unfrozen", p->table_count,
                      needed, slots);
    return 0;
}

/* An older server may lack syntax, privileges or extension versions the
 * source used: the restore still tries (many schemas restore fine) but says
 * so first, so a failure that follows has its likely cause beside it. */
static void warn_if_older_server(const zb_pg_restore *p)
{
    int source = (int)json_integer_value(json_object_get(p->toc, "server_version"));
    int target = PQserverVersion(p->maintenance);
    if (source >= 100000 && target > 0 && target / 10000 < source / 10000)
        zb_log_warn("the archive comes from PostgreSQL %d and the target server runs PostgreSQL %d: restoring into an "
                    "older major version can fail; a server of version %d or newer is the safe target",
                    source / 10000, target / 10000, source / 10000);
}

/* The toc arrives first: prepare the target and create the schema, so the
 * data can stream straight in. */
static int prepare(zb_pg_restore *p)
{
    p->started = zb_time_monotonic();
    if (!p->target) {
        const char *source = json_string_value(json_object_get(p->toc, "database"));
        zb_buf name = ZB_BUF_INIT;
        zb_buf_printf(&name, "%s_restored", source ? source : "zakpos");
        p->target = zb_buf_detach(&name);
        if (!p->target)
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    int rc = zb_pg_connect_db(&p->maintenance, p->opts.conninfo, p->opts.password_file, ZB_PG_MAINTENANCE_DB);
    if (rc == 0) {
        warn_if_older_server(p);
        rc = check_target(p);
    }
    if (rc == 0)
        rc = create_temp_database(p);
    if (rc == 0)
        rc = zb_pg_connect_db(&p->leader, p->opts.conninfo, p->opts.password_file, p->temp);
    if (rc == 0)
        rc = zb_pg_exec(p->leader, "SET check_function_bodies = false", "cannot set up the session");
    if (rc == 0)
        rc = choose_frozen_load(p);
    if (rc == 0)
        rc = pool_start(p);
    if (rc == 0)
        rc = run_section(p, "pre-data");
    return rc;
}

static table_load *find_table(zb_pg_restore *p, unsigned int oid)
{
    for (size_t i = 0; i < p->table_count; i++)
        if (p->tables[i].oid == oid)
            return &p->tables[i];
    return NULL;
}

/* data/<oid>/end: the table's chunks are all in. Loading frozen, its
 * connection commits once no other table of its transaction expects rows,
 * and then the table's indexes and keys may start (release_ready_items). */
static int end_of_table(zb_pg_restore *p, table_load *t, const char *relative)
{
    if (t->ended)
        return zb_error_set(ZB_EFORMAT, "entry %s appears twice", relative);
    t->ended = 1;
    if (!p->pool.frozen || !t->selected)
        return 0;
    if (t->worker < 0) { /* no rows: nothing to commit */
        pthread_mutex_lock(&p->pool.lock);
        t->committed = 1;
        p->pool.committed_new = 1;
        pthread_mutex_unlock(&p->pool.lock);
        return 0;
    }
    job *j = calloc(1, sizeof(*j));
    if (!j || !(j->what = zb_strdup(json_string_value(json_object_get(t->toc, "table"))))) {
        job_free(j);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    j->table = t;
    j->ends_table = 1;
    return pool_submit(&p->pool, j);
}

/* data/<oid>/<NNNNNN>.copy: chunks of a table arrive in order, then
 * data/<oid>/end (archives of toc format 2 on). */
static int load_chunk(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry, const char *relative)
{
    unsigned int oid = 0, seq = 0;
    char tail[8];
    int end = 0;
    if (sscanf(relative, "data/%u/end%n", &oid, &end) == 1 && end > 0 && relative[end] == '\0') {
        table_load *t = find_table(p, oid);
        return t ? end_of_table(p, t, relative)
                 : zb_error_set(ZB_EFORMAT, "entry %s belongs to no table of the table of contents", relative);
    }
    if (sscanf(relative, "data/%u/%u.%7s", &oid, &seq, tail) != 3 || strcmp(tail, "copy") != 0)
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in a database source", relative);
    table_load *t = find_table(p, oid);
    if (!t)
        return zb_error_set(ZB_EFORMAT, "entry %s belongs to no table of the table of contents", relative);
    if (t->ended)
        return zb_error_set(ZB_EFORMAT, "entry %s comes after the end of its table", relative);
    if (seq != t->chunks + 1)
        return zb_error_set(ZB_EFORMAT, "entry %s is out of order (expected chunk %u)", relative, t->chunks + 1);
    t->chunks = seq;
    t->bytes += (unsigned long long)archive_entry_size(entry);
    job *j = calloc(1, sizeof(*j));
    if (!j)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    j->table = t;
    int rc = read_entry(&j->data, &j->len, r, entry, MAX_CHUNK_BYTES, relative);
    if (rc < 0) {
        job_free(j);
        return rc;
    }
    /* the bar counts archive bytes (the reader adds them): naming the work
     * done beside the reading is all this adds */
    zb_progress_rename("reading, loading tables");
    if (!t->selected) {
        job_free(j);
        return 0;
    }
    if (!(j->what = zb_strdup(json_string_value(json_object_get(t->toc, "table"))))) {
        job_free(j);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return pool_submit(&p->pool, j);
}

/* blobs/<oid>.blob: a large object, written by the leader (idle while the
 * pool loads rows) in one transaction. */
static int load_large_object(zb_pg_restore *p, zb_archive_reader *r, const char *relative)
{
    unsigned int oid = 0;
    char tail[8];
    if (sscanf(relative, "blobs/%u.%7s", &oid, tail) != 2 || strcmp(tail, "blob") != 0)
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in a database source", relative);
    int rc = zb_pg_exec(p->leader, "BEGIN", "cannot start a transaction");
    if (rc < 0)
        return rc;
    int fd = -1;
    if (lo_create(p->leader, oid) != oid || (fd = lo_open(p->leader, oid, INV_WRITE)) < 0)
        rc = zb_pg_result_error(p->leader, NULL, "cannot create the large object");
    const void *data;
    size_t len;
    int64_t offset, at = 0;
    while (rc == 0 && (rc = zb_archive_reader_read_block(r, &data, &len, &offset)) > 0) {
        rc = offset == at && lo_write(p->leader, fd, data, len) == (int)len ? 0 : zb_pg_result_error(p->leader, NULL, "cannot write the large object");
        at += (int64_t)len;
    }
    if (fd >= 0 && rc == 0 && lo_close(p->leader, fd) < 0)
        rc = zb_pg_result_error(p->leader, NULL, "cannot close the large object");
    if (rc == 0)
        rc = zb_pg_exec(p->leader, "COMMIT", "cannot commit the large object");
    else
        PQclear(PQexec(p->leader, "ROLLBACK"));
    if (rc < 0)
        zb_error_context("restoring large object %u", oid);
    return rc;
}

int zb_pg_restore_entry(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info)
{
    if (!p->source_name && !(p->source_name = zb_strdup(info->source_name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (strcmp(info->relative, ZB_PG_GLOBALS_NAME) == 0)
        return 0; /* roles are recover's alone: a restore never touches them */
    if (strcmp(info->relative, ZB_PG_TOC_NAME) == 0) {
        if (p->toc)
            return zb_error_set(ZB_EFORMAT, "the database source has two tables of contents");
        int rc = load_toc(p, r, entry);
        return rc < 0 ? rc : prepare(p);
    }
    if (!p->toc)
        return zb_error_set(ZB_EFORMAT, "database data before its table of contents (%s)", info->relative);
    if (strcmp(info->relative, ".") == 0 || strcmp(info->relative, "data") == 0)
        return 0;
    if (strncmp(info->relative, "blobs/", 6) == 0)
        return load_large_object(p, r, info->relative);
    int rc = load_chunk(p, r, entry, info->relative);
    return rc < 0 ? rc : release_ready_items(p);
}

/* Every selected table got exactly the rows the backup recorded. The bytes
 * need no second hash here: the reader has compared every chunk's hash with
 * the manifest before this runs (and the database is published only after
 * it), so the chunk count is all that is left to check. */
static int check_tables(zb_pg_restore *p, zb_archive_reader *r)
{
    json_t *source = zb_archive_reader_manifest_source(r, ZB_SOURCE_PG, p->source_name);
    json_t *recorded = json_object_get(json_object_get(source, "summary"), "tables");
    if (!json_is_array(recorded))
        return zb_error_set(ZB_EFORMAT, "the manifest has no table summary for database %s", p->source_name);
    long long rows = 0;
    for (size_t i = 0; i < p->table_count; i++) {
        table_load *t = &p->tables[i];
        const char *name = json_string_value(json_object_get(t->toc, "table"));
        json_t *want = NULL, *x;
        size_t k;
        json_array_foreach(recorded, k, x) if (strcmp(json_string_value(json_object_get(x, "table")), name) == 0) want = x;
        if (!want)
            return zb_error_set(ZB_EVERIFY, "table %s is not in the manifest", name);
        if (t->chunks != (unsigned int)json_integer_value(json_object_get(want, "chunks")))
            return zb_error_set(ZB_EVERIFY, "table %s: the archive holds %u chunks of it, the backup recorded %lld", name,
                                t->chunks, (long long)json_integer_value(json_object_get(want, "chunks")));
        long long wanted = json_integer_value(json_object_get(want, "rows"));
        if (t->selected && t->rows_loaded != wanted)
            return zb_error_set(ZB_EVERIFY, "table %s: the server loaded %lld rows, the backup had %lld", name,
                                t->rows_loaded, wanted);
        rows += t->selected ? t->rows_loaded : 0;
    }
    zb_log_detail("every table loaded in full: %lld rows; counts match the backup and every chunk its recorded hash", rows);
    return 0;
}

int zb_pg_restore_finish(zb_pg_restore *p, zb_archive_reader *r)
{
    if (!p->toc)
        return zb_error_set(ZB_EFORMAT, "the database source has no table of contents");
    zb_progress_phase("loading tables", 0);
    int rc = pool_end_loading(&p->pool);
    if (rc == 0)
        rc = pool_wait_loaded(&p->pool);
    double t0 = zb_time_monotonic();
    zb_log_detail("data loaded in %.1f s", t0 - p->started);
    zb_progress_phase("checking row counts and hashes", 0);
    if (rc == 0)
        rc = check_tables(p, r);
    zb_progress_phase("building indexes, checking keys", 0);
    if (rc == 0)
        rc = run_post_data(p);
    zb_log_detail("indexes, constraints, statistics (ANALYZE) and the rest built in %.1f s", zb_time_monotonic() - t0);
    if (rc < 0)
        return rc;
    pool_stop(&p->pool);
    p->pool_ready = 0;
    PQfinish(p->leader);
    p->leader = NULL;
    zb_progress_phase("publishing the database", 0);
    if ((rc = publish(p)) == 0)
        p->published = 1;
    return rc;
}

int zb_pg_restore_begin(zb_pg_restore **out, const char *name, const zb_pg_restore_options *opts)
{
    (void)name;
    zb_pg_restore *p = calloc(1, sizeof(*p));
    if (!p)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    p->opts = *opts;
    p->target = opts->target_db ? zb_strdup(opts->target_db) : zb_pg_conninfo_dbname(opts->conninfo);
    p->left_out = json_array();
    if (!p->left_out) {
        zb_pg_restore_free(p);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

json_t *zb_pg_restore_toc(const zb_pg_restore *p) { return p->toc; }
json_t *zb_pg_restore_left_out(const zb_pg_restore *p) { return p->left_out; }

const char *zb_pg_restore_target(const zb_pg_restore *p) { return p->target ? p->target : "(not yet known)"; }

void zb_pg_restore_free(zb_pg_restore *p)
{
    if (!p)
        return;
    if (p->pool_ready)
        pool_stop(&p->pool);
    PQfinish(p->leader);
    if (p->temp_created && !p->published) {
        if (p->maintenance && PQstatus(p->maintenance) == CONNECTION_OK && zb_pg_drop_database(p->maintenance, p->temp) == 0)
            zb_log_detail("the partly restored database %s was dropped", p->temp);
        else
            zb_log_warn("the partly restored database \"%s\" could not be dropped; drop it by hand", p->temp);
    }
    PQfinish(p->maintenance);
    json_decref(p->toc);
    json_decref(p->left_out);
    free(p->tables);
    free(p->item_table);
    free(p->item_references);
    free(p->item_queued);
    free(p->ready);
    free(p->target);
    free(p->source_name);
    free(p);
}
