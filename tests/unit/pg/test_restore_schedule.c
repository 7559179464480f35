#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/restore_schedule.h"

#include <stdio.h>
#include <string.h>

enum { A, B, C }; /* relations */
#define NONE ZB_PG_NO_RELATION

/* A statement on relation `on` (and `ref`, the one it references). */
static zb_pg_job stmt(long on, int mode, long ref, int ref_mode, unsigned long long weight, size_t item, size_t step)
{
    zb_pg_job j;
    memset(&j, 0, sizeof(j));
    j.locks[0] = on;
    j.locks[1] = ref;
    j.modes[0] = mode;
    j.modes[1] = ref_mode;
    j.weight = weight;
    j.item = item;
    j.key = item * 100 + step;
    j.worker = -1;
    return j;
}

static void lock_conflicts_are_the_servers(void **state)
{
    (void)state;
    static const struct {
        int held, wanted, conflict;
    } table[] = {
        {ZB_PG_LOCK_SHARE, ZB_PG_LOCK_SHARE, 0}, /* two index builds of one table */
        {ZB_PG_LOCK_SHARE, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, 1},
        {ZB_PG_LOCK_SHARE, ZB_PG_LOCK_ROW_SHARE, 0},
        {ZB_PG_LOCK_SHARE, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 1},
        {ZB_PG_LOCK_ROW_SHARE, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 0},
        {ZB_PG_LOCK_ROW_SHARE, ZB_PG_LOCK_ACCESS_EXCLUSIVE, 1},
        {ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, 1}, /* two VALIDATEs */
        {ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, ZB_PG_LOCK_ROW_SHARE, 0},
        {ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 1},
        {ZB_PG_LOCK_ACCESS_EXCLUSIVE, ZB_PG_LOCK_ROW_SHARE, 1},
        {0, ZB_PG_LOCK_ROW_SHARE, 1}, /* an unknown mode is taken as the strongest */
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (zb_pg_lock_conflicts(table[i].held, table[i].wanted) != table[i].conflict)
            fail_msg("case %zu: held %d, wanted %d", i, table[i].held, table[i].wanted);
        if (table[i].held && zb_pg_lock_conflicts(table[i].wanted, table[i].held) != table[i].conflict)
            fail_msg("case %zu is not symmetric", i);
    }
    assert_int_equal(zb_pg_lock_mode("SHARE"), ZB_PG_LOCK_SHARE);
    assert_int_equal(zb_pg_lock_mode("ROW SHARE"), ZB_PG_LOCK_ROW_SHARE);
    assert_int_equal(zb_pg_lock_mode("share"), ZB_PG_LOCK_ACCESS_EXCLUSIVE);
    assert_int_equal(zb_pg_lock_mode(NULL), ZB_PG_LOCK_ACCESS_EXCLUSIVE);
}

/* Runs the queue to its end on `workers` connections: each idle worker in
 * turn takes the scheduler's pick; when none can start anything, the job
 * running longest ends. Writes the order jobs started in (as indexes into
 * jobs) and the most that ran at once; fails on a stall. */
static size_t simulate(size_t *order, int *widest, zb_pg_job *jobs, size_t count, int workers)
{
    zb_pg_job *queue[32], *running[8] = {0};
    size_t started_at[8] = {0}, queued = count, started = 0;
    assert_true(count <= 32 && workers <= 8);
    for (size_t i = 0; i < count; i++)
        queue[i] = &jobs[i];
    *widest = 0;
    while (queued > 0) {
        int progress = 0;
        for (int w = 0; w < workers; w++) {
            if (running[w])
                continue;
            long at = zb_pg_schedule_next(queue, queued, running, workers, w, 0);
            if (at < 0)
                continue;
            running[w] = queue[at];
            started_at[w] = started;
            order[started++] = (size_t)(queue[at] - jobs);
            memmove(&queue[at], &queue[at + 1], (queued - (size_t)at - 1) * sizeof(*queue));
            queued--;
            progress = 1;
        }
        int busy = 0, oldest = -1;
        for (int w = 0; w < workers; w++)
            if (running[w]) {
                busy++;
                if (oldest < 0 || started_at[w] < started_at[oldest])
                    oldest = w;
            }
        *widest = busy > *widest ? busy : *widest;
        if (!progress && oldest < 0)
            fail_msg("the scheduler stalled with %zu jobs queued and none running", queued);
        if (oldest >= 0 && (!progress || busy == workers))
            running[oldest] = NULL;
    }
    return started;
}

