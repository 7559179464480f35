#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/intern.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/stream/spool.h"
#include "zakpos_backup/source/pg/globals.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/schema.h"
#include "zakpos_backup/source/pg/snapshot.h"
#include "zakpos_backup/source/pg/pitr/position.h"
#include "zakpos_backup/source/pg/verify.h"

#include <libpq/libpq-fs.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CHUNK_BYTES     (4u << 20)
#define DEFAULT_LOCK_TIMEOUT_MS 10000

/* One table to copy and what copying it produced: its toc entry's fields,
 * the texts interned (a record a table, not a JSON object). */
typedef struct table_copy {
    zb_pg_copy_table toc;
    unsigned int oid;
    long long measured_bytes; /* its size when locked */
    int measured;             /* the size is known (the toc lists it) */
    long long rows;
    unsigned long long bytes;
    unsigned int chunks;
    zb_pg_rowset rowset;
} table_copy;

/* Shared by the workers; the writer is used by one at a time. */
typedef struct copy_run {
    zb_archive_writer *writer;
    pthread_mutex_t writer_lock;
    pthread_mutex_t queue_lock;
    table_copy *tables; /* in the order of oids, then largest first (sort_copies) */
    size_t table_count, table_cap;
    zb_intern *names; /* the tables' texts */
    size_t next_table;
    size_t chunk_bytes;
    int failed;
    zb_error_saved failure;
} copy_run;

typedef struct copy_worker {
    copy_run *run;
    PGconn *conn;
    PGcancel *cancel; /* what a signal uses to stop its statement */
    int owns_conn;
    pthread_t thread;
    int started;
    int done; /* under the run's queue_lock */
} copy_worker;

static void fail_run(copy_run *run)
{
    pthread_mutex_lock(&run->queue_lock);
    if (!run->failed) {
        run->failed = 1;
        zb_error_save(&run->failure);
    }
    pthread_mutex_unlock(&run->queue_lock);
}

/* Small tables' COPY statements go several to a query message: one round
 * trip for up to COPY_BATCH_TABLES tables of at most COPY_BATCH_BYTES each
 * (at 20,000 tables of 20 rows the round trips, not the rows, were the
 * copy's time). A larger table goes alone, as the queue's first ones do. */
#define COPY_BATCH_TABLES 32
#define COPY_BATCH_BYTES  (256u << 10)

static int small_table(const table_copy *t) { return t->measured_bytes <= (long long)COPY_BATCH_BYTES; }

/* The next tables in the queue, *first and the count (0 at the end). */
static size_t take_tables(copy_run *run, table_copy **first)
{
    pthread_mutex_lock(&run->queue_lock);
    size_t n = 0;
    if (!run->failed && run->next_table < run->table_count) {
        *first = &run->tables[run->next_table];
        n = 1;
        while (small_table(*first) && n < COPY_BATCH_TABLES && run->next_table + n < run->table_count &&
               small_table(&run->tables[run->next_table + n]))
            n++;
        run->next_table += n;
    }
    pthread_mutex_unlock(&run->queue_lock);
    return n;
}

/* A chunk from up to three pieces written one after another (a binary
 * header, rows, a trailer), so a row larger than a chunk goes out as it came
 * from libpq without a copy of its own. */
static int write_chunk_parts(copy_run *run, table_copy *t, const void *const *parts, const size_t *lens, size_t count)
{
    char name[64];
    snprintf(name, sizeof(name), "data/%u/%06u.copy", t->oid, ++t->chunks);
    pthread_mutex_lock(&run->writer_lock);
    /* the writer counts these bytes for the progress line */
    int rc = zb_archive_writer_add_parts(run->writer, name, parts, lens, count, 0600);
    pthread_mutex_unlock(&run->writer_lock);
    for (size_t i = 0; i < count; i++)
        t->bytes += lens[i];
    return rc;
}

static int write_chunk(copy_run *run, table_copy *t, const zb_buf *chunk)
{
    const void *parts[] = {chunk->data};
    const size_t lens[] = {chunk->len};
    return write_chunk_parts(run, t, parts, lens, 1);
}

/* Binary COPY: each stored chunk is a whole binary COPY stream (header,
 * rows, trailer) so a restore can send it on its own. */
static const char binary_trailer[2] = {'\377', '\377'};

typedef struct chunker {
    copy_run *run;
    table_copy *table;
    int binary;
    int first;
    zb_buf header; /* binary: the file header, repeated at each chunk's start */
    zb_buf chunk;
} chunker;

static int flush_chunk(chunker *c)
{
    if (c->chunk.len == 0)
        return 0;
    int rc = c->binary ? zb_buf_append(&c->chunk, binary_trailer, sizeof(binary_trailer)) : 0;
    if (rc == 0)
        rc = write_chunk(c->run, c->table, &c->chunk);
    zb_buf_reset(&c->chunk);
    return rc;
}

