#include "zakpos_backup/source/pg/pitr/follow.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/repo/index.h"
#include "zakpos_backup/repo/repo.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/decode.h"
#include "zakpos_backup/source/pg/pitr/rows.h"
#include "zakpos_backup/source/pg/pitr/segment.h"
#include "zakpos_backup/source/pg/pitr/stream.h"
#include "zakpos_backup/source/pg/pitr/streamed.h"
#include "zakpos_backup/source/pg/pitr/window.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS                 500
#define STATUS_INTERVAL_SECONDS 10.0
#define BASE_LOCK_WAIT_SECONDS  600
/* stream_loop's value when a schema change ends the chain */
#define NEW_CHAIN               2
#define CATALOG_CHECK_SECONDS   10.0
#define SLOT_DROP_ATTEMPTS      100
/* reconnecting waits 1 s, 2 s, 4 s ... up to this; a connection that lasted
 * this long starts the series again */
#define RECONNECT_MAX_SECONDS   60

/* A relation as the stream announced it, kept whole so that every segment
 * starts with the relations it may use and can be read alone. */
typedef struct cached_relation {
    uint32_t oid;
    char *qualified; /* schema.name, for the segment's table counts */
    zb_buf message;
    long long rows;       /* the table's rows after the last commit received (if rows_known) */
    long long rows_in_tx; /* ... and with the transaction being received */
} cached_relation;

typedef struct follower {
    const zb_pitr_follow_options *opts;
    const char *name; /* the configured slot name: the publication's, the state file's */
    char slot[64];    /* the current chain's slot */
    char *chain, *chain_dir;
    char *base;               /* the chain's base archive, for window.json */
    zb_repo_lock *chain_lock; /* held while this follower writes the chain: prune waits for it */
    zb_pitr_stream *stream;
    PGconn *sql; /* a plain connection: sequences at each close */
    zb_pitr_spool *spool;
    zb_pitr_streamed *streamed; /* transactions in progress the server streams (14+) */
    cached_relation *relations;
    size_t relation_count;
    uint64_t durable_end;     /* end LSN of the last transaction in a published segment */
    unsigned int next_number; /* the next segment's number */
    /* the transaction being received */
    int in_tx, skip_tx;
    uint64_t tx_spool_start;
    /* the open segment */
    unsigned int seg_transactions;
    uint64_t seg_start_lsn, seg_end_lsn;
    int64_t seg_first_commit, seg_last_commit;
    double seg_opened;
    json_t *seg_tables; /* schema.name -> {inserts, updates, deletes, truncates} */
    /* Row counts kept from the stream: the base snapshot's, then each
     * insert, delete and truncate. Known from a chain's start only: a
     * follower that resumes cannot read the key-sealed segments back, and
     * the plain state file holds nothing of the data. */
    int rows_known;
    json_t *base_tables; /* the base archive's summary of tables (with rows) */
    /* a schema change: why the chain ends (no names: it goes to a plain file) */
    const char *end_reason;
    double catalog_checked;
    /* the chain's state file, with "relations": {oid: hash of the columns}
     * as of the last segment close, so that a resumed follower sees a
     * table that changed while it was down (a hash: nothing of the names) */
    json_t *state;
} follower;

static cached_relation *find_relation(follower *f, uint32_t oid)
{
    for (size_t i = 0; i < f->relation_count; i++)
        if (f->relations[i].oid == oid)
            return &f->relations[i];
    return NULL;
}

static int remember_relation(follower *f, const uint8_t *data, size_t len)
{
    zb_pgo_msg msg;
    int rc = zb_pgo_decode(&msg, data, len);
    if (rc < 0)
        return rc;
    cached_relation *r = find_relation(f, msg.relation.oid);
    if (!r) {
        cached_relation *grown = realloc(f->relations, (f->relation_count + 1) * sizeof(*grown));
        if (!grown) {
            zb_pgo_msg_clear(&msg);
            return zb_error_set(ZB_ENOMEM, "out of memory");
        }
        f->relations = grown;
        r = &f->relations[f->relation_count++];
        memset(r, 0, sizeof(*r));
        r->oid = msg.relation.oid;
        /* a table the base snapshot lacks had no rows when the stream began */
        if (!f->rows_known || !zb_pitr_snapshot_rows(&r->rows, f->base_tables, msg.relation.schema, msg.relation.name))
            r->rows = 0;
        r->rows_in_tx = r->rows;
    }
    zb_buf name = ZB_BUF_INIT;
    zb_buf_reset(&r->message);
    rc = zb_buf_append(&r->message, data, len);
    if (rc == 0)
        rc = zb_buf_printf(&name, "%s.%s", msg.relation.schema, msg.relation.name);
    if (rc == 0)
        free(r->qualified), r->qualified = zb_buf_detach(&name);
    zb_buf_free(&name);
    zb_pgo_msg_clear(&msg);
    return rc;
}

static int same_columns(const zb_pgo_relation *a, const zb_pgo_relation *b)
{
    if (a->column_count != b->column_count || strcmp(a->schema, b->schema) != 0 || strcmp(a->name, b->name) != 0)
        return 0;
    for (int i = 0; i < a->column_count; i++)
        if (strcmp(a->columns[i].name, b->columns[i].name) != 0 || a->columns[i].type_oid != b->columns[i].type_oid ||
            a->columns[i].typmod != b->columns[i].typmod)
            return 0;
    return 1;
}

