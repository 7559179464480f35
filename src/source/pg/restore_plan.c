#include "zakpos_backup/source/pg/restore_plan.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/pg.h"

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

/* An optional text field: absent or null gives NULL, another type is an
 * error naming the item (from 1; 0 names the document itself). */
static int text_field(const char **out, json_t *object, const char *key, const char *where, size_t index)
{
    json_t *v = json_object_get(object, key);
    *out = json_is_string(v) ? json_string_value(v) : NULL;
    if (v && !json_is_null(v) && !json_is_string(v))
        return zb_error_set(ZB_EFORMAT, INVALID "%s %zu: \"%s\" is not a string", where, index, key);
    return 0;
}

static int parse_kind(zb_pg_plan_item *it, json_t *item, size_t n)
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
    int rc = text_field(&it->kind_name, item, "kind", "item", n);
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

static int parse_steps(zb_pg_plan_item *it, json_t *item, size_t n)
{
    json_t *steps = json_object_get(item, "steps");
    if (!steps || json_is_null(steps))
        return 0;
    if (!json_is_array(steps))
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu: \"steps\" is not a list", n);
    size_t count = json_array_size(steps);
    if (count > ZB_PG_PLAN_MAX_STEPS)
        return zb_error_set(ZB_EUNSAFE, INVALID "item %zu has %zu steps (at most %u)", n, count, ZB_PG_PLAN_MAX_STEPS);
    if (count == 0)
        return 0;
    if (!(it->steps = calloc(count, sizeof(*it->steps))))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    it->step_count = count;
    for (size_t s = 0; s < count; s++) {
        json_t *step = json_array_get(steps, s);
        const char *lock = NULL, *references_lock = NULL;
        int rc = json_is_object(step) ? text_field(&it->steps[s].sql, step, "sql", "item", n) : 0;
        if (rc == 0)
            rc = text_field(&lock, step, "lock", "item", n);
        if (rc == 0)
            rc = text_field(&references_lock, step, "references_lock", "item", n);
        if (rc == 0 && !it->steps[s].sql)
            rc = zb_error_set(ZB_EFORMAT, "the table of contents has a malformed step of %s %s.%s (item %zu)",
                              it->kind_name, it->schema ? it->schema : "", it->name ? it->name : "", n);
        if (rc < 0)
            return rc;
        it->steps[s].lock = zb_pg_lock_mode(lock);
        it->steps[s].references_lock = zb_pg_lock_mode(references_lock);
    }
    return 0;
}

/* One item; table_name and references_name are numbered once every name is
 * known (number_relations), and so is the parent a partition names (which
 * is a relation's table, numbered anyway). */
