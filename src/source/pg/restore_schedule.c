#include "zakpos_backup/source/pg/restore_schedule.h"

int zb_pg_job_is_loading(const zb_pg_job *j) { return j->table || j->ends_loading; }

int zb_pg_lock_conflicts(int held, int wanted)
{
    static const int conflicts[] = {
        [0] = ZB_PG_LOCK_ACCESS_EXCLUSIVE,
        [1] = ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE | ZB_PG_LOCK_SHARE | ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE |
              ZB_PG_LOCK_ACCESS_EXCLUSIVE,
        [2] = ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE | ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE | ZB_PG_LOCK_ACCESS_EXCLUSIVE,
        [3] = ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE | ZB_PG_LOCK_SHARE | ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE |
              ZB_PG_LOCK_ACCESS_EXCLUSIVE,
        [4] = ~0,
    };
    for (int bit = 0; bit < 5; bit++)
        if (held == 1 << bit)
            return (conflicts[bit] & wanted) != 0;
    return 1;
}

static int same_table(long a, long b) { return a != ZB_PG_NO_RELATION && a == b; }

/* Whether a and b would wait for each other's locks. */
int zb_pg_jobs_conflict(const zb_pg_job *a, const zb_pg_job *b)
{
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            if (same_table(a->locks[i], b->locks[k]) && zb_pg_lock_conflicts(a->modes[i], b->modes[k]))
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
int zb_pg_job_must_follow(const zb_pg_job *j, const zb_pg_job *e)
{
    return (j->item && j->item == e->item) || same_table(e->locks[0], j->locks[1]) ||
           (j->after_table && same_table(e->locks[0], j->locks[0]));
}

/* The job a worker runs next (called with the lock held): the first one
 * only it may run (its tables' chunks and commits: loading goes first, as
 * the archive's stream waits for it), else, outside a loading transaction,
 * the heaviest queued job free to start, of equals the first in the
 * table of contents. Inside
 * one, a statement would keep its locks until the transaction's tables are
 * all in, and a key waiting for them could stall the stream those tables'
 * rows come by. */
/* Whether a goes before b: heavier, or as heavy and earlier in the table
 * of contents (not in the queue, whose order among equals depends on when
 * tables were committed). */
static int heavier(const zb_pg_job *a, const zb_pg_job *b)
{
    return a->weight > b->weight || (a->weight == b->weight && a->key < b->key);
}

long zb_pg_schedule_next(zb_pg_job *const *queue, size_t queued, zb_pg_job *const *running, int workers, int worker,
                         int loading)
{
    for (size_t i = 0; i < queued; i++)
        if (queue[i]->worker == worker)
            return (long)i;
    if (loading)
        return -1;
    long best = -1;
    for (size_t i = 0; i < queued; i++) {
        const zb_pg_job *j = queue[i];
        if ((j->worker >= 0 && j->worker != worker) || (best >= 0 && !heavier(j, queue[best])))
            continue;
        int blocked = 0;
        for (int w = 0; !blocked && w < workers; w++)
            blocked = running[w] && zb_pg_jobs_conflict(j, running[w]);
        for (size_t e = 0; !blocked && e < i; e++)
            blocked = zb_pg_job_must_follow(j, queue[e]);
        if (!blocked)
            best = (long)i;
    }
    return best;
}

/* Whether k may go in first's query message, locks aside. ANALYZE of
 * several tables together: nothing queued after an ANALYZE works on its
 * table (they are queued last), so the other tables' locks, unseen by the
 * other connections' scheduling, stop none of their work. */
static int groups_with(const zb_pg_job *first, const zb_pg_job *k)
{
    if (!first->small || !k->small || k->table || k->ends_loading || k->ends_table)
        return 0;
    if (first->after_table && k->after_table)
        return 1;
    return !first->after_table && !k->after_table && same_table(first->locks[0], k->locks[0]) &&
           first->locks[1] == ZB_PG_NO_RELATION && k->locks[1] == ZB_PG_NO_RELATION;
}

static int in_group(const size_t *group, size_t count, size_t i)
{
    for (size_t g = 0; g < count; g++)
        if (group[g] == i)
            return 1;
    return 0;
}

/* Looks at the first entries of the queue only: a group saves round trips,
 * it need not be the largest possible. */
#define GROUP_SCAN 1024u

size_t zb_pg_schedule_group(zb_pg_job *const *queue, size_t queued, zb_pg_job *const *running, int workers, int worker,
                            size_t first, size_t *group, size_t max)
{
    size_t count = 0;
    if (max == 0 || first >= queued)
        return 0;
    group[count++] = first;
    const zb_pg_job *f = queue[first];
    for (size_t i = 0; i < queued && i < GROUP_SCAN && count < max; i++) {
        const zb_pg_job *k = queue[i];
        if (i == first || (k->worker >= 0 && k->worker != worker) || !groups_with(f, k))
            continue;
        int blocked = 0;
        for (int w = 0; !blocked && w < workers; w++)
            blocked = w != worker && running[w] && zb_pg_jobs_conflict(k, running[w]);
        for (size_t e = 0; !blocked && e < i; e++)
            blocked = !in_group(group, count, e) && zb_pg_job_must_follow(k, queue[e]);
        if (!blocked)
            group[count++] = i;
    }
    return count;
}

/* Whether a connection is busy with a statement (an index build, say),
 * so that rows given to it would wait. */
static int running_statement(zb_pg_job *const *running, int w)
{
    return running[w] && !zb_pg_job_is_loading(running[w]);
}

/* The connection for a new table: one without a table still loading if
 * any (so its transaction can commit at the table's end), then one not
 * busy with a statement, then the one with the fewest bytes waiting. */
int zb_pg_schedule_table_worker(const int *open, const unsigned long long *pending, zb_pg_job *const *running,
                                int workers)
{
    int best = 0;
    for (int w = 1; w < workers; w++) {
        int d = open[w] - open[best];
        if (d == 0)
            d = running_statement(running, w) - running_statement(running, best);
        if (d < 0 || (d == 0 && pending[w] < pending[best]))
            best = w;
    }
    return best;
}
