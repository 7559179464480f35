#include "zakpos_backup/source/pg/restore_plan.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/pg.h"
#include "zakpos_backup/source/pg/schema.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID "the database's table of contents is not valid: "

static const struct {
    const char *name;
    zb_pg_kind kind;
    unsigned relation : 1;
    unsigned needs_privilege : 1; /* an untrusted extension, and kinds a later format may carry */
} kinds[] = {
    {"TABLE", ZB_PG_KIND_TABLE, 1, 0},
    {"VIEW", ZB_PG_KIND_VIEW, 1, 0},
    {"MATERIALIZED VIEW", ZB_PG_KIND_MATERIALIZED_VIEW, 1, 0},
    {"INDEX", ZB_PG_KIND_INDEX, 0, 0},
    {"CONSTRAINT", ZB_PG_KIND_CONSTRAINT, 0, 0},
    {"FK CONSTRAINT", ZB_PG_KIND_FK_CONSTRAINT, 0, 0},
    {"EXTENSION", ZB_PG_KIND_EXTENSION, 0, 1},
    {"EVENT TRIGGER", ZB_PG_KIND_EVENT_TRIGGER, 0, 1},
    {"FOREIGN DATA WRAPPER", ZB_PG_KIND_FOREIGN_DATA_WRAPPER, 0, 1},
    {"SERVER", ZB_PG_KIND_SERVER, 0, 1},
    {"ACCESS METHOD", ZB_PG_KIND_ACCESS_METHOD, 0, 1},
    {"PROCEDURAL LANGUAGE", ZB_PG_KIND_PROCEDURAL_LANGUAGE, 0, 1},
    {"LANGUAGE", ZB_PG_KIND_LANGUAGE, 0, 1},
    {"PUBLICATION TABLE", ZB_PG_KIND_PUBLICATION_TABLE, 0, 0},
    /* kinds only a superuser (or the owner of what they build on, which a
     * scratch role is not) may create */
    {"SHELL TYPE", ZB_PG_KIND_OTHER, 0, 1},
    {"OPERATOR CLASS", ZB_PG_KIND_OTHER, 0, 1},
    {"OPERATOR FAMILY", ZB_PG_KIND_OTHER, 0, 1},
    {"TEXT SEARCH PARSER", ZB_PG_KIND_OTHER, 0, 1},
    {"TEXT SEARCH TEMPLATE", ZB_PG_KIND_OTHER, 0, 1},
    {"CAST", ZB_PG_KIND_OTHER, 0, 1},
    {"TRANSFORM", ZB_PG_KIND_OTHER, 0, 1},
    {"USER MAPPING", ZB_PG_KIND_OTHER, 0, 1},
    {"SUBSCRIPTION", ZB_PG_KIND_OTHER, 0, 1},
    {"PUBLICATION", ZB_PG_KIND_OTHER, 0, 1},
    {"CONVERSION", ZB_PG_KIND_OTHER, 0, 1},
    {"AGGREGATE", ZB_PG_KIND_OTHER, 0, 1}, /* an internal state type: superuser only (42P13) */
};

int zb_pg_lock_mode(const char *name)
{
    static const struct {
        const char *name;
        int mode;
    } modes[] = {{"ROW SHARE", ZB_PG_LOCK_ROW_SHARE},
                 {"SHARE UPDATE EXCLUSIVE", ZB_PG_LOCK_SHARE_UPDATE_EXCLUSIVE},
                 {"SHARE", ZB_PG_LOCK_SHARE},
                 {"SHARE ROW EXCLUSIVE", ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE}};
    for (size_t i = 0; name && i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(name, modes[i].name) == 0)
            return modes[i].mode;
    return ZB_PG_LOCK_ACCESS_EXCLUSIVE;
}

#define WHAT "the database's table of contents"

/* While the document is read: what an item names, numbered once every
 * name is known (link_items), and where its steps begin. */
typedef struct pending_item {
    const char *table, *references, *partition_of;
    size_t first_step;
} pending_item;

typedef struct plan_builder {
    zb_pg_plan *plan;
    pending_item *pending;
    size_t item_capacity, pending_capacity, table_capacity, step_capacity, need_capacity;
    json_t *header; /* the document's fields but items and tables */
    int seen_items, seen_tables;
} plan_builder;

/* An optional text field: absent or null gives NULL, another type is an
 * error naming the item (from 1; 0 names the document itself). The text is
 * the plan's own copy, kept once however often it repeats. */