static void columns_hash(char *out, size_t size, const zb_pgo_relation *r)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    char typ[32];
    for (int i = -1; i < r->column_count; i++) {
        const char *parts[3] = {i < 0 ? r->schema : r->columns[i].name, i < 0 ? r->name : typ, NULL};
        if (i >= 0)
            snprintf(typ, sizeof(typ), "%u/%d", r->columns[i].type_oid, (int)r->columns[i].typmod);
        for (int k = 0; parts[k]; k++)
            for (const char *c = parts[k];; c++) {
                h = (h ^ (uint8_t)*c) * 1099511628211ULL;
                if (!*c)
                    break;
            }
    }
    snprintf(out, size, "%016llx", (unsigned long long)h);
}

static int record_relations(follower *f)
{
    json_t *known = json_object_get(f->state, "relations");
    if (!known && f->state) {
        json_object_set_new(f->state, "relations", json_object());
        known = json_object_get(f->state, "relations");
    }
    for (size_t i = 0; known && i < f->relation_count; i++) {
        zb_pgo_msg m;
        char oid[16], hash[24];
        if (zb_pgo_decode(&m, (const uint8_t *)f->relations[i].message.data, f->relations[i].message.len) < 0)
            continue;
        snprintf(oid, sizeof(oid), "%u", m.relation.oid);
        columns_hash(hash, sizeof(hash), &m.relation);
        json_object_set_new(known, oid, json_string(hash));
        zb_pgo_msg_clear(&m);
    }
    return f->state ? zb_pitr_state_write(f->opts->repo, f->name, f->state) : 0;
}

/* A followed table no longer fits the chain's base snapshot: the chain ends
 * at its last consistent point and a new one starts (see restart_chain). */
static int columns_changed(follower *f, const zb_pgo_relation *rel, const char *how)
{
    zb_log_warn(
        "table %s.%s changed%s: the chain ends at its last consistent point and a new one starts from a "
        "fresh snapshot",
        rel->schema, rel->name, how);
    f->end_reason = "a table's columns or name changed";
    return NEW_CHAIN;
}

/* A Relation message of a table the chain knows with other columns (or
 * another name): the chain's base no longer fits what follows. */
static int relation_changed(follower *f, const uint8_t *data, size_t len)
{
    zb_pgo_msg now, before;
    int rc = zb_pgo_decode(&now, data, len);
    if (rc < 0)
        return rc;
    cached_relation *r = find_relation(f, now.relation.oid);
    if (!r) {
        /* first seen by this follower: as the chain last recorded it? */
        char oid[16], hash[24];
        snprintf(oid, sizeof(oid), "%u", now.relation.oid);
        columns_hash(hash, sizeof(hash), &now.relation);
        const char *recorded = json_string_value(json_object_get(json_object_get(f->state, "relations"), oid));
        if (recorded && strcmp(recorded, hash) != 0)
            rc = columns_changed(f, &now.relation, " while the follower was down");
    }
    if (r && (rc = zb_pgo_decode(&before, (const uint8_t *)r->message.data, r->message.len)) == 0) {
        if (!same_columns(&now.relation, &before.relation))
            rc = columns_changed(f, &now.relation, " (its columns or its name)");
        zb_pgo_msg_clear(&before);
    }
    zb_pgo_msg_clear(&now);
    return rc;
}

/* What a Relation message does not tell (a followed table dropped, or
 * changed while no change to it came since; a sequence created or dropped)
 * shows in the catalog: the chain ends as at a changed table. A chain from
 * before the catalog was recorded records it now. */
