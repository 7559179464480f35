#include "zakpos_backup/source/pg/verify.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/source/pg/schema.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ row hashes */

/* The key only makes the digest a fixed function of the row: it is not a
 * secret (the archive is what is protected, by its own keys). */
static const unsigned char rowset_key[crypto_shorthash_siphashx24_KEYBYTES] = "zakpos-rowset-v1";

void zb_pg_rowset_add(zb_pg_rowset *set, const void *row, size_t len)
{
    unsigned char out[crypto_shorthash_siphashx24_BYTES];
    uint64_t lo, hi;
    crypto_shorthash_siphashx24(out, row, len, rowset_key);
    memcpy(&lo, out, 8);
    memcpy(&hi, out + 8, 8);
    /* addition modulo 2^128: the sum does not depend on the rows' order */
    uint64_t sum = set->lo + lo;
    set->hi += hi + (sum < lo);
    set->lo = sum;
}

void zb_pg_rowset_hex(const zb_pg_rowset *set, char out[ZB_PG_ROWSET_HEX_BYTES])
{
    snprintf(out, ZB_PG_ROWSET_HEX_BYTES, "%016llx%016llx", (unsigned long long)set->hi, (unsigned long long)set->lo);
}

#define BINARY_SIGNATURE     "PGCOPY\n\377\r\n\0"
#define BINARY_SIGNATURE_LEN 11

int zb_pg_copy_message(const char *data, size_t len, int binary, int first, size_t *header_len)
{
    *header_len = 0;
    if (!binary)
        return 0;
    if (first) {
        uint32_t ext = 0;
        if (len < BINARY_SIGNATURE_LEN + 8 || memcmp(data, BINARY_SIGNATURE, BINARY_SIGNATURE_LEN) != 0)
            return zb_error_set(ZB_EPG, "the server sent a binary COPY stream without its header");
        memcpy(&ext, data + BINARY_SIGNATURE_LEN + 4, 4);
        *header_len = BINARY_SIGNATURE_LEN + 8 + ntohl(ext);
        if (*header_len > len)
            return zb_error_set(ZB_EPG, "the server sent a binary COPY header longer than its message");
        data += *header_len, len -= *header_len;
    }
    return len == 2 && (unsigned char)data[0] == 0xff && (unsigned char)data[1] == 0xff ? 1 : 0;
}

/* ------------------------------------------------------ schema fingerprint */

int zb_pg_item_id(zb_buf *out, json_t *it)
{
    return zb_pg_item_id_of(
        out, json_string_value(json_object_get(it, "kind")), json_string_value(json_object_get(it, "schema")),
        json_string_value(json_object_get(it, "name")), json_string_value(json_object_get(it, "table")));
}

int zb_pg_item_id_of(zb_buf *out, const char *kind, const char *schema, const char *name, const char *table)
{
    zb_buf_printf(out, "%s %s%s%s", kind ? kind : "(null)", schema ? schema : "", schema ? "." : "", name ? name : "");
    if (table && out->data && !strstr(out->data, table))
        zb_buf_printf(out, " on %s", table);
    return out->data ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* Object -> its SQL (several items of one object joined, sorted), owners and
 * privileges included when asked. */
/* Whether the restore left out this part ("owner", "privileges", "object")
 * of the item named id (zb_pg_restore_left_out). */
static int was_left_out(json_t *left_out, const char *id, const char *what)
{
    size_t i;
    json_t *x;
    json_array_foreach (left_out, i, x)
        if (strcmp(json_string_value(json_object_get(x, "id")) ?: "", id) == 0 &&
            strcmp(json_string_value(json_object_get(x, "what")) ?: "", what) == 0)
            return 1;
    return 0;
}

static json_t *items_by_object(json_t *items, int with_owner, int with_acl, json_t *left_out)
{
    json_t *map = json_object();
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        zb_buf id = ZB_BUF_INIT, sql = ZB_BUF_INIT;
        zb_pg_item_id(&id, it);
        const char *name = id.data ? id.data : "";
        if (was_left_out(left_out, name, "object")) {
            zb_buf_free(&id);
            continue; /* not verified: reported by the caller */
        }
        zb_buf_puts(&sql, json_string_value(json_object_get(it, "sql")) ?: "");
        if (with_owner && json_string_value(json_object_get(it, "owner")) && !was_left_out(left_out, name, "owner"))
            zb_buf_printf(&sql, "\n%s", json_string_value(json_object_get(it, "owner")));
        if (with_acl && json_string_value(json_object_get(it, "acl")) && !was_left_out(left_out, name, "privileges"))
            zb_buf_printf(&sql, "\n%s", json_string_value(json_object_get(it, "acl")));
        /* an SQL_ASCII database's names and SQL may not be UTF-8: unchecked */
        json_t *all = json_object_get(map, id.data ? id.data : "");
        if (!all)
            json_object_set_new_nocheck(map, id.data ? id.data : "", all = json_array());
        json_array_append_new(all, zb_json_bytes(sql.data ? sql.data : "", sql.len));
        zb_buf_free(&id);
        zb_buf_free(&sql);
    }
    return map;
}

