#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/source/pg/globals.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/restore_state.h"
#include "zakpos_backup/stream/spool.h"

#include <libpq/libpq-fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOC_BYTES   ZB_JSON_MAX_CATALOG_TEXT
#define MAX_CHUNK_BYTES (1024u << 20)

static int read_toc_text(void *payload, char *buf, size_t room, size_t *got)
{
    ssize_t n = zb_archive_reader_read(payload, buf, room);
    *got = n > 0 ? (size_t)n : 0;
    return n < 0 ? (int)n : 0;
}

/* The toc is read once into the plan the restore then follows, an item at
 * a time, straight from the archive: neither its text nor its values are
 * ever held whole. A verification (a scratch restore) compares the schema
 * with the toc's items as JSON, so it reads the text whole and parses it
 * whole too. */
static int load_toc(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry)
{
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (p->opts.scratch) {
        rc = zb_pg_read_entry(&text, &len, r, entry, MAX_TOC_BYTES, "the database's table of contents");
        if (rc == 0)
            rc = zb_pg_plan_read(&p->plan, text, len);
        if (rc == 0)
            rc = zb_json_parse_catalog(&p->toc, text, len, "the database's table of contents");
        free(text);
        if (rc == 0) /* an SQL_ASCII database's text that is not UTF-8, stored in hex */
            rc = zb_json_texts_decode(p->toc, "the database's table of contents");
    } else {
        la_int64_t size = archive_entry_size(entry);
        len = size > 0 ? (size_t)size : 0;
        rc = size < 0 || (uint64_t)size > MAX_TOC_BYTES
                 ? zb_error_set(ZB_EFORMAT, "the database's table of contents is too large (%lld bytes)",
                                (long long)size)
                 : zb_pg_plan_read_stream(&p->plan, len, read_toc_text, r);
    }
    if (rc < 0)
        return rc;
    if (!p->plan) /* both readers give a plan whenever they succeed */
        return zb_error_set(ZB_EFORMAT, "the database's table of contents gave no plan");
    if ((rc = zb_pg_plan_select(p->plan, p->opts.tables, p->opts.schemas)) < 0)
        return rc;
    zb_log_debug("the table of contents (%zu bytes) holds %zu items and %zu tables, planned in %zu bytes", len,
                 p->plan->item_count, p->plan->table_count, zb_pg_plan_held(p->plan));
    size_t items = p->plan->item_count + 1;
    p->table_count = p->plan->table_count;
    p->tables = calloc(p->table_count + 1, sizeof(*p->tables));
    p->item_queued = calloc(items, 1);
    p->item_waiting = calloc(items, 1);
    p->ready = calloc(items, sizeof(size_t));
    if (!p->tables || !p->item_queued || !p->item_waiting || !p->ready)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    rc = zb_map_new(&p->table_by_oid, p->table_count);
    for (size_t i = 0; rc == 0 && i < p->table_count; i++) {
        p->tables[i].plan = &p->plan->tables[i];
        p->tables[i].worker = -1;
        rc = zb_map_add(p->table_by_oid, p->tables[i].plan->oid, i); /* the first of an oid, as a scan finds it */
    }
    return rc;
}

/* Loading frozen keeps a lock on every table loaded (with its TOAST table
 * and that one's index: three) until the end of the load, in the server's
 * shared lock table (max_locks_per_transaction x connections). Where the
 * tables would fill more than a quarter of it, they load unfrozen instead,
 * each chunk in its own transaction on any connection. */