static int catalog_changed(follower *f)
{
    json_t *now = NULL, *before = json_object_get(f->state, "catalog");
    int rc = zb_pitr_catalog_fingerprint(&now, f->sql, f->name);
    const char *why = rc == 0 && before ? zb_pitr_catalog_change(before, now) : NULL;
    if (why) {
        zb_log_warn("%s: the chain ends at its last consistent point and a new one starts from a fresh snapshot", why);
        f->end_reason = why;
        rc = NEW_CHAIN;
    } else if (rc == 0 && !before && f->state) {
        rc = json_object_set(f->state, "catalog", now) == 0 ? zb_pitr_state_write(f->opts->repo, f->name, f->state)
                                                            : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    json_decref(now);
    return rc;
}

/* A table created since the publication was set up carries no change into
 * the stream: the chain ends, and the next one's publication lists it. */
static int tables_added(follower *f)
{
    char *first = NULL;
    f->catalog_checked = zb_time_monotonic();
    int rc = zb_pitr_publication_missing(&first, f->sql, f->name, f->opts->exclude);
    if (rc > 0) {
        zb_log_warn(
            "table %s (and %d more) is not in the publication: the chain ends at its last consistent point "
            "and a new one starts from a fresh snapshot",
            first, rc - 1);
        f->end_reason = "a table was created";
        rc = NEW_CHAIN;
    }
    free(first);
    return rc == 0 ? catalog_changed(f) : rc;
}

static int count_change(follower *f, uint32_t oid, const char *what)
{
    cached_relation *r = find_relation(f, oid);
    if (!r)
        return zb_error_set(ZB_EFORMAT, "a change to relation %u before its Relation message", oid);
    json_t *t = json_object_get(f->seg_tables, r->qualified);
    if (!t) {
        t = json_pack("{s:i, s:i, s:i, s:i}", "inserts", 0, "updates", 0, "deletes", 0, "truncates", 0);
        if (!t || json_object_set_new(f->seg_tables, r->qualified, t) < 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return json_object_set_new(t, what, json_integer(json_integer_value(json_object_get(t, what)) + 1)) == 0
               ? 0
               : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int count_message(follower *f, const uint8_t *data, size_t len)
{
    zb_pgo_msg msg;
    int rc = zb_pgo_decode(&msg, data, len);
    if (rc < 0)
        return rc;
    cached_relation *r = NULL;
    switch (msg.kind) {
    case ZB_PGO_INSERT:
        if ((rc = count_change(f, msg.relation_oid, "inserts")) == 0 && (r = find_relation(f, msg.relation_oid)))
            r->rows_in_tx++;
        break;
    case ZB_PGO_UPDATE: rc = count_change(f, msg.relation_oid, "updates"); break;
    case ZB_PGO_DELETE:
        if ((rc = count_change(f, msg.relation_oid, "deletes")) == 0 && (r = find_relation(f, msg.relation_oid)))
            r->rows_in_tx--;
        break;
    case ZB_PGO_TRUNCATE:
        for (uint32_t i = 0; rc == 0 && i < msg.truncate_count; i++)
            if ((rc = count_change(f, msg.truncate_oids[i], "truncates")) == 0 &&
                (r = find_relation(f, msg.truncate_oids[i])))
                r->rows_in_tx = 0;
        break;
    default: break;
    }
    zb_pgo_msg_clear(&msg);
    return rc;
}

/* A segment's first transaction: the relations known so far go first
 * (unless the spool already holds them). */
static int open_segment(follower *f, uint64_t lsn)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && zb_pitr_spool_bytes(f->spool) == 0 && i < f->relation_count; i++)
        rc = zb_pitr_spool_add(f->spool, lsn, (const uint8_t *)f->relations[i].message.data,
                               f->relations[i].message.len);
    f->seg_opened = zb_time_monotonic();
    json_decref(f->seg_tables);
    f->seg_tables = json_object();
    return rc == 0 && !f->seg_tables ? zb_error_set(ZB_ENOMEM, "out of memory") : rc;
}

static int on_begin(follower *f, const uint8_t *data, size_t len, uint64_t lsn)
{
    zb_pgo_msg msg;
    int rc = zb_pgo_decode(&msg, data, len);
    if (rc < 0)
        return rc;
    f->in_tx = 1;
    /* already in a durable segment: the server resends from the confirmed
     * position, which may lie before the last published commit */
    f->skip_tx = msg.final_lsn < f->durable_end;
    if (!f->skip_tx && f->seg_transactions == 0)
        rc = open_segment(f, lsn);
    f->tx_spool_start = zb_pitr_spool_bytes(f->spool);
    if (!f->skip_tx && f->seg_transactions == 0)
        f->seg_start_lsn = msg.final_lsn, f->seg_first_commit = msg.commit_time;
    zb_pgo_msg_clear(&msg);
    return rc;
}

static int on_commit(follower *f, const uint8_t *data, size_t len)
{
    zb_pgo_msg msg;
    int rc = zb_pgo_decode(&msg, data, len);
    if (rc < 0)
        return rc;
    /* a segment holds whole transactions: so do its row counts */
    for (size_t i = 0; !f->skip_tx && i < f->relation_count; i++)
        f->relations[i].rows = f->relations[i].rows_in_tx;
    if (!f->skip_tx) {
        f->seg_transactions++;
        f->seg_end_lsn = msg.end_lsn;
        f->seg_last_commit = msg.commit_time;
    }
    f->in_tx = f->skip_tx = 0;
    zb_pgo_msg_clear(&msg);
    return 0;
}

static int on_message(follower *f, const uint8_t *data, size_t len, uint64_t lsn);

/* A streamed transaction, committed: it comes as an ordinary one. */
static int on_streamed_record(uint64_t lsn, const uint8_t *msg, size_t len, void *payload)
{
    return on_message(payload, msg, len, lsn);
}

static int on_message(follower *f, const uint8_t *data, size_t len, uint64_t lsn)
{
    if (len == 0)
        return zb_error_set(ZB_EFORMAT, "an empty message on the replication stream");
    int rc = zb_pitr_streamed_take(f->streamed, data, len, lsn, on_streamed_record, f);
    if (rc != 0)
        return rc == 1 ? 0 : rc; /* taken, or what a streamed transaction's commit gave */
    /* a relation joins the open segment even inside a transaction skipped
     * as already durable: the server announces each relation once */
    if (data[0] == ZB_PGO_RELATION) {
        if ((rc = relation_changed(f, data, len)) != 0)
            return rc;
        rc = remember_relation(f, data, len);
        if (rc == 0 && (zb_pitr_spool_bytes(f->spool) > 0 || (f->in_tx && !f->skip_tx)))
            rc = zb_pitr_spool_add(f->spool, lsn, data, len);
        return rc;
    }
    if (data[0] == ZB_PGO_BEGIN && (rc = on_begin(f, data, len, lsn)) < 0)
        return rc;
    if (!f->in_tx || f->skip_tx)
        return 0;
    if (data[0] == ZB_PGO_INSERT || data[0] == ZB_PGO_UPDATE || data[0] == ZB_PGO_DELETE || data[0] == ZB_PGO_TRUNCATE)
        rc = count_message(f, data, len);
    if (rc == 0)
        rc = zb_pitr_spool_add(f->spool, lsn, data, len);
    if (rc == 0 && data[0] == ZB_PGO_COMMIT)
        rc = on_commit(f, data, len);
    return rc;
}

/* Sequences are not in the stream: their values when the segment closes. */
static json_t *read_sequences(follower *f)
{
    PGresult *res = NULL;
    json_t *list = json_array();
    if (zb_pg_query(&res, f->sql,
                    "SELECT schemaname, sequencename, last_value FROM pg_catalog.pg_sequences "
                    "WHERE schemaname <> 'information_schema' AND schemaname !~ '^pg_' ORDER BY 1, 2",
                    "cannot read the sequences") < 0) {
        json_decref(list);
        return NULL;
    }
    for (int i = 0; list && i < PQntuples(res); i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s?}", "schema", PQgetvalue(res, i, 0), "name",
                                              PQgetvalue(res, i, 1), "last_value",
                                              PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2)));
    PQclear(res);
    return list;
}

