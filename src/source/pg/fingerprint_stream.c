/* The catalog fingerprint as a stream of objects in name order: read from
 * the server (one cursor per catalog query, merged), written to and read
 * from catalog.json one object a line, so neither a backup nor a verified
 * restore holds the catalog whole (at 20,000 tables it is 140,000 objects,
 * 17 MB of text and several times that as JSON values). */
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/stream/spool.h"

#include <archive_entry.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows fetched at a time from each cursor: what the stream holds is about
 * this many rows of each of the queries. */
#define FETCH_ROWS   256
/* The first line of a document written one object a line ends so; the
 * lines after it are the objects, then "}}". */
#define OBJECTS_OPEN "\"objects\":{"

/* ------------------------------------------------------------ name order */

/* A name's bytes: a name in hex ("hex:...") decoded into *owned. */
static const char *raw_name(const char *name, char **owned, size_t *len)
{
    *owned = NULL;
    *len = strlen(name);
    if (strncmp(name, "hex:", 4) != 0)
        return name;
    size_t hex_len = *len - 4;
    *owned = malloc(hex_len / 2 + 1);
    if (!*owned || sodium_hex2bin((unsigned char *)*owned, hex_len / 2 + 1, name + 4, hex_len, NULL, len, NULL) != 0) {
        free(*owned);
        *owned = NULL;
        *len = strlen(name);
        return name; /* malformed: ordered as written */
    }
    return *owned;
}

int zb_pg_fingerprint_name_order(const char *a, const char *b)
{
    if (strncmp(a, "hex:", 4) != 0 && strncmp(b, "hex:", 4) != 0)
        return strcmp(a, b);
    char *owned_a, *owned_b;
    size_t len_a, len_b;
    const char *x = raw_name(a, &owned_a, &len_a), *y = raw_name(b, &owned_b, &len_b);
    int order = memcmp(x, y, len_a < len_b ? len_a : len_b);
    if (order == 0)
        order = len_a < len_b ? -1 : len_a > len_b;
    free(owned_a);
    free(owned_b);
    return order;
}

/* An object's name as written: "hex:" and the bytes' hex when not UTF-8. */
static char *key_text(const char *text, size_t len)
{
    zb_buf b = ZB_BUF_INIT;
    if (zb_json_utf8_valid(text, len)) {
        zb_buf_append(&b, text, len);
    } else {
        char *hex = malloc(len * 2 + 1);
        if (hex) {
            sodium_bin2hex(hex, len * 2 + 1, (const unsigned char *)text, len);
            zb_buf_printf(&b, "hex:%s", hex);
        }
        free(hex);
    }
    return zb_buf_detach(&b);
}

/* ------------------------------------------------------- from the server */

typedef struct cursor {
    PGresult *res;
    int row;
} cursor;

struct zb_pg_fingerprint_stream {
    PGconn *conn;
    int began; /* the stream's own transaction */
    size_t count;
    cursor *cursors;
    size_t cursor_count;
    size_t objects;
};

/* The cursor's next batch; res NULL once it is used up. */
static int fetch(zb_pg_fingerprint_stream *s, size_t i)
{
    cursor *c = &s->cursors[i];
    PQclear(c->res);
    c->res = NULL;
    c->row = 0;
    char sql[64];
    snprintf(sql, sizeof(sql), "FETCH %d FROM zb_fingerprint_%zu", FETCH_ROWS, i);
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, s->conn, sql, "cannot read the catalogs for the fingerprint");
    if (rc < 0) {
        zb_error_context("catalog query \"%.60s...\"", zb_pg_fingerprint_queries[i]);
        return rc;
    }
    if (PQntuples(res) > 0)
        c->res = res;
    else
        PQclear(res);
    return 0;
}

/* Past rows without a name (a query's NULL, which names nothing). */
static int skip_unnamed(zb_pg_fingerprint_stream *s, size_t i)
{
    cursor *c = &s->cursors[i];
    int rc = 0;
    while (rc == 0 && c->res && PQgetisnull(c->res, c->row, 0))
        if (++c->row == PQntuples(c->res))
            rc = fetch(s, i);
    return rc;
}

static int advance_cursor(zb_pg_fingerprint_stream *s, size_t i)
{
    cursor *c = &s->cursors[i];
    if (++c->row == PQntuples(c->res)) {
        int rc = fetch(s, i);
        if (rc < 0)
            return rc;
    }
    return skip_unnamed(s, i);
}

/* Each query sorted by its name column on the server, by bytes ("C"), the
 * order the merge and catalog.json keep. */
