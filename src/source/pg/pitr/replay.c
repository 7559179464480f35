#include "zakpos_backup/source/pg/pitr/replay.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/copyrow.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/passed.h"
#include "zakpos_backup/source/pg/pitr/rows.h"
#include "zakpos_backup/source/pg/pitr/segment.h"
#include "zakpos_backup/source/pg/pitr/window.h"
#include "zakpos_backup/source/pg/pitr/xidsnap.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Updates or deletes by key of one table, waiting to go as one UPDATE …
 * FROM (VALUES …) or DELETE … USING (VALUES …): rows that set the same
 * columns (a delete: its key's), each key once, as one statement changes a
 * row only once (a second update of a key replaces the values waiting; a
 * second delete sends the batch first). */
#define BATCH_ROWS  256
#define BATCH_BYTES (1u << 20)
typedef struct update_batch {
    char kind;       /* 'u' updates, 'd' deletes */
    char *sets;      /* per column: 's' a value of the batch's rows, '-' none (an unchanged TOAST value; not a key) */
    zb_buf values;   /* the rows' values, each NUL-terminated */
    size_t *offsets; /* per value: its offset in values, SIZE_MAX for NULL */
    size_t value_count, offsets_cap, rows;
    uint64_t keys[BATCH_ROWS * 2];     /* hashes of the rows' keys, open addressing, 0 empty */
    uint32_t key_rows[BATCH_ROWS * 2]; /* the row each hash belongs to */
} update_batch;

/* A relation of the stream, with its names quoted once for the target. */
typedef struct replay_relation {
    zb_pgo_relation rel;
    char *table;    /* "schema"."name" */
    char **columns; /* quoted column names */
    int selected;
    /* the table's rows as the stream tells them: the snapshot's count, then
     * each insert, delete and truncate applied (rows_known 0: the snapshot
     * does not record the table, so nothing is checked) */
    long long rows;
    int rows_known;
    /* inserts waiting for one COPY, as its text lines */
    zb_buf copy;
    size_t copy_rows;
    update_batch *batch; /* NULL until the table's first update or delete by key */
} replay_relation;

/* A change sent in the pipeline whose result is still to be read. */
typedef struct replay_pending {
    size_t relation; /* index in relations (for the message) */
    size_t touch;    /* rows it must find: 1 for an UPDATE or DELETE, a batch's rows */
} replay_pending;

/* Changes go to the server in a pipeline (libpq 14+): sent without waiting
 * for each result, the results read every PIPELINE_DEPTH changes and before
 * anything else runs on the connection, each still checked, in order. The
 * round trip per row was most of replay's time. */
#define PIPELINE_DEPTH 512
/* Statements prepared once per text (a relation, a kind of change, which
 * values are NULL): the server parses and plans each only once. Past the
 * limit, changes go unnamed as before. */
#define PREPARED_SLOTS 1024
#define PREPARED_LIMIT (PREPARED_SLOTS / 2)
typedef struct replay_pipeline {
    int active;
    size_t pending;
    replay_pending queue[PIPELINE_DEPTH];
    char *prepared[PREPARED_SLOTS]; /* statement texts, open addressing by hash; slot i is "zb_replay_<i>" */
    size_t prepared_count;
} replay_pipeline;

typedef struct replay {
    const zb_pitr_replay_options *opts;
    PGconn *conn;
    replay_relation *relations;
    size_t relation_count;
    uint64_t base_lsn;
    uint64_t snapshot_lsn; /* segments ending before it are not checked by row count (see the options) */
    int in_tx, skip_tx;
    zb_xid_snapshot snapshot; /* with opts->snapshot: what the starting snapshot holds */
    zb_pitr_replay_result *result;
    zb_buf sql;
    const char **params;
    int lost_change; /* a test build's seeded loss of one change happened */
    replay_pipeline pipe;
    /* Inserts wait per table for one COPY, sent when anything else touches
     * that table (an update, a delete, a TRUNCATE, its Relation message),
     * when COPY_FLUSH_BYTES wait, and before the segment's commit. Only with
     * triggers and foreign-key checks off (reorder): then changes to
     * different tables commute, and within one table the order is kept. */
    int reorder;
    size_t copy_bytes;
    /* One target transaction holds many segments (COMMIT_CHANGES): fewer
     * commits, and a table's waiting changes go on across segments. Replay
     * runs in a database nobody else sees until it is verified, so how its
     * changes are grouped into transactions shows nowhere. */
    int tx_open;
    unsigned long long tx_first_change;
    /* A later snapshot of the chain the replay passes (passed.h). The
     * stream's commit order and the snapshot's visibility differ near its
     * position: a transaction it does not hold may commit before one it
     * holds (its commit record written, the commit not yet visible). Such a
     * transaction waits in a spill file, its records as they came, until
     * the replay is past every transaction the snapshot holds (a commit at
     * or after the snapshot's lsn); the database is compared with the
     * snapshot there, and the waiting ones applied after it. Moving them is
     * safe: the later one held no lock of theirs (it committed while they
     * were still running), so they touched no row in common. */
    zb_pitr_passed passed;
    int passed_waiting; /* 1 until the point is reached (or the replay ends) */
    FILE *deferred;
    size_t deferred_count;
    int deferring;         /* inside a transaction that waits */
    int applying_deferred; /* its records read back from the spill file */
} replay;

/* Not more: a row updated again in the same transaction leaves a version
 * that cannot be pruned before the commit, so a table of few rows updated
 * often (stock) grows chains of versions each lookup walks; with
 * synchronous_commit off a commit costs little (100,000 was slower by a
 * fifth on the POS load, docs/BENCHMARKS.md). */
#define COMMIT_CHANGES 10000ULL

/* What waits for COPY in all tables at most: memory stays bounded whatever
 * a segment holds. */
#define COPY_FLUSH_BYTES (4u << 20)

static int flush_table(replay *p, replay_relation *r);

static void batch_free(update_batch *b)
{
    if (!b)
        return;
    free(b->sets);
    zb_buf_free(&b->values);
    free(b->offsets);
    free(b);
}

int zb_pitr_parse_time(double *out, const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    double fraction = 0;
    if (end && *end == '.') {
        char *after;
        fraction = strtod(end, &after);
        end = after;
    }
    if (!end || strcmp(end, "Z") != 0)
        return zb_error_set(ZB_EUSAGE,
                            "'%s' is not a UTC time like 2026-12-07T14:03:00Z (fractions of a second allowed)", text);
    *out = (double)timegm(&tm) + fraction;
    return 0;
}

static void relation_clear(replay_relation *r)
{
    for (int i = 0; r->columns && i < r->rel.column_count; i++)
        PQfreemem(r->columns[i]);
    free(r->columns);
    free(r->table);
    zb_buf_free(&r->copy);
    batch_free(r->batch);
    zb_pgo_relation_clear(&r->rel);
    memset(r, 0, sizeof(*r));
}

static replay_relation *find_relation(replay *p, uint32_t oid)
{
    for (size_t i = 0; i < p->relation_count; i++)
        if (p->relations[i].rel.oid == oid)
            return &p->relations[i];
    return NULL;
}

static int selected(const replay *p, const zb_pgo_relation *rel)
{
    if (!p->opts->tables)
        return 1;
    size_t sl = strlen(rel->schema);
    for (const char *const *t = p->opts->tables; *t; t++)
        if (strncmp(*t, rel->schema, sl) == 0 && (*t)[sl] == '.' && strcmp(*t + sl + 1, rel->name) == 0)
            return 1;
    return 0;
}

static int quote_relation(replay *p, replay_relation *r)
{
    char *schema = PQescapeIdentifier(p->conn, r->rel.schema, strlen(r->rel.schema));
    char *name = PQescapeIdentifier(p->conn, r->rel.name, strlen(r->rel.name));
    zb_buf t = ZB_BUF_INIT;
    int rc = schema && name ? zb_buf_printf(&t, "%s.%s", schema, name) : zb_error_set(ZB_ENOMEM, "out of memory");
    PQfreemem(schema);
    PQfreemem(name);
    if (rc == 0)
        r->table = zb_buf_detach(&t);
    zb_buf_free(&t);
    r->columns = rc == 0 ? calloc((size_t)r->rel.column_count + 1, sizeof(char *)) : NULL;
    if (rc == 0 && !r->columns)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < r->rel.column_count; i++)
        if (!(r->columns[i] = PQescapeIdentifier(p->conn, r->rel.columns[i].name, strlen(r->rel.columns[i].name))))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    return rc;
}