static void expect_order(const size_t *order, size_t count, const size_t *want, const char *what)
{
    for (size_t i = 0; i < count; i++)
        if (order[i] != want[i]) {
            char got[128] = "";
            for (size_t k = 0; k < count; k++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), " %zu", order[k]);
            fail_msg("%s: position %zu is job %zu, expected %zu (order:%s)", what, i, order[i], want[i], got);
        }
}

/* Indexes of one table build side by side (SHARE each); the key that
 * adopts one waits for it (same item) and for the other index (its ACCESS
 * EXCLUSIVE conflicts); the foreign key to that table waits for the key. */
static void schedule_keeps_locks_and_dependency_order(void **state)
{
    (void)state;
    zb_pg_job jobs[] = {
        stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 100, 1, 0),            /* 0: index A */
        stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 100, 2, 0),            /* 1: key A, step 1: unique index */
        stmt(A, ZB_PG_LOCK_ACCESS_EXCLUSIVE, NONE, 0, 100, 2, 1), /* 2: key A, step 2: adopt it */
        stmt(B, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, A, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 10, 3,
             0),                                                                       /* 3: fk B -> A, NOT VALID */
        stmt(B, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, A, ZB_PG_LOCK_ROW_SHARE, 10, 3, 1), /* 4: validate */
    };
    size_t order[8];
    int widest = 0;
    assert_int_equal(simulate(order, &widest, jobs, 5, 3), 5);
    const size_t want[] = {0, 1, 2, 3, 4};
    expect_order(order, 5, want, "locks and order");
    assert_int_equal(widest, 2); /* the two SHARE index builds of A ran at once, nothing else could */

    /* the second step waits for the first even while that one is only
     * queued, however heavy it would be */
    zb_pg_job adopt = jobs[2];
    adopt.weight = 1000;
    zb_pg_job *queue[] = {&jobs[1], &adopt};
    zb_pg_job *idle[2] = {NULL, NULL};
    assert_int_equal(zb_pg_schedule_next(queue, 2, idle, 2, 0, 0), 0);
    assert_int_equal(zb_pg_schedule_next(queue + 1, 1, idle, 2, 0, 0), 0);
    zb_pg_job *busy[2] = {&jobs[0], NULL};
    assert_int_equal(zb_pg_schedule_next(queue + 1, 1, busy, 2, 1, 0), -1); /* conflicts with the index build */

    /* ANALYZE follows every earlier queued job on its table, not on others */
    zb_pg_job index_a = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 1, 0);
    zb_pg_job analyze = stmt(A, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NONE, 0, 1000, 0, 0);
    analyze.after_table = 1;
    zb_pg_job *with_analyze[] = {&index_a, &analyze};
    assert_int_equal(zb_pg_schedule_next(with_analyze, 2, idle, 2, 0, 0), 0);
    analyze.after_table = 0; /* the rule, not the locks, held it */
    assert_int_equal(zb_pg_schedule_next(with_analyze, 2, idle, 2, 0, 0), 1);
    analyze.after_table = 1;
    with_analyze[0] = &jobs[3];
    assert_int_equal(zb_pg_schedule_next(with_analyze, 2, idle, 2, 0, 0), 1);
}

/* Foreign keys each way between two tables (a cycle of references) never
 * wait for each other: both finish, one after the other. */