static int choose_frozen_load(zb_pg_restore *p)
{
    PGresult *res = PQexec(p->leader,
                           "SELECT pg_catalog.current_setting('max_locks_per_transaction')::bigint * "
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
        needed += p->plan->tables[i].selected ? 3 : 0;
    /* from toc format 2 on, each table's end is marked and its rows are
     * committed then: the transactions hold only the tables whose chunks are
     * still arriving, at most one per connection of the backup */
    long long open_at_once = p->plan->connections;
    if (p->plan->format >= 2 && needed > 3 * open_at_once)
        needed = 3 * (open_at_once > 0 ? open_at_once : ZB_PG_MAX_JOBS);
    p->pool.frozen = needed <= slots / 4;
    /* a batch of pre-data items holds the locks of the relations it creates
     * (a table, its TOAST table and index, a sequence) until it commits:
     * a batch takes at most a sixteenth of the lock table */
    p->batch_items = slots / 64 > 0 ? (size_t)(slots / 64) : 1;
    if (p->batch_items > ZB_PG_BATCH_MAX_ITEMS)
        p->batch_items = ZB_PG_BATCH_MAX_ITEMS;
    if (!p->pool.frozen)
        zb_log_detail("%zu tables would take %lld of the server's %lld lock slots: loading them unfrozen",
                      p->table_count, needed, slots);
    return 0;
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

static int start_pool(zb_pg_restore *p)
{
    p->pool_ready = 1;
    p->pool.copy_encoding = p->plan->copy_encoding;
    p->pool.texts = p->plan->texts;
    p->pool.left_out = zb_pg_restore_pool_left_out;
    p->pool.left_out_payload = p;
    return zb_pg_pool_start(&p->pool, zb_pg_jobs(p->opts.jobs), p->opts.conninfo, p->opts.password_file, p->temp,
                            loading_settings, p->tables, p->table_count);
}

/* The toc arrives first: prepare the target and create the schema, so the
 * data can stream straight in. */
static int prepare(zb_pg_restore *p)
{
    p->started = zb_time_monotonic();
    if (!p->target) {
        const char *source = p->plan->database;
        zb_buf name = ZB_BUF_INIT;
        zb_buf_printf(&name, "%s_restored", source ? source : "zakpos");
        p->target = zb_buf_detach(&name);
        if (!p->target)
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    int rc = zb_pg_connect_db(&p->maintenance, p->opts.conninfo, p->opts.password_file, ZB_PG_MAINTENANCE_DB);
    if (rc == 0) {
        zb_pg_restore_warn_if_older(p);
        zb_pg_restore_note_missing_tablespaces(p);
        rc = zb_pg_restore_check_target(p);
    }
    if (rc == 0)
        rc = zb_pg_restore_create_temp(p);
    if (rc == 0)
        rc = zb_pg_connect_db(&p->leader, p->opts.conninfo, p->opts.password_file, p->temp);
    if (rc == 0)
        /* commits need not wait for the disk here either (see loading_settings) */
        rc = zb_pg_exec(p->leader, "SET check_function_bodies = false; SET synchronous_commit = off",
                        "cannot set up the session");
    if (rc == 0)
        rc = choose_frozen_load(p);
    if (rc == 0)
        rc = start_pool(p);
    if (rc == 0)
        rc = zb_pg_restore_pre_data_begin(p);
    return rc;
}

static zb_pg_table_load *find_table(zb_pg_restore *p, unsigned int oid)
{
    size_t i;
    return p->table_by_oid && zb_map_get(p->table_by_oid, oid, &i) ? &p->tables[i] : NULL;
}

/* data/<oid>/end: the table's chunks are all in. Loading frozen, its
 * connection commits once no other table of its transaction expects rows,
 * and then the table's indexes and keys may start (zb_pg_restore_release_ready);
 * unfrozen, each chunk committed on its own, the mark only frees the
 * connection for the next table. */
static int end_of_table(zb_pg_restore *p, zb_pg_table_load *t, const char *relative)
{
    if (t->ended)
        return zb_error_set(ZB_EFORMAT, "entry %s appears twice", relative);
    t->ended = 1;
    if (!t->plan->selected)
        return 0;
    if (t->worker < 0) { /* no rows: nothing to commit */
        pthread_mutex_lock(&p->pool.lock);
        /* not before pre-data has made it: its indexes would start early
         * (else they wait for post-data) */
        if (p->pool.frozen && t->loadable_after < p->pool.pre_data_done)
            zb_pg_pool_mark_committed(&p->pool, (size_t)(t - p->tables));
        pthread_mutex_unlock(&p->pool.lock);
        return 0;
    }
    zb_pg_job *j = zb_pg_job_new();
    if (!j || !(j->what = zb_strdup(t->plan->quoted))) {
        zb_pg_job_free(j);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    j->table = t;
    j->ends_table = 1;
    return zb_pg_pool_submit(&p->pool, j);
}

/* data/<oid>/<NNNNNN>.copy: chunks of a table arrive in order, then
 * data/<oid>/end (archives of toc format 2 on). */
static int load_chunk(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry, const char *relative)
{
    unsigned int oid = 0, seq = 0;
    char tail[8];
    int end = 0;
    if (sscanf(relative, "data/%u/end%n", &oid, &end) == 1 && end > 0 && relative[end] == '\0') {
        zb_pg_table_load *t = find_table(p, oid);
        return t ? end_of_table(p, t, relative)
                 : zb_error_set(ZB_EFORMAT, "entry %s belongs to no table of the table of contents", relative);
    }
    if (sscanf(relative, "data/%u/%u.%7s", &oid, &seq, tail) != 3 || strcmp(tail, "copy") != 0)
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in a database source", relative);
    zb_pg_table_load *t = find_table(p, oid);
    if (!t)
        return zb_error_set(ZB_EFORMAT, "entry %s belongs to no table of the table of contents", relative);
    if (t->ended)
        return zb_error_set(ZB_EFORMAT, "entry %s comes after the end of its table", relative);
    if (seq != t->chunks + 1)
        return zb_error_set(ZB_EFORMAT, "entry %s is out of order (expected chunk %u)", relative, t->chunks + 1);
    t->chunks = seq;
    t->bytes += (unsigned long long)archive_entry_size(entry);
    zb_pg_job *j = zb_pg_job_new();
    if (!j)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    j->table = t;
    int rc = zb_pg_read_entry(&j->data, &j->len, r, entry, MAX_CHUNK_BYTES, relative);
    if (rc < 0) {
        zb_pg_job_free(j);
        return rc;
    }
    /* the bar counts archive bytes (the reader adds them): naming the work
     * done beside the reading is all this adds */
    zb_progress_rename("reading, loading tables");
    if (!t->plan->selected) {
        zb_pg_job_free(j);
        return 0;
    }
    if (!(j->what = zb_strdup(t->plan->quoted))) {
        zb_pg_job_free(j);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return zb_pg_pool_submit(&p->pool, j);
}

/* blobs/<oid>.blob: a large object, written by the leader (idle while the
 * pool loads rows) in one transaction. */
static int load_large_object(zb_pg_restore *p, zb_archive_reader *r, const char *relative)
{
    unsigned int oid = 0;
    char tail[8];
    if (sscanf(relative, "blobs/%u.%7s", &oid, tail) != 2 || strcmp(tail, "blob") != 0)
        return zb_error_set(ZB_EFORMAT, "unexpected entry %s in a database source", relative);
    /* the leader's pre-data first */
    int rc = zb_pg_restore_pre_data_end(p);
    if (rc == 0)
        rc = zb_pg_exec(p->leader, "BEGIN", "cannot start a transaction");
    if (rc < 0)
        return rc;
    int fd = -1;
    if (lo_create(p->leader, oid) != oid || (fd = lo_open(p->leader, oid, INV_WRITE)) < 0)
        rc = zb_pg_result_error(p->leader, NULL, "cannot create the large object");
    const void *data;
    size_t len;
    int64_t offset, at = 0;
    while (rc == 0 && (rc = zb_archive_reader_read_block(r, &data, &len, &offset)) > 0) {
        rc = offset == at && lo_write(p->leader, fd, data, len) == (int)len
                 ? 0
                 : zb_pg_result_error(p->leader, NULL, "cannot write the large object");
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

/* catalog.json: the database's properties, and the catalog fingerprint,
 * which only a verification (a scratch restore) compares, held compressed
 * until then (fingerprint.h); a restore of its own reads past it. */
static int load_catalog(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry)
{
    return zb_pg_fingerprint_load(&p->catalog, &p->catalog_objects, r, entry, p->opts.scratch);
}

int zb_pg_restore_entry(zb_pg_restore *p, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info)
{
    if (!p->source_name && !(p->source_name = zb_strdup(info->source_name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (strcmp(info->relative, ZB_PG_CATALOG_NAME) == 0 && !p->plan && !p->catalog)
        return load_catalog(p, r, entry);
    if (strcmp(info->relative, ZB_PG_GLOBALS_NAME) == 0)
        return 0; /* roles are recover's alone: a restore never touches them */
    if (strcmp(info->relative, ZB_PG_TOC_NAME) == 0) {
        if (p->plan)
            return zb_error_set(ZB_EFORMAT, "the database source has two tables of contents");
        int rc = load_toc(p, r, entry);
        return rc < 0 ? rc : prepare(p);
    }
    if (!p->plan)
        return zb_error_set(ZB_EFORMAT, "database data before its table of contents (%s)", info->relative);
    if (strcmp(info->relative, ".") == 0 || strcmp(info->relative, "data") == 0)
        return 0;
    if (strncmp(info->relative, "blobs/", 6) == 0)
        return load_large_object(p, r, info->relative);
    int rc = load_chunk(p, r, entry, info->relative);
    return rc < 0 ? rc : zb_pg_restore_release_ready(p);
}

/* A name that is not UTF-8 is {"hex": ...} in the manifest, as written:
 * decoded into *owned (a copy: the manifest may be read again). */
static const char *recorded_name(json_t *table, char **owned)
{
    *owned = NULL;
    if (!json_is_object(table))
        return json_string_value(table);
    json_t *doc = json_pack("[o]", json_deep_copy(table));
    if (doc && zb_json_texts_decode(doc, "the manifest's table summary") == 0 &&
        json_string_value(json_array_get(doc, 0)))
        *owned = zb_strdup(json_string_value(json_array_get(doc, 0)));
    json_decref(doc);
    return *owned;
}

/* What the manifest recorded of one loaded table. */
typedef struct recorded_counts {
    long long rows;
    long long chunks;
    int found;
} recorded_counts;

/* The loaded tables sorted by name, so that each record of the manifest,
 * as it streams by, finds its tables by a binary search. The records are
 * never held: at 20,000 tables they were 18 MB as JSON, these two arrays
 * are 0.6 MB. */
typedef struct loaded_name {
    const char *name;
    size_t index; /* in p->tables */
} loaded_name;

typedef struct recorded_match {
    loaded_name *sorted;
    size_t count;
    recorded_counts *counts; /* by p->tables' index */
} recorded_match;

static int by_name_then_index(const void *a, const void *b)
{
    const loaded_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int by_name(const void *key, const void *element) { return strcmp(key, ((const loaded_name *)element)->name); }

/* A later record of the same name replaces an earlier one, as the last
 * record of that name is the one that counts. */
static int note_recorded(json_t *record, void *payload)
{
    recorded_match *m = payload;
    char *owned = NULL;
    const char *name = recorded_name(json_object_get(record, "table"), &owned);
    const loaded_name *hit = name ? bsearch(name, m->sorted, m->count, sizeof(*m->sorted), by_name) : NULL;
    while (hit && hit > m->sorted && strcmp(hit[-1].name, name) == 0)
        hit--;
    for (; hit && hit < m->sorted + m->count && strcmp(hit->name, name) == 0; hit++)
        m->counts[hit->index] = (recorded_counts){json_integer_value(json_object_get(record, "rows")),
                                                  json_integer_value(json_object_get(record, "chunks")), 1};
    free(owned);
    return 0;
}

/* Reads the manifest's table records once, noting each loaded table's. */
static int read_recorded(recorded_counts **counts, zb_pg_restore *p, zb_archive_reader *r)
{
    recorded_match m = {calloc(p->table_count + 1, sizeof(*m.sorted)), p->table_count,
                        calloc(p->table_count + 1, sizeof(*m.counts))};
    int rc = m.sorted && m.counts ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < p->table_count; i++)
        m.sorted[i] = (loaded_name){p->tables[i].plan->quoted, i};
    if (rc == 0) {
        qsort(m.sorted, m.count, sizeof(*m.sorted), by_name_then_index);
        rc = zb_archive_reader_each_summary_table(r, ZB_SOURCE_PG, p->source_name, note_recorded, &m);
        if (rc == 0)
            rc = zb_error_set(ZB_EFORMAT, "the manifest has no table summary for database %s", p->source_name);
    }
    free(m.sorted);
    if (rc < 0) {
        free(m.counts);
        return rc;
    }
    *counts = m.counts;
    return 0;
}

/* Every selected table got exactly the rows the backup recorded. The bytes
 * need no second hash here: the reader has compared every chunk's hash with
 * the manifest before this runs (and the database is published only after
 * it), so the chunk count is all that is left to check. */
static int check_tables(zb_pg_restore *p, zb_archive_reader *r)
{
    recorded_counts *recorded = NULL;
    int rc = read_recorded(&recorded, p, r);
    long long rows = 0;
    for (size_t i = 0; rc == 0 && i < p->table_count; i++) {
        zb_pg_table_load *t = &p->tables[i];
        const char *name = t->plan->quoted;
        const recorded_counts *want = &recorded[i];
        if (!want->found)
            rc = zb_error_set(ZB_EVERIFY, "table %s is not in the manifest", name);
        else if (t->chunks != (unsigned int)want->chunks)
            rc = zb_error_set(ZB_EVERIFY, "table %s: the archive holds %u chunks of it, the backup recorded %lld", name,
                              t->chunks, want->chunks);
        else if (t->plan->selected && t->rows_loaded != want->rows)
            rc = zb_error_set(ZB_EVERIFY, "table %s: the server loaded %lld rows, the backup had %lld", name,
                              t->rows_loaded, want->rows);
        rows += t->plan->selected ? t->rows_loaded : 0;
    }
    free(recorded);
    if (rc == 0)
        zb_log_detail(
            "every table loaded in full: %lld rows; counts match the backup and every chunk its recorded hash", rows);
    return rc;
}

/* The database's own properties (owner, settings, comment, grants). The
 * shared catalogs keep a database's text in that database's encoding, so a
 * database in another encoding than UTF8 gets them in a session in the
 * database itself, as pg_restore --create does: a LATIN1 database's
 * settings are converted from the session's UTF8 to LATIN1 (in the
 * maintenance database they would stay UTF-8 bytes), and an SQL_ASCII
 * database's bytes that are not UTF-8 (in the archive in hex) pass as they
 * are, where the maintenance database's UTF8 would refuse them. */
static int apply_properties(zb_pg_restore *p)
{
    json_t *stored = json_object_get(p->catalog, "database");
    json_t *props = stored ? json_deep_copy(stored) : NULL;
    if (stored && !props)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    PGconn *own = NULL;
    const char *encoding = json_string_value(json_object_get(props, "encoding"));
    int rc = props ? zb_json_texts_decode(props, "the database's properties") : 0;
    if (rc == 0 && encoding && strcmp(encoding, "UTF8") != 0)
        rc = zb_pg_connect_db(&own, p->opts.conninfo, p->opts.password_file, p->temp);
    if (rc == 0)
        rc = zb_pg_database_apply(own ? own : p->maintenance, p->temp, props, p->opts.no_owner, p->opts.no_acl,
                                  p->opts.scratch, p->left_out);
    if (own)
        PQfinish(own);
    json_decref(props);
    return rc;
}

int zb_pg_restore_finish(zb_pg_restore *p, zb_archive_reader *r)
{
    if (!p->plan)
        return zb_error_set(ZB_EFORMAT, "the database source has no table of contents");
    zb_progress_phase("loading tables", 0);
    int rc = zb_pg_restore_pre_data_end(p);
    if (rc == 0)
        rc = zb_pg_pool_end_loading(&p->pool);
    if (rc == 0)
        rc = zb_pg_pool_wait_loaded(&p->pool);
    double t0 = zb_time_monotonic();
    zb_log_detail("data loaded in %.1f s", t0 - p->started);
    zb_progress_phase("checking row counts and hashes", 0);
    if (rc == 0)
        rc = check_tables(p, r);
    if (rc == 0)
        rc = zb_pg_restore_run_waiting(p);
    zb_progress_phase("building indexes, checking keys", 0);
    if (rc == 0)
        rc = zb_pg_restore_run_post_data(p);
    zb_log_detail("indexes, constraints, statistics (ANALYZE) and the rest built in %.1f s", zb_time_monotonic() - t0);
    if (rc < 0)
        return rc;
    zb_pg_pool_stop(&p->pool);
    p->pool_ready = 0;
    PQfinish(p->leader);
    p->leader = NULL;
    if (p->opts.before_publish &&
        (rc = p->opts.before_publish(p->source_name, p->temp, p->opts.before_publish_payload)) < 0)
        return rc;
    zb_progress_phase("publishing the database", 0);
    if ((rc = apply_properties(p)) == 0 && (rc = zb_pg_restore_publish(p)) == 0)
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
json_t *zb_pg_restore_catalog(const zb_pg_restore *p) { return p->catalog; }
zb_spool *zb_pg_restore_catalog_objects(const zb_pg_restore *p) { return p->catalog_objects; }
json_t *zb_pg_restore_left_out(const zb_pg_restore *p) { return p->left_out; }

const char *zb_pg_restore_target(const zb_pg_restore *p) { return p->target ? p->target : "(not yet known)"; }

void zb_pg_restore_free(zb_pg_restore *p)
{
    if (!p)
        return;
    zb_pg_restore_pre_data_stop(p); /* it uses the leader and the pool */
    if (p->pool_ready)
        zb_pg_pool_stop(&p->pool);
    PQfinish(p->leader);
    if (p->temp_created && !p->published) {
        if (p->maintenance && PQstatus(p->maintenance) == CONNECTION_OK &&
            zb_pg_drop_database(p->maintenance, p->temp) == 0)
            zb_log_detail("the partly restored database %s was dropped", p->temp);
        else
            zb_log_warn("the partly restored database \"%s\" could not be dropped; drop it by hand", p->temp);
    }
    PQfinish(p->maintenance);
    zb_pg_plan_free(p->plan);
    json_decref(p->toc);
    json_decref(p->catalog);
    zb_spool_free(p->catalog_objects);
    json_decref(p->left_out);
    free(p->tables);
    free(p->item_queued);
    free(p->item_waiting);
    free(p->ready);
    zb_map_free(p->table_by_oid);
    free(p->target);
    free(p->source_name);
    free(p);
}