static int same_relation(const zb_pgo_relation *a, const zb_pgo_relation *b)
{
    if (a->column_count != b->column_count || a->identity != b->identity || strcmp(a->schema, b->schema) != 0 ||
        strcmp(a->name, b->name) != 0)
        return 0;
    for (int i = 0; i < a->column_count; i++) {
        const zb_pgo_column *x = &a->columns[i], *y = &b->columns[i];
        if (x->flags != y->flags || x->type_oid != y->type_oid || x->typmod != y->typmod ||
            strcmp(x->name, y->name) != 0)
            return 0;
    }
    return 1;
}

static int on_relation(replay *p, zb_pgo_msg *msg)
{
    replay_relation *r = find_relation(p, msg->relation.oid);
    /* every segment starts with the relations: as they were, the table's
     * waiting changes keep waiting */
    if (r && same_relation(&r->rel, &msg->relation))
        return 0;
    long long rows = 0;
    int rows_known = 0;
    if (r) {
        /* announced again (every segment starts with the relations): the
         * count goes on; its waiting changes go with the columns they had */
        int rc = flush_table(p, r);
        if (rc < 0)
            return rc;
        rows = r->rows, rows_known = r->rows_known;
        relation_clear(r);
    } else {
        replay_relation *grown = realloc(p->relations, (p->relation_count + 1) * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        p->relations = grown;
        r = &p->relations[p->relation_count++];
        memset(r, 0, sizeof(*r));
    }
    zb_pgo_relation_take(&r->rel, msg);
    r->selected = selected(p, &r->rel);
    r->rows = rows, r->rows_known = rows_known;
    if (!r->rows_known && zb_pitr_snapshot_rows(&r->rows, p->opts->snapshot_tables, r->rel.schema, r->rel.name))
        r->rows_known = 1;
    return quote_relation(p, r);
}

static int param(replay *p, int *n, const char *value)
{
    p->params[(*n)++] = value;
    return zb_buf_printf(&p->sql, "$%d", *n);
}

/* WHERE: the key columns of the old row (or of the new one when the key did
 * not change); with REPLICA IDENTITY FULL every column, matched with IS NOT
 * DISTINCT FROM (NULLs too) and one row only (duplicates are possible). */
static int where_clause(replay *p, const replay_relation *r, const zb_pgo_tuple *key, int *n)
{
    int full = r->rel.identity == 'f', any = 0, rc = zb_buf_puts(&p->sql, " WHERE ");
    if (rc == 0 && full)
        rc = zb_buf_printf(&p->sql, "ctid = (SELECT ctid FROM ONLY %s WHERE ", r->table);
    for (int i = 0; rc == 0 && i < key->column_count && i < r->rel.column_count; i++) {
        if (!full && !(r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY))
            continue;
        if (key->kinds[i] == 'u')
            continue;
        rc = zb_buf_printf(&p->sql, "%s%s", any++ ? " AND " : "", r->columns[i]);
        if (rc == 0 && key->kinds[i] == 'n')
            rc = zb_buf_puts(&p->sql, " IS NULL");
        else if (rc == 0)
            rc = zb_buf_puts(&p->sql, full ? " IS NOT DISTINCT FROM " : " = ");
        if (rc == 0 && key->kinds[i] != 'n')
            rc = param(p, n, key->values[i]);
    }
    if (rc == 0 && !any)
        rc = zb_error_set(ZB_EFORMAT, "a change to %s without a key to find its row", r->table);
    if (rc == 0 && full)
        rc = zb_buf_puts(&p->sql, " LIMIT 1)");
    return rc;
}

static int build_insert(replay *p, const replay_relation *r, const zb_pgo_tuple *row, int *n)
{
    int rc = zb_buf_printf(&p->sql, "INSERT INTO %s (", r->table), any = 0;
    for (int i = 0; rc == 0 && i < row->column_count && i < r->rel.column_count; i++)
        if (row->kinds[i] != 'u')
            rc = zb_buf_printf(&p->sql, "%s%s", any++ ? ", " : "", r->columns[i]);
    if (rc == 0)
        rc = zb_buf_puts(&p->sql, ") VALUES (");
    any = 0;
    for (int i = 0; rc == 0 && i < row->column_count && i < r->rel.column_count; i++) {
        if (row->kinds[i] == 'u')
            continue;
        rc = zb_buf_puts(&p->sql, any++ ? ", " : "");
        if (rc == 0)
            rc = row->kinds[i] == 'n' ? zb_buf_puts(&p->sql, "NULL") : param(p, n, row->values[i]);
    }
    return rc == 0 ? zb_buf_puts(&p->sql, ")") : rc;
}

static int build_update(replay *p, const replay_relation *r, const zb_pgo_msg *m, int *n)
{
    int rc = zb_buf_printf(&p->sql, "UPDATE ONLY %s SET ", r->table), any = 0;
    const zb_pgo_tuple *row = &m->new_tuple;
    for (int i = 0; rc == 0 && i < row->column_count && i < r->rel.column_count; i++) {
        if (row->kinds[i] == 'u') /* an unchanged TOAST value: kept as it is */
            continue;
        rc = zb_buf_printf(&p->sql, "%s%s = ", any++ ? ", " : "", r->columns[i]);
        if (rc == 0)
            rc = row->kinds[i] == 'n' ? zb_buf_puts(&p->sql, "NULL") : param(p, n, row->values[i]);
    }
    if (rc == 0 && !any) /* only unchanged TOAST values: nothing to set, but the row must exist */
        rc = zb_buf_printf(&p->sql, "%s = %s", r->columns[0], r->columns[0]);
    return rc == 0 ? where_clause(p, r, m->old_kind ? &m->old_tuple : row, n) : rc;
}

static int check_change(replay *p, PGresult *res, const replay_relation *r, size_t touch)
{
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = zb_pg_result_error(p->conn, res, "cannot replay a change");
    else if (touch && strtoull(PQcmdTuples(res), NULL, 10) < touch)
        rc = zb_error_set(ZB_EVERIFY,
                          "replay found no row of %s to change: the target does not match the stream "
                          "(was it changed since the restore?)",
                          r->table);
    if (rc < 0)
        zb_error_context("replay of %s", r->table);
    return rc;
}

/* A test build can make replay lose the first insert into one table, or
 * its first update (schema.name), as a bug on the way would: verification
 * must name it (an update changes no count: only the rows show it). */
static int lose_change(replay *p, const replay_relation *r, zb_pgo_kind kind)
{
    const char *table = kind == ZB_PGO_INSERT   ? ZB_FAULT_VALUE("pitr-replay-lose-change")
                        : kind == ZB_PGO_UPDATE ? ZB_FAULT_VALUE("pitr-replay-lose-update")
                                                : NULL;
    if (!table || p->lost_change)
        return 0;
    size_t sl = strlen(r->rel.schema);
    if (strncmp(table, r->rel.schema, sl) != 0 || table[sl] != '.' || strcmp(table + sl + 1, r->rel.name) != 0)
        return 0;
    p->lost_change = 1;
    return 1;
}

#ifdef LIBPQ_HAS_PIPELINING
/* Reads the results of every change sent, in order: one result and a NULL
 * per change (PGRES_PIPELINE_ABORTED after the first error), then the sync.
 * The first error is the one reported. */
static int pipeline_drain(replay *p)
{
    replay_pipeline *q = &p->pipe;
    if (!q->active || q->pending == 0)
        return 0;
    int rc = PQpipelineSync(p->conn) == 1
                 ? 0
                 : zb_error_set(ZB_EPG, "cannot send the replay's changes: %s", PQerrorMessage(p->conn));
    size_t got = 0;
    for (; rc == 0 && got < q->pending; got++) {
        PGresult *res = PQgetResult(p->conn);
        if (!res)
            rc = zb_error_set(ZB_EPG, "the server ended the replay: %s", PQerrorMessage(p->conn));
        else if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
            rc = check_change(p, res, &p->relations[q->queue[got].relation], q->queue[got].touch);
        PQclear(res);
        PQclear(PQgetResult(p->conn)); /* the end of this change's results */
    }
    for (; got < q->pending; got++) { /* after an error: aborted, read and dropped */
        PGresult *res = PQgetResult(p->conn);
        if (!res)
            break;
        PQclear(res);
        PQclear(PQgetResult(p->conn));
    }
    PGresult *sync = PQgetResult(p->conn);
    if (rc == 0 && PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        rc = zb_pg_result_error(p->conn, sync, "cannot replay the changes");
    PQclear(sync);
    q->pending = 0;
    return rc;
}

/* Before any statement outside the pipeline (TRUNCATE, COMMIT). */
static int pipeline_end(replay *p)
{
    int rc = pipeline_drain(p);
    if (p->pipe.active && PQexitPipelineMode(p->conn) == 1)
        p->pipe.active = 0;
    else if (rc == 0 && p->pipe.active)
        rc = zb_error_set(ZB_EPG, "cannot leave pipeline mode: %s", PQerrorMessage(p->conn));
    return rc;
}

/* The slot of this statement text: 1 if it is prepared already, 0 if it is
 * new (then taken: the caller prepares it), -1 if the cache is full. */
static int prepared_slot(replay_pipeline *q, const char *sql, size_t *slot)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)sql; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    for (size_t i = (size_t)(h % PREPARED_SLOTS);; i = (i + 1) % PREPARED_SLOTS) {
        if (q->prepared[i] && strcmp(q->prepared[i], sql) == 0)
            return *slot = i, 1;
        if (!q->prepared[i]) {
            if (q->prepared_count >= PREPARED_LIMIT || !(q->prepared[i] = zb_strdup(sql)))
                return -1;
            q->prepared_count++;
            return *slot = i, 0;
        }
    }
}