/* A row as large as a chunk or larger is a chunk of its own, written
 * straight from libpq's copy of it: memory holds the row twice (libpq's
 * input buffer and the copy PQgetCopyData returns), not three times. */
static int write_large_row(chunker *c, const char *data, size_t len)
{
    int rc = flush_chunk(c);
    const void *parts[] = {c->header.data, data, binary_trailer};
    const size_t lens[] = {c->binary ? c->header.len : 0, len, c->binary ? sizeof(binary_trailer) : 0};
    return rc < 0 ? rc : write_chunk_parts(c->run, c->table, parts, lens, 3);
}

/* One COPY message: a row, plus the header before the first one (binary),
 * or the trailer (binary, not a row). */
static int add_message(chunker *c, const char *data, size_t len)
{
    size_t header_len = 0;
    int rc = zb_pg_copy_message(data, len, c->binary, c->first, &header_len);
    c->first = 0;
    if (rc != 0)
        return rc < 0 ? rc : 0; /* the trailer: each chunk gets its own */
    if (header_len && (rc = zb_buf_append(&c->header, data, header_len)) < 0)
        return rc;
    data += header_len, len -= header_len;
    if (len == 0)
        return 0;
    if (len >= c->run->chunk_bytes) {
        rc = write_large_row(c, data, len);
    } else {
        if (c->binary && c->chunk.len == 0)
            rc = zb_buf_append(&c->chunk, c->header.data, c->header.len);
        if (rc == 0)
            rc = zb_buf_append(&c->chunk, data, len);
    }
    zb_pg_rowset_add(&c->table->rowset, data, len);
    c->table->rows++;
    if (rc == 0 && c->chunk.len >= c->run->chunk_bytes) {
        if ((rc = flush_chunk(c)) == 0)
            rc = zb_check_interrupt();
        if (rc == 0 && c->run->failed)
            rc = ZB_EINTR;
    }
    return rc;
}

/* The toc format to write: the current one, or format 1 when a test build
 * is asked for it (fault value pg-toc-format) to prove that archives of
 * earlier versions still restore and verify. */
static int toc_format(void)
{
    const char *v = ZB_FAULT_VALUE("pg-toc-format");
    return v && strcmp(v, "1") == 0 ? 1 : ZB_PG_TOC_FORMAT;
}

/* The encoding rows are copied in: the database's own (toc format 2 on;
 * format 1 archives hold UTF8). */
static const char *copy_encoding(PGconn *conn)
{
    return toc_format() >= 2 ? PQparameterStatus(conn, "server_encoding") : NULL;
}

/* data/<oid>/end follows a table's last chunk (or stands alone for a table
 * without rows): a restore commits the table's rows as soon as it sees it
 * and builds its indexes and keys while other tables still load. */
static int write_end(copy_run *run, const table_copy *t)
{
    char name[64];
    snprintf(name, sizeof(name), "data/%u/end", t->oid);
    pthread_mutex_lock(&run->writer_lock);
    int rc = zb_archive_writer_add_file(run->writer, name, "", 0, 0600);
    pthread_mutex_unlock(&run->writer_lock);
    return rc;
}

/* COPY one table out, in chunks of about chunk_bytes: memory holds one
 * chunk (plus one row) per worker, whatever the table's size. */
static int chunk_message(const char *data, size_t len, void *payload) { return add_message(payload, data, len); }

/* One table's COPY, the next of the query message copy_tables sent. */
static int copy_table(copy_run *run, PGconn *conn, table_copy *t)
{
    const char *table = t->toc.table;
    chunker c;
    memset(&c, 0, sizeof(c));
    c.run = run;
    c.table = t;
    c.binary = t->toc.binary;
    c.first = 1;
    zb_log_debug("copying %s (%s)", table, c.binary ? "binary" : "text");
    int rc = zb_pg_copy_read(conn, chunk_message, &c);
    if (rc == 0)
        rc = flush_chunk(&c);
    if (rc == 0 && toc_format() >= 2)
        rc = write_end(run, t);
    zb_buf_free(&c.chunk);
    zb_buf_free(&c.header);
    if (rc < 0 && rc != ZB_EINTR)
        zb_error_context("table %s", table);
    return rc;
}

/* tables[0, count) in one query message, one COPY statement each; the
 * server answers them in order, a failure ending the message, so each
 * result is its table's. After a failure the connection is left as it is:
 * the backup ends and closes it. */
