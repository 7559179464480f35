#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shown values are cut here: a difference names the object and the
 * attribute; the value is there to recognise, not to diff by eye. */
#define SHOWN_VALUE_CHARS 160

/* Text from the server is UTF-8 unless the database is SQL_ASCII, whose
 * bytes pass through unconverted: those are kept as {"hex": "..."}. */
static json_t *text_value(const char *text, size_t len) { return zb_json_text(text, len); }

/* An object's name as a JSON key: "hex:" and the bytes' hex when not UTF-8. */
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

static int add_rows(PGresult *res, void *payload)
{
    json_t *objects = payload;
    int columns = PQnfields(res);
    for (int r = 0; r < PQntuples(res); r++) {
        if (PQgetisnull(res, r, 0))
            continue;
        char *key = key_text(PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0));
        if (!key)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        json_t *object = json_object_get(objects, key);
        if (!object && json_object_set_new(objects, key, object = json_object()) != 0)
            object = NULL;
        free(key);
        if (!object)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        for (int c = 1; c < columns; c++) {
            if (PQgetisnull(res, r, c))
                continue;
            json_t *v = text_value(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
            if (!v || json_object_set_new(object, PQfname(res, c), v) != 0)
                return zb_error_set(ZB_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int run_query(json_t *objects, PGconn *conn, const char *query)
{
    char *sql = NULL;
    int rc = zb_pg_fingerprint_sql(&sql, query, PQserverVersion(conn));
    if (rc < 0)
        return rc;
    /* a row at a time: the catalog is held once, as the objects */
    rc = zb_pg_query_rows(conn, sql, "cannot read the catalogs for the fingerprint", add_rows, objects);
    if (rc < 0) /* the query's start names the kind of object it reads */
        zb_error_context("catalog query \"%.60s...\"", query);
    free(sql);
    return rc;
}

int zb_pg_fingerprint_read(json_t **out, PGconn *conn)
{
    *out = NULL;
    json_t *objects = json_object();
    int rc = objects ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && zb_pg_fingerprint_queries[i]; i++)
        rc = run_query(objects, conn, zb_pg_fingerprint_queries[i]);
    if (rc < 0) {
        json_decref(objects);
        return rc;
    }
    /* "o" hands objects over, also when packing fails */
    *out = json_pack("{s:i, s:i, s:o}", "format", ZB_PG_CATALOG_FORMAT, "server_version", PQserverVersion(conn),
                     "objects", objects);
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------ comparison */

char *zb_pg_fingerprint_normalise(const char *text)
{
    size_t n = strlen(text);
    char *packed = malloc(n + 1);
    if (!packed)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)text[i]) && text[i] != '(' && text[i] != ')')
            packed[k++] = text[i];
    packed[k] = '\0';
    /* then the casts: "::" and the type name after it */
    char *out = malloc(k + 1);
    if (!out) {
        free(packed);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < k;) {
        if (packed[i] == ':' && packed[i + 1] == ':') {
            i += 2;
            while (i < k && (isalnum((unsigned char)packed[i]) || strchr("_.\"[]", packed[i])))
                i++;
            continue;
        }
        out[o++] = packed[i++];
    }
    out[o] = '\0';
    free(packed);
    return out;
}

/* Attributes holding SQL the server deparsed from its own trees: printed
 * differently by another major version for the same thing. */
static int is_deparsed(const char *attribute)
{
    static const char *const deparsed[] = {"definition",       "default",          "partition_bound", "partition_key",
                                           "using_expression", "check_expression", "sql_body",        NULL};
    for (size_t i = 0; deparsed[i]; i++)
        if (strcmp(attribute, deparsed[i]) == 0)
            return 1;
    return 0;
}

static void show(zb_buf *b, json_t *v)
{
    if (!v) {
        zb_buf_puts(b, "(not set)");
        return;
    }
    const char *s = json_string_value(v);
    const char *hex = s ? NULL : json_string_value(json_object_get(v, "hex"));
    if (hex)
        zb_buf_printf(b, "bytes %.*s%s", SHOWN_VALUE_CHARS, hex, strlen(hex) > SHOWN_VALUE_CHARS ? "..." : "");
    else
        zb_buf_printf(b, "'%.*s'%s", SHOWN_VALUE_CHARS, s ? s : "?", s && strlen(s) > SHOWN_VALUE_CHARS ? "..." : "");
}

/* An aclitem list without MAINTAIN ("m", PostgreSQL 17), which a newer
 * server gives owners that an older one could not record. */
static char *without_maintain(const char *acl)
{
    char *out = zb_strdup(acl);
    if (!out)
        return NULL;
    size_t o = 0;
    int in_privileges = 0;
    for (const char *p = acl; *p; p++) {
        if (*p == '=')
            in_privileges = 1;
        else if (*p == '/' || *p == ' ')
            in_privileges = 0;
        if (!(in_privileges && *p == 'm'))
            out[o++] = *p;
    }
    out[o] = '\0';
    return out;
}

/* A view definition as the restored database's server deparses it: the
 * recorded SELECT made a temporary view, read back, rolled back. */
static char *redeparse_view(PGconn *conn, const char *definition)
{
    zb_buf sql = ZB_BUF_INIT;
    char *out = NULL;
    if (!conn || zb_buf_printf(&sql, "CREATE TEMPORARY VIEW zb_fingerprint_redeparse AS %s", definition) < 0)
        return NULL;
    PGresult *res = PQexec(conn, "BEGIN");
    PQclear(res);
    res = PQexec(conn, sql.data);
    int created = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    res = created ? PQexec(conn,
                           "SELECT pg_catalog.pg_get_viewdef('pg_temp.zb_fingerprint_redeparse'::pg_catalog.regclass)")
                  : NULL;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        out = zb_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQclear(PQexec(conn, "ROLLBACK"));
    zb_buf_free(&sql);
    return out;
}

typedef struct comparing {
    PGconn *conn;
    int same_major;
    const char *kind; /* the restored object's "kind" attribute, if any */
} comparing;

static int same_value(const comparing *c, const char *attribute, json_t *a, json_t *b)
{
    if (json_equal(a, b))
        return 1;
    if (c->same_major || !a || !b || !json_is_string(a) || !json_is_string(b))
        return 0;
    char *x = NULL, *y = NULL;
    if (strcmp(attribute, "acl") == 0) {
        x = without_maintain(json_string_value(a)), y = without_maintain(json_string_value(b));
    } else if (strcmp(attribute, "definition") == 0 && c->kind && strchr("vm", *c->kind)) {
        x = redeparse_view(c->conn, json_string_value(a)), y = zb_strdup(json_string_value(b));
    } else if (is_deparsed(attribute)) {
        x = zb_pg_fingerprint_normalise(json_string_value(a)), y = zb_pg_fingerprint_normalise(json_string_value(b));
    }
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

static int compared(const zb_pg_fingerprint_scope *scope, const char *attribute)
{
    if (scope && scope->no_owner && strcmp(attribute, "owner") == 0)
        return 0;
    if (scope && scope->no_acl && strcmp(attribute, "acl") == 0)
        return 0;
    return 1;
}

static int by_text(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The keys of an object, sorted: differences come out in a stable order. */
static const char **sorted_keys(json_t *object, size_t *count)
{
    *count = json_object_size(object);
    const char **keys = calloc(*count + 1, sizeof(*keys));
    if (!keys)
        return NULL;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach (object, key, v)
        keys[i++] = key;
    qsort(keys, *count, sizeof(*keys), by_text);
    return keys;
}

/* NO INHERIT means something for a CHECK constraint only; on a key the
 * server records it when the key is made on the table itself (true) or by
 * its partitioned parent (false), and a partition's key made on its own
 * and then attached, as pg_dump restores it, is the same key. */
static int meaningless(const char *name, json_t *want, const char *attribute)
{
    const char *type = json_string_value(json_object_get(want, "type"));
    return strcmp(attribute, "no_inherit") == 0 && strncmp(name, "constraint ", 11) == 0 && type && *type &&
           strchr("pux", *type);
}

static size_t compare_object(const char *name, json_t *want, json_t *got, const zb_pg_fingerprint_scope *scope,
                             comparing *c, zb_pg_fingerprint_difference_fn difference, void *payload)
{
    c->kind = json_string_value(json_object_get(got, "kind"));
    json_t *all = json_deep_copy(want);
    json_object_update(all, got); /* the union of both sides' attributes */
    size_t n = 0, found = 0;
    const char **keys = sorted_keys(all, &n);
    for (size_t i = 0; keys && i < n; i++) {
        json_t *a = json_object_get(want, keys[i]), *b = json_object_get(got, keys[i]);
        if (!compared(scope, keys[i]) || meaningless(name, want, keys[i]) || same_value(c, keys[i], a, b))
            continue;
        zb_buf text = ZB_BUF_INIT;
        zb_buf_printf(&text, "%s: %s: archive ", name, keys[i]);
        show(&text, a);
        zb_buf_puts(&text, ", restored ");
        show(&text, b);
        difference(text.data ? text.data : name, payload);
        zb_buf_free(&text);
        found++;
    }
    free(keys);
    json_decref(all);
    return found;
}

/* The objects that hold the database's own properties (database.h). */
static int is_database_property(const char *name)
{
    return strcmp(name, "database") == 0 || strncmp(name, "settings of role ", 17) == 0;
}

size_t zb_pg_fingerprint_compare(json_t *recorded, json_t *restored, PGconn *conn, const zb_pg_fingerprint_scope *scope,
                                 zb_pg_fingerprint_difference_fn difference, void *payload)
{
    json_t *want = json_object_get(recorded, "objects"), *got = json_object_get(restored, "objects");
    comparing c = {conn,
                   json_integer_value(json_object_get(recorded, "server_version")) / 10000 ==
                       json_integer_value(json_object_get(restored, "server_version")) / 10000,
                   NULL};
    size_t n = 0, found = 0;
    const char **names = sorted_keys(want, &n);
    zb_buf text = ZB_BUF_INIT;
    for (size_t i = 0; names && i < n; i++) {
        json_t *g = json_object_get(got, names[i]);
        if (scope && scope->database_left_out && is_database_property(names[i]))
            continue;
        if (g) {
            found += compare_object(names[i], json_object_get(want, names[i]), g, scope, &c, difference, payload);
        } else if (!scope || !scope->objects_missing) {
            zb_buf_reset(&text);
            zb_buf_printf(&text, "%s: missing from the restored database", names[i]);
            difference(text.data ? text.data : names[i], payload);
            found++;
        }
    }
    free(names);
    names = sorted_keys(got, &n);
    for (size_t i = 0; names && i < n; i++) {
        if (json_object_get(want, names[i]) || (scope && scope->database_left_out && is_database_property(names[i])))
            continue;
        zb_buf_reset(&text);
        zb_buf_printf(&text, "%s: in the restored database but not in the archive", names[i]);
        difference(text.data ? text.data : names[i], payload);
        found++;
    }
    free(names);
    zb_buf_free(&text);
    return found;
}