static int text_field(const char **out, zb_pg_plan *plan, json_t *object, const char *key, const char *where,
                      size_t index)
{
    json_t *v = json_object_get(object, key);
    *out = NULL;
    if (v && !json_is_null(v) && !json_is_string(v))
        return zb_error_set(ZB_EFORMAT, INVALID "%s %zu: \"%s\" is not a string", where, index, key);
    return zb_intern_add(plan->names, out, json_string_value(v));
}

/* A statement field: as text_field, kept compressed in the plan's texts. */
static int sql_field(zb_pg_text *out, zb_pg_plan *plan, json_t *object, const char *key, size_t index)
{
    json_t *v = json_object_get(object, key);
    *out = 0;
    if (v && !json_is_null(v) && !json_is_string(v))
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu: \"%s\" is not a string", index, key);
    return json_is_string(v) ? zb_textpack_add(plan->texts, out, json_string_value(v)) : 0;
}

static int parse_kind(zb_pg_plan *plan, zb_pg_plan_item *it, json_t *item, size_t n)
{
    json_t *section = json_object_get(item, "section");
    const char *name = json_string_value(section);
    if (name && strcmp(name, "pre-data") == 0)
        it->section = ZB_PG_SECTION_PRE_DATA;
    else if (name && strcmp(name, "post-data") == 0)
        it->section = ZB_PG_SECTION_POST_DATA;
    else if (name)
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu: section \"%s\" is neither pre-data nor post-data", n, name);
    else
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu has no section", n);
    int rc = text_field(&it->kind_name, plan, item, "kind", "item", n);
    if (rc < 0)
        return rc;
    if (!it->kind_name)
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu has no kind", n);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(it->kind_name, kinds[k].name) == 0) {
            it->kind = kinds[k].kind;
            it->relation = kinds[k].relation;
            it->needs_privilege = kinds[k].needs_privilege;
        }
    return 0;
}

static int parse_steps(plan_builder *b, zb_pg_plan_item *it, json_t *item, size_t n)
{
    zb_pg_plan *plan = b->plan;
    json_t *steps = json_object_get(item, "steps");
    b->pending[it->index].first_step = plan->step_count;
    if (!steps || json_is_null(steps))
        return 0;
    if (!json_is_array(steps))
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu: \"steps\" is not a list", n);
    size_t count = json_array_size(steps);
    if (count > ZB_PG_PLAN_MAX_STEPS)
        return zb_error_set(ZB_EUNSAFE, INVALID "item %zu has %zu steps (at most %u)", n, count, ZB_PG_PLAN_MAX_STEPS);
    for (size_t s = 0; s < count; s++) {
        json_t *step = json_array_get(steps, s);
        const char *lock = NULL, *references_lock = NULL;
        int rc =
            zb_array_reserve((void **)&plan->steps, &b->step_capacity, plan->step_count, sizeof(*plan->steps), 256);
        if (rc < 0)
            return rc;
        zb_pg_plan_step *to = &plan->steps[plan->step_count];
        if (json_is_object(step))
            rc = sql_field(&to->sql, plan, step, "sql", n);
        if (rc == 0)
            rc = text_field(&lock, plan, step, "lock", "item", n);
        if (rc == 0)
            rc = text_field(&references_lock, plan, step, "references_lock", "item", n);
        if (rc == 0 && !to->sql)
            rc = zb_error_set(ZB_EFORMAT, "the table of contents has a malformed step of %s %s.%s (item %zu)",
                              it->kind_name, it->schema ? it->schema : "", it->name ? it->name : "", n);
        if (rc < 0)
            return rc;
        to->lock = zb_pg_lock_mode(lock);
        to->references_lock = zb_pg_lock_mode(references_lock);
        plan->step_count++;
        it->step_count++;
    }
    return 0;
}

/* The relations an item of no table of its own needs, numbered with the
 * rest (link_items). */
static int parse_needs(plan_builder *b, json_t *item, size_t index)
{
    zb_pg_plan *plan = b->plan;
    json_t *needs = json_object_get(item, "needs");
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < json_array_size(needs); k++) {
        const char *name = json_string_value(json_array_get(needs, k));
        if (!name) /* not a name: never one of the relations, as before */
            continue;
        if ((rc = zb_array_reserve((void **)&plan->needs, &b->need_capacity, plan->need_count, sizeof(*plan->needs),
                                   256)) == 0 &&
            (rc = zb_intern_add(plan->names, &plan->needs[plan->need_count].name, name)) == 0)
            plan->needs[plan->need_count++].item = index;
    }
    return rc;
}