static int copy_tables(copy_run *run, PGconn *conn, table_copy *tables, size_t count)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++)
        if ((rc = zb_pg_copy_sql_of(&sql, &tables[i].toc, "TO STDOUT", 0)) == 0)
            rc = zb_buf_puts(&sql, ";");
    if (rc == 0 && !PQsendQuery(conn, sql.data))
        rc = zb_pg_result_error(conn, NULL, "cannot start copying");
    zb_buf_free(&sql);
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = copy_table(run, conn, &tables[i]);
    PGresult *res = rc == 0 ? PQgetResult(conn) : NULL;
    if (res) {
        rc = zb_pg_result_error(conn, res, "copy failed: an unexpected result");
        PQclear(res);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    copy_worker *wk = arg;
    table_copy *first = NULL;
    size_t count;
    while ((count = take_tables(wk->run, &first)) > 0) {
        if (copy_tables(wk->run, wk->conn, first, count) < 0) {
            fail_run(wk->run);
            break;
        }
    }
    pthread_mutex_lock(&wk->run->queue_lock);
    wk->done = 1;
    pthread_mutex_unlock(&wk->run->queue_lock);
    return NULL;
}

static int copies_running(copy_run *run, const copy_worker *workers, int jobs)
{
    int running = 0;
    pthread_mutex_lock(&run->queue_lock);
    for (int i = 0; i < jobs; i++)
        running += workers[i].started && !workers[i].done;
    pthread_mutex_unlock(&run->queue_lock);
    return running;
}

/* Waits for the copy threads. SIGINT or SIGTERM fails the run and cancels
 * the statements the workers have on the server: a COPY waiting for a lock
 * may otherwise wait as long as the lock timeout, and the operator who
 * pressed Ctrl-C should not. The run's failure is then the interruption. */
