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
    /* the restored side's cursors may hold a transaction open: a savepoint
     * then, so the rollback leaves them */
    int nested = PQtransactionStatus(conn) == PQTRANS_INTRANS;
    PGresult *res = PQexec(conn, nested ? "SAVEPOINT zb_redeparse" : "BEGIN");
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
    PQclear(PQexec(conn, nested ? "ROLLBACK TO SAVEPOINT zb_redeparse; RELEASE SAVEPOINT zb_redeparse" : "ROLLBACK"));
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

static void name_difference(zb_buf *text, const char *name, const char *what,
                            zb_pg_fingerprint_difference_fn difference, void *payload)
{
    zb_buf_reset(text);
    zb_buf_printf(text, "%s: %s", name, what);
    difference(text->data ? text->data : name, payload);
}

/* One side's next object, checked to come after the one before (held in
 * *name until then). */
static int advance(const zb_pg_fingerprint_side *side, char **name, json_t **attributes)
{
    char *before = *name;
    json_decref(*attributes);
    *name = NULL, *attributes = NULL;
    int rc = side->next(name, attributes, side->payload);
    if (rc > 0 && before && zb_pg_fingerprint_name_order(before, *name) >= 0)
        rc = zb_error_set(ZB_EFORMAT, "catalog fingerprint: \"%.100s\" follows \"%.100s\" out of name order", *name,
                          before);
    free(before);
    if (rc <= 0) {
        free(*name);
        json_decref(*attributes);
        *name = NULL, *attributes = NULL;
    }
    return rc;
}

/* A merge of two sorted streams: a name on one side only is missing or
 * more; a name on both is compared attribute by attribute. */
int zb_pg_fingerprint_compare_streams(size_t *found, const zb_pg_fingerprint_side *recorded,
                                      const zb_pg_fingerprint_side *restored, PGconn *conn,
                                      const zb_pg_fingerprint_scope *scope, zb_pg_fingerprint_difference_fn difference,
                                      void *payload)
{
    *found = 0;
    comparing c = {conn, recorded->server_version / 10000 == restored->server_version / 10000, NULL};
    char *want = NULL, *got = NULL;
    json_t *want_attributes = NULL, *got_attributes = NULL;
    zb_buf text = ZB_BUF_INIT;
    int rc = advance(recorded, &want, &want_attributes);
    if (rc >= 0)
        rc = advance(restored, &got, &got_attributes);
    while (rc >= 0 && (want || got)) {
        int order = !want ? 1 : !got ? -1 : zb_pg_fingerprint_name_order(want, got);
        const char *name = order <= 0 ? want : got;
        int left_out = scope && scope->database_left_out && is_database_property(name);
        if (order == 0 && !left_out) {
            *found += compare_object(name, want_attributes, got_attributes, scope, &c, difference, payload);
        } else if (order < 0 && !left_out && (!scope || !scope->objects_missing)) {
            name_difference(&text, name, "missing from the restored database", difference, payload);
            (*found)++;
        } else if (order > 0 && !left_out) {
            name_difference(&text, name, "in the restored database but not in the archive", difference, payload);
            (*found)++;
        }
        if (order <= 0)
            rc = advance(recorded, &want, &want_attributes);
        if (rc >= 0 && order >= 0)
            rc = advance(restored, &got, &got_attributes);
    }
    free(want);
    free(got);
    json_decref(want_attributes);
    json_decref(got_attributes);
    zb_buf_free(&text);
    return rc < 0 ? rc : 0;
}

/* A fingerprint held whole (a document written before the objects were
 * one a line, or a test's) as a stream: its names sorted. */
typedef struct tree_side {
    json_t *objects;
    const char **names;
    size_t count, next;
} tree_side;

static int by_name_order(const void *a, const void *b)
{
    return zb_pg_fingerprint_name_order(*(const char *const *)a, *(const char *const *)b);
}

static int tree_next(char **name, json_t **attributes, void *payload)
{
    tree_side *t = payload;
    if (t->next >= t->count)
        return 0;
    const char *key = t->names[t->next++];
    *name = zb_strdup(key);
    *attributes = json_incref(json_object_get(t->objects, key));
    return *name ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
}

static void tree_free(void *payload)
{
    tree_side *t = payload;
    if (t)
        free(t->names);
    free(t);
}

int zb_pg_fingerprint_tree_side(zb_pg_fingerprint_side *side, json_t *fingerprint)
{
    memset(side, 0, sizeof(*side));
    tree_side *t = calloc(1, sizeof(*t));
    if (!t)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    side->server_version = (int)json_integer_value(json_object_get(fingerprint, "server_version"));
    side->next = tree_next;
    side->payload = t;
    side->free = tree_free;
    t->objects = json_object_get(fingerprint, "objects");
    if (json_object_size(t->objects) > 0) {
        t->names = sorted_keys(t->objects, &t->count);
        if (!t->names)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        qsort(t->names, t->count, sizeof(*t->names), by_name_order);
    }
    return 0;
}

void zb_pg_fingerprint_side_free(zb_pg_fingerprint_side *side)
{
    if (side && side->free)
        side->free(side->payload);
    if (side)
        side->free = NULL, side->payload = NULL;
}

size_t zb_pg_fingerprint_compare(json_t *recorded, json_t *restored, PGconn *conn, const zb_pg_fingerprint_scope *scope,
                                 zb_pg_fingerprint_difference_fn difference, void *payload)
{
    zb_pg_fingerprint_side want = {0}, got = {0};
    size_t found = 0;
    if (zb_pg_fingerprint_tree_side(&want, recorded) == 0 && zb_pg_fingerprint_tree_side(&got, restored) == 0)
        zb_pg_fingerprint_compare_streams(&found, &want, &got, conn, scope, difference, payload);
    zb_pg_fingerprint_side_free(&want);
    zb_pg_fingerprint_side_free(&got);
    return found;
}