static void pipeline_queue(replay *p, const replay_relation *r, size_t touch)
{
    replay_pipeline *q = &p->pipe;
    q->queue[q->pending].relation = (size_t)(r - p->relations);
    q->queue[q->pending++].touch = touch;
}

/* libpq copies the statement and its values into its output buffer as
 * each is sent: nothing of the message needs to outlive the call. */
static int send_change(replay *p, const replay_relation *r, int n, const Oid *types)
{
    size_t slot = 0;
    int known = prepared_slot(&p->pipe, p->sql.data, &slot);
    if (known < 0)
        return PQsendQueryParams(p->conn, p->sql.data, n, types, p->params, NULL, NULL, 0);
    char name[32];
    snprintf(name, sizeof(name), "zb_replay_%zu", slot);
    if (!known) {
        if (PQsendPrepare(p->conn, name, p->sql.data, n, types) != 1)
            return 0;
        pipeline_queue(p, r, 0); /* its result: the statement was prepared */
    }
    return PQsendQueryPrepared(p->conn, name, n, p->params, NULL, NULL, 0);
}

/* A statement with its own types (a batch). A full batch (reuse) is
 * prepared like a single change: its text is the same each time, so it is
 * parsed and planned once (the text names the table and columns: the same
 * text has the same types). A shorter one goes unnamed: its text changes
 * with its rows, and would take the prepared statements' room. */
static int run_typed(replay *p, const replay_relation *r, int n, const Oid *types, size_t touch, int reuse)
{
    replay_pipeline *q = &p->pipe;
    if (!q->active && PQenterPipelineMode(p->conn) != 1)
        return zb_error_set(ZB_EPG, "cannot enter pipeline mode: %s", PQerrorMessage(p->conn));
    q->active = 1;
    if ((reuse ? send_change(p, r, n, types)
               : PQsendQueryParams(p->conn, p->sql.data, n, types, p->params, NULL, NULL, 0)) != 1)
        return zb_error_set(ZB_EPG, "cannot send changes of %s: %s", r->table, PQerrorMessage(p->conn));
    pipeline_queue(p, r, touch);
    return q->pending >= PIPELINE_DEPTH - 1 ? pipeline_drain(p) : 0;
}

static int run_change(replay *p, const replay_relation *r, int n, size_t must_touch)
{
    replay_pipeline *q = &p->pipe;
    if (!q->active && PQenterPipelineMode(p->conn) != 1)
        return zb_error_set(ZB_EPG, "cannot enter pipeline mode: %s", PQerrorMessage(p->conn));
    q->active = 1;
    if (send_change(p, r, n, NULL) != 1)
        return zb_error_set(ZB_EPG, "cannot send a change of %s: %s", r->table, PQerrorMessage(p->conn));
    pipeline_queue(p, r, must_touch);
    /* room for a prepare and its change before the next drain */
    return q->pending >= PIPELINE_DEPTH - 1 ? pipeline_drain(p) : 0;
}

static void pipeline_free(replay *p)
{
    for (size_t i = 0; i < PREPARED_SLOTS; i++)
        free(p->pipe.prepared[i]);
}
#else
static int pipeline_end(replay *p)
{
    (void)p;
    return 0;
}

static void pipeline_free(replay *p) { (void)p; }

static int run_typed(replay *p, const replay_relation *r, int n, const Oid *types, size_t touch, int reuse)
{
    (void)reuse;
    PGresult *res = PQexecParams(p->conn, p->sql.data, n, types, p->params, NULL, NULL, 0);
    int rc = check_change(p, res, r, touch);
    PQclear(res);
    return rc;
}

static int run_change(replay *p, const replay_relation *r, int n, size_t must_touch)
{
    return run_typed(p, r, n, NULL, must_touch, 0);
}
#endif

/* The table's waiting inserts as one COPY, after every change sent before
 * them (the pipeline drained first). */