static int parse_item(zb_pg_plan_item *it, const char **table_name, const char **references_name, json_t *item,
                      size_t index)
{
    size_t n = index + 1;
    it->index = index;
    it->json = item;
    if (!json_is_object(item))
        return zb_error_set(ZB_EFORMAT, INVALID "item %zu is not an object", n);
    const char *lock = NULL;
    int rc = parse_kind(it, item, n);
    const char *partition_of = NULL; /* numbered in link_items */
    static const char *const keys[] = {"schema", "name",       "sql",  "owner",       "acl",
                                       "table",  "references", "lock", "partition_of"};
    const char **fields[] = {&it->schema, &it->name,       &it->sql, &it->owner,   &it->acl,
                             table_name,  references_name, &lock,    &partition_of};
    for (size_t k = 0; rc == 0 && k < sizeof(keys) / sizeof(keys[0]); k++)
        rc = text_field(fields[k], item, keys[k], "item", n);
    if (rc == 0)
        rc = parse_steps(it, item, n);
    if (rc < 0)
        return rc;
    it->lock = zb_pg_lock_mode(lock);
    it->needs_privilege |= json_is_true(json_object_get(item, "needs_superuser"));
    it->on_pool = json_is_true(json_object_get(item, "parallel")) ||
                  (*table_name && (it->kind == ZB_PG_KIND_CONSTRAINT || it->kind == ZB_PG_KIND_FK_CONSTRAINT));
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

static int parse_table(zb_pg_plan_table *t, const char **quoted, json_t *table, size_t index)
{
    size_t n = index + 1;
    t->json = table;
    t->selected = 1;
    json_t *oid = json_object_get(table, "oid");
    if (!json_is_object(table))
        return zb_error_set(ZB_EFORMAT, INVALID "table %zu is not an object", n);
    if (!json_is_integer(oid) || json_integer_value(oid) <= 0 || json_integer_value(oid) > (json_int_t)UINT_MAX)
        return zb_error_set(ZB_EFORMAT, INVALID "table %zu has no valid oid", n);
    t->oid = (unsigned int)json_integer_value(oid);
    int rc = text_field(&t->schema, table, "schema", "table", n);
    if (rc == 0)
        rc = text_field(&t->name, table, "name", "table", n);
    if (rc == 0)
        rc = text_field(quoted, table, "table", "table", n);
    if (rc == 0 && !*quoted)
        rc = zb_error_set(ZB_EFORMAT, INVALID "table %zu has no name", n);
    t->quoted = *quoted;
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

/* names holds two per item (table, references) then one per table; the
 * distinct ones, sorted, become plan->relations. */
static int number_relations(zb_pg_plan *plan, const char **names, size_t count)
{
    if (!(plan->relations = malloc((count + 1) * sizeof(*plan->relations))))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        if (names[i])
            plan->relations[plan->relation_count++] = names[i];
    if (plan->relation_count > 0)
        qsort(plan->relations, plan->relation_count, sizeof(*plan->relations), compare_names);
    size_t distinct = 0;
    for (size_t i = 0; i < plan->relation_count; i++)
        if (distinct == 0 || strcmp(plan->relations[distinct - 1], plan->relations[i]) != 0)
            plan->relations[distinct++] = plan->relations[i];
    plan->relation_count = distinct;
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
 * finding the items a committed table lets start costs no name lookups. */
static int link_items(zb_pg_plan *plan, const char **names)
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
        it->table = relation_number(plan, names[2 * i]);
        it->references = relation_number(plan, names[2 * i + 1]);
        it->partition_of = relation_number(plan, json_string_value(json_object_get(it->json, "partition_of")));
        it->data_table = it->table >= 0 ? table_of[it->table] : -1;
        /* a reference to a table without rows of its own (partitioned) never counts as loaded early */
        it->data_references = it->references >= 0 ? table_of[it->references] : ZB_PG_REFERENCES_NONE;
    }
    free(table_of);
    return group_items_by_table(plan);
}

static int parse_header(zb_pg_plan *plan, json_t *toc)
{
    json_t *format = json_object_get(toc, "format"), *connections = json_object_get(toc, "connections");
    json_t *version = json_object_get(toc, "server_version");
    if (!json_is_object(toc) || !json_is_array(json_object_get(toc, "items")) ||
        !json_is_array(json_object_get(toc, "tables")))
        return zb_error_set(ZB_EFORMAT, INVALID "fields missing");
    if (json_integer_value(format) > ZB_PG_TOC_FORMAT)
        return zb_error_set(ZB_EFORMAT, "the database was saved in a newer format (%lld); upgrade zakpos-backup",
                            (long long)json_integer_value(format));
    if (json_integer_value(connections) < 0 || json_integer_value(connections) > ZB_PG_PLAN_MAX_CONNECTIONS)
        return zb_error_set(ZB_EFORMAT, INVALID "%lld connections", (long long)json_integer_value(connections));
    if (json_integer_value(version) < 0 || json_integer_value(version) > INT_MAX)
        return zb_error_set(ZB_EFORMAT, INVALID "server version %lld", (long long)json_integer_value(version));
    plan->format = (int)json_integer_value(format);
    plan->connections = (int)json_integer_value(connections);
    plan->server_version = (int)json_integer_value(version);
    int rc = text_field(&plan->database, toc, "database", "document", 0);
    return rc < 0 ? rc : text_field(&plan->encoding, toc, "encoding", "document", 0);
}

static int parse_lists(zb_pg_plan *plan, json_t *toc, const char **names)
{
    json_t *items = json_object_get(toc, "items"), *tables = json_object_get(toc, "tables");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < plan->item_count; i++)
        rc = parse_item(&plan->items[i], &names[2 * i], &names[2 * i + 1], json_array_get(items, i), i);
    for (size_t t = 0; rc == 0 && t < plan->table_count; t++)
        rc = parse_table(&plan->tables[t], &names[2 * plan->item_count + t], json_array_get(tables, t), t);
    if (rc == 0)
        rc = number_relations(plan, names, 2 * plan->item_count + plan->table_count);
    return rc < 0 ? rc : link_items(plan, names);
}

