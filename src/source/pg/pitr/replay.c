#include "zakpos_backup/source/pg/pitr/replay.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/rows.h"
#include "zakpos_backup/source/pg/pitr/segment.h"
#include "zakpos_backup/source/pg/pitr/window.h"
#include "zakpos_backup/source/pg/pitr/xidsnap.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
} replay_relation;

/* A change sent in the pipeline whose result is still to be read. */
typedef struct replay_pending {
    size_t relation; /* index in relations (for the message) */
    int must_touch;  /* an UPDATE or DELETE: it must find its row */
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
} replay;

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

static int on_relation(replay *p, zb_pgo_msg *msg)
{
    replay_relation *r = find_relation(p, msg->relation.oid);
    long long rows = 0;
    int rows_known = 0;
    if (r) {
        /* announced again (every segment starts with the relations): the
         * count goes on */
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

static int check_change(replay *p, PGresult *res, const replay_relation *r, int must_touch)
{
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = zb_pg_result_error(p->conn, res, "cannot replay a change");
    else if (must_touch && strcmp(PQcmdTuples(res), "0") == 0)
        rc = zb_error_set(ZB_EVERIFY,
                          "replay found no row of %s to change: the target does not match the stream "
                          "(was it changed since the restore?)",
                          r->table);
    if (rc < 0)
        zb_error_context("replay of %s", r->table);
    return rc;
}

/* A test build can make replay lose the first insert into one table
 * (schema.name), as a bug on the way would: verification must name it. */
static int lose_change(replay *p, const replay_relation *r)
{
    const char *table = ZB_FAULT_VALUE("pitr-replay-lose-change");
    if (!table || p->lost_change)
        return 0;
    size_t sl = strlen(r->rel.schema);
    if (strncmp(table, r->rel.schema, sl) != 0 || table[sl] != '.' || strcmp(table + sl + 1, r->rel.name) != 0 ||
        strncmp(p->sql.data, "INSERT", 6) != 0)
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
            rc = check_change(p, res, &p->relations[q->queue[got].relation], q->queue[got].must_touch);
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

static void pipeline_queue(replay *p, const replay_relation *r, int must_touch)
{
    replay_pipeline *q = &p->pipe;
    q->queue[q->pending].relation = (size_t)(r - p->relations);
    q->queue[q->pending++].must_touch = must_touch;
}

/* libpq copies the statement and its values into its output buffer as
 * each is sent: nothing of the message needs to outlive the call. */
static int send_change(replay *p, const replay_relation *r, int n)
{
    size_t slot = 0;
    int known = prepared_slot(&p->pipe, p->sql.data, &slot);
    if (known < 0)
        return PQsendQueryParams(p->conn, p->sql.data, n, NULL, p->params, NULL, NULL, 0);
    char name[32];
    snprintf(name, sizeof(name), "zb_replay_%zu", slot);
    if (!known) {
        if (PQsendPrepare(p->conn, name, p->sql.data, n, NULL) != 1)
            return 0;
        pipeline_queue(p, r, 0); /* its result: the statement was prepared */
    }
    return PQsendQueryPrepared(p->conn, name, n, p->params, NULL, NULL, 0);
}

static int run_change(replay *p, const replay_relation *r, int n, int must_touch)
{
    replay_pipeline *q = &p->pipe;
    if (!q->active && PQenterPipelineMode(p->conn) != 1)
        return zb_error_set(ZB_EPG, "cannot enter pipeline mode: %s", PQerrorMessage(p->conn));
    q->active = 1;
    if (send_change(p, r, n) != 1)
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

static int run_change(replay *p, const replay_relation *r, int n, int must_touch)
{
    PGresult *res = PQexecParams(p->conn, p->sql.data, n, NULL, p->params, NULL, NULL, 0);
    int rc = check_change(p, res, r, must_touch);
    PQclear(res);
    return rc;
}
#endif

static int apply_change(replay *p, const zb_pgo_msg *m)
{
    replay_relation *r = find_relation(p, m->relation_oid);
    if (!r)
        return zb_error_set(ZB_EFORMAT, "a change to relation %u before its Relation message", m->relation_oid);
    if (!r->selected)
        return 0;
    int cols = r->rel.column_count * 2 + 1, n = 0, rc = 0;
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
    if (rc == 0 && lose_change(p, r))
        return 0;
    if (rc == 0)
        rc = run_change(p, r, n, m->kind != ZB_PGO_INSERT);
    if (rc == 0)
        p->result->changes++;
    return rc;
}

static int apply_truncate(replay *p, const zb_pgo_msg *m)
{
    int rc = pipeline_end(p), any = 0;
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

static int on_record(uint64_t lsn, const uint8_t *data, size_t len, void *payload)
{
    (void)lsn;
    replay *p = payload;
    zb_pgo_msg m;
    int rc = zb_pgo_decode(&m, data, len);
    if (rc < 0)
        return rc;
    switch (m.kind) {
    case ZB_PGO_RELATION: rc = on_relation(p, &m); break;
    case ZB_PGO_BEGIN:
        if (past_target(p, &m)) {
            p->result->reached_target = 1;
            rc = 1;
            break;
        }
        p->in_tx = 1;
        p->skip_tx = in_snapshot(p, &m);
        break;
    case ZB_PGO_COMMIT:
        if (p->in_tx && !p->skip_tx) {
            p->result->transactions++;
            p->result->last_lsn = m.end_lsn;
            p->result->last_commit = m.commit_time;
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

static int replay_segment(replay *p, const char *path, uint64_t end_lsn, json_t **sequences)
{
    json_t *meta = NULL;
    int rc = zb_pg_exec(p->conn, "BEGIN", "cannot start the replay");
    if (rc == 0)
        rc = zb_pitr_segment_read(&meta, path, p->opts->keys, on_record, p);
    if (rc == 0 || rc == 1) {
        int sent = pipeline_end(p); /* every change's result checked before the commit */
        rc = sent < 0 ? sent : rc;
    }
    if (rc == 0 || rc == 1) {
        int commit = zb_pg_exec(p->conn, "COMMIT", "cannot commit the replay");
        rc = commit < 0 ? commit : rc;
    }
    if (rc >= 0 && meta) {
        json_decref(*sequences);
        *sequences = json_incref(json_object_get(meta, "sequences"));
    }
    /* read whole: the replay stands where the follower recorded its counts */
    if (rc == 0 && meta && end_lsn >= p->snapshot_lsn)
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
    if (rc == 0)
        rc = zb_pg_connect_db(&p.conn, o->conninfo, o->password_file, o->dbname);
    /* as logical replication applies changes: no triggers, no foreign-key
     * checks (the stream's order already satisfied them at the source) */
    if (rc == 0 && zb_pg_exec(p.conn, "SET session_replication_role = replica", "") < 0)
        zb_log_warn("replay runs with triggers on (%s)", zb_error_message());
    if (rc == 0)
        rc = replay_chain(&p, &sequences);
    if (rc == 0)
        rc = check_database_rows(&p);
    if (rc == 0 && !o->tables)
        rc = set_sequences(&p, sequences);
    json_decref(sequences);
    for (size_t i = 0; i < p.relation_count; i++)
        relation_clear(&p.relations[i]);
    free(p.relations);
    zb_xid_snapshot_clear(&p.snapshot);
    pipeline_free(&p);
    free(p.params);
    zb_buf_free(&p.sql);
    PQfinish(p.conn);
    return rc;
}