static void wait_for_copies(copy_run *run, copy_worker *workers, int jobs)
{
    int cancelled = 0;
    while (copies_running(run, workers, jobs)) {
        if (!cancelled && zb_interrupted()) {
            zb_check_interrupt();
            fail_run(run);
            char why[256];
            for (int i = 0; i < jobs; i++)
                if (workers[i].started && workers[i].cancel)
                    PQcancel(workers[i].cancel, why, sizeof(why));
            cancelled = 1;
        }
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

static int lock_timeout_ms(const zb_pg_backup_options *opts)
{
    return opts->lock_timeout_ms > 0 ? opts->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
}

/* A connection beside the leader adopts its snapshot and waits for a lock
 * no longer than the leader does. COPY and the catalog functions lock what
 * they read; behind a DDL statement queued after the leader's locks, such a
 * connection would wait for the DDL, the DDL for the leader, and the leader
 * (on the client) for the connection: for ever, as the server sees no
 * cycle. With the timeout it fails instead, naming the table, and the
 * backup with it. */
static int join_snapshot(PGconn *conn, const zb_pg_snapshot *snap, const zb_pg_backup_options *opts)
{
    int rc = zb_pg_snapshot_import(conn, snap);
    char sql[64];
    snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", lock_timeout_ms(opts));
    if (rc == 0)
        rc = zb_pg_exec(conn, sql, "cannot set the lock timeout");
    return rc;
}

/* Workers beyond the leader open their own connections and adopt its
 * snapshot (the first takes *spare, a connection already in the snapshot,
 * when there is one); the leader copies too. *spare is used or closed. */
static int copy_all(copy_run *run, PGconn *leader, PGconn **spare, const zb_pg_snapshot *snap,
                    const zb_pg_backup_options *opts)
{
    int jobs = zb_pg_jobs_for(opts->jobs, run->table_count);
    copy_worker workers[ZB_PG_MAX_JOBS];
    memset(workers, 0, sizeof(workers));
    int rc = 0;
    workers[0].conn = leader;
    for (int i = 1; rc == 0 && i < jobs; i++) {
        if (*spare) {
            workers[i].conn = *spare, workers[i].owns_conn = 1;
            *spare = NULL;
        } else if ((rc = zb_pg_connect(&workers[i].conn, opts->conninfo, opts->password_file)) == 0) {
            workers[i].owns_conn = 1, rc = join_snapshot(workers[i].conn, snap, opts);
        }
        if (rc == 0)
            rc = zb_pg_copy_encoding_set(workers[i].conn, copy_encoding(leader));
    }
    PQfinish(*spare); /* fewer tables than connections */
    *spare = NULL;
    /* the leader has read the schema (UTF8 text for the toc): rows from here on */
    if (rc == 0)
        rc = zb_pg_copy_encoding_set(leader, copy_encoding(leader));
    zb_log_detail("copying %zu tables with %d connection%s", run->table_count, jobs, jobs == 1 ? "" : "s");
    for (int i = 0; rc == 0 && i < jobs; i++) {
        workers[i].run = run;
        workers[i].cancel = PQgetCancel(workers[i].conn);
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            rc = zb_error_set(ZB_EFAIL, "cannot start a copy thread");
        else
            workers[i].started = 1;
    }
    if (rc < 0)
        fail_run(run); /* stop the threads already started */
    wait_for_copies(run, workers, jobs);
    for (int i = 0; i < jobs; i++) {
        if (workers[i].started)
            pthread_join(workers[i].thread, NULL);
        PQfreeCancel(workers[i].cancel);
        if (workers[i].owns_conn)
            PQfinish(workers[i].conn);
    }
    if (rc == 0 && run->failed)
        rc = zb_error_raise(&run->failure);
    return rc;
}

static int by_size(const void *a, const void *b)
{
    long long x = ((const table_copy *)a)->measured_bytes, y = ((const table_copy *)b)->measured_bytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

typedef struct table_rows {
    copy_run *run;
    zb_map *by_oid; /* the locked tables, by oid */
    const zb_pg_table_list *locked;
} table_rows;

static int add_copy(const zb_pg_data_table *d, void *payload)
{
    table_rows *rows = payload;
    copy_run *run = rows->run;
    int rc = zb_array_reserve((void **)&run->tables, &run->table_cap, run->table_count, sizeof(*run->tables), 64);
    if (rc < 0)
        return rc;
    table_copy *t = &run->tables[run->table_count];
    memset(t, 0, sizeof(*t));
    t->oid = d->oid;
    t->toc.binary = d->binary;
    rc = zb_intern_add(run->names, &t->toc.schema, d->schema);
    if (rc == 0)
        rc = zb_intern_add(run->names, &t->toc.name, d->name);
    if (rc == 0)
        rc = zb_intern_add(run->names, &t->toc.table, d->table);
    if (rc == 0)
        rc = zb_intern_add(run->names, &t->toc.columns, d->columns);
    size_t k;
    if (rc == 0 && zb_map_get(rows->by_oid, t->oid, &k)) {
        t->measured_bytes = rows->locked->items[k].bytes;
        t->measured = 1;
    }
    if (rc == 0)
        run->table_count++;
    return rc;
}

/* The data tables with their measured sizes, in the order of oids. */
static int plan_copies(copy_run *run, PGconn *conn, const zb_pg_table_list *locked)
{
    table_rows rows = {run, NULL, locked};
    int rc = zb_intern_new(&run->names);
    if (rc == 0)
        rc = zb_pg_table_list_index(&rows.by_oid, locked);
    if (rc == 0)
        rc = zb_pg_schema_each_data_table(conn, add_copy, &rows);
    zb_map_free(rows.by_oid);
    return rc;
}

/* Largest first, so the longest copies start first (after the toc, which
 * lists them in the order of oids). */
static void sort_copies(copy_run *run)
{
    if (run->table_count > 0)
        qsort(run->tables, run->table_count, sizeof(*run->tables), by_size);
}

/* One large object as blobs/<oid>.blob, read through the snapshot. */
static int copy_large_object(zb_archive_writer *w, PGconn *conn, unsigned int oid, char *buf, size_t buf_size)
{
    int fd = lo_open(conn, oid, INV_READ);
    if (fd < 0)
        return zb_pg_result_error(conn, NULL, "cannot open a large object");
    pg_int64 size = lo_lseek64(conn, fd, 0, SEEK_END);
    int rc = size < 0 || lo_lseek64(conn, fd, 0, SEEK_SET) < 0
                 ? zb_pg_result_error(conn, NULL, "cannot size a large object")
                 : 0;
    struct archive_entry *e = rc == 0 ? archive_entry_new() : NULL;
    if (rc == 0 && !e)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0) {
        char name[48];
        snprintf(name, sizeof(name), "blobs/%u.blob", oid);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, (la_int64_t)size);
        rc = zb_archive_writer_begin_entry(w, e);
    }
    for (pg_int64 left = size; rc == 0 && left > 0;) {
        int n = lo_read(conn, fd, buf, left < (pg_int64)buf_size ? (size_t)left : buf_size);
        if (n <= 0) {
            rc = zb_pg_result_error(conn, NULL, "cannot read a large object");
            break;
        }
        left -= n;
        rc = zb_archive_writer_write(w, buf, (size_t)n);
    }
    if (rc == 0)
        rc = zb_archive_writer_end_entry(w);
    archive_entry_free(e);
    lo_close(conn, fd);
    if (rc < 0)
        zb_error_context("large object %u", oid);
    return rc;
}

static int copy_large_objects(zb_archive_writer *w, PGconn *conn, long long *count)
{
    PGresult *res = PQexec(conn, "SELECT l.oid FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = zb_pg_result_error(conn, res, "cannot list the large objects");
        PQclear(res);
        return rc;
    }
    size_t buf_size = 256u << 10;
    char *buf = PQntuples(res) > 0 ? malloc(buf_size) : NULL;
    int rc = PQntuples(res) > 0 && !buf ? zb_error_set(ZB_ENOMEM, "out of memory") : 0;
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        rc = copy_large_object(w, conn, (unsigned int)strtoul(PQgetvalue(res, r, 0), NULL, 10), buf, buf_size);
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    *count = PQntuples(res);
    free(buf);
    PQclear(res);
    return rc;
}

static json_t *source_meta(PGconn *conn, json_t *pitr, json_t *position)
{
    const char *encoding = PQparameterStatus(conn, "server_encoding");
    return json_pack("{s:s, s:i, s:s?, s:s?, s:O*, s:o*}", "database", PQdb(conn), "server_version",
                     PQserverVersion(conn), "server_version_text", PQparameterStatus(conn, "server_version"),
                     "encoding", encoding, "pitr", pitr, "position", position);
}

/* Where the snapshot lies in the change stream, read inside it. A chain's
 * base starts its stream at the slot's consistent point (exact by
 * construction); any other snapshot at the WAL position read before it. */
static int read_position(json_t **out, PGconn *leader, const char *scan_lsn, const zb_pg_backup_options *opts)
{
    const char *chain = json_string_value(json_object_get(opts->pitr_meta, "chain"));
    const char *slot_lsn = json_string_value(json_object_get(opts->pitr_meta, "lsn"));
    int rc = zb_pitr_position_read(out, leader, chain && slot_lsn ? slot_lsn : scan_lsn, chain);
    if (rc < 0)
        zb_error_context("the snapshot's position");
    return rc;
}

/* The tablespaces the database's relations are in (other than its
 * default), so that a restore says at once which the target server lacks. */
static int read_tablespaces(json_t **out, PGconn *conn)
{
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, conn,
                         "SELECT DISTINCT t.spcname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                         "ON n.oid = c.relnamespace JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace "
                         "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1",
                         "cannot read the tablespaces of the relations");
    *out = rc == 0 ? json_array() : NULL;
    for (int i = 0; *out && i < PQntuples(res); i++)
        json_array_append_new(*out, json_string(PQgetvalue(res, i, 0)));
    PQclear(res);
    return rc < 0 || *out ? rc : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* ---- toc.json, written as a stream ----
 *
 * The document is the one jansson would encode from the whole tree
 * (JSON_COMPACT, keys in the order set): its head's members, the items one
 * at a time as the schema hands them, the tables, then the members after
 * them. Each piece is encoded as jansson encodes it within the whole, texts
 * that are not UTF-8 in hex as zb_json_texts_encode does; the text goes to
 * a spool (compressed), as the entry's size must come first. */

/* Where a document's text goes: a spool (toc.json) or a buffer (the
 * manifest's summary). */
typedef struct text_out {
    zb_spool *spool;
    zb_buf *buf;
} text_out;

static int out_write(const text_out *out, const char *text, size_t len)
{
    return out->spool ? zb_spool_write(out->spool, text, len) : zb_buf_append(out->buf, text, len);
}

static int out_puts(const text_out *out, const char *text) { return out_write(out, text, strlen(text)); }

static int dump_text(const char *buffer, size_t size, void *payload)
{
    return out_write(payload, buffer, size) == 0 ? 0 : -1;
}

static int out_json(const text_out *out, json_t *json)
{
    json_t *encoded = NULL;
    int rc = json ? zb_json_texts_encode(&encoded, json) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && json_dump_callback(encoded, dump_text, (void *)out, JSON_COMPACT) != 0)
        rc = zb_error_set(ZB_ENOMEM, "cannot encode a document of the backup");
    json_decref(encoded);
    return rc;
}