/* One item; its table, references and parent (of a partition) are
 * numbered once every name is known (link_items). */
static int parse_item(plan_builder *b, json_t *item, size_t index)
{
    zb_pg_plan *plan = b->plan;
    size_t n = index + 1;
    if (index >= ZB_PG_PLAN_MAX_ITEMS)
        return zb_error_set(ZB_EUNSAFE, INVALID "more than %u items", ZB_PG_PLAN_MAX_ITEMS);
    int rc = zb_array_reserve((void **)&plan->items, &b->item_capacity, index, sizeof(*plan->items), 256);
    if (rc == 0)
        rc = zb_array_reserve((void **)&b->pending, &b->pending_capacity, index, sizeof(*b->pending), 256);
    if (rc < 0)
        return rc;
    zb_pg_plan_item *it = &plan->items[index];
    pending_item *names = &b->pending[index];
    plan->item_count = n;
    it->index = index;
    if (!json_is_object(item))
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu is not an object", n);
    const char *lock = NULL;
    rc = parse_kind(plan, it, item, n);
    static const char *const keys[] = {"schema", "name", "table", "references", "lock", "partition_of"};
    const char **fields[] = {&it->schema, &it->name, &names->table, &names->references, &lock, &names->partition_of};
    for (size_t k = 0; rc == 0 && k < sizeof(keys) / sizeof(keys[0]); k++)
        rc = text_field(fields[k], plan, item, keys[k], "item", n);
    static const char *const statements[] = {"sql", "owner", "acl"};
    zb_pg_text *texts[] = {&it->sql, &it->owner, &it->acl};
    for (size_t k = 0; rc == 0 && k < sizeof(statements) / sizeof(statements[0]); k++)
        rc = sql_field(texts[k], plan, item, statements[k], n);
    if (rc == 0)
        rc = parse_steps(b, it, item, n);
    if (rc == 0)
        rc = parse_needs(b, item, index);
    if (rc < 0)
        return rc;
    const char *sql = json_string_value(json_object_get(item, "sql"));
    it->adds_tables = strcmp(it->kind_name, "PUBLICATION") == 0 && sql && strstr(sql, "ADD TABLE");
    it->lock = zb_pg_lock_mode(lock);
    it->needs_privilege |= json_is_true(json_object_get(item, "needs_superuser"));
    it->on_pool = json_is_true(json_object_get(item, "parallel")) ||
                  (names->table && (it->kind == ZB_PG_KIND_CONSTRAINT || it->kind == ZB_PG_KIND_FK_CONSTRAINT));
    /* an index of a plain table or materialized view, and the keys and
     * foreign keys the backup split into steps, lock nothing but their
     * tables; others may reach further (a check constraint of an
     * inheritance parent is added to its children too) */
    it->early = it->step_count > 0 || (it->kind == ZB_PG_KIND_INDEX && it->lock == ZB_PG_LOCK_SHARE);
    it->selected = 1;
    if (it->on_pool && it->step_count == 0 && !it->sql)
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu (%s %s.%s) has neither sql nor steps", n, it->kind_name,
                            it->schema ? it->schema : "", it->name ? it->name : "");
    return 0;
}