static int by_text(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

char *zb_pg_schema_fingerprint(json_t *items)
{
    size_t n = json_array_size(items), i;
    char **lines = calloc(n + 1, sizeof(*lines));
    if (!lines)
        return NULL;
    json_t *it;
    json_array_foreach (items, i, it) {
        zb_buf line = ZB_BUF_INIT;
        zb_pg_item_id(&line, it);
        zb_buf_printf(&line, "\x1f%s", json_string_value(json_object_get(it, "sql")) ?: "");
        lines[i] = zb_buf_detach(&line);
        zb_buf_free(&line);
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, crypto_generichash_BYTES);
    qsort(lines, n, sizeof(*lines), by_text);
    for (i = 0; i < n; i++) {
        if (lines[i])
            crypto_generichash_update(&h, (const unsigned char *)lines[i], strlen(lines[i]) + 1);
        free(lines[i]);
    }
    free(lines);
    unsigned char digest[crypto_generichash_BYTES];
    crypto_generichash_final(&h, digest, sizeof(digest));
    char *hex = malloc(sizeof(digest) * 2 + 1);
    if (hex)
        sodium_bin2hex(hex, sizeof(digest) * 2 + 1, digest, sizeof(digest));
    return hex;
}

/* ----------------------------------------------------------- comparison */

typedef struct verify_run {
    const zb_pg_verify_options *opts;
    json_t *differences;
    size_t limit, count;
    long long rows;
    json_t *tables;            /* the toc's data tables */
    json_t *recorded;          /* the manifest's per-table summary */
    int some_skipped;          /* the backup skipped unsupported objects (--pg-skip-unsupported) */
    const char *copy_encoding; /* the toc's: rows are read back in it */
    size_t next_table;
    int failed;
    zb_error_saved failure;
    pthread_mutex_t lock;
} verify_run;

static void add_difference(verify_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_difference(verify_run *run, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char *shown = zb_json_printable(text); /* an SQL_ASCII database's names need not be UTF-8 */
    pthread_mutex_lock(&run->lock);
    if (run->count++ < run->limit)
        json_array_append_new(run->differences, json_string(shown ? shown : "?"));
    free(shown);
    pthread_mutex_unlock(&run->lock);
}

static json_t *recorded_table(verify_run *run, const char *table)
{
    size_t i;
    json_t *t;
    /* the manifest holds a name that is not UTF-8 in hex, as written */
    json_t *name = zb_json_text(table, strlen(table)), *found = NULL;
    json_array_foreach (run->recorded, i, t)
        if (json_equal(json_object_get(t, "table"), name))
            found = found ?: t;
    json_decref(name);
    return found;
}

typedef struct read_back {
    int binary, first;
    long long rows;
    zb_pg_rowset set;
} read_back;

static int hash_message(const char *data, size_t len, void *payload)
{
    read_back *b = payload;
    size_t header = 0;
    int rc = zb_pg_copy_message(data, len, b->binary, b->first, &header);
    b->first = 0;
    if (rc == 0 && len > header) {
        zb_pg_rowset_add(&b->set, data + header, len - header);
        b->rows++;
    }
    return rc < 0 ? rc : 0;
}

/* COPY one table out exactly as the backup did and hash its rows. */
static int read_back_table(PGconn *conn, json_t *t, long long *rows, zb_pg_rowset *set)
{
    read_back b = {zb_pg_table_is_binary(t), 1, 0, {0, 0}};
    int rc = zb_pg_copy_out(conn, t, hash_message, &b);
    if (rc < 0)
        zb_error_context("reading back table %s", json_string_value(json_object_get(t, "table")));
    *rows = b.rows;
    *set = b.set;
    return rc;
}

static void compare_table(verify_run *run, json_t *t, long long rows, const zb_pg_rowset *set)
{
    const char *table = json_string_value(json_object_get(t, "table"));
    json_t *want = recorded_table(run, table);
    char hex[ZB_PG_ROWSET_HEX_BYTES];
    zb_pg_rowset_hex(set, hex);
    if (!want) {
        add_difference(run, "table %s: not in the manifest's summary", table);
        return;
    }
    long long wanted = json_integer_value(json_object_get(want, "rows"));
    const char *wanted_hash = json_string_value(json_object_get(want, "rowset"));
    if (rows != wanted)
        add_difference(run, "table %s: %lld rows restored, the backup had %lld", table, rows, wanted);
    else if (wanted_hash && strcmp(wanted_hash, hex) != 0)
        add_difference(run, "table %s: the restored rows differ from the backup's (row hash %.12s, recorded %.12s)",
                       table, hex, wanted_hash);
    pthread_mutex_lock(&run->lock);
    run->rows += rows;
    pthread_mutex_unlock(&run->lock);
}

static json_t *next_table(verify_run *run)
{
    pthread_mutex_lock(&run->lock);
    json_t *t = !run->failed && run->next_table < json_array_size(run->tables)
                    ? json_array_get(run->tables, run->next_table++)
                    : NULL;
    pthread_mutex_unlock(&run->lock);
    return t;
}

static void fail(verify_run *run)
{
    pthread_mutex_lock(&run->lock);
    if (!run->failed)
        run->failed = 1, zb_error_save(&run->failure);
    pthread_mutex_unlock(&run->lock);
}

static void *table_worker(void *arg)
{
    verify_run *run = arg;
    PGconn *conn = NULL;
    if (zb_pg_connect_db(&conn, run->opts->conninfo, run->opts->password_file, run->opts->dbname) < 0 ||
        zb_pg_copy_encoding_set(conn, run->copy_encoding) < 0) {
        fail(run);
        return NULL;
    }
    json_t *t;
    while ((t = next_table(run)) != NULL) {
        long long rows = 0;
        zb_pg_rowset set = {0, 0};
        if (read_back_table(conn, t, &rows, &set) < 0 || zb_check_interrupt() < 0) {
            fail(run);
            break;
        }
        compare_table(run, t, rows, &set);
    }
    PQfinish(conn);
    return NULL;
}

static int by_bytes(const void *a, const void *b)
{
    long long x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
    long long y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The data tables, largest first, so the last one does not run alone. */
static json_t *tables_largest_first(json_t *toc_tables)
{
    size_t n = json_array_size(toc_tables);
    json_t **all = calloc(n + 1, sizeof(*all));
    json_t *sorted = json_array();
    if (!all || !sorted) {
        free(all);
        json_decref(sorted);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = json_array_get(toc_tables, i);
    qsort(all, n, sizeof(*all), by_bytes);
    for (size_t i = 0; i < n; i++)
        json_array_append(sorted, all[i]);
    free(all);
    return sorted;
}

static int verify_tables(verify_run *run)
{
    int jobs = zb_pg_jobs_for(run->opts->jobs, json_array_size(run->tables));
    pthread_t threads[ZB_PG_MAX_JOBS];
    int started = 0, rc = 0;
    for (; started < jobs; started++)
        if (pthread_create(&threads[started], NULL, table_worker, run) != 0) {
            rc = zb_error_set(ZB_EFAIL, "cannot start a thread");
            fail(run);
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (rc == 0 && run->failed)
        rc = zb_error_raise(&run->failure);
    return rc;
}

static void add_catalog_difference(const char *text, void *payload) { add_difference(payload, "%s", text); }

/* The catalog fingerprint of the restored database against the archive's:
 * what the restore left out on purpose is not compared, nor what the backup
 * skipped (--pg-skip-unsupported: the objects and their dependents, named in
 * the manifest and the backup's log). */
static int verify_catalog(verify_run *run, PGconn *conn)
{
    zb_pg_fingerprint_scope scope = {run->opts->no_owner, run->opts->no_acl, 0, 0};
    size_t k;
    json_t *x;
    json_array_foreach (run->opts->left_out, k, x) {
        const char *what = json_string_value(json_object_get(x, "what")) ?: "";
        scope.no_owner |= strcmp(what, "owner") == 0;
        scope.no_acl |= strcmp(what, "privileges") == 0;
        scope.objects_missing |= strcmp(what, "object") == 0;
        scope.database_left_out |= strcmp(json_string_value(json_object_get(x, "id")) ?: "", "DATABASE") == 0;
    }
    scope.objects_missing |= run->some_skipped;
    double started = zb_time_monotonic();
    zb_pg_fingerprint_side recorded = {0}, restored = {0};
    zb_pg_fingerprint_stream *stream = NULL;
    size_t found = 0;
    /* both sides one object at a time, merged by name */
    int rc = zb_pg_fingerprint_recorded_side(&recorded, run->opts->catalog, run->opts->catalog_objects);
    if (rc == 0)
        rc = zb_pg_fingerprint_open(&stream, conn);
    if (rc == 0) {
        restored = (zb_pg_fingerprint_side){PQserverVersion(conn), zb_pg_fingerprint_next, stream, NULL};
        rc = zb_pg_fingerprint_compare_streams(&found, &recorded, &restored, conn, &scope, add_catalog_difference, run);
    }
    if (rc == 0)
        zb_log_detail("catalog fingerprint: %zu objects compared in %.3f s, %zu difference%s",
                      zb_pg_fingerprint_count(stream), zb_time_monotonic() - started, found, found == 1 ? "" : "s");
    zb_pg_fingerprint_close(stream);
    zb_pg_fingerprint_side_free(&recorded);
    return rc;
}

static int same_major(json_t *toc, PGconn *conn)
{
    return json_integer_value(json_object_get(toc, "server_version")) / 10000 == PQserverVersion(conn) / 10000;
}

static int verify_schema(verify_run *run, PGconn *conn, json_t *toc, json_t *summary)
{
    json_t *items = NULL, *skipped = NULL;
    /* toc format 1 wrote ACLs in another (equivalent) form: read them the same way */
    zb_pg_schema_options schema_opts = {1, json_integer_value(json_object_get(toc, "format")) < 2};
    int rc = zb_pg_schema_read(&items, &skipped, conn, &schema_opts);
    if (rc < 0)
        return rc;
    char *fingerprint = zb_pg_schema_fingerprint(items);
    const char *recorded = json_string_value(json_object_get(summary, "schema_fingerprint"));
    if (fingerprint && recorded && strcmp(fingerprint, recorded) != 0)
        zb_log_detail("schema fingerprint %.16s differs from the recorded %.16s", fingerprint, recorded);
    /* another major version prints the same definitions differently: the
     * catalog fingerprint, which normalises them, compares definitions */
    int by_catalog = run->opts->catalog && !same_major(toc, conn);
    json_t *want =
        items_by_object(json_object_get(toc, "items"), !run->opts->no_owner, !run->opts->no_acl, run->opts->left_out);
    json_t *got = items_by_object(items, !run->opts->no_owner, !run->opts->no_acl, run->opts->left_out);
    const char *id;
    json_t *sqls;
    json_object_foreach (want, id, sqls) {
        json_t *restored = json_object_get(got, id);
        if (!restored)
            add_difference(run, "%s: missing from the restored database", id);
        else if (!json_equal(sqls, restored) && !by_catalog)
            add_difference(run, "%s: differs from the backup's definition", id);
    }
    json_object_foreach (got, id, sqls) {
        if (!json_object_get(want, id))
            add_difference(run, "%s: in the restored database but not in the backup", id);
    }
    /* objects left out change the fingerprint: they are reported as not verified instead */
    int objects_left_out = 0;
    size_t k;
    json_t *x;
    json_array_foreach (run->opts->left_out, k, x)
        objects_left_out |= strcmp(json_string_value(json_object_get(x, "what")) ?: "", "object") == 0;
    if (fingerprint && recorded && strcmp(fingerprint, recorded) != 0 && run->count == 0 && !objects_left_out &&
        !by_catalog)
        add_difference(run, "schema fingerprint %.16s differs from the recorded %.16s", fingerprint, recorded);
    free(fingerprint);
    json_decref(want);
    json_decref(got);
    json_decref(items);
    json_decref(skipped);
    return 0;
}

static int verify_large_objects(verify_run *run, PGconn *conn, json_t *summary)
{
    PGresult *res = PQexec(conn, "SELECT pg_catalog.count(*) FROM pg_catalog.pg_largeobject_metadata");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = zb_pg_result_error(conn, res, "cannot count the restored large objects");
        PQclear(res);
        return rc;
    }
    long long got = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    long long want = json_integer_value(json_object_get(summary, "large_objects"));
    PQclear(res);
    if (got != want)
        add_difference(run, "large objects: %lld restored, the backup had %lld", got, want);
    return 0;
}

/* A comparison of the given toc tables with the summary's records. */
static void run_begin(verify_run *run, json_t *differences, size_t limit, const zb_pg_verify_options *opts, json_t *toc,
                      json_t *tables, json_t *summary)
{
    memset(run, 0, sizeof(*run));
    run->opts = opts;
    run->differences = differences;
    run->limit = limit;
    run->recorded = json_object_get(summary, "tables");
    run->some_skipped = json_array_size(json_object_get(summary, "skipped")) > 0;
    run->copy_encoding = json_string_value(json_object_get(toc, "copy_encoding"));
    run->tables = tables_largest_first(tables);
    pthread_mutex_init(&run->lock, NULL);
}

static void run_end(verify_run *run, size_t *count, long long *rows)
{
    json_decref(run->tables);
    pthread_mutex_destroy(&run->lock);
    *count = run->count;
    if (rows)
        *rows = run->rows;
}

int zb_pg_verify_rows(json_t *differences, size_t limit, size_t *count, const zb_pg_verify_options *opts, json_t *toc,
                      json_t *tables, json_t *summary)
{
    verify_run run;
    run_begin(&run, differences, limit, opts, toc, tables, summary);
    int rc = run.tables ? verify_tables(&run) : zb_error_set(ZB_ENOMEM, "out of memory");
    run_end(&run, count, NULL);
    return rc;
}

int zb_pg_verify_database(json_t *differences, size_t limit, size_t *count, long long *rows,
                          const zb_pg_verify_options *opts, json_t *toc, json_t *summary)
{
    verify_run run;
    run_begin(&run, differences, limit, opts, toc, json_object_get(toc, "tables"), summary);
    PGconn *conn = NULL;
    int rc = run.tables ? zb_pg_connect_db(&conn, opts->conninfo, opts->password_file, opts->dbname)
                        : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && opts->before_compare_sql)
        rc = zb_pg_exec(conn, opts->before_compare_sql, "the statement to run before comparing failed");
    if (rc == 0)
        rc = verify_tables(&run);
    if (rc == 0)
        rc = verify_schema(&run, conn, toc, summary);
    if (rc == 0 && opts->catalog)
        rc = verify_catalog(&run, conn);
    if (rc == 0)
        rc = verify_large_objects(&run, conn, summary);
    if (rc < 0)
        zb_error_context("verifying the restored database %s", opts->dbname);
    PQfinish(conn);
    run_end(&run, count, rows);
    return rc;
}