/* An object's members without its braces ("{}" has none): the object
 * encoded, then its first and last bytes left out. */
static int out_members(const text_out *out, json_t *object)
{
    json_t *encoded = NULL;
    int rc = object ? zb_json_texts_encode(&encoded, object) : zb_error_set(ZB_ENOMEM, "out of memory");
    char *text = rc == 0 ? json_dumps(encoded, JSON_COMPACT) : NULL;
    if (rc == 0 && !text)
        rc = zb_error_set(ZB_ENOMEM, "cannot encode a document of the backup");
    if (rc == 0)
        rc = out_write(out, text + 1, strlen(text) - 2);
    free(text);
    json_decref(encoded);
    return rc;
}

/* The end of an object whose other members are written: the text before,
 * then the members of *members, then the closing brace. */
static int out_object_end(const text_out *out, const char *before, json_t *members)
{
    int rc = out_puts(out, before);
    if (rc == 0)
        rc = out_members(out, members);
    return rc < 0 ? rc : out_puts(out, "}");
}

typedef struct toc_items {
    const text_out *out;
    size_t count;
} toc_items;

/* One element of an array whose "[" is written. */
static int out_element(const text_out *out, size_t *count, json_t *json)
{
    int rc = (*count)++ > 0 ? out_puts(out, ",") : 0;
    return rc < 0 ? rc : out_json(out, json);
}

static int out_item(json_t *item, void *payload)
{
    toc_items *items = payload;
    return out_element(items->out, &items->count, item);
}