static int parse_table(plan_builder *b, json_t *table, size_t index)
{
    zb_pg_plan *plan = b->plan;
    size_t n = index + 1;
    if (index >= ZB_PG_PLAN_MAX_TABLES)
        return zb_error_set(ZB_EUNSAFE, INVALID "more than %u tables", ZB_PG_PLAN_MAX_TABLES);
    int rc = zb_array_reserve((void **)&plan->tables, &b->table_capacity, index, sizeof(*plan->tables), 256);
    if (rc < 0)
        return rc;
    zb_pg_plan_table *t = &plan->tables[index];
    plan->table_count = n;
    t->selected = 1;
    json_t *oid = json_object_get(table, "oid");
    if (!json_is_object(table))
        return zb_error_set(ZB_EFORMAT, INVALID "table %zu is not an object", n);
    if (!json_is_integer(oid) || json_integer_value(oid) <= 0 || json_integer_value(oid) > (json_int_t)UINT_MAX)
        return zb_error_set(ZB_EFORMAT, INVALID "table %zu has no valid oid", n);
    t->oid = (unsigned int)json_integer_value(oid);
    static const char *const keys[] = {"schema", "name", "table", "columns"};
    const char **fields[] = {&t->schema, &t->name, &t->quoted, &t->columns};
    for (size_t k = 0; rc == 0 && k < sizeof(keys) / sizeof(keys[0]); k++)
        rc = text_field(fields[k], plan, table, keys[k], "table", n);
    if (rc == 0 && !t->quoted)
        rc = zb_error_set(ZB_EFORMAT, INVALID "table %zu has no name", n);
    t->binary = zb_pg_table_is_binary(table);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long relation_number(const zb_pg_plan *plan, const char *name)
{
    if (!name || plan->relation_count == 0) /* no relations: the list may be NULL */
        return ZB_PG_NO_RELATION;
    const char **at = bsearch(&name, plan->relations, plan->relation_count, sizeof(*plan->relations), compare_names);
    return at ? (long)(at - plan->relations) : ZB_PG_NO_RELATION;
}

/* The names items give as their table and references, and every table's;
 * the distinct ones, sorted, become plan->relations. */
static int number_relations(zb_pg_plan *plan, const pending_item *pending)
{
    if (!(plan->relations = malloc((2 * plan->item_count + plan->table_count + 1) * sizeof(*plan->relations))))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; i < plan->item_count; i++) {
        if (pending[i].table)
            plan->relations[plan->relation_count++] = pending[i].table;
        if (pending[i].references)
            plan->relations[plan->relation_count++] = pending[i].references;
    }
    for (size_t t = 0; t < plan->table_count; t++)
        plan->relations[plan->relation_count++] = plan->tables[t].quoted;
    if (plan->relation_count > 0)
        qsort(plan->relations, plan->relation_count, sizeof(*plan->relations), compare_names);
    size_t distinct = 0;
    for (size_t i = 0; i < plan->relation_count; i++)
        if (distinct == 0 || strcmp(plan->relations[distinct - 1], plan->relations[i]) != 0)
            plan->relations[distinct++] = plan->relations[i];
    plan->relation_count = distinct;
    const char **fitted = realloc(plan->relations, (distinct + 1) * sizeof(*plan->relations));
    if (fitted)
        plan->relations = fitted;
    return 0;
}

/* The items of each table (zb_pg_plan_table_items), counted then placed:
 * a committed table's items are then found without a scan of every item. */
static int group_items_by_table(zb_pg_plan *plan)
{
    size_t *start = calloc(plan->table_count + 2, sizeof(size_t));
    if (!start || !(plan->table_items = malloc((2 * plan->item_count + 1) * sizeof(size_t)))) {
        free(start);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    plan->table_items_start = start;
    for (size_t i = 0; i < plan->item_count; i++) {
        const zb_pg_plan_item *it = &plan->items[i];
        if (it->data_table >= 0)
            start[it->data_table + 2]++;
        if (it->data_references >= 0 && it->data_references != it->data_table)
            start[it->data_references + 2]++;
    }
    for (size_t t = 2; t < plan->table_count + 2; t++)
        start[t] += start[t - 1];
    /* start[t + 1] is where table t's next item goes; once all are placed it
     * is where table t + 1's begin */
    for (size_t i = 0; i < plan->item_count; i++) {
        const zb_pg_plan_item *it = &plan->items[i];
        if (it->data_table >= 0)
            plan->table_items[start[it->data_table + 1]++] = i;
        if (it->data_references >= 0 && it->data_references != it->data_table)
            plan->table_items[start[it->data_references + 1]++] = i;
    }
    return 0;
}

size_t zb_pg_plan_table_items(const zb_pg_plan *plan, size_t table, const size_t **items)
{
    *items = plan->table_items + plan->table_items_start[table];
    return plan->table_items_start[table + 1] - plan->table_items_start[table];
}

/* Which data table each item works on and references, once, so that
 * finding the items a committed table lets start costs no name lookups;
 * and where each item's steps are, now that they no longer move. */
static int link_items(zb_pg_plan *plan, const pending_item *pending)
{
    long *table_of = malloc((plan->relation_count + 1) * sizeof(long));
    if (!table_of)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t r = 0; r < plan->relation_count; r++)
        table_of[r] = -1;
    for (size_t t = 0; t < plan->table_count; t++) {
        zb_pg_plan_table *table = &plan->tables[t];
        table->relation = relation_number(plan, table->quoted); /* every name was numbered */
        if (table->relation >= 0 && table_of[table->relation] < 0)
            table_of[table->relation] = (long)t;
    }
    for (size_t i = 0; i < plan->item_count; i++) {
        zb_pg_plan_item *it = &plan->items[i];
        it->table = relation_number(plan, pending[i].table);
        it->references = relation_number(plan, pending[i].references);
        it->partition_of = relation_number(plan, pending[i].partition_of);
        it->data_table = it->table >= 0 ? table_of[it->table] : -1;
        /* a reference to a table without rows of its own (partitioned) never counts as loaded early */
        it->data_references = it->references >= 0 ? table_of[it->references] : ZB_PG_REFERENCES_NONE;
        it->steps = it->step_count ? plan->steps + pending[i].first_step : NULL;
    }
    for (size_t k = 0; k < plan->need_count; k++)
        plan->needs[k].relation = relation_number(plan, plan->needs[k].name);
    free(table_of);
    return group_items_by_table(plan);
}

