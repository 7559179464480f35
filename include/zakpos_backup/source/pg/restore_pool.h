/* The restore's worker pool: connections to the database being filled,
 * one thread each, taking jobs (COPY chunks, a table's end, statements)
 * from one queue in the order the scheduler (restore_schedule.h) picks. */
#ifndef ZB_SOURCE_PG_RESTORE_POOL_H
#define ZB_SOURCE_PG_RESTORE_POOL_H

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/restore_schedule.h"

#include <libpq-fe.h>
#include <pthread.h>

/* A table being loaded: what the archive's chunks add up to, and what the
 * server says it inserted. */
typedef struct zb_pg_table_load {
    const zb_pg_plan_table *plan; /* what the table of contents says of it */
    unsigned int chunks;
    unsigned long long bytes; /* of COPY data */
    int worker;               /* the connection loading it, once known */
    long long rows_loaded;    /* the server's count (COPY's command tag) */
    int ended;                /* its end marker arrived: no more chunks */
    int started;              /* truncated in its connection's loading transaction */
    int committed;            /* its rows are committed (frozen loading) */
    /* its rows may load once pre-data has run every item before this index
     * (zb_pg_pool.pre_data_done): its CREATE and everything after it that
     * may lock it are in (zb_pg_restore_pre_data_begin) */
    size_t loadable_after;
} zb_pg_table_load;

/* Worker connections taking jobs from a queue. Each table's rows are loaded
 * (where the server's lock table has room: choose_frozen_load in restore.c) by one
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
 * a SHARE lock) and no earlier queued one must come first (zb_pg_job_must_follow).
 * Archives that mark each table's end let a table's connection commit its
 * rows there; the table's indexes and keys may then be built while other
 * tables still load, by any connection outside a loading transaction (one
 * whose tables are all in, or one the backup's fewer connections leave
 * without a table).
 * Among the jobs free to start, the one on the largest table goes first:
 * the largest table's work is the longest (its keys attach and its foreign
 * keys are checked one after another), and started last it would finish
 * alone on one connection while the others sit idle. */
typedef struct zb_pg_pool {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    zb_pg_job **queue;
    size_t queued, queue_cap;
    size_t chunks_queued, chunk_capacity;
    unsigned long long pending[ZB_PG_MAX_JOBS]; /* chunk bytes queued or loading, per connection */
    int open[ZB_PG_MAX_JOBS];                   /* tables given to a connection whose end marker has not arrived */
    size_t loading_jobs;                        /* chunks and commits queued or running */
    int committed_new;                          /* tables were committed since the last look */
    size_t *committed_order;                    /* the tables' indexes as they were committed */
    size_t committed_count;
    zb_pg_table_load *tables; /* the restore's, to mark committed ones */
    size_t table_count;
    int busy;
    int held;                  /* workers start nothing while a batch is being queued */
    int frozen;                /* tables load frozen, each on one connection (see above) */
    const char *copy_encoding; /* COPY data's encoding (the toc's), NULL for UTF8 */
    /* the plan's statements (read only from the start on), for the jobs
     * that name theirs by reference: each worker reads through its cursor */
    const zb_textpack *texts;
    /* When set, a statement that failed is offered to it (with the lock
     * held): 1 when it left the statement out (a scratch restore of an
     * index whose operator class its role could not make), which then does
     * not fail the pool. */
    int (*left_out)(void *payload, const zb_pg_job *j, PGresult *res);
    void *left_out_payload;
    /* pre-data has run (and committed) every item before this index; a
     * table's rows wait until it passes the table's loadable_after */
    size_t pre_data_done;
    int stopping;
    int failed;
    zb_error_saved failure;
    PGconn *conns[ZB_PG_MAX_JOBS];
    PGcancel *cancels[ZB_PG_MAX_JOBS]; /* made when connected: PQcancel from another thread needs them */
    pthread_t threads[ZB_PG_MAX_JOBS];
    zb_pg_job *running[ZB_PG_MAX_JOBS]; /* what each connection runs now, or NULL */
    struct zb_pg_pool_worker {
        struct zb_pg_pool *pool;
        PGconn *conn;
        int index;
        int loading;        /* inside its loading transaction */
        int open;           /* tables truncated in it whose end has not been reached */
        int commit_pending; /* its tables are all in: the next table's first message commits them */
        /* the tables truncated in it (indexes into tables): its commit marks
         * these alone, not a scan of every table at every commit */
        size_t *truncated;
        size_t truncated_count, truncated_capacity;
        zb_textpack_cursor texts_cursor; /* its reads of texts */
    } args[ZB_PG_MAX_JOBS];
    int started;
} zb_pg_pool;