static int copy_flush(replay *p, replay_relation *r)
{
    if (!r->copy_rows)
        return 0;
    zb_buf sql = ZB_BUF_INIT;
    PGresult *res = NULL;
    int rc = pipeline_end(p);
    if (rc == 0)
        rc = zb_buf_printf(&sql, "COPY %s (", r->table);
    for (int i = 0; rc == 0 && i < r->rel.column_count; i++)
        rc = zb_buf_printf(&sql, "%s%s", i ? ", " : "", r->columns[i]);
    if (rc == 0)
        rc = zb_buf_puts(&sql, ") FROM STDIN");
    if (rc == 0 && PQresultStatus(res = PQexec(p->conn, sql.data)) != PGRES_COPY_IN)
        rc = zb_pg_result_error(p->conn, res, "cannot start a COPY");
    PQclear(res);
    res = NULL;
    if (rc == 0 && (PQputCopyData(p->conn, r->copy.data, (int)r->copy.len) != 1 || PQputCopyEnd(p->conn, NULL) != 1))
        rc = zb_error_set(ZB_EPG, "cannot send the rows: %s", PQerrorMessage(p->conn));
    if (rc == 0 && PQresultStatus(res = PQgetResult(p->conn)) != PGRES_COMMAND_OK)
        rc = zb_pg_result_error(p->conn, res, "cannot replay the inserts");
    PQclear(res);
    while (rc == 0 && (res = PQgetResult(p->conn))) /* the end of the COPY's results */
        PQclear(res);
    if (rc < 0)
        zb_error_context("replay of %s", r->table);
    p->copy_bytes -= r->copy.len;
    zb_buf_reset(&r->copy);
    if (r->copy.cap > (256u << 10)) /* a large run's buffer is not kept for every table */
        zb_buf_free(&r->copy);
    r->copy_rows = 0;
    zb_buf_free(&sql);
    return rc;
}

static int copy_flush_all(replay *p)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->relation_count; i++)
        rc = copy_flush(p, &p->relations[i]);
    return rc;
}

/* An insert kept for the table's next COPY: 0, or 1 when the row cannot
 * be a COPY line (then it is applied on its own, after the waiting ones). */
static int batch_flush(replay *p, replay_relation *r);

static int queue_insert(replay *p, replay_relation *r, const zb_pgo_tuple *row)
{
    size_t before = r->copy.len;
    int rc = batch_flush(p, r); /* the table's updates waiting go first */
    if (rc == 0)
        rc = r->rel.column_count > 0 ? zb_pitr_copy_row_append(&r->copy, row, r->rel.column_count) : 1;
    if (rc != 0)
        return rc;
    r->rows++;
    if (lose_change(p, r, ZB_PGO_INSERT)) {
        r->copy.len = before;
        r->copy.data[before] = '\0';
        return 0;
    }
    r->copy_rows++;
    p->copy_bytes += r->copy.len - before;
    p->result->changes++;
    return p->copy_bytes >= COPY_FLUSH_BYTES ? copy_flush_all(p) : 0;
}

/* PostgreSQL's built-in types have the same OIDs on every server; a type
 * created in the database (an enum, a domain) has its own on the target. */
#define FIRST_NORMAL_OID 16384

/* Whether an UPDATE can wait in the table's batch, and which columns it
 * sets (sets[], one per column): replay may reorder (see copy_flush), the
 * row is found by its key (not REPLICA IDENTITY FULL), the key did not
 * change, every key value is there, and every column it names is of a
 * built-in type (the batch's values go typed). */
static int batchable(const replay *p, const replay_relation *r, const zb_pgo_msg *m, char *sets)
{
    const zb_pgo_tuple *row = &m->new_tuple;
    int keys = 0;
    if (!p->reorder || m->old_kind || (r->rel.identity != 'd' && r->rel.identity != 'i') ||
        row->column_count < r->rel.column_count)
        return 0;
    for (int i = 0; i < r->rel.column_count; i++) {
        const zb_pgo_column *c = &r->rel.columns[i];
        if (c->flags & ZB_PGO_COLUMN_KEY) {
            if (row->kinds[i] != 't')
                return 0;
            keys++;
        }
        sets[i] = row->kinds[i] == 'u' ? '-' : 's';
        if (sets[i] == 's' && c->type_oid >= FIRST_NORMAL_OID)
            return 0;
    }
    return keys > 0;
}

/* Whether a DELETE can wait in the table's batch, found by a key of
 * built-in types (sets[]: its key columns). */
static int deletable(const replay *p, const replay_relation *r, const zb_pgo_msg *m, char *sets)
{
    const zb_pgo_tuple *key = &m->old_tuple;
    int keys = 0;
    if (!p->reorder || (r->rel.identity != 'd' && r->rel.identity != 'i') || key->column_count < r->rel.column_count)
        return 0;
    for (int i = 0; i < r->rel.column_count; i++) {
        const zb_pgo_column *c = &r->rel.columns[i];
        sets[i] = '-';
        if (!(c->flags & ZB_PGO_COLUMN_KEY))
            continue;
        if (key->kinds[i] != 't' || c->type_oid >= FIRST_NORMAL_OID)
            return 0;
        sets[i] = 's', keys++;
    }
    return keys > 0;
}

static uint64_t key_hash(const replay_relation *r, const zb_pgo_tuple *row)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, the values apart by their NULs */
    for (int i = 0; i < r->rel.column_count; i++)
        if (r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY)
            for (const unsigned char *c = (const unsigned char *)row->values[i];; c++) {
                h = (h ^ *c) * 1099511628211ULL;
                if (!*c)
                    break;
            }
    return h ? h : 1;
}

/* 1 if the key's hash is in the batch already, else 0 and it is added;
 * *slot: where it is. */
static int batch_key_slot(update_batch *b, uint64_t h, size_t *slot)
{
    size_t size = sizeof(b->keys) / sizeof(b->keys[0]);
    for (size_t i = (size_t)(h % size);; i = (i + 1) % size) {
        *slot = i;
        if (b->keys[i] == h)
            return 1;
        if (!b->keys[i]) {
            b->keys[i] = h;
            return 0;
        }
    }
}

/* 1 if the batch's row number index has the same key values as row (not
 * merely the same hash). */
static int same_key(const update_batch *b, const replay_relation *r, size_t index, const zb_pgo_tuple *row)
{
    size_t v = index * (b->value_count / b->rows);
    for (int i = 0; i < r->rel.column_count; i++) {
        if (b->sets[i] != 's')
            continue;
        if ((r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY) &&
            (b->offsets[v] == SIZE_MAX || strcmp(b->values.data + b->offsets[v], row->values[i]) != 0))
            return 0;
        v++;
    }
    return 1;
}

/* The row's values of the batch's columns, from value number at on. */
static int batch_put_row(update_batch *b, const replay_relation *r, const zb_pgo_tuple *row, size_t at)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < r->rel.column_count; i++) {
        if (b->sets[i] != 's')
            continue;
        if (at == b->offsets_cap) {
            size_t cap = b->offsets_cap ? b->offsets_cap * 2 : 64;
            size_t *grown = realloc(b->offsets, cap * sizeof(*grown));
            if (!grown)
                return zb_error_set(ZB_ENOMEM, "out of memory");
            b->offsets = grown, b->offsets_cap = cap;
        }
        b->offsets[at++] = row->kinds[i] == 'n' ? SIZE_MAX : b->values.len;
        if (row->kinds[i] != 'n')
            rc = zb_buf_append(&b->values, row->values[i], strlen(row->values[i]) + 1);
    }
    return rc;
}