/* The tablespaces the source's relations are in (format 2; absent
 * before): names only, for the restore to say which the target lacks. */
static int parse_tablespaces(zb_pg_plan *plan, json_t *list)
{
    if (list && !json_is_array(list))
        return zb_error_set(ZB_EFORMAT, INVALID "\"tablespaces\" is not a list");
    size_t count = json_array_size(list);
    if (count == 0)
        return 0;
    plan->tablespaces = calloc(count, sizeof(*plan->tablespaces));
    if (!plan->tablespaces)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const char *name = json_string_value(json_array_get(list, i));
        if (!name)
            return zb_error_set(ZB_EFORMAT, INVALID "tablespace %zu is not a name", i + 1);
        int rc = zb_intern_add(plan->names, &plan->tablespaces[plan->tablespace_count], name);
        if (rc < 0)
            return rc;
        plan->tablespace_count++;
    }
    return 0;
}

/* The document's fields but its items and tables, read before them. */
static int parse_header(zb_pg_plan *plan, json_t *toc)
{
    json_t *format = json_object_get(toc, "format"), *connections = json_object_get(toc, "connections");
    json_t *version = json_object_get(toc, "server_version");
    if (json_integer_value(connections) < 0 || json_integer_value(connections) > ZB_PG_PLAN_MAX_CONNECTIONS)
        return zb_error_set(ZB_EFORMAT, INVALID "%lld connections", (long long)json_integer_value(connections));
    if (json_integer_value(version) < 0 || json_integer_value(version) > INT_MAX)
        return zb_error_set(ZB_EFORMAT, INVALID "server version %lld", (long long)json_integer_value(version));
    plan->format = (int)json_integer_value(format);
    plan->connections = (int)json_integer_value(connections);
    plan->server_version = (int)json_integer_value(version);
    int rc = text_field(&plan->database, plan, toc, "database", "document", 0);
    if (rc == 0)
        rc = text_field(&plan->encoding, plan, toc, "encoding", "document", 0);
    /* not checked before: anything but a string is none, UTF8 */
    if (rc == 0)
        rc = zb_intern_add(plan->names, &plan->copy_encoding, json_string_value(json_object_get(toc, "copy_encoding")));
    return rc < 0 ? rc : parse_tablespaces(plan, json_object_get(toc, "tablespaces"));
}

/* ---- the document's text, read a value at a time */

#define WINDOW_BYTES (64u * 1024u)

/* A window on the document's text: buf[at, filled) is read and not yet
 * parsed; more comes from read() until the document's len bytes are in.
 * A value longer than the window grows it to fit. */
typedef struct toc_text {
    char *buf;
    size_t capacity, at, filled;
    size_t len, taken; /* the document's bytes, and those read so far */
    size_t max_memory; /* for one value, as for the whole document before */
    zb_pg_plan_source_fn read;
    void *payload;
    const char *memory; /* a document held whole (zb_pg_plan_read): no window */
} toc_text;

/* Reads more of the document into the window: 1 when some came, 0 at its
 * end, or an error code. */
static int read_more(toc_text *r)
{
    if (r->memory || r->taken == r->len)
        return 0;
    if (r->at > 0) { /* what was parsed makes room */
        memmove(r->buf, r->buf + r->at, r->filled - r->at);
        r->filled -= r->at;
        r->at = 0;
    }
    if (r->filled == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : WINDOW_BYTES;
        char *grown = realloc(r->buf, capacity + 1);
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory for " WHAT);
        r->buf = grown, r->capacity = capacity;
    }
    size_t want = r->capacity - r->filled, got = 0;
    if (want > r->len - r->taken)
        want = r->len - r->taken;
    int rc = r->read(r->payload, r->buf + r->filled, want, &got);
    if (rc < 0)
        return rc;
    if (got == 0 || got > want)
        return zb_error_set(ZB_EFORMAT, WHAT " is truncated");
    r->filled += got;
    r->taken += got;
    r->buf[r->filled] = '\0';
    return 1;
}