static json_t *segment_meta(follower *f, json_t *sequences)
{
    char start[32], end[32], first[40], last[40];
    zb_pgo_lsn_format(start, sizeof(start), f->seg_start_lsn);
    zb_pgo_lsn_format(end, sizeof(end), f->seg_end_lsn);
    zb_pgo_time_format(first, sizeof(first), f->seg_first_commit);
    zb_pgo_time_format(last, sizeof(last), f->seg_last_commit);
    json_t *tables = json_array();
    const char *key;
    json_t *value;
    json_object_foreach (f->seg_tables, key, value) {
        json_t *t = json_deep_copy(value);
        json_object_set_new(t, "table", json_string(key));
        json_array_append_new(tables, t);
    }
    json_t *rows = NULL;
    for (size_t i = 0; f->rows_known && i < f->relation_count; i++) {
        if (!rows)
            rows = json_object();
        json_object_set_new(rows, f->relations[i].qualified, json_integer((json_int_t)f->relations[i].rows));
    }
    json_t *pitr =
        json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:o*}", "format", ZB_PITR_SEGMENT_FORMAT,
                  "chain", f->chain, "segment", (int)f->next_number, "slot", f->slot, "start_lsn", start, "end_lsn",
                  end, "transactions", (json_int_t)f->seg_transactions, "first_commit", first, "last_commit", last,
                  "sequences", sequences, "tables", tables, "rows", rows);
    return json_pack("{s:o}", "pitr", pitr);
}

/* Publishes what the spool holds up to the last complete transaction, then
 * confirms it: only now may the server recycle the WAL behind it. */
static int close_segment(follower *f)
{
    json_t *sequences = read_sequences(f);
    if (!sequences)
        return zb_error_context("segment %u", f->next_number);
    /* a stop signal waits for the publication (within the cleanup budget):
     * the transactions held are complete, and cut off now they would be
     * published only by a later follower, if the slot still holds them */
    zb_signal_hold();
    char name[64];
    zb_pitr_segment_format_name(name, sizeof(name), f->next_number, f->seg_end_lsn);
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_buf_printf(&path, "%s/%s", f->chain_dir, name);
    if (rc == 0)
        rc = zb_pitr_spool_publish(f->spool, path.data, &f->opts->write, f->opts->source_name,
                                   segment_meta(f, sequences));
    if (rc == 0) {
        char end[32];
        zb_pgo_lsn_format(end, sizeof(end), f->seg_end_lsn);
        zb_log_detail("segment %s: %u transactions, up to %s", name, f->seg_transactions, end);
        f->durable_end = f->seg_end_lsn;
        /* the window `list` shows without a key; the segment is what counts */
        if (zb_pitr_window_write(f->chain_dir, f->chain, f->base, f->seg_last_commit, f->next_number) < 0)
            zb_log_warn("%s", zb_error_message());
        f->next_number++;
        f->seg_transactions = 0;
        /* a follower that dies here has published what the server will send
         * again: the next one must skip it */
        ZB_FAULT_POINT("pitr-segment-published", path.data);
        rc = zb_pitr_stream_confirm(f->stream, f->durable_end);
        if (rc == 0)
            rc = record_relations(f);
    }
    zb_signal_release();
    zb_buf_free(&path);
    return rc;
}

static int segment_due(const follower *f)
{
    if (f->in_tx || f->seg_transactions == 0)
        return 0;
    return zb_pitr_spool_bytes(f->spool) >= f->opts->segment_bytes ||
           zb_time_monotonic() - f->seg_opened >= (double)f->opts->segment_seconds;
}