static json_t *toc_table_json(const table_copy *t)
{
    zb_pg_data_table d = {t->oid, t->toc.schema, t->toc.name, t->toc.table, t->toc.columns, t->toc.binary};
    json_t *json = zb_pg_data_table_json(&d);
    if (json && t->measured && json_object_set_new(json, "bytes", json_integer(t->measured_bytes)) != 0) {
        json_decref(json);
        json = NULL;
    }
    return json;
}

static int out_tables(const text_out *out, const copy_run *run)
{
    size_t count = 0;
    int rc = out_puts(out, ",\"tables\":[");
    for (size_t i = 0; rc == 0 && i < run->table_count; i++) {
        json_t *json = toc_table_json(&run->tables[i]);
        rc = out_element(out, &count, json);
        json_decref(json);
    }
    return rc < 0 ? rc : out_puts(out, "]");
}

/* The members after the tables (toc format 2 on). connections: how many
 * tables at most are begun and not ended at any point of the data that
 * follows (each connection copies one at a time). */
static int out_toc_tail(const text_out *out, PGconn *conn, int connections)
{
    if (toc_format() < 2)
        return out_puts(out, "}");
    json_t *tablespaces = NULL;
    int rc = read_tablespaces(&tablespaces, conn);
    if (rc < 0)
        return rc;
    /* rows are copied in the database's own encoding (byte for byte) */
    json_t *tail = json_pack("{s:s, s:i, s:o}", "copy_encoding", copy_encoding(conn), "connections", connections,
                             "tablespaces", tablespaces);
    rc = out_object_end(out, ",", tail);
    json_decref(tail);
    return rc;
}

static int out_toc(const text_out *out, PGconn *conn, zb_pg_schema *schema, const copy_run *run, int connections)
{
    json_t *head = json_pack("{s:i, s:s, s:i, s:s?}", "format", toc_format(), "database", PQdb(conn), "server_version",
                             PQserverVersion(conn), "encoding", PQparameterStatus(conn, "server_encoding"));
    toc_items items = {out, 0};
    int rc = out_puts(out, "{");
    if (rc == 0)
        rc = out_members(out, head);
    if (rc == 0)
        rc = out_puts(out, ",\"items\":[");
    if (rc == 0)
        rc = zb_pg_schema_each_item(schema, out_item, &items);
    if (rc == 0)
        rc = out_puts(out, "]");
    if (rc == 0)
        rc = out_tables(out, run);
    if (rc == 0)
        rc = out_toc_tail(out, conn, connections);
    json_decref(head);
    return rc;
}

static int write_toc(zb_archive_writer *w, PGconn *conn, zb_pg_schema *schema, const copy_run *run, int connections)
{
    zb_spool *text = NULL;
    int rc = zb_spool_new(&text);
    text_out out = {text, NULL};
    if (rc == 0)
        rc = out_toc(&out, conn, schema, run, connections);
    if (rc == 0)
        rc = zb_spool_finish(text);
    if (rc == 0)
        rc = zb_archive_writer_add_spool(w, ZB_PG_TOC_NAME, text, 0600);
    if (rc == 0)
        zb_log_detail("table of contents: %zu items, %zu tables (%llu bytes, %zu held)",
                      zb_pg_schema_item_count(schema), run->table_count, (unsigned long long)zb_spool_size(text),
                      zb_spool_held(text));
    else
        zb_error_context("writing the table of contents");
    zb_spool_free(text);
    return rc;
}

/* catalog.json's text: the database's properties (a restore creates the
 * database with them) and the catalog fingerprint a verified restore is
 * compared with, both read inside the backup's snapshot, written as they are
 * read and held compressed (the archive entry's size comes first). */
typedef struct catalog_text {
    zb_spool *text;
    size_t objects;
    double seconds;
} catalog_text;

static int read_catalog(catalog_text *c, PGconn *conn)
{
    json_t *database = NULL;
    double started = zb_time_monotonic();
    int rc = zb_pg_database_read(&database, conn);
    if (rc == 0)
        rc = zb_spool_new(&c->text);
    if (rc == 0)
        rc = zb_pg_fingerprint_write(c->text, conn, database, &c->objects);
    if (rc == 0)
        rc = zb_spool_finish(c->text);
    c->seconds = zb_time_monotonic() - started;
    json_decref(database);
    return rc;
}

/* catalog.json, before toc.json. */
static int write_catalog(zb_archive_writer *w, const catalog_text *c)
{
    int rc = zb_archive_writer_add_spool(w, ZB_PG_CATALOG_NAME, c->text, 0600);
    if (rc == 0)
        zb_log_detail("catalog fingerprint: %zu objects read in %.3f s (%llu bytes, %zu held)", c->objects, c->seconds,
                      (unsigned long long)zb_spool_size(c->text), zb_spool_held(c->text));
    return rc;
}

/* The catalog fingerprint read on a connection of its own while the leader
 * reads the schema: the two catalog passes cost the server about the same
 * and neither needs the other, so side by side they take the time of one.
 * The connection adopts the leader's snapshot after the leader holds its
 * locks, so it reads the very catalog the schema is read from; it copies
 * rows afterwards, as the first worker. */