static int skip_space(toc_text *r)
{
    for (;;) {
        while (r->at < r->filled &&
               (r->buf[r->at] == ' ' || r->buf[r->at] == '\t' || r->buf[r->at] == '\n' || r->buf[r->at] == '\r'))
            r->at++;
        if (r->at < r->filled)
            return (unsigned char)r->buf[r->at];
        if (read_more(r) <= 0)
            return -1;
    }
}

static int take(toc_text *r, char c)
{
    if (skip_space(r) != c)
        return 0;
    r->at++;
    return 1;
}

static int not_json(const toc_text *r, const char *expected)
{
    return zb_error_set(ZB_EFORMAT, WHAT " is not valid JSON: %s expected near byte %zu", expected,
                        r->taken - (r->filled - r->at));
}

/* The next value, parsed alone. A value that fails, or ends where the
 * window does (a number may go on), is parsed again with more text, until
 * the document's end. */
static int next_value(toc_text *r, json_t **out)
{
    int rc;
    size_t used = 0;
    for (;;) {
        rc = zb_json_parse_next(out, &used, r->buf + r->at, r->filled - r->at, WHAT, r->max_memory);
        if (rc == ZB_EUNSAFE || (rc == 0 && r->at + used < r->filled))
            break;
        int more = read_more(r);
        if (more <= 0) {
            rc = more < 0 ? more : rc;
            break;
        }
        json_decref(*out);
        *out = NULL;
    }
    if (rc == 0 && zb_json_depth(r->buf + r->at, used, ZB_JSON_MAX_DEPTH) > ZB_JSON_MAX_DEPTH - 2)
        rc = zb_error_set(ZB_EUNSAFE, WHAT " nests deeper than %d levels", ZB_JSON_MAX_DEPTH);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    r->at += used;
    /* an SQL_ASCII database's text that is not UTF-8, stored in hex: held
     * in a list, the value itself is decoded too */
    json_t *holder = json_array();
    if (!holder || json_array_append_new(holder, *out) < 0) {
        json_decref(holder);
        *out = NULL;
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    rc = zb_json_texts_decode(holder, WHAT);
    *out = rc == 0 ? json_incref(json_array_get(holder, 0)) : NULL;
    json_decref(holder);
    return rc;
}

/* Each element of the array at r, parsed alone and passed to element(). */
static int each_element(toc_text *r, plan_builder *b, int (*element)(plan_builder *, json_t *, size_t))
{
    if (!take(r, '['))
        return zb_error_set(ZB_EFORMAT, INVALID "fields missing");
    if (take(r, ']'))
        return 0;
    int rc = 0;
    size_t index = 0;
    do {
        json_t *value = NULL;
        if ((rc = next_value(r, &value)) == 0)
            rc = element(b, value, index++);
        json_decref(value);
    } while (rc == 0 && take(r, ','));
    return rc == 0 && !take(r, ']') ? not_json(r, "',' or ']'") : rc;
}

/* A newer format is refused before any of its items is read (the writer
 * puts "format" first). */
static int check_format(json_t *format)
{
    if (json_integer_value(format) > ZB_PG_TOC_FORMAT)
        return zb_error_set(ZB_EFORMAT, "the database was saved in a newer format (%lld); upgrade zakpos-backup",
                            (long long)json_integer_value(format));
    return 0;
}

/* One member of the document: the lists' elements go to the plan, every
 * other field to the header. */
static int read_member(toc_text *r, plan_builder *b, const char *key)
{
    if (strcmp(key, "items") == 0 || strcmp(key, "tables") == 0) {
        int *seen = key[0] == 'i' ? &b->seen_items : &b->seen_tables;
        if (skip_space(r) != '[')
            return zb_error_set(ZB_EFORMAT, INVALID "fields missing");
        if ((*seen)++)
            return zb_error_set(ZB_EFORMAT, INVALID "\"%s\" appears twice", key);
        int rc = check_format(json_object_get(b->header, "format"));
        return rc < 0 ? rc : each_element(r, b, key[0] == 'i' ? parse_item : parse_table);
    }
    json_t *value = NULL;
    int rc = next_value(r, &value);
    if (rc == 0 && json_object_set_new(b->header, key, value) < 0)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    return rc;
}

/* The document's members in order, then its end. */
static int read_document(toc_text *r, plan_builder *b)
{
    if (!take(r, '{'))
        return skip_space(r) == '[' || skip_space(r) == '"' ? zb_error_set(ZB_EFORMAT, INVALID "fields missing")
                                                            : not_json(r, "'{'");
    int rc = 0;
    if (!take(r, '}')) {
        do {
            json_t *key = NULL;
            if (skip_space(r) != '"')
                return not_json(r, "a name");
            if ((rc = next_value(r, &key)) == 0)
                rc = take(r, ':') ? read_member(r, b, json_string_value(key)) : not_json(r, "':'");
            json_decref(key);
        } while (rc == 0 && take(r, ','));
        if (rc == 0 && !take(r, '}'))
            return not_json(r, "',' or '}'");
    }
    return rc == 0 && skip_space(r) >= 0 ? not_json(r, "the end") : rc;
}

static int read_plan(zb_pg_plan **out, toc_text *r)
{
    *out = NULL;
    if (r->len > ZB_JSON_MAX_CATALOG_TEXT)
        return zb_error_set(ZB_EUNSAFE, WHAT " is %zu bytes long; the reader accepts at most %u MiB", r->len,
                            ZB_JSON_MAX_CATALOG_TEXT >> 20);
    size_t memory = r->len * ZB_JSON_CATALOG_MEMORY_PER_BYTE;
    r->max_memory = memory > ZB_JSON_MAX_MEMORY ? memory : ZB_JSON_MAX_MEMORY;
    plan_builder b = {calloc(1, sizeof(zb_pg_plan)), NULL, 0, 0, 0, 0, 0, json_object(), 0, 0};
    zb_pg_plan *plan = b.plan;
    int rc = plan && b.header ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && ((rc = zb_intern_new(&plan->names)) == 0))
        rc = zb_textpack_new(&plan->texts);
    if (rc == 0)
        rc = read_document(r, &b);
    if (rc == 0 && (!b.seen_items || !b.seen_tables))
        rc = zb_error_set(ZB_EFORMAT, INVALID "fields missing");
    if (rc == 0)
        rc = check_format(json_object_get(b.header, "format"));
    if (rc == 0)
        rc = parse_header(plan, b.header);
    if (rc == 0)
        rc = number_relations(plan, b.pending);
    if (rc == 0)
        rc = link_items(plan, b.pending);
    free(b.pending);
    json_decref(b.header);
    if (rc < 0)
        zb_pg_plan_free(plan);
    else
        *out = plan;
    return rc;
}