static int declare(zb_pg_fingerprint_stream *s, size_t i)
{
    char *sql = NULL;
    zb_buf declare = ZB_BUF_INIT;
    int rc = zb_pg_fingerprint_sql(&sql, zb_pg_fingerprint_queries[i], PQserverVersion(s->conn));
    if (rc == 0 && zb_buf_printf(&declare,
                                 "DECLARE zb_fingerprint_%zu NO SCROLL CURSOR FOR SELECT * FROM (%s) AS q(zb_name) "
                                 "ORDER BY q.zb_name COLLATE \"C\"",
                                 i, sql) < 0)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_pg_exec(s->conn, declare.data, "cannot read the catalogs for the fingerprint");
    if (rc < 0)
        zb_error_context("catalog query \"%.60s...\"", zb_pg_fingerprint_queries[i]);
    free(sql);
    zb_buf_free(&declare);
    if (rc == 0)
        rc = fetch(s, i);
    return rc == 0 ? skip_unnamed(s, i) : rc;
}

int zb_pg_fingerprint_open(zb_pg_fingerprint_stream **out, PGconn *conn)
{
    *out = NULL;
    zb_pg_fingerprint_stream *s = calloc(1, sizeof(*s));
    size_t count = 0;
    while (zb_pg_fingerprint_queries[count])
        count++;
    if (!s || !(s->cursors = calloc(count, sizeof(*s->cursors)))) {
        free(s);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    s->conn = conn;
    int rc = 0;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE) {
        rc = zb_pg_exec(conn, "BEGIN", "cannot read the catalogs");
        s->began = rc == 0;
    }
    /* each cursor is read to its end: planned for all its rows, not the first */
    if (rc == 0)
        rc = zb_pg_exec(conn, "SELECT pg_catalog.set_config('cursor_tuple_fraction', '1', true)",
                        "cannot read the catalogs");
    for (size_t i = 0; rc == 0 && i < count; i++, s->cursor_count++)
        rc = declare(s, i);
    if (rc < 0) {
        zb_pg_fingerprint_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The cursor whose row comes first by name, or -1 when all are used up. */
static long first_cursor(const zb_pg_fingerprint_stream *s)
{
    long first = -1;
    for (size_t i = 0; i < s->cursor_count; i++) {
        const cursor *c = &s->cursors[i];
        if (c->res && (first < 0 || strcmp(PQgetvalue(c->res, c->row, 0),
                                           PQgetvalue(s->cursors[first].res, s->cursors[first].row, 0)) < 0))
            first = (long)i;
    }
    return first;
}

/* One row's attributes into object (a later query's value of an attribute
 * replaces an earlier one's, as when the catalog was read whole). */
static int add_row(json_t *object, PGresult *res, int row)
{
    for (int c = 1; c < PQnfields(res); c++) {
        if (PQgetisnull(res, row, c))
            continue;
        json_t *v = zb_json_text(PQgetvalue(res, row, c), (size_t)PQgetlength(res, row, c));
        if (!v || json_object_set_new(object, PQfname(res, c), v) != 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return 0;
}

int zb_pg_fingerprint_next(char **name, json_t **attributes, void *payload)
{
    zb_pg_fingerprint_stream *s = payload;
    *name = NULL;
    *attributes = NULL;
    long first = first_cursor(s);
    if (first < 0)
        return 0;
    const cursor *f = &s->cursors[first];
    char *raw = zb_strdup(PQgetvalue(f->res, f->row, 0));
    size_t raw_len = (size_t)PQgetlength(f->res, f->row, 0);
    json_t *object = json_object();
    int rc = raw && object ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    /* every query's rows of this name, in the queries' order */
    for (size_t i = (size_t)first; rc == 0 && i < s->cursor_count; i++) {
        cursor *c = &s->cursors[i];
        while (rc == 0 && c->res && strcmp(PQgetvalue(c->res, c->row, 0), raw) == 0)
            if ((rc = add_row(object, c->res, c->row)) == 0)
                rc = advance_cursor(s, i);
    }
    if (rc == 0 && !(*name = key_text(raw, raw_len)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    free(raw);
    if (rc < 0) {
        json_decref(object);
        return rc;
    }
    s->objects++;
    *attributes = object;
    return 1;
}

size_t zb_pg_fingerprint_count(const zb_pg_fingerprint_stream *s) { return s ? s->objects : 0; }

void zb_pg_fingerprint_close(zb_pg_fingerprint_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cursor_count; i++) {
        PQclear(s->cursors[i].res);
        if (!s->began && PQtransactionStatus(s->conn) == PQTRANS_INTRANS) {
            char sql[64];
            snprintf(sql, sizeof(sql), "CLOSE zb_fingerprint_%zu", i);
            PQclear(PQexec(s->conn, sql));
        }
    }
    if (s->began)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    free(s->cursors);
    free(s);
}

/* ------------------------------------------------------------ catalog.json */

/* "name":{attributes} (no newline), the attributes' keys sorted. */
static int object_line(zb_buf *line, const char *name, json_t *attributes)
{
    json_t *key = json_string(name);
    char *k = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
    char *a = json_dumps(attributes, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = k && a && zb_buf_printf(line, "%s:%s", k, a) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(key);
    free(k);
    free(a);
    return rc;
}

static int write_header(zb_spool *out, PGconn *conn, json_t *database)
{
    json_t *header = json_pack("{s:i, s:i, s:O}", "format", ZB_PG_CATALOG_FORMAT, "server_version",
                               PQserverVersion(conn), "database", database);
    char *text = header ? json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(header);
    if (!text)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    /* {...} opened again for the objects: {...,"objects":{ */
    int rc = zb_spool_write(out, text, strlen(text) - 1);
    if (rc == 0)
        rc = zb_spool_write(out, "," OBJECTS_OPEN, strlen("," OBJECTS_OPEN));
    free(text);
    return rc;
}

int zb_pg_fingerprint_write(zb_spool *out, PGconn *conn, json_t *database, size_t *objects)
{
    *objects = 0;
    zb_pg_fingerprint_stream *s = NULL;
    char *name = NULL;
    json_t *attributes = NULL;
    zb_buf line = ZB_BUF_INIT;
    int rc = zb_pg_fingerprint_open(&s, conn);
    if (rc == 0)
        rc = write_header(out, conn, database);
    while (rc == 0 && (rc = zb_pg_fingerprint_next(&name, &attributes, s)) > 0) {
        zb_buf_reset(&line);
        /* the comma ends the line before: the document stays one JSON value */
        rc = zb_buf_puts(&line, *objects ? ",\n" : "\n");
        if (rc == 0)
            rc = object_line(&line, name, attributes);
        if (rc == 0)
            rc = zb_spool_write(out, line.data, line.len);
        free(name);
        json_decref(attributes);
        name = NULL, attributes = NULL;
        (*objects)++;
    }
    if (rc == 0)
        rc = zb_spool_write(out, "\n}}", 3);
    zb_pg_fingerprint_close(s);
    zb_buf_free(&line);
    return rc < 0 ? rc : 0;
}

/* The entry's lines one at a time, from blocks of the archive. */
typedef struct entry_lines {
    zb_archive_reader *r;
    int64_t left;
    char block[64 * 1024];
    size_t pos, len;
    zb_buf line;
} entry_lines;

/* 1 and the line in l->line (without '\n'), 0 at the end. */
static int next_line(entry_lines *l, size_t max)
{
    zb_buf_reset(&l->line);
    for (;;) {
        if (l->pos == l->len) {
            if (l->left <= 0)
                return l->line.len ? 1 : 0;
            ssize_t n = zb_archive_reader_read(
                l->r, l->block, l->left < (int64_t)sizeof(l->block) ? (size_t)l->left : sizeof(l->block));
            if (n <= 0)
                return n < 0 ? (int)n : zb_error_set(ZB_EFORMAT, "the catalog fingerprint is truncated");
            l->pos = 0, l->len = (size_t)n, l->left -= n;
        }
        const char *start = l->block + l->pos, *nl = memchr(start, '\n', l->len - l->pos);
        size_t n = nl ? (size_t)(nl - start) : l->len - l->pos;
        if (l->line.len + n > max)
            return zb_error_set(ZB_EUNSAFE, "a line of the catalog fingerprint is longer than %zu MiB; refused",
                                max >> 20);
        if (zb_buf_append(&l->line, start, n) < 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        l->pos += n + (nl ? 1 : 0);
        if (nl)
            return 1;
    }
}

static int ends_with(const zb_buf *b, const char *suffix)
{
    size_t n = strlen(suffix);
    return b->len >= n && memcmp(b->data + b->len - n, suffix, n) == 0;
}

/* The first line "{...,"objects":{" as the header without objects. */
static int parse_header(json_t **header, zb_buf *line)
{
    line->len -= strlen(OBJECTS_OPEN);
    if (line->len > 0 && line->data[line->len - 1] == ',')
        line->len--;
    if (zb_buf_puts(line, "}") < 0)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_json_parse_limited(header, line->data, line->len, "the database's catalog fingerprint");
    if (rc == 0 && !json_is_object(*header))
        rc = zb_error_set(ZB_EFORMAT, "the database's catalog fingerprint is not an object");
    return rc;
}

static int load_lines(json_t **header, zb_spool **objects, entry_lines *l, int keep_objects)
{
    int rc = parse_header(header, &l->line);
    if (rc == 0 && keep_objects)
        rc = zb_spool_new(objects);
    int ended = 0;
    while (rc == 0 && (rc = next_line(l, ZB_JSON_MAX_TEXT)) > 0) {
        ended = strcmp(l->line.data, "}}") == 0;
        if (*objects && ((rc = zb_spool_write(*objects, l->line.data, l->line.len)) < 0 ||
                         (rc = zb_spool_write(*objects, "\n", 1)) < 0))
            break;
    }
    if (rc == 0 && !ended)
        rc = zb_error_set(ZB_EFORMAT, "the database's catalog fingerprint is truncated");
    if (rc == 0 && *objects)
        rc = zb_spool_finish(*objects);
    return rc;
}

/* A document written whole, on one line (before the objects were one a
 * line): parsed whole, as then. */
static int load_whole(json_t **header, entry_lines *l, int keep_objects)
{
    /* such a document has no newline: the first line was all of it */
    int rc = l->left > 0 || l->pos < l->len
                 ? zb_error_set(ZB_EFORMAT, "the database's catalog fingerprint is not valid JSON")
                 : zb_json_parse_catalog(header, l->line.data ? l->line.data : "", l->line.len,
                                         "the database's catalog fingerprint");
    if (rc == 0 && !keep_objects && json_is_object(*header))
        json_object_del(*header, "objects");
    return rc;
}

int zb_pg_fingerprint_load(json_t **header, zb_spool **objects, zb_archive_reader *r, struct archive_entry *entry,
                           int keep_objects)
{
    *header = NULL;
    *objects = NULL;
    entry_lines *l = calloc(1, sizeof(*l));
    if (!l)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    l->r = r;
    l->left = archive_entry_size(entry);
    int rc = next_line(l, ZB_JSON_MAX_CATALOG_TEXT);
    if (rc >= 0)
        rc = ends_with(&l->line, OBJECTS_OPEN) ? load_lines(header, objects, l, keep_objects)
                                               : load_whole(header, l, keep_objects);
    zb_buf_free(&l->line);
    free(l);
    if (rc < 0) {
        json_decref(*header);
        zb_spool_free(*objects);
        *header = NULL;
        *objects = NULL;
        return rc;
    }
    return 0;
}

/* --------------------------------------------------- the recorded objects */

static int spool_next(char **name, json_t **attributes, void *payload)
{
    const char *line;
    size_t len;
    int rc = zb_spool_line(payload, &line, &len);
    if (rc <= 0 || (len == 2 && memcmp(line, "}}", 2) == 0))
        return rc < 0 ? rc : 0;
    /* "name":{...}, -> {"name":{...}} */
    zb_buf text = ZB_BUF_INIT;
    json_t *one = NULL;
    if (len > 0 && line[len - 1] == ',')
        len--;
    rc = zb_buf_puts(&text, "{") == 0 && zb_buf_append(&text, line, len) == 0 && zb_buf_puts(&text, "}") == 0
             ? zb_json_parse_limited(&one, text.data, text.len, "an object of the catalog fingerprint")
             : zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf_free(&text);
    const char *key = rc == 0 && json_object_size(one) == 1 ? json_object_iter_key(json_object_iter(one)) : NULL;
    json_t *value = key ? json_object_iter_value(json_object_iter(one)) : NULL;
    if (rc == 0 && !json_is_object(value))
        rc = zb_error_set(ZB_EFORMAT, "the catalog fingerprint holds a line that is not one object");
    if (rc == 0 && !(*name = zb_strdup(key)))
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        *attributes = json_incref(value);
    json_decref(one);
    return rc < 0 ? rc : 1;
}

int zb_pg_fingerprint_recorded_side(zb_pg_fingerprint_side *side, json_t *header, zb_spool *objects)
{
    if (!objects)
        return zb_pg_fingerprint_tree_side(side, header);
    memset(side, 0, sizeof(*side));
    side->server_version = (int)json_integer_value(json_object_get(header, "server_version"));
    side->next = spool_next;
    side->payload = objects;
    return 0;
}