int zb_pg_plan_parse(zb_pg_plan **out, json_t *toc)
{
    *out = NULL;
    zb_pg_plan *plan = calloc(1, sizeof(*plan));
    const char **names = NULL;
    if (!plan)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = parse_header(plan, toc);
    if (rc < 0)
        goto done;
    plan->item_count = json_array_size(json_object_get(toc, "items"));
    plan->table_count = json_array_size(json_object_get(toc, "tables"));
    if (plan->item_count > ZB_PG_PLAN_MAX_ITEMS || plan->table_count > ZB_PG_PLAN_MAX_TABLES) {
        rc = zb_error_set(ZB_EUNSAFE, INVALID "%zu items and %zu tables (at most %u and %u)", plan->item_count,
                          plan->table_count, ZB_PG_PLAN_MAX_ITEMS, ZB_PG_PLAN_MAX_TABLES);
        goto done;
    }
    plan->items = calloc(plan->item_count + 1, sizeof(*plan->items));
    plan->tables = calloc(plan->table_count + 1, sizeof(*plan->tables));
    names = calloc(2 * plan->item_count + plan->table_count + 1, sizeof(*names));
    rc =
        plan->items && plan->tables && names ? parse_lists(plan, toc, names) : zb_error_set(ZB_ENOMEM, "out of memory");
done:
    free(names);
    if (rc < 0)
        zb_pg_plan_free(plan);
    else
        *out = plan;
    return rc;
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

/* Archives written before a publication's tables became items of their own
 * add them in the publication's statement, which fails when a selection
 * leaves one out: such a publication is left out of a selective restore. */
static int legacy_publication_of_tables(const zb_pg_plan_item *it)
{
    return it->kind_name && strcmp(it->kind_name, "PUBLICATION") == 0 && it->sql && strstr(it->sql, "ADD TABLE");
}

/* Whether every relation an item of no table of its own needs (its
 * "needs") is kept; else it is left out, and the first relation missing is
 * named: a function returning a view's rows is of no use without the view,
 * and made without it it would fail the restore. */
static int needs_kept(const zb_pg_plan *plan, const zb_pg_plan_item *it, const unsigned char *kept)
{
    json_t *needs = json_object_get(it->json, "needs");
    for (size_t k = 0; k < json_array_size(needs); k++) {
        const char *name = json_string_value(json_array_get(needs, k));
        long relation = relation_number(plan, name);
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
            it->selected = !legacy_publication_of_tables(it) && needs_kept(plan, it, kept);
        /* the publication is made with the tables restored; a user who
         * publishes the others from here learns which it lacks */
        if (filtering && !it->selected && it->kind == ZB_PG_KIND_PUBLICATION_TABLE)
            zb_log_warn("publication %s restored without table %s, which is not restored", it->name ? it->name : "?",
                        json_string_value(json_object_get(it->json, "table")));
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
    for (size_t i = 0; plan->items && i < plan->item_count; i++)
        free(plan->items[i].steps);
    free(plan->items);
    free(plan->tables);
    free(plan->relations);
    free(plan->table_items);
    free(plan->table_items_start);
    free(plan);
}