int zb_pg_plan_read(zb_pg_plan **out, const char *text, size_t len)
{
    toc_text r = {(char *)text, len, 0, len, len, len, 0, NULL, NULL, text};
    return read_plan(out, &r);
}

int zb_pg_plan_read_stream(zb_pg_plan **out, size_t len, zb_pg_plan_source_fn read, void *payload)
{
    toc_text r = {NULL, 0, 0, 0, len, 0, 0, read, payload, NULL};
    int rc = read_plan(out, &r);
    free(r.buf);
    return rc;
}

int zb_pg_plan_text(zb_pg_plan *plan, zb_pg_text ref, const char **sql)
{
    return zb_textpack_get(plan->texts, ref, sql);
}

size_t zb_pg_plan_held(const zb_pg_plan *plan)
{
    return plan->item_count * sizeof(*plan->items) + plan->table_count * sizeof(*plan->tables) +
           plan->step_count * sizeof(*plan->steps) + plan->need_count * sizeof(*plan->needs) +
           plan->relation_count * sizeof(*plan->relations) +
           (2 * plan->item_count + plan->table_count) * sizeof(size_t) + zb_intern_held(plan->names) +
           zb_textpack_held(plan->texts);
}

static int listed(const char *const *list, const char *value)
{
    for (; list && *list && value; list++)
        if (strcmp(*list, value) == 0)
            return 1;
    return 0;
}

/* "schema.name" unquoted, as the user writes it. */
static int table_selected(const char *const *tables, const char *const *schemas, const char *schema, const char *name)
{
    if (listed(schemas, schema))
        return 1;
    char full[1024];
    snprintf(full, sizeof(full), "%s.%s", schema ? schema : "", name ? name : "");
    return listed(tables, full);
}

/* Whether every relation an item of no table of its own needs (its
 * "needs") is kept; else it is left out, and the first relation missing is
 * named: a function returning a view's rows is of no use without the view,
 * and made without it it would fail the restore. */