/* UPDATE ONLY t AS zb_t SET a = zb_v.c1, … FROM (VALUES ($1, …), …) AS
 * zb_v(c1, …) WHERE zb_t.key = zb_v.cK, or DELETE FROM ONLY t AS zb_t USING
 * (VALUES …) AS zb_v(cK, …) WHERE …: one statement for the batch's rows,
 * which must each find their row (each key once in a batch, so as many rows
 * changed as it has). */
static int batch_flush(replay *p, replay_relation *r)
{
    update_batch *b = r->batch;
    if (!b || !b->rows)
        return 0;
    size_t width = b->value_count / b->rows;
    Oid *types = calloc(b->value_count, sizeof(*types));
    const char **grown = realloc(p->params, b->value_count * sizeof(*grown));
    int rc = types && grown ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (grown)
        p->params = grown;
    zb_buf_reset(&p->sql);
    if (rc == 0 && b->kind == 'd')
        rc = zb_buf_printf(&p->sql, "DELETE FROM ONLY %s AS zb_t USING (VALUES ", r->table);
    else if (rc == 0)
        rc = zb_buf_printf(&p->sql, "UPDATE ONLY %s AS zb_t SET ", r->table);
    /* the key is the same in every row of the batch: not set again, unless
     * it is all the rows set (the row must exist all the same) */
    int set_any = 0;
    for (int i = 0; rc == 0 && b->kind == 'u' && i < r->rel.column_count; i++)
        if (b->sets[i] == 's' && !(r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY))
            rc = zb_buf_printf(&p->sql, "%s%s = zb_v.c%d", set_any++ ? ", " : "", r->columns[i], i);
    for (int i = 0; rc == 0 && b->kind == 'u' && !set_any && i < r->rel.column_count; i++)
        if (b->sets[i] == 's' && (r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY) && !set_any++)
            rc = zb_buf_printf(&p->sql, "%s = zb_v.c%d", r->columns[i], i);
    if (rc == 0 && b->kind == 'u')
        rc = zb_buf_puts(&p->sql, " FROM (VALUES ");
    for (size_t v = 0; rc == 0 && v < b->value_count; v++) {
        size_t column = v % width;
        rc = zb_buf_printf(&p->sql, "%s$%zu%s", column == 0 ? (v ? ", (" : "(") : ", ", v + 1,
                           column == width - 1 ? ")" : "");
        p->params[v] = b->offsets[v] == SIZE_MAX ? NULL : b->values.data + b->offsets[v];
    }
    if (rc == 0)
        rc = zb_buf_puts(&p->sql, ") AS zb_v(");
    for (int i = 0, any = 0, v = 0; rc == 0 && i < r->rel.column_count; i++) {
        if (b->sets[i] != 's')
            continue;
        for (size_t row = 0; row < b->rows; row++)
            types[row * width + (size_t)v] = r->rel.columns[i].type_oid;
        v++;
        rc = zb_buf_printf(&p->sql, "%sc%d", any++ ? ", " : "", i);
    }
    if (rc == 0)
        rc = zb_buf_puts(&p->sql, ") WHERE ");
    for (int i = 0, any = 0; rc == 0 && i < r->rel.column_count; i++)
        if (r->rel.columns[i].flags & ZB_PGO_COLUMN_KEY)
            rc = zb_buf_printf(&p->sql, "%szb_t.%s = zb_v.c%d", any++ ? " AND " : "", r->columns[i], i);
    if (rc == 0)
        rc = run_typed(p, r, (int)b->value_count, types, b->rows, b->rows == BATCH_ROWS);
    free(types);
    zb_buf_reset(&b->values);
    memset(b->keys, 0, sizeof(b->keys));
    b->value_count = b->rows = 0;
    return rc;
}

/* An UPDATE (kind 'u', row its new values) or a DELETE ('d', row its key)
 * kept in the table's batch (the caller checked batchable or deletable). A
 * second update of a key in the batch replaces the first's values: both set
 * the same columns, so the row ends as the second leaves it, and one
 * statement changes a row only once. */