/* Nothing pending: everything the server sent is durable (it held no
 * change to keep), so the slot may move on and the server free its WAL. */
static int confirm_idle(follower *f)
{
    if (f->in_tx || f->seg_transactions > 0 || zb_pitr_spool_bytes(f->spool) > 0)
        return zb_pitr_stream_keepalive(f->stream, STATUS_INTERVAL_SECONDS);
    uint64_t end = zb_pitr_stream_server_end(f->stream);
    return end > f->durable_end ? zb_pitr_stream_confirm(f->stream, end)
                                : zb_pitr_stream_keepalive(f->stream, STATUS_INTERVAL_SECONDS);
}

static int stream_loop(follower *f)
{
    int rc = 0;
    while (rc == 0 && !zb_interrupted()) {
        const uint8_t *data;
        size_t len;
        uint64_t lsn;
        rc = zb_pitr_stream_next(f->stream, &data, &len, &lsn, POLL_MS);
        if (rc == 1)
            rc = on_message(f, data, len, lsn);
        int closed = rc == 0 && segment_due(f);
        if (closed)
            rc = close_segment(f);
        if (rc == 0 && !f->in_tx && (closed || zb_time_monotonic() - f->catalog_checked >= CATALOG_CHECK_SECONDS))
            rc = tables_added(f);
        if (rc == 0 && !zb_interrupted())
            rc = confirm_idle(f);
    }
    return rc;
}

/* The base snapshot: an ordinary archive of the database read through the
 * slot's exported snapshot, recording where the stream starts. */
static int write_base(char *path, size_t path_size, const zb_pitr_follow_options *o, json_t *pitr, const char *snapshot,
                      json_t **tables)
{
    zb_archive_writer *w = NULL;
    zb_repo_lock *lock = NULL;
    zb_pg_backup_options pg = o->pg;
    pg.snapshot_id = snapshot;
    pg.pitr_meta = pitr;
    int len = snprintf(path, path_size, "%s/%s-%s%s", o->repo, o->name,
                       json_string_value(json_object_get(pitr, "chain")), ZB_ARCHIVE_EXTENSION);
    int rc = len < (int)path_size ? 0 : zb_error_set(ZB_EUSAGE, "repository path too long: %s", o->repo);
    if (rc == 0)
        rc = zb_repo_lock_take(&lock, o->repo, BASE_LOCK_WAIT_SECONDS);
    if (rc == 0)
        rc = zb_archive_writer_open(&w, path, &o->write);
    if (rc == 0)
        rc = zb_pg_backup(w, o->source_name, &pg);
    if (rc == 0)
        rc = zb_archive_writer_close(w);
    if (rc == 0) {
        struct stat st;
        if (zb_repo_index_describe(o->repo, path + strlen(o->repo) + 1, zb_archive_writer_sources(w),
                                   stat(path, &st) == 0 ? (uint64_t)st.st_size : 0) < 0)
            zb_log_warn("%s", zb_error_message());
        zb_log_info("base snapshot of the chain: %s", path);
        json_t *summary = zb_archive_writer_source_summary(w, ZB_SOURCE_PG, o->source_name);
        *tables = json_incref(json_object_get(summary, "tables"));
    }
    zb_archive_writer_free(w);
    zb_repo_lock_release(lock);
    return rc;
}

/* A new chain: publication, slot with its exported snapshot, the base
 * archive read through it, then the state file that names the chain. */
static int start_chain(follower *f, json_t **state, uint64_t *start_lsn)
{
    const zb_pitr_follow_options *o = f->opts;
    char snapshot[64], lsn[32], stamp[32], slot[64], path[PATH_MAX];
    zb_time_format_compact(stamp, sizeof(stamp), time(NULL));
    json_t *catalog = NULL;
    int rc = zb_pitr_chain_slot_name(slot, sizeof(slot), f->name, stamp);
    if (rc == 0)
        rc = zb_pitr_publication_setup(f->sql, f->name, o->full_identity, o->exclude);
    /* read before the snapshot: a change in between ends the chain early,
     * never goes unseen */
    if (rc == 0)
        rc = zb_pitr_catalog_fingerprint(&catalog, f->sql, f->name);
    if (rc == 0)
        rc = zb_pitr_stream_create_slot(f->stream, slot, snapshot, sizeof(snapshot), start_lsn);
    if (rc < 0) {
        json_decref(catalog);
        return rc;
    }
    zb_pgo_lsn_format(lsn, sizeof(lsn), *start_lsn);
    json_t *pitr =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "format", ZB_PITR_SEGMENT_FORMAT, "chain", stamp, "slot", slot,
                  "publication", f->name, "source", o->source_name, "lsn", lsn, "catalog", catalog);
    if (!pitr)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    zb_log_info("new chain %s: slot %s consistent at %s", stamp, slot, lsn);
    rc = write_base(path, sizeof(path), o, pitr, snapshot, &f->base_tables);
    f->rows_known = rc == 0 && f->base_tables != NULL;
    /* the state file names the new chain: from here on it is the current one */
    if (rc == 0) {
        json_object_set_new(pitr, "base", json_string(strrchr(path, '/') + 1));
        rc = zb_pitr_state_write(o->repo, f->name, pitr);
    }
    if (rc < 0) {
        /* no chain without its base: the slot would only hold WAL */
        zb_error_context("new chain");
        zb_pitr_slot_drop(f->sql, slot);
        json_decref(pitr);
        return rc;
    }
    *state = pitr;
    return 0;
}