static void schedule_finishes_a_cycle_of_references(void **state)
{
    (void)state;
    zb_pg_job jobs[] = {
        stmt(A, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, B, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 5, 1, 0),
        stmt(A, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, B, ZB_PG_LOCK_ROW_SHARE, 5, 1, 1),
        stmt(B, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, A, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, 5, 2, 0),
        stmt(B, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, A, ZB_PG_LOCK_ROW_SHARE, 5, 2, 1),
    };
    size_t order[8];
    int widest = 0;
    assert_int_equal(simulate(order, &widest, jobs, 4, 2), 4);
    const size_t want[] = {0, 1, 2, 3};
    expect_order(order, 4, want, "cycle");
}

/* The heaviest table's work starts first, equal weights in the order of the
 * table of contents whatever order they were queued in; independent work
 * fills every connection. */
static void schedule_is_deterministic_and_parallel(void **state)
{
    (void)state;
    zb_pg_job jobs[] = {
        stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 1, 0),  /* 0 */
        stmt(B, ZB_PG_LOCK_SHARE, NONE, 0, 500, 2, 0), /* 1: heaviest */
        stmt(C, ZB_PG_LOCK_SHARE, NONE, 0, 10, 3, 0),  /* 2 */
        stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 4, 0),  /* 3 */
        stmt(C, ZB_PG_LOCK_SHARE, NONE, 0, 10, 5, 0),  /* 4 */
    };
    size_t order[8], again[8];
    int widest = 0;
    assert_int_equal(simulate(order, &widest, jobs, 5, 3), 5);
    const size_t want[] = {1, 0, 2, 3, 4};
    expect_order(order, 5, want, "by weight, then toc order");
    assert_int_equal(widest, 3);

    /* the same jobs queued in another order (as tables committed in
     * another order would queue them) start in the same order */
    zb_pg_job shuffled[] = {jobs[4], jobs[2], jobs[3], jobs[1], jobs[0]};
    const size_t back[] = {4, 2, 3, 1, 0}; /* shuffled[i] is jobs[back[i]] */
    assert_int_equal(simulate(again, &widest, shuffled, 5, 3), 5);
    for (size_t i = 0; i < 5; i++)
        again[i] = back[again[i]];
    expect_order(again, 5, want, "another queue order");
    assert_int_equal(simulate(again, &widest, jobs, 5, 1), 5);
    expect_order(again, 5, want, "one connection");
}

/* Loading work belongs to its connection and goes first there; inside a
 * loading transaction a connection takes no statement. */
static void schedule_gives_loading_work_to_its_connection(void **state)
{
    (void)state;
    zb_pg_job heavy = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 1000, 1, 0);
    zb_pg_job chunk;
    memset(&chunk, 0, sizeof(chunk));
    chunk.locks[0] = chunk.locks[1] = NONE;
    chunk.worker = 1;
    chunk.ends_loading = 1;
    assert_true(zb_pg_job_is_loading(&chunk));
    assert_false(zb_pg_job_is_loading(&heavy));
    zb_pg_job *queue[] = {&heavy, &chunk};
    zb_pg_job *running[2] = {NULL, NULL};
    assert_int_equal(zb_pg_schedule_next(queue, 2, running, 2, 1, 0), 1);
    assert_int_equal(zb_pg_schedule_next(queue, 2, running, 2, 0, 0), 0);
    assert_int_equal(zb_pg_schedule_next(queue, 1, running, 2, 0, 1), -1);

    /* a new table goes to a connection without a table still loading, then
     * one not running a statement, then the one with the fewest bytes waiting */
    int open[3] = {1, 0, 0};
    unsigned long long pending[3] = {0, 50, 10};
    zb_pg_job *runs[3] = {NULL, NULL, &heavy};
    assert_int_equal(zb_pg_schedule_table_worker(open, pending, runs, 3), 1);
    runs[2] = NULL;
    assert_int_equal(zb_pg_schedule_table_worker(open, pending, runs, 3), 2);
    open[0] = 0;
    assert_int_equal(zb_pg_schedule_table_worker(open, pending, runs, 3), 0);
}