static int batch_add(replay *p, replay_relation *r, const zb_pgo_tuple *row, const char *sets, char kind)
{
    int n = r->rel.column_count, seen = 0;
    update_batch *b = r->batch;
    uint64_t h = key_hash(r, row);
    size_t slot = 0;
    int rc = copy_flush(p, r); /* the table's inserts waiting go first */
    if (rc == 0 && b && b->rows &&
        (b->kind != kind || memcmp(b->sets, sets, (size_t)n) != 0 || b->rows >= BATCH_ROWS ||
         b->values.len >= BATCH_BYTES))
        rc = batch_flush(p, r);
    else if (rc == 0 && b && b->rows && (seen = batch_key_slot(b, h, &slot)) &&
             !(kind == 'u' && same_key(b, r, b->key_rows[slot], row)))
        rc = batch_flush(p, r), seen = 0; /* two keys with one hash, or a key deleted twice */
    if (rc == 0 && !b) {
        b = r->batch = calloc(1, sizeof(*b));
        if (!b || !(b->sets = malloc((size_t)n)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    if (rc < 0)
        return rc;
    if (!b->rows) {
        b->kind = kind;
        memcpy(b->sets, sets, (size_t)n);
    }
    if (seen) {
        rc = batch_put_row(b, r, row, b->key_rows[slot] * (b->value_count / b->rows));
    } else {
        size_t width = 0;
        for (int i = 0; i < n; i++)
            width += sets[i] == 's';
        batch_key_slot(b, h, &slot);
        b->key_rows[slot] = (uint32_t)b->rows;
        if ((rc = batch_put_row(b, r, row, b->value_count)) == 0)
            b->value_count += width, b->rows++;
    }
    if (rc == 0)
        p->result->changes++;
    return rc;
}

static int flush_table(replay *p, replay_relation *r)
{
    int rc = batch_flush(p, r);
    return rc == 0 ? copy_flush(p, r) : rc;
}

static int flush_all(replay *p)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->relation_count; i++)
        rc = flush_table(p, &p->relations[i]);
    return rc;
}

static int apply_change(replay *p, const zb_pgo_msg *m)
{
    replay_relation *r = find_relation(p, m->relation_oid);
    if (!r)
        return zb_error_set(ZB_EFORMAT, "a change to relation %u before its Relation message", m->relation_oid);
    if (!r->selected)
        return 0;
    if (m->kind == ZB_PGO_INSERT && p->reorder) {
        int queued = queue_insert(p, r, &m->new_tuple);
        if (queued <= 0)
            return queued;
    }
    if (m->kind == ZB_PGO_UPDATE && lose_change(p, r, m->kind))
        return 0;
    char *sets = m->kind != ZB_PGO_INSERT ? malloc((size_t)r->rel.column_count + 1) : NULL;
    if (sets && m->kind == ZB_PGO_UPDATE && batchable(p, r, m, sets)) {
        int rc = batch_add(p, r, &m->new_tuple, sets, 'u');
        free(sets);
        return rc;
    }
    if (sets && m->kind == ZB_PGO_DELETE && deletable(p, r, m, sets)) {
        int rc = batch_add(p, r, &m->old_tuple, sets, 'd');
        free(sets);
        r->rows -= rc == 0;
        return rc;
    }
    free(sets);
    int cols = r->rel.column_count * 2 + 1, n = 0, rc = flush_table(p, r);
    if (rc < 0)
        return rc;
    const char **grown = realloc(p->params, (size_t)cols * sizeof(*grown));
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    p->params = grown;
    zb_buf_reset(&p->sql);
    if (m->kind == ZB_PGO_INSERT)
        rc = build_insert(p, r, &m->new_tuple, &n);
    else if (m->kind == ZB_PGO_UPDATE)
        rc = build_update(p, r, m, &n);
    else {
        rc = zb_buf_printf(&p->sql, "DELETE FROM ONLY %s", r->table);
        if (rc == 0)
            rc = where_clause(p, r, &m->old_tuple, &n);
    }
    if (m->kind == ZB_PGO_INSERT)
        r->rows++;
    else if (m->kind == ZB_PGO_DELETE)
        r->rows--;
    if (rc == 0 && lose_change(p, r, m->kind))
        return 0;
    if (rc == 0)
        rc = run_change(p, r, n, m->kind != ZB_PGO_INSERT);
    if (rc == 0)
        p->result->changes++;
    return rc;
}

static int apply_truncate(replay *p, const zb_pgo_msg *m)
{
    int rc = flush_all(p), any = 0;
    if (rc == 0)
        rc = pipeline_end(p);
    if (rc < 0)
        return rc;
    zb_buf_reset(&p->sql);
    rc = zb_buf_puts(&p->sql, "TRUNCATE ONLY ");
    for (uint32_t i = 0; rc == 0 && i < m->truncate_count; i++) {
        replay_relation *r = find_relation(p, m->truncate_oids[i]);
        if (!r)
            return zb_error_set(ZB_EFORMAT, "a TRUNCATE of relation %u before its Relation message",
                                m->truncate_oids[i]);
        r->rows = 0;
        if (r->selected)
            rc = zb_buf_printf(&p->sql, "%s%s", any++ ? ", " : "", r->table);
    }
    if (rc < 0 || !any)
        return rc;
    if (m->truncate_options & ZB_PGO_TRUNCATE_RESTART_IDENTITY)
        rc = zb_buf_puts(&p->sql, " RESTART IDENTITY");
    if (rc == 0)
        rc = zb_pg_exec(p->conn, p->sql.data, "cannot replay a TRUNCATE");
    if (rc == 0)
        p->result->changes++;
    return rc;
}

static int past_target(const replay *p, const zb_pgo_msg *begin)
{
    const zb_pitr_target *t = &p->opts->target;
    if (t->by_lsn && begin->final_lsn > t->until_lsn)
        return 1;
    return t->by_time && zb_pgo_time_to_unix(begin->commit_time) > t->until;
}

/* In the snapshot already, or applied from an earlier segment (a stream
 * the follower resumed may repeat a transaction). From a chain's base the
 * slot's consistent point divides the stream; from any other snapshot only
 * its xids do: a transaction may commit before the WAL position read ahead
 * of the snapshot and still be invisible in it (it was finishing its
 * commit), or after it and be visible. */
static int in_snapshot(const replay *p, const zb_pgo_msg *begin)
{
    if (!p->opts->snapshot)
        return begin->final_lsn < p->base_lsn || begin->final_lsn < p->result->last_lsn;
    return zb_xid_visible(&p->snapshot, begin->xid) ||
           (p->result->transactions > 0 && begin->final_lsn < p->result->last_lsn);
}

/* Each record of a transaction that waits (see replay.passed) as it came:
 * its LSN, length and bytes. */
static int defer_record(replay *p, uint64_t lsn, const uint8_t *data, size_t len)
{
    uint32_t n = (uint32_t)len;
    if (!p->deferred && !(p->deferred = tmpfile()))
        return zb_error_set(ZB_EIO, "cannot create a spill file for the replay: %s", strerror(errno));
    if (len > UINT32_MAX || fwrite(&lsn, sizeof(lsn), 1, p->deferred) != 1 ||
        fwrite(&n, sizeof(n), 1, p->deferred) != 1 || (n && fwrite(data, n, 1, p->deferred) != 1))
        return zb_error_set(ZB_EIO, "cannot write the replay's spill file: %s", strerror(errno));
    return 0;
}

static int on_record(uint64_t lsn, const uint8_t *data, size_t len, void *payload);
static int replay_commit(replay *p);

/* The transactions that waited, applied in their commit order. */
static int apply_deferred(replay *p)
{
    if (!p->deferred)
        return 0;
    int rc = p->tx_open ? 0 : zb_pg_exec(p->conn, "BEGIN", "cannot start the replay");
    if (rc == 0 && !p->tx_open)
        p->tx_open = 1, p->tx_first_change = p->result->changes;
    if (rc == 0 && fseek(p->deferred, 0, SEEK_SET) != 0)
        rc = zb_error_set(ZB_EIO, "cannot read the replay's spill file: %s", strerror(errno));
    zb_buf record = ZB_BUF_INIT;
    uint64_t lsn;
    uint32_t n;
    p->applying_deferred = 1;
    while (rc == 0 && fread(&lsn, sizeof(lsn), 1, p->deferred) == 1) {
        zb_buf_reset(&record);
        if (fread(&n, sizeof(n), 1, p->deferred) != 1 || zb_buf_reserve(&record, (size_t)n + 1) < 0 ||
            (n && fread(record.data, n, 1, p->deferred) != 1))
            rc = zb_error_code() < 0 ? zb_error_code() : zb_error_set(ZB_EIO, "the replay's spill file is cut short");
        if (rc == 0)
            rc = on_record(lsn, (const uint8_t *)record.data, n, p);
    }
    p->applying_deferred = 0;
    zb_buf_free(&record);
    fclose(p->deferred);
    p->deferred = NULL;
    p->deferred_count = 0;
    return rc;
}

static char *plain_name(const replay_relation *r);

/* The replay holds exactly what the later snapshot holds: everything
 * waiting sent and committed, then the tables the stream names compared
 * with the snapshot's rows, then a new target transaction. */
static int compare_passed(replay *p)
{
    int rc = replay_commit(p);
    char **names = calloc(p->relation_count + 1, sizeof(*names));
    size_t count = 0;
    if (rc == 0 && !names)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < p->relation_count; i++)
        if (p->relations[i].selected && !(names[count++] = plain_name(&p->relations[i])))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    zb_pg_verify_options vo;
    memset(&vo, 0, sizeof(vo));
    vo.conninfo = p->opts->conninfo, vo.password_file = p->opts->password_file, vo.dbname = p->opts->dbname;
    if (rc == 0)
        rc = zb_pitr_passed_compare(&p->result->tables_compared, &p->passed, p->opts->keys, p->opts->source, &vo,
                                    (const char *const *)names);
    if (rc == 0)
        snprintf(p->result->compared_with, sizeof(p->result->compared_with), "%s", p->passed.archive);
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
    if (rc == 0)
        rc = zb_pg_exec(p->conn, "BEGIN", "cannot start the replay");
    if (rc == 0)
        p->tx_open = 1, p->tx_first_change = p->result->changes;
    return rc;
}

/* The replay reached the later snapshot's position (exact: past every
 * transaction it holds) or stops before it is sure to be (the target, the
 * chain's end): compared only in the first case. */
static int passed_point(replay *p, int exact)
{
    p->passed_waiting = 0;
    int rc = exact ? compare_passed(p) : 0;
    if (!exact)
        zb_log_detail("the replay stops before it is past snapshot %s: not compared with it", p->passed.archive);
    return rc == 0 ? apply_deferred(p) : rc;
}