/* Where the durable stream ends: the newest segment's name says it. */
static int resume_position(follower *f, uint64_t *start_lsn)
{
    char **paths = NULL;
    zb_pitr_segment_name *names = NULL;
    size_t count = 0;
    int rc = zb_pitr_segment_list(&paths, &names, &count, f->chain_dir);
    if (rc == 0 && count > 0) {
        f->durable_end = names[count - 1].end_lsn;
        f->next_number = names[count - 1].number + 1;
        if (f->durable_end > *start_lsn)
            *start_lsn = f->durable_end;
    }
    zb_pitr_segment_list_free(paths, names, count);
    return rc;
}

/* No chain yet, but slots of this follower's name: another repository's. */
static int refuse_foreign_slot(follower *f)
{
    char *first = NULL;
    int rc = zb_pitr_slot_family_find(&first, f->sql, f->name, NULL);
    if (rc > 0)
        rc = zb_error_set(ZB_EEXIST,
                          "replication slot %s exists but this repository has no chain for it\n"
                          "hint: another repository follows this database, or a chain's state was removed; "
                          "`zakpos-backup follow --stop` drops the slot",
                          first);
    free(first);
    return rc;
}

/* The chain's slot as its state names it (the plain name in repositories
 * older than per-chain slots). */
static int state_slot(follower *f, json_t *state)
{
    const char *slot = json_string_value(json_object_get(state, "slot"));
    if (!slot || (size_t)snprintf(f->slot, sizeof(f->slot), "%s", slot) >= sizeof(f->slot))
        return zb_error_set(ZB_EFORMAT, "the state file pitr/%s.json names no valid replication slot", f->name);
    return 0;
}

/* The chain the state file names, or a new one. Slots of this follower
 * other than the chain's are left by a stop between creating a new chain's
 * slot and dropping the old one's: they go. */
static int choose_chain(follower *f, json_t **state, uint64_t *start_lsn)
{
    const zb_pitr_follow_options *o = f->opts;
    int rc = zb_pitr_state_read(state, o->repo, f->name), exists = 0;
    if (rc == 0 && *state && (rc = state_slot(f, *state)) == 0)
        rc = exists = zb_pitr_slot_exists(f->sql, f->slot);
    if (rc >= 0 && *state && !exists) {
        zb_log_warn(
            "slot %s is gone (dropped, or the server lost it): starting a new chain; recovery across the "
            "break stops at the end of the old chain",
            f->slot);
        json_decref(*state), *state = NULL;
    }
    rc = rc < 0 ? rc : 0;
    if (rc == 0 && !*state)
        rc = refuse_foreign_slot(f);
    if (rc == 0 && !*state)
        rc = start_chain(f, state, start_lsn);
    else if (rc == 0)
        rc = zb_pgo_lsn_parse(start_lsn, json_string_value(json_object_get(*state, "lsn")));
    if (rc == 0)
        rc = state_slot(f, *state);
    if (rc == 0 && zb_pitr_slot_family_drop(f->sql, f->name, f->slot, 1) < 0)
        zb_log_warn("%s", zb_error_message());
    return rc;
}

/* Takes the chain the state names as the one this follower writes. */
static int adopt_chain(follower *f, json_t *state, uint64_t *start_lsn)
{
    const zb_pitr_follow_options *o = f->opts;
    int rc = state_slot(f, state);
    f->chain = zb_strdup(json_string_value(json_object_get(state, "chain")));
    f->chain_dir = f->chain ? zb_pitr_chain_dir(o->repo, f->chain) : NULL;
    const char *base = json_string_value(json_object_get(state, "base"));
    f->base = base ? zb_strdup(base) : NULL;
    if (rc == 0)
        rc = f->chain_dir && (f->base || !base) ? zb_fs_mkdir_p(f->chain_dir, 0700)
                                                : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pitr_chain_lock(&f->chain_lock, o->repo, f->chain, 0);
    f->next_number = 1;
    if (rc == 0)
        rc = resume_position(f, start_lsn);
    json_decref(f->state);
    f->state = state;
    return rc;
}

static int prepare(follower *f, uint64_t *start_lsn)
{
    json_t *state = NULL;
    int rc = choose_chain(f, &state, start_lsn);
    if (rc == 0)
        return adopt_chain(f, state, start_lsn);
    json_decref(state);
    return rc;
}

static void follower_free(follower *f)
{
    for (size_t i = 0; i < f->relation_count; i++) {
        free(f->relations[i].qualified);
        zb_buf_free(&f->relations[i].message);
    }
    free(f->relations);
    json_decref(f->seg_tables);
    json_decref(f->base_tables);
    json_decref(f->state);
    zb_pitr_spool_free(f->spool);
    zb_pitr_streamed_free(f->streamed);
    zb_pitr_stream_free(f->stream);
    PQfinish(f->sql);
    free(f->chain);
    free(f->chain_dir);
    free(f->base);
    zb_repo_lock_release(f->chain_lock);
}

