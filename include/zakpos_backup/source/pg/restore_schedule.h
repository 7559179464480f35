/* The restore's scheduler: which queued job a worker connection takes next
 * and which connection loads a new table. Pure decisions over the queue and
 * the running jobs, with no threads or server in them, so they are tested
 * alone; the worker pool (restore_pool.h) calls them under its lock. */
#ifndef ZB_SOURCE_PG_RESTORE_SCHEDULE_H
#define ZB_SOURCE_PG_RESTORE_SCHEDULE_H

#include "zakpos_backup/source/pg/restore_plan.h"

#include <stddef.h>

struct zb_pg_table_load;

/* A unit of work for a worker connection: a COPY chunk of a table, a
 * table's end, a connection's final commit, or a statement. */
typedef struct zb_pg_job {
    struct zb_pg_table_load *table; /* a COPY chunk, or NULL for a statement */
    char *data;                     /* chunk bytes, or the SQL (NULL until it runs when text says where) */
    zb_pg_text text;                /* statements: its SQL in the plan's texts, read as it is about to run */
    size_t len;
    char *what;                /* names the object for errors */
    long locks[2];             /* relations the statement locks (zb_pg_plan's numbers), or ZB_PG_NO_RELATION */
    int modes[2];              /* how it locks them: a ZB_PG_LOCK_ bit */
    size_t item;               /* statements: the toc item it is a step of, from 1 */
    unsigned long long key;    /* statements: unique and stable (item, step), to choose among equals */
    unsigned long long weight; /* statements: bytes of the table it works on */
    int worker;                /* the connection that must run it, or -1 for any */
    int starts_table;          /* a table's first chunk: truncate it first */
    int ends_table;            /* the table has no more chunks: commit once nothing else is open */
    int ends_loading;          /* commit the connection's loading transaction */
    int after_table;           /* statements: follows every earlier queued job on its table (ANALYZE) */
    int small;              /* statements: on a table small enough to share a query message (ZB_PG_SMALL_TABLE_BYTES) */
    struct zb_pg_job *next; /* statements sent with this one in one query message (zb_pg_schedule_group) */
} zb_pg_job;

/* A table of fewer COPY bytes than this is small: its statements (its
 * index builds, keys, ANALYZE) take less time than a round trip to the
 * server under load, and may go several to a query message. */
#define ZB_PG_SMALL_TABLE_BYTES (1ull << 20)
/* The most statements in one query message. */
#define ZB_PG_GROUP_MAX         64u

/* Loading work: a chunk, a table's end, a connection's final commit (as
 * opposed to a statement). */
int zb_pg_job_is_loading(const zb_pg_job *j);

/* Whether a lock held in mode `held` makes one wanted in mode `wanted` wait
 * (as the server's lock manager has it); modes are ZB_PG_LOCK_ bits. */
int zb_pg_lock_conflicts(int held, int wanted);

/* Whether a and b would wait for each other's locks. */
int zb_pg_jobs_conflict(const zb_pg_job *a, const zb_pg_job *b);

/* Whether job j must wait for the earlier queued job e. */
int zb_pg_job_must_follow(const zb_pg_job *j, const zb_pg_job *e);

/* The index in queue of the job worker runs next, or -1: running[w] is
 * what connection w runs now (NULL: idle), loading whether `worker` is
 * inside its loading transaction. The same queue and running jobs give the
 * same choice whatever order equal jobs were queued in. */
long zb_pg_schedule_next(zb_pg_job *const *queue, size_t queued, zb_pg_job *const *running, int workers, int worker,
                         int loading);

/* The statements worker may send together with queue[first], the job
 * zb_pg_schedule_next picked: small ones of the same table that take no
 * lock on another (its other indexes and keys), or, first being an
 * ANALYZE, other small tables' ANALYZE; each free to start were the ones
 * before it in the group done. Fills group (room for max) with their
 * queue indexes, first's first, the others in queue order: the order to
 * run them in. Their count. */
size_t zb_pg_schedule_group(zb_pg_job *const *queue, size_t queued, zb_pg_job *const *running, int workers, int worker,
                            size_t first, size_t *group, size_t max);

/* The connection for a new table, given per connection the tables given to
 * it still loading (open), the chunk bytes waiting (pending) and what it
 * runs. */
int zb_pg_schedule_table_worker(const int *open, const unsigned long long *pending, zb_pg_job *const *running,
                                int workers);

#endif