static int on_begin(replay *p, const zb_pgo_msg *m, uint64_t lsn, const uint8_t *data, size_t len)
{
    if (p->applying_deferred) {
        p->in_tx = 1, p->skip_tx = 0;
        return 0;
    }
    int past = past_target(p, m), rc = 0;
    if (p->passed_waiting && (past || m->final_lsn >= p->passed.lsn))
        rc = passed_point(p, m->final_lsn >= p->passed.lsn);
    if (rc < 0)
        return rc;
    if (past) {
        p->result->reached_target = 1;
        return 1;
    }
    p->in_tx = 1;
    p->skip_tx = in_snapshot(p, m);
    if (p->passed_waiting && !p->skip_tx && !zb_xid_visible(&p->passed.snapshot, m->xid)) {
        p->in_tx = 0, p->deferring = 1;
        return defer_record(p, lsn, data, len);
    }
    return 0;
}

/* A record of a transaction that waits: kept; its Relation messages count
 * for what follows it in the stream too. */
static int on_deferred_record(replay *p, zb_pgo_msg *m, uint64_t lsn, const uint8_t *data, size_t len)
{
    int rc = m->kind == ZB_PGO_RELATION ? on_relation(p, m) : 0;
    if (rc == 0)
        rc = defer_record(p, lsn, data, len);
    if (rc == 0 && m->kind == ZB_PGO_COMMIT) {
        p->deferring = 0;
        p->deferred_count++;
        /* a repeat of it in a resumed stream is skipped, as for the applied */
        p->result->last_lsn = m->end_lsn > p->result->last_lsn ? m->end_lsn : p->result->last_lsn;
    }
    return rc;
}

static int on_record(uint64_t lsn, const uint8_t *data, size_t len, void *payload)
{
    replay *p = payload;
    zb_pgo_msg m;
    int rc = zb_pgo_decode(&m, data, len);
    if (rc < 0)
        return rc;
    if (p->deferring) {
        rc = on_deferred_record(p, &m, lsn, data, len);
        zb_pgo_msg_clear(&m);
        return rc;
    }
    switch (m.kind) {
    case ZB_PGO_RELATION: rc = on_relation(p, &m); break;
    case ZB_PGO_BEGIN: rc = on_begin(p, &m, lsn, data, len); break;
    case ZB_PGO_COMMIT:
        if (p->in_tx && !p->skip_tx) {
            p->result->transactions++;
            if (!p->applying_deferred) /* a waiting one committed before what came after it */
                p->result->last_lsn = m.end_lsn, p->result->last_commit = m.commit_time;
        }
        p->in_tx = p->skip_tx = 0;
        break;
    case ZB_PGO_INSERT:
    case ZB_PGO_UPDATE:
    case ZB_PGO_DELETE:
        if (p->in_tx && !p->skip_tx)
            rc = apply_change(p, &m);
        break;
    case ZB_PGO_TRUNCATE:
        if (p->in_tx && !p->skip_tx)
            rc = apply_truncate(p, &m);
        break;
    default: break;
    }
    zb_pgo_msg_clear(&m);
    if (rc == 0 && zb_interrupted())
        rc = zb_error_set(ZB_EINTR, "replay interrupted");
    return rc;
}

/* Sequences move outside transactions: the values read when the segment
 * closed are at least what any commit inside it used. */
static int set_sequences(replay *p, json_t *sequences)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(sequences); i++) {
        json_t *s = json_array_get(sequences, i);
        const char *schema = json_string_value(json_object_get(s, "schema"));
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *value = json_string_value(json_object_get(s, "last_value"));
        if (!schema || !name || !value)
            continue;
        const char *params[3] = {schema, name, value};
        PGresult *res =
            PQexecParams(p->conn,
                         "SELECT pg_catalog.setval(pg_catalog.format('%I.%I', $1::text, $2::text)::regclass, "
                         "$3::bigint, true)",
                         3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = zb_pg_result_error(p->conn, res, "cannot set a sequence");
        PQclear(res);
    }
    return rc;
}

static char *plain_name(const replay_relation *r)
{
    zb_buf b = ZB_BUF_INIT;
    char *name = zb_buf_printf(&b, "%s.%s", r->rel.schema, r->rel.name) == 0 ? zb_buf_detach(&b) : NULL;
    zb_buf_free(&b);
    return name;
}

static int rows_differ(const replay_relation *r, long long expected, long long found, const char *where)
{
    char *name = plain_name(r);
    int rc = zb_error_set(ZB_EVERIFY, "replay verification: table %s should have %lld rows %s, found %lld",
                          name ? name : r->table, expected, where, found);
    free(name);
    return rc;
}

/* The follower's counts at the segment's close against the stream as
 * replayed: a difference means a transaction was skipped or applied twice. */