/* Interrupted: the complete transactions held are published and confirmed;
 * a transaction received in part is cut off the spool (sent again later). */
static int finish(follower *f)
{
    if (f->seg_transactions == 0)
        return 0;
    if (f->in_tx && zb_pitr_spool_truncate(f->spool, f->tx_spool_start) < 0)
        return -1;
    for (size_t i = 0; i < f->relation_count; i++)
        f->relations[i].rows_in_tx = f->relations[i].rows;
    f->in_tx = 0;
    return close_segment(f);
}

/* The old session's slot is released once its walsender has gone. */
static int drop_slot_when_released(follower *f, const char *slot)
{
    int rc = 0;
    for (int i = 0; i < SLOT_DROP_ATTEMPTS && !zb_interrupted(); i++) {
        if ((rc = zb_pitr_slot_drop(f->sql, slot)) == 0)
            return 0;
        usleep(100 * 1000);
    }
    return rc < 0 ? rc : zb_error_set(ZB_EINTR, "interrupted");
}

static void forget_session(follower *f)
{
    for (size_t i = 0; i < f->relation_count; i++) {
        free(f->relations[i].qualified);
        zb_buf_free(&f->relations[i].message);
    }
    free(f->relations);
    f->relations = NULL;
    f->relation_count = 0;
    json_decref(f->base_tables);
    f->base_tables = NULL;
    f->rows_known = 0;
    f->in_tx = f->skip_tx = 0;
    f->seg_transactions = 0;
    f->durable_end = 0;
    zb_pitr_stream_free(f->stream);
    f->stream = NULL;
}

/* The chain switch failed: the state file says why and since when (the
 * first failure), for healthcheck, until a new chain's state replaces it.
 * The failure stays the error reported. */
static void note_switch_blocked(follower *f)
{
    zb_error_saved failure;
    zb_error_save(&failure);
    json_t *state = NULL;
    char now[40];
    zb_time_format_iso(now, sizeof(now), time(NULL));
    for (char *c = failure.message; *c; c++) /* healthcheck says it on one line */
        *c = *c == '\n' ? ' ' : *c;
    if (zb_pitr_state_read(&state, f->opts->repo, f->name) == 0 && state) {
        json_t *blocked = json_object_get(state, "switch_blocked");
        const char *since = json_string_value(json_object_get(blocked, "since"));
        json_object_set_new(state, "switch_blocked",
                            json_pack("{s:s, s:s}", "since", since ? since : now, "reason", failure.message));
        zb_pitr_state_write(f->opts->repo, f->name, state);
    }
    json_decref(state);
    zb_error_raise(&failure);
}

/* A schema change: what is complete of the old chain becomes durable; a new
 * chain starts from a fresh snapshot with the publication listing the
 * tables as they are now, through a slot of its own; the old chain's end is
 * recorded beside its segments, and only then does the old slot go, so that
 * the server always keeps the WAL of one chain or the other. Recovery to a
 * point after the old chain's end starts from the new chain's base. */
static int restart_chain(follower *f, uint64_t *start_lsn)
{
    int rc = finish(f);
    uint64_t end_lsn = f->durable_end;
    char *old_chain = f->chain, *old_dir = f->chain_dir, old_slot[sizeof(f->slot)];
    memcpy(old_slot, f->slot, sizeof(old_slot));
    f->chain = f->chain_dir = NULL;
    /* the old chain is complete: prune may take it from now on */
    zb_repo_lock_release(f->chain_lock);
    f->chain_lock = NULL;
    free(f->base);
    f->base = NULL;
    forget_session(f);
    zb_pitr_streamed_free(f->streamed);
    f->streamed = NULL;
    if (rc == 0)
        rc = zb_pitr_spool_truncate(f->spool, 0);
    zb_buf pitr_dir = ZB_BUF_INIT;
    if (rc == 0 && (rc = zb_buf_printf(&pitr_dir, "%s/%s", f->opts->repo, ZB_PITR_DIR)) == 0)
        rc = zb_pitr_streamed_new(&f->streamed, pitr_dir.data);
    zb_buf_free(&pitr_dir);
    /* chains (and so their slots) are named by the second they start in */
    char stamp[32];
    for (zb_time_format_compact(stamp, sizeof(stamp), time(NULL)); rc == 0 && strcmp(stamp, old_chain) <= 0;
         zb_time_format_compact(stamp, sizeof(stamp), time(NULL)))
        usleep(200 * 1000);
    if (rc == 0)
        rc = zb_pitr_stream_open(&f->stream, f->opts->pg.conninfo, f->opts->pg.password_file);
    json_t *state = NULL;
    if (rc == 0 && (rc = start_chain(f, &state, start_lsn)) < 0) {
        /* the state file still names the old chain: the next session
         * resumes it, sees the change again and tries again */
        zb_error_context(
            "%s: the new chain cannot start, so chain %s stays the current one and the follower "
            "keeps retrying on it",
            f->end_reason ? f->end_reason : "a schema change", old_chain);
        note_switch_blocked(f);
    }
    if (rc == 0)
        rc = adopt_chain(f, state, start_lsn);
    if (rc == 0)
        rc = zb_pitr_chain_end_write(old_dir, end_lsn, f->end_reason ? f->end_reason : "a schema change", f->chain);
    /* a follower stopped here leaves both slots: the next one keeps the
     * state file's (the new chain's) and drops the other */
    ZB_FAULT_POINT("pitr-chain-switched", old_slot);
    if (rc == 0)
        rc = drop_slot_when_released(f, old_slot);
    if (rc == 0)
        rc = zb_pitr_stream_start(f->stream, f->slot, f->name, *start_lsn);
    if (rc == 0)
        zb_log_info("chain %s ended (%s); following chain %s", old_chain, f->end_reason, f->chain);
    f->end_reason = NULL;
    free(old_chain);
    free(old_dir);
    return rc;
}