typedef struct catalog_reader {
    const zb_pg_backup_options *opts;
    const zb_pg_snapshot *snap;
    PGconn *conn;
    catalog_text catalog;
    copy_run *run; /* its tables to copy are read after the fingerprint */
    const zb_pg_table_list *locked;
    pthread_t thread;
    int started;
    int rc;
    zb_error_saved failure;
} catalog_reader;

static void *catalog_reader_main(void *arg)
{
    catalog_reader *r = arg;
    int rc = zb_pg_connect(&r->conn, r->opts->conninfo, r->opts->password_file);
    /* the catalog functions lock what they read (pg_get_viewdef a view) */
    if (rc == 0)
        rc = join_snapshot(r->conn, r->snap, r->opts);
    if (rc == 0)
        rc = read_catalog(&r->catalog, r->conn);
    /* the schema takes the leader longer: the list of tables to copy is
     * read here, which evens the two out */
    if (rc == 0)
        rc = plan_copies(r->run, r->conn, r->locked);
    if (rc < 0)
        zb_error_save(&r->failure);
    r->rc = rc;
    return NULL;
}

static int catalog_reader_start(catalog_reader *r, const zb_pg_snapshot *snap, const zb_pg_backup_options *opts)
{
    r->opts = opts;
    r->snap = snap;
    if (pthread_create(&r->thread, NULL, catalog_reader_main, r) != 0)
        return zb_error_set(ZB_EFAIL, "cannot start the catalog's reading thread");
    r->started = 1;
    return 0;
}

/* Waits for the reader. rc: the leader's outcome; when it failed, its
 * error is the one reported, else the reader's if it failed. */
static int catalog_reader_finish(catalog_reader *r, int rc)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    int started = r->started;
    r->started = 0;
    return rc < 0 || !started || r->rc == 0 ? rc : zb_error_raise(&r->failure);
}

/* Before the table of contents, so a recovery creates the roles before the
 * schema names them as owners and grantees. */
static int write_globals(zb_archive_writer *w, PGconn *conn, int with_passwords)
{
    json_t *globals = NULL;
    int rc = zb_pg_globals_read(&globals, conn, with_passwords);
    char *text = rc == 0 ? json_dumps(globals, JSON_COMPACT) : NULL;
    if (rc == 0)
        rc = text ? zb_archive_writer_add_file(w, ZB_PG_GLOBALS_NAME, text, strlen(text), 0600)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    if (text)
        sodium_memzero(text, strlen(text)); /* verifiers are password-equivalent */
    free(text);
    json_decref(globals);
    return rc;
}

/* The manifest's summary of the copies, as its text: built a table at a
 * time, never as a JSON tree of every table. */
static int out_summary(const text_out *out, const copy_run *run, const char *fingerprint, json_t *skipped,
                       long long large_objects)
{
    long long rows = 0;
    size_t count = 0;
    int rc = out_puts(out, "{\"tables\":[");
    for (size_t i = 0; rc == 0 && i < run->table_count; i++) {
        const table_copy *t = &run->tables[i];
        char rowset[ZB_PG_ROWSET_HEX_BYTES];
        zb_pg_rowset_hex(&t->rowset, rowset);
        rows += t->rows;
        /* table names that are not UTF-8 in hex, as in the toc */
        json_t *json =
            json_pack("{s:o, s:I, s:I, s:i, s:s}", "table", zb_json_bytes(t->toc.table, strlen(t->toc.table)), "rows",
                      (json_int_t)t->rows, "bytes", (json_int_t)t->bytes, "chunks", (int)t->chunks, "rowset", rowset);
        rc = out_element(out, &count, json);
        json_decref(json);
    }
    json_t *rest = json_pack("{s:I, s:I, s:O, s:s?}", "rows", (json_int_t)rows, "large_objects",
                             (json_int_t)large_objects, "skipped", skipped, "schema_fingerprint", fingerprint);
    if (rc == 0)
        rc = out_object_end(out, "],", rest);
    json_decref(rest);
    return rc;
}

static char *summary(const copy_run *run, const char *fingerprint, json_t *skipped, long long large_objects)
{
    zb_buf text = ZB_BUF_INIT;
    text_out out = {NULL, &text};
    if (out_summary(&out, run, fingerprint, skipped, large_objects) < 0 || !text.data) {
        zb_buf_free(&text);
        return NULL;
    }
    char *detached = zb_buf_detach(&text);
    zb_buf_free(&text);
    return detached;
}