static int by_item(const void *key, const void *element)
{
    size_t item = *(const size_t *)key, other = ((const zb_pg_plan_need *)element)->item;
    return (item > other) - (item < other);
}

static int needs_kept(const zb_pg_plan *plan, const zb_pg_plan_item *it, const unsigned char *kept)
{
    const zb_pg_plan_need *need =
        plan->need_count ? bsearch(&it->index, plan->needs, plan->need_count, sizeof(*plan->needs), by_item) : NULL;
    while (need && need > plan->needs && need[-1].item == it->index)
        need--; /* the item's first */
    for (; need && need < plan->needs + plan->need_count && need->item == it->index; need++) {
        const char *name = need->name;
        long relation = need->relation;
        if (relation < 0 || kept[relation])
            continue;
        char kind[64];
        size_t n = 0;
        for (const char *c = it->kind_name; c && *c && n + 1 < sizeof(kind); c++)
            kind[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        kind[n] = '\0';
        zb_log_warn("%s %s%s%s left out: it needs %s, which is not restored", kind, it->schema ? it->schema : "",
                    it->schema ? "." : "", it->name ? it->name : "?", name);
        return 0;
    }
    return 1;
}

int zb_pg_plan_select(zb_pg_plan *plan, const char *const *tables, const char *const *schemas)
{
    int filtering = (tables && *tables) || (schemas && *schemas);
    /* per relation: whether the first table or view of that name is kept */
    unsigned char *seen = filtering ? calloc(plan->relation_count + 1, 2) : NULL;
    unsigned char *kept = seen ? seen + plan->relation_count + 1 : NULL;
    if (filtering && !seen)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    /* relations first: a partition follows its parent in the toc (it needs
     * it), so the parent's choice is known when the partition's is made */
    for (size_t i = 0; filtering && i < plan->item_count; i++) {
        zb_pg_plan_item *it = &plan->items[i];
        if (it->relation) {
            it->selected = table_selected(tables, schemas, it->schema, it->name) ||
                           (it->partition_of >= 0 && kept[it->partition_of]);
            if (it->table >= 0 && !seen[it->table])
                seen[it->table] = 1, kept[it->table] = it->selected;
        }
    }
    for (size_t t = 0; t < plan->table_count; t++) {
        zb_pg_plan_table *table = &plan->tables[t];
        table->selected = !filtering || table_selected(tables, schemas, table->schema, table->name) ||
                          (table->relation >= 0 && kept[table->relation]);
    }
    for (size_t i = 0; i < plan->item_count; i++) {
        zb_pg_plan_item *it = &plan->items[i];
        if (!filtering)
            it->selected = 1;
        else if (!it->relation && it->table >= 0)
            it->selected = kept[it->table] && (it->references < 0 || kept[it->references]);
        else if (!it->relation)
            /* archives written before a publication's tables became items of
             * their own add them in the publication's statement, which fails
             * when a selection leaves one out: left out of a selective restore */
            it->selected = !it->adds_tables && needs_kept(plan, it, kept);
        /* the publication is made with the tables restored; a user who
         * publishes the others from here learns which it lacks */
        if (filtering && !it->selected && it->kind == ZB_PG_KIND_PUBLICATION_TABLE)
            zb_log_warn("publication %s restored without table %s, which is not restored", it->name ? it->name : "?",
                        it->table >= 0 ? plan->relations[it->table] : "(null)");
    }
    free(seen);
    return 0;
}

int zb_pg_plan_item_ready(const zb_pg_plan *plan, const zb_pg_plan_item *it,
                          int (*committed)(size_t table, void *payload), void *payload)
{
    (void)plan;
    if (it->section != ZB_PG_SECTION_POST_DATA || !it->on_pool || !it->early || !it->selected || it->data_table < 0)
        return 0;
    if (!committed((size_t)it->data_table, payload))
        return 0;
    return it->data_references == ZB_PG_REFERENCES_NONE ||
           (it->data_references >= 0 && committed((size_t)it->data_references, payload));
}

void zb_pg_plan_free(zb_pg_plan *plan)
{
    if (!plan)
        return;
    free(plan->items);
    free(plan->steps);
    free(plan->needs);
    zb_intern_free(plan->names);
    zb_textpack_free(plan->texts);
    free(plan->tables);
    free(plan->relations);
    free(plan->tablespaces);
    free(plan->table_items);
    free(plan->table_items_start);
    free(plan);
}