/* One connection's life: connect, prepare (or resume) the chain, stream
 * until interrupted or the connection fails. *streamed is set once the
 * stream started, so that a later failure is known to be the connection's. */
static int follow_session(const zb_pitr_follow_options *o, int *streamed)
{
    follower f;
    memset(&f, 0, sizeof(f));
    f.opts = o;
    f.name = o->slot ? o->slot : ZB_PITR_DEFAULT_SLOT;
    uint64_t start_lsn = 0;
    char pitr_dir[PATH_MAX];
    int rc = snprintf(pitr_dir, sizeof(pitr_dir), "%s/%s", o->repo, ZB_PITR_DIR) < (int)sizeof(pitr_dir)
                 ? zb_fs_mkdir_p(pitr_dir, 0700)
                 : zb_error_set(ZB_EUSAGE, "repository path too long: %s", o->repo);
    if (rc == 0)
        rc = zb_pg_connect(&f.sql, o->pg.conninfo, o->pg.password_file);
    if (rc == 0)
        rc = zb_pitr_check_server(f.sql);
    if (rc == 0)
        rc = zb_pitr_stream_open(&f.stream, o->pg.conninfo, o->pg.password_file);
    if (rc == 0)
        rc = zb_pitr_spool_new(&f.spool, pitr_dir);
    if (rc == 0)
        rc = zb_pitr_streamed_new(&f.streamed, pitr_dir);
    if (rc == 0)
        rc = prepare(&f, &start_lsn);
    if (rc == 0)
        rc = zb_pitr_stream_start(f.stream, f.slot, f.name, start_lsn);
    if (rc == 0) {
        char lsn[32];
        zb_pgo_lsn_format(lsn, sizeof(lsn), start_lsn);
        zb_log_info("following chain %s from %s into %s", f.chain, lsn, f.chain_dir);
        *streamed = 1;
        rc = stream_loop(&f);
        while (rc == NEW_CHAIN && (rc = restart_chain(&f, &start_lsn)) == 0)
            rc = stream_loop(&f);
    }
    /* on a stop and on an error alike: what is complete becomes durable */
    int finish_rc = f.stream && f.spool ? finish(&f) : 0;
    if (rc == 0)
        rc = finish_rc;
    follower_free(&f);
    return rc;
}

/* Waits seconds, one second at a time so that SIGTERM ends the wait. */
static void wait_interruptible(int seconds)
{
    for (int i = 0; i < seconds && !zb_interrupted(); i++)
        sleep(1);
}

int zb_pitr_follow(const zb_pitr_follow_options *o)
{
    int streamed = 0, failures = 0;
    for (;;) {
        double started = zb_time_monotonic();
        int rc = follow_session(o, &streamed);
        /* a server error before the first stream is the setup's (rights,
         * tables, slot in use): said at once; after it, the server went away
         * (a restart, a dropped connection) and is waited for */
        if (rc == 0 || rc != ZB_EPG || !streamed || zb_interrupted())
            return rc;
        if (zb_time_monotonic() - started >= RECONNECT_MAX_SECONDS)
            failures = 0;
        int delay = zb_pitr_reconnect_delay(failures++);
        zb_log_warn("%s; reconnecting in %ds", zb_error_message(), delay);
        zb_error_clear();
        wait_interruptible(delay);
        if (zb_interrupted())
            return 0;
    }
}

int zb_pitr_reconnect_delay(int failures)
{
    int delay = 1;
    for (int i = 0; i < failures && delay < RECONNECT_MAX_SECONDS; i++)
        delay *= 2;
    return delay < RECONNECT_MAX_SECONDS ? delay : RECONNECT_MAX_SECONDS;
}

int zb_pitr_follow_stop(const zb_pitr_follow_options *o)
{
    PGconn *conn = NULL;
    const char *name = o->slot ? o->slot : ZB_PITR_DEFAULT_SLOT;
    /* every chain's slot: the current one, and any a stop mid-switch left */
    int rc = zb_pg_connect(&conn, o->pg.conninfo, o->pg.password_file);
    if (rc == 0)
        rc = zb_pitr_slot_family_drop(conn, name, NULL, 0);
    if (rc >= 0)
        rc = zb_pitr_publication_drop(conn, name);
    if (rc == 0 && o->repo)
        rc = zb_pitr_state_remove(o->repo, name);
    if (rc == 0)
        zb_log_info("dropped the replication slots and the publication %s; the chains' segments stay for recovery",
                    name);
    PQfinish(conn);
    return rc;
}