static int check_segment_rows(replay *p, json_t *rows, const char *path)
{
    for (size_t i = 0; rows && i < p->relation_count; i++) {
        replay_relation *r = &p->relations[i];
        char *name = r->rows_known && r->selected ? plain_name(r) : NULL;
        json_t *recorded = name ? json_object_get(rows, name) : NULL;
        free(name);
        if (!json_is_integer(recorded) || json_integer_value(recorded) == r->rows)
            continue;
        zb_buf where = ZB_BUF_INIT;
        zb_buf_printf(&where, "as counted through %s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        int rc = rows_differ(r, (long long)json_integer_value(recorded), r->rows, where.data ? where.data : "");
        zb_buf_free(&where);
        return rc;
    }
    return 0;
}

/* The recovered database against the stream: each table's count as the
 * snapshot and the changes applied say, against count(*). */
static int check_database_rows(replay *p)
{
    char lsn[32], where[64];
    zb_pgo_lsn_format(lsn, sizeof(lsn), p->result->last_lsn);
    snprintf(where, sizeof(where), "at %s", lsn);
    int rc = 0;
    unsigned int checked = 0;
    for (size_t i = 0; rc == 0 && i < p->relation_count; i++) {
        replay_relation *r = &p->relations[i];
        long long found = 0;
        if (!r->rows_known || !r->selected)
            continue;
        if ((rc = zb_pitr_count_rows(&found, p->conn, r->table)) == 0 && found != r->rows)
            rc = rows_differ(r, r->rows, found, where);
        checked++;
    }
    if (rc == 0)
        zb_log_detail("replay verified: the row counts of %u tables match the stream at %s", checked, lsn);
    return rc;
}

/* Everything waiting sent, every change's result checked, then COMMIT. */
static int replay_commit(replay *p)
{
    if (!p->tx_open)
        return 0;
    int rc = flush_all(p);
    if (rc == 0)
        rc = pipeline_end(p);
    if (rc == 0)
        rc = zb_pg_exec(p->conn, "COMMIT", "cannot commit the replay");
    p->tx_open = 0;
    return rc;
}

static int replay_segment(replay *p, const char *path, uint64_t end_lsn, json_t **sequences)
{
    json_t *meta = NULL;
    int rc = p->tx_open ? 0 : zb_pg_exec(p->conn, "BEGIN", "cannot start the replay");
    if (rc == 0 && !p->tx_open)
        p->tx_open = 1, p->tx_first_change = p->result->changes;
    if (rc == 0)
        rc = zb_pitr_segment_read(&meta, path, p->opts->keys, on_record, p);
    if ((rc == 0 || rc == 1) && (rc == 1 || p->result->changes - p->tx_first_change >= COMMIT_CHANGES)) {
        int commit = replay_commit(p);
        rc = commit < 0 ? commit : rc;
    }
    if (rc >= 0 && meta) {
        json_decref(*sequences);
        *sequences = json_incref(json_object_get(meta, "sequences"));
    }
    /* read whole: the replay stands where the follower recorded its counts,
     * unless transactions wait to be applied after a later snapshot's point */
    if (rc == 0 && meta && end_lsn >= p->snapshot_lsn && !p->deferred_count && !p->deferring)
        rc = check_segment_rows(p, json_object_get(meta, "rows"), path);
    json_decref(meta);
    p->result->segments++;
    return rc;
}

/* A chain a schema change ended: where and why, and which chain goes on. */
static int read_chain_end(replay *p, const char *dir)
{
    json_t *end = NULL;
    int rc = zb_pitr_chain_end_read(&end, dir);
    if (rc == 0 && end)
        snprintf(p->result->chain_end, sizeof(p->result->chain_end),
                 "the chain ends at %s (%s); chain %s goes on from there",
                 json_string_value(json_object_get(end, "end_lsn")),
                 json_string_value(json_object_get(end, "reason")) ?: "a schema change",
                 json_string_value(json_object_get(end, "next_chain")) ?: "?");
    json_decref(end);
    return rc;
}

/* A chain prune cut at its oldest kept snapshot starts there: a replay
 * from an older snapshot (its base) would miss the segments removed. */
static int cut_first_segment(unsigned int *first, const replay *p, const char *dir, const char *chain)
{
    json_t *cut = NULL;
    uint64_t from_lsn = 0;
    int rc = zb_pitr_chain_cut_read(&cut, dir);
    if (rc == 0 && cut)
        rc = zb_pgo_lsn_parse(&from_lsn, json_string_value(json_object_get(cut, "from_lsn")));
    if (rc == 0 && cut && p->base_lsn < from_lsn)
        rc = zb_error_set(ZB_ENOTFOUND,
                          "chain %s holds changes only from snapshot %s on: prune removed the segments before it, "
                          "so no recovery starts from an older snapshot\n"
                          "hint: recover to a point at or after %s, starting from that snapshot",
                          chain, json_string_value(json_object_get(cut, "base")),
                          json_string_value(json_object_get(cut, "base")));
    if (rc == 0 && cut)
        *first = (unsigned int)json_integer_value(json_object_get(cut, "first_segment"));
    json_decref(cut);
    return rc;
}

static int replay_chain(replay *p, json_t **sequences)
{
    const char *chain = json_string_value(json_object_get(p->opts->base, "chain"));
    char *dir = chain ? zb_pitr_chain_dir(p->opts->repo, chain) : NULL;
    char **paths = NULL;
    zb_pitr_segment_name *names = NULL;
    size_t count = 0;
    unsigned int first = 1;
    int rc = dir ? zb_pitr_segment_list(&paths, &names, &count, dir)
                 : zb_error_set(ZB_EFORMAT, "the archive's change-stream record names no chain");
    if (rc == 0)
        rc = cut_first_segment(&first, p, dir, chain);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (i > 0 && names[i].number != names[i - 1].number + 1)
            rc = zb_error_set(ZB_EINTEGRITY, "segment %u of chain %s is missing: the stream has a gap there",
                              names[i - 1].number + 1, chain);
        if (rc == 0 && i == 0 && names[0].number != first)
            rc = zb_error_set(ZB_EINTEGRITY, "segment %u of chain %s is missing", first, chain);
        /* a segment that ends before the snapshot holds nothing to apply;
         * from a snapshot other than the base, the one before it is read
         * too: a margin for a transaction that wrote its commit record
         * before the position was read but was not yet visible */
        if (rc == 0 && (names[i].end_lsn > p->base_lsn ||
                        (p->opts->snapshot && i + 1 < count && names[i + 1].end_lsn > p->base_lsn)))
            rc = replay_segment(p, paths[i], names[i].end_lsn, sequences);
        if (rc == 1)
            break;
    }
    if (rc == 0 && p->passed_waiting) /* the chain ends before the later snapshot's point is sure */
        rc = passed_point(p, 0);
    if (rc == 0 || rc == 1) {
        int commit = replay_commit(p);
        rc = commit < 0 ? commit : rc;
    }
    if (rc == 0 && !p->result->reached_target)
        rc = read_chain_end(p, dir);
    zb_pitr_segment_list_free(paths, names, count);
    free(dir);
    return rc < 0 ? rc : 0;
}

int zb_pitr_replay(zb_pitr_replay_result *out, const zb_pitr_replay_options *o)
{
    memset(out, 0, sizeof(*out));
    replay p;
    memset(&p, 0, sizeof(p));
    p.opts = o;
    p.result = out;
    json_t *sequences = NULL;
    int rc = zb_pgo_lsn_parse(&p.base_lsn, json_string_value(json_object_get(o->base, "lsn")));
    out->last_lsn = p.base_lsn;
    if (rc == 0 && o->snapshot)
        rc = zb_xid_snapshot_parse(&p.snapshot, o->snapshot);
    if (rc == 0 && o->snapshot)
        rc = o->snapshot_lsn ? zb_pgo_lsn_parse(&p.snapshot_lsn, o->snapshot_lsn) : (p.snapshot_lsn = UINT64_MAX, 0);
    const char *chain = json_string_value(json_object_get(o->base, "chain"));
    if (rc == 0 && chain)
        rc = zb_pitr_passed_find(&p.passed, o->repo, o->source, chain, p.base_lsn, &o->target);
    if (rc == 0 && p.passed.archive) {
        p.passed_waiting = 1;
        zb_log_info("the replay passes snapshot %s: the database is compared with it at its position",
                    p.passed.archive);
    }
    if (rc == 0)
        rc = zb_pg_connect_db(&p.conn, o->conninfo, o->password_file, o->dbname);
    /* as logical replication applies changes: no triggers, no foreign-key
     * checks (the stream's order already satisfied them at the source) */
    if (rc == 0 && zb_pg_exec(p.conn, "SET session_replication_role = replica", "") < 0)
        zb_log_warn("replay runs with triggers on, one statement per change (%s)", zb_error_message());
    else if (rc == 0)
        p.reorder = 1;
    /* the replay's commits need not wait for the WAL flush: the database
     * is published (renamed) only after the replay is verified, by a commit
     * that flushes the WAL, and so every earlier commit of the replay too */
    if (rc == 0)
        rc = zb_pg_exec(p.conn, "SET synchronous_commit = off", "cannot set up the replay's session");
    double started = zb_time_monotonic();
    if (rc == 0) {
        zb_log_info("replaying the changes of chain %s into %s",
                    json_string_value(json_object_get(o->base, "chain")) ?: "?", o->dbname);
        rc = replay_chain(&p, &sequences);
    }
    if (rc == 0)
        rc = check_database_rows(&p);
    if (rc == 0) {
        double took = zb_time_monotonic() - started;
        zb_log_info("replay: %llu changes applied and verified in %.1f s (%.0f rows/s)",
                    (unsigned long long)out->changes, took, took > 0 ? (double)out->changes / took : 0.0);
    }
    if (rc == 0 && !o->tables)
        rc = set_sequences(&p, sequences);
    json_decref(sequences);
    for (size_t i = 0; i < p.relation_count; i++)
        relation_clear(&p.relations[i]);
    free(p.relations);
    zb_xid_snapshot_clear(&p.snapshot);
    zb_pitr_passed_clear(&p.passed);
    if (p.deferred)
        fclose(p.deferred);
    pipeline_free(&p);
    free(p.params);
    zb_buf_free(&p.sql);
    PQfinish(p.conn);
    return rc;
}