int zb_pg_backup(zb_archive_writer *w, const char *name, const zb_pg_backup_options *opts)
{
    PGconn *leader = NULL;
    zb_pg_snapshot snap;
    zb_pg_table_list locked = {NULL, 0};
    zb_pg_schema *schema = NULL;
    json_t *skipped = NULL;
    char *fingerprint = NULL;
    copy_run run;
    memset(&run, 0, sizeof(run));
    catalog_reader reader;
    memset(&reader, 0, sizeof(reader));
    pthread_mutex_init(&run.writer_lock, NULL);
    pthread_mutex_init(&run.queue_lock, NULL);
    run.writer = w;
    run.chunk_bytes = opts->chunk_bytes ? opts->chunk_bytes : DEFAULT_CHUNK_BYTES;
    zb_pg_schema_options schema_opts = {opts->skip_unsupported, toc_format() == 1};
    char where[512];
    int rc = zb_pg_connect(&leader, opts->conninfo, opts->password_file);
    if (rc == 0)
        zb_log_detail("backing up database %s", zb_pg_describe(leader, where, sizeof(where)));
    char scan_lsn[32] = "";
    json_t *position = NULL;
    if (rc == 0 && !opts->snapshot_id)
        rc = zb_pitr_position_before(scan_lsn, sizeof(scan_lsn), leader);
    if (rc == 0 && opts->snapshot_id)
        rc = zb_strlcpy_checked(snap.id, sizeof(snap.id), opts->snapshot_id) < 0
                 ? zb_error_set(ZB_EUSAGE, "snapshot id too long")
                 : zb_pg_snapshot_import(leader, &snap);
    else if (rc == 0)
        rc = zb_pg_snapshot_export(&snap, leader);
    if (rc == 0)
        rc = read_position(&position, leader, scan_lsn, opts);
    if (rc == 0)
        rc = zb_pg_list_tables(&locked, leader);
    if (rc == 0)
        rc = zb_pg_lock_tables(leader, &locked, lock_timeout_ms(opts));
    if (rc == 0)
        rc = zb_pg_measure_tables(leader, &locked);
    /* a test changes the catalog here, which no connection may then see */
    if (rc == 0)
        ZB_FAULT_POINT("pg-tables-locked", NULL);
    if (rc == 0) {
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_PG, name, source_meta(leader, opts->pitr_meta, position));
        position = NULL; /* taken by the source's metadata; freed below when a step before failed */
    }
    /* the catalog fingerprint is read beside the schema when the backup may
     * use a second connection, else before it on the leader's; either way
     * what it holds is its compressed text and a batch of rows per query */
    int with_catalog = toc_format() >= 2;
    int catalog_aside = with_catalog && zb_pg_jobs(opts->jobs) >= 2;
    reader.run = &run;
    reader.locked = &locked;
    if (rc == 0 && catalog_aside)
        rc = catalog_reader_start(&reader, &snap, opts);
    else if (rc == 0 && with_catalog)
        rc = read_catalog(&reader.catalog, leader);
    if (rc == 0)
        rc = zb_pg_schema_load(&schema, leader, &schema_opts);
    if (rc == 0 && !catalog_aside)
        rc = plan_copies(&run, leader, &locked);
    rc = catalog_reader_finish(&reader, rc);
    if (rc == 0 && with_catalog)
        rc = write_catalog(w, &reader.catalog);
    if (rc == 0)
        rc = write_globals(w, leader, opts->with_role_passwords);
    if (rc == 0)
        rc = write_toc(w, leader, schema, &run, zb_pg_jobs_for(opts->jobs, run.table_count));
    /* the manifest's summary needs the fingerprint and the skipped objects:
     * taken from the items now, which are let go before the copies */
    if (rc == 0)
        rc = zb_pg_schema_items_fingerprint(&fingerprint, schema);
    skipped = schema ? json_incref(zb_pg_schema_skipped(schema)) : NULL;
    zb_pg_schema_free(schema);
    for (size_t i = 0; rc == 0 && i < json_array_size(skipped); i++)
        zb_log_warn("skipped (not supported): %s", json_string_value(json_array_get(skipped, i)));
    if (rc == 0)
        sort_copies(&run);
    if (rc == 0)
        rc = copy_all(&run, leader, &reader.conn, &snap, opts);
    long long large_objects = 0;
    if (rc == 0)
        rc = copy_large_objects(w, leader, &large_objects);
    if (rc == 0)
        rc = zb_pg_exec(leader, "COMMIT", "cannot end the snapshot");
    if (rc == 0)
        rc = zb_archive_writer_end_source_text(w, summary(&run, fingerprint, skipped, large_objects));
    if (rc < 0)
        zb_error_context("backup of database %s", name);
    free(run.tables);
    zb_intern_free(run.names);
    free(fingerprint);
    json_decref(skipped);
    json_decref(position);
    zb_pg_table_list_free(&locked);
    zb_spool_free(reader.catalog.text);
    PQfinish(reader.conn);
    PQfinish(leader);
    pthread_mutex_destroy(&run.writer_lock);
    pthread_mutex_destroy(&run.queue_lock);
    return rc;
}