/* Connects `jobs` workers to database dbname, runs session_sql in each and
 * starts their threads; tables are the restore's, marked committed as their
 * rows are. */
int zb_pg_pool_start(zb_pg_pool *pl, int jobs, const char *conninfo, const char *password_file, const char *dbname,
                     const char *session_sql, zb_pg_table_load *tables, size_t table_count);
/* Queues a job (taking it); a chunk waits while the chunk slots are full,
 * then goes to its table's connection. */
int zb_pg_pool_submit(zb_pg_pool *pl, zb_pg_job *j);
/* Marks a table's rows committed (with the pool's lock held): noted in
 * committed_order, so finding what the commit lets start looks at that
 * table's items alone. */
void zb_pg_pool_mark_committed(zb_pg_pool *pl, size_t table);
/* A statement for the pool. */
typedef struct zb_pg_statement {
    const char *sql;
    const char *what;          /* names the object for errors */
    long locks[2];             /* relations it locks (the item's table, the one it references) or ZB_PG_NO_RELATION */
    int modes[2];              /* how: ZB_PG_LOCK_ bits */
    unsigned long long weight; /* bytes of the table it works on */
    size_t item;               /* the toc item it is a step of, from 1; 0: none */
    unsigned long long key;    /* unique and stable: the order among equals */
    int after_table;           /* follows every earlier queued job on its table (ANALYZE) */
    int small;                 /* its table is small (ZB_PG_SMALL_TABLE_BYTES): it may share a query message */
    zb_pg_text text;           /* instead of sql: its SQL in the pool's texts, copied only as it runs */
} zb_pg_statement;

/* A job with no locks, for any connection; NULL when out of memory. */
zb_pg_job *zb_pg_job_new(void);
/* A statement's job (copying what it points to); NULL when out of memory. */
zb_pg_job *zb_pg_job_sql(const zb_pg_statement *s);
int zb_pg_pool_submit_sql(zb_pg_pool *pl, const zb_pg_statement *s);
void zb_pg_job_free(zb_pg_job *j);
/* Every connection commits the rows it loaded. */
int zb_pg_pool_end_loading(zb_pg_pool *pl);
/* Waits until every table's rows are committed (statements may still be
 * running); the first failure, if any. */
int zb_pg_pool_wait_loaded(zb_pg_pool *pl);
/* While held, workers start nothing: a batch is being queued, so the
 * heaviest job is known before the first one starts. */
void zb_pg_pool_hold(zb_pg_pool *pl, int held);
/* Waits until every queued job is done; the first failure, if any. */
int zb_pg_pool_drain(zb_pg_pool *pl);
/* Pre-data, running beside the pool, has run every item before `done`:
 * the tables it lets load start. */
void zb_pg_pool_pre_data_done(zb_pg_pool *pl, size_t done);
/* Pre-data failed beside the pool: the pool fails with its error (the
 * first failure wins), so the reader waiting for a slot stops. */
void zb_pg_pool_fail_with(zb_pg_pool *pl, const zb_error_saved *failure);
/* Joins the threads and closes the connections; queued work is dropped. */
void zb_pg_pool_stop(zb_pg_pool *pl);

#endif