/* A small table's statements go in one message with the one picked, in an
 * order that keeps a step after its item's earlier step; a large table's,
 * another table's, a foreign key, one whose lock conflicts with another
 * connection's running job, and one that must wait for a job outside the
 * group never do. ANALYZE of small tables goes together. */
static void schedule_groups_small_statements(void **state)
{
    (void)state;
    zb_pg_job index = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 1, 0);
    zb_pg_job key = stmt(A, ZB_PG_LOCK_ACCESS_EXCLUSIVE, NONE, 0, 10, 1, 1);
    zb_pg_job other = stmt(B, ZB_PG_LOCK_SHARE, NONE, 0, 10, 2, 0);
    zb_pg_job fk = stmt(A, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE, B, ZB_PG_LOCK_ROW_SHARE, 10, 3, 0);
    zb_pg_job big = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 4, 0);
    zb_pg_job second = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 5, 0);
    index.small = key.small = other.small = fk.small = second.small = 1;
    zb_pg_job *queue[] = {&index, &key, &other, &fk, &big, &second};
    zb_pg_job *running[2] = {NULL, NULL};
    size_t group[8];
    assert_int_equal(zb_pg_schedule_next(queue, 6, running, 2, 0, 0), 0);
    assert_int_equal(zb_pg_schedule_group(queue, 6, running, 2, 0, 0, group, 8), 3);
    assert_int_equal(group[0], 0);
    assert_int_equal(group[1], 1);
    assert_int_equal(group[2], 5);
    /* a step waits for its item's earlier step when that one is not in the group */
    zb_pg_job big_index = stmt(A, ZB_PG_LOCK_SHARE, NONE, 0, 10, 8, 0);
    zb_pg_job its_key = stmt(A, ZB_PG_LOCK_ACCESS_EXCLUSIVE, NONE, 0, 10, 8, 1);
    its_key.small = 1;
    zb_pg_job *steps[] = {&big_index, &its_key, &second};
    assert_int_equal(zb_pg_schedule_group(steps, 3, running, 2, 0, 2, group, 8), 1);
    /* from a later pick, the earlier free ones come after it, in queue order */
    assert_int_equal(zb_pg_schedule_group(queue, 6, running, 2, 0, 5, group, 8), 3);
    assert_int_equal(group[1], 0);
    assert_int_equal(group[2], 1);
    /* room for two only */
    assert_int_equal(zb_pg_schedule_group(queue, 6, running, 2, 0, 0, group, 2), 2);
    /* another connection's job on the table blocks what conflicts with it */
    zb_pg_job validate = stmt(A, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NONE, 0, 10, 9, 0);
    running[1] = &validate;
    zb_pg_job *later[] = {&second, &key};
    key.item = 7;
    assert_int_equal(zb_pg_schedule_group(later, 2, running, 2, 0, 0, group, 8), 1);
    running[1] = NULL;
    /* a large table's statement takes no others with it */
    assert_int_equal(zb_pg_schedule_group(queue, 6, running, 2, 0, 4, group, 8), 1);

    zb_pg_job analyze_a = stmt(A, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NONE, 0, 0, 0, 0);
    zb_pg_job analyze_b = stmt(B, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NONE, 0, 0, 0, 1);
    zb_pg_job analyze_c = stmt(C, ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE, NONE, 0, 0, 0, 2);
    analyze_a.after_table = analyze_b.after_table = analyze_c.after_table = 1;
    analyze_a.small = analyze_b.small = 1;
    zb_pg_job *analyses[] = {&analyze_a, &analyze_b, &analyze_c};
    assert_int_equal(zb_pg_schedule_group(analyses, 3, running, 2, 0, 0, group, 8), 2);
    assert_int_equal(group[1], 1);
}

ZB_TEST_MAIN(lock_conflicts_are_the_servers, schedule_keeps_locks_and_dependency_order,
             schedule_finishes_a_cycle_of_references, schedule_is_deterministic_and_parallel,
             schedule_gives_loading_work_to_its_connection, schedule_groups_small_statements)
