#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/restore_plan.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A toc as a backup writes it: two tables with rows, a partitioned one
 * without, an index, a key split into steps, a foreign key, a kind this
 * reader has no rule for, and a trigger. */
static const char shop_toc[] =
    "{\"format\":2,\"database\":\"shop\",\"server_version\":160004,\"encoding\":\"UTF8\",\"connections\":2,\"items\":["
    "{\"section\":\"pre-data\",\"kind\":\"SCHEMA\",\"name\":\"shop\",\"sql\":\"CREATE SCHEMA shop;\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"orders\",\"table\":\"\\\"shop\\\".\\\"orders\\\"\","
    "\"sql\":\"CREATE TABLE shop.orders (id int);\",\"owner\":\"ALTER TABLE shop.orders OWNER TO o;\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"items\",\"table\":\"\\\"shop\\\".\\\"items\\\"\","
    "\"sql\":\"CREATE TABLE shop.items (o int);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"parts\",\"table\":\"\\\"shop\\\".\\\"parts\\\"\","
    "\"sql\":\"CREATE TABLE shop.parts (id int) PARTITION BY RANGE (id);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"PUBLICATION\",\"name\":\"feed\",\"sql\":\"CREATE PUBLICATION feed;\"},"
    "{\"section\":\"post-data\",\"kind\":\"INDEX\",\"schema\":\"shop\",\"name\":\"orders_i\",\"table\":\"\\\"shop\\\".\\\"orders\\\"\","
    "\"sql\":\"CREATE INDEX orders_i ON shop.orders (id);\",\"lock\":\"SHARE\",\"parallel\":true},"
    "{\"section\":\"post-data\",\"kind\":\"CONSTRAINT\",\"schema\":\"shop\",\"name\":\"orders_pkey\","
    "\"table\":\"\\\"shop\\\".\\\"orders\\\"\",\"sql\":\"ALTER TABLE shop.orders ADD PRIMARY KEY (id);\",\"parallel\":true,"
    "\"steps\":[{\"sql\":\"CREATE UNIQUE INDEX orders_pkey ON shop.orders (id);\",\"lock\":\"SHARE\"},"
    "{\"sql\":\"ALTER TABLE shop.orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey;\"}]},"
    "{\"section\":\"post-data\",\"kind\":\"FK CONSTRAINT\",\"schema\":\"shop\",\"name\":\"items_o_fkey\","
    "\"table\":\"\\\"shop\\\".\\\"items\\\"\",\"references\":\"\\\"shop\\\".\\\"orders\\\"\","
    "\"sql\":\"ALTER TABLE shop.items ADD FOREIGN KEY (o) REFERENCES shop.orders;\"},"
    "{\"section\":\"post-data\",\"kind\":\"FK CONSTRAINT\",\"schema\":\"shop\",\"name\":\"items_p_fkey\","
    "\"table\":\"\\\"shop\\\".\\\"items\\\"\",\"references\":\"\\\"shop\\\".\\\"parts\\\"\","
    "\"sql\":\"ALTER TABLE shop.items ADD FOREIGN KEY (o) REFERENCES shop.parts;\"},"
    "{\"section\":\"post-data\",\"kind\":\"STATISTICS\",\"schema\":\"shop\",\"name\":\"orders_s\","
    "\"table\":\"\\\"shop\\\".\\\"orders\\\"\",\"sql\":\"CREATE STATISTICS shop.orders_s ON id, id FROM shop.orders;\"},"
    "{\"section\":\"post-data\",\"kind\":\"TRIGGER\",\"schema\":\"shop\",\"name\":\"orders_t\","
    "\"table\":\"\\\"shop\\\".\\\"orders\\\"\",\"sql\":\"CREATE TRIGGER orders_t ...;\"}"
    "],\"tables\":["
    "{\"oid\":16400,\"schema\":\"shop\",\"name\":\"orders\",\"table\":\"\\\"shop\\\".\\\"orders\\\"\",\"columns\":\"id\"},"
    "{\"oid\":16401,\"schema\":\"shop\",\"name\":\"items\",\"table\":\"\\\"shop\\\".\\\"items\\\"\",\"columns\":\"o\"}"
    "]}";

enum { SCHEMA, ORDERS, ITEMS, PARTS, PUBLICATION, INDEX, PKEY, FK_ORDERS, FK_PARTS, STATISTICS, TRIGGER };

static json_t *parse_json(const char *text)
{
    json_error_t error;
    json_t *toc = json_loads(text, 0, &error);
    if (!toc)
        fail_msg("test toc does not parse: %s at %d", error.text, error.position);
    return toc;
}

/* The plan read from the toc's text, as a restore reads it. */
static zb_pg_plan *plan_of(json_t *toc)
{
    zb_pg_plan *plan = NULL;
    char *text = json_dumps(toc, JSON_COMPACT);
    if (!text || zb_pg_plan_read(&plan, text, strlen(text)) < 0)
        fail_msg("the plan does not parse: %s", zb_error_message());
    free(text);
    return plan;
}

/* A statement the plan holds, as a restore reads it. */
static const char *text_of(zb_pg_plan *plan, zb_pg_text ref)
{
    const char *sql = NULL;
    if (zb_pg_plan_text(plan, ref, &sql) < 0)
        fail_msg("the statement does not read back: %s", zb_error_message());
    return sql;
}

/* A text handed over a few bytes at a time, as an archive entry may be:
 * values, numbers among them, split across reads. */
typedef struct piecewise {
    const char *text;
    size_t at, len, piece;
} piecewise;

static int read_piecewise(void *payload, char *buf, size_t room, size_t *got)
{
    piecewise *s = payload;
    size_t n = room < s->piece ? room : s->piece;
    if (n > s->len - s->at)
        n = s->len - s->at;
    memcpy(buf, s->text + s->at, n);
    s->at += n;
    *got = n;
    return 0;
}

static void plan_reads_every_field_once(void **state)
{
    (void)state;
    json_t *toc = parse_json(shop_toc);
    zb_pg_plan *plan = plan_of(toc);
    assert_int_equal(plan->format, 2);
    assert_int_equal(plan->server_version, 160004);
    assert_int_equal(plan->connections, 2);
    assert_string_equal(plan->database, "shop");
    assert_string_equal(plan->encoding, "UTF8");
    assert_int_equal(plan->item_count, 11);
    assert_int_equal(plan->table_count, 2);
    assert_int_equal(plan->relation_count, 3); /* orders, items, parts */
    const zb_pg_plan_item *it = plan->items;

    assert_int_equal(it[SCHEMA].section, ZB_PG_SECTION_PRE_DATA);
    assert_int_equal(it[SCHEMA].table, ZB_PG_NO_RELATION);
    assert_int_equal(it[ORDERS].kind, ZB_PG_KIND_TABLE);
    assert_true(it[ORDERS].relation);
    assert_string_equal(text_of(plan, it[ORDERS].owner), "ALTER TABLE shop.orders OWNER TO o;");
    assert_int_equal(it[ORDERS].acl, 0);
    assert_int_equal(it[ORDERS].table, plan->tables[0].relation);
    assert_int_equal(it[ORDERS].data_table, 0);
    assert_int_equal(it[PARTS].data_table, -1); /* no rows of its own */

    assert_int_equal(it[INDEX].section, ZB_PG_SECTION_POST_DATA);
    assert_int_equal(it[INDEX].kind, ZB_PG_KIND_INDEX);
    assert_int_equal(it[INDEX].lock, ZB_PG_LOCK_SHARE);
    assert_true(it[INDEX].on_pool);
    assert_true(it[INDEX].early);
    assert_int_equal(it[INDEX].data_references, ZB_PG_REFERENCES_NONE);

    assert_int_equal(it[PKEY].step_count, 2);
    assert_int_equal(it[PKEY].steps[0].lock, ZB_PG_LOCK_SHARE);
    assert_int_equal(it[PKEY].steps[1].lock, ZB_PG_LOCK_ACCESS_EXCLUSIVE); /* none named: the strongest */
    assert_true(it[PKEY].early);

    /* a foreign key without steps runs on the pool but waits for the end of loading */
    assert_int_equal(it[FK_ORDERS].kind, ZB_PG_KIND_FK_CONSTRAINT);
    assert_true(it[FK_ORDERS].on_pool);
    assert_false(it[FK_ORDERS].early);
    assert_int_equal(it[FK_ORDERS].data_table, 1);
    assert_int_equal(it[FK_ORDERS].data_references, 0);
    assert_int_equal(it[FK_ORDERS].references, it[ORDERS].table);
    assert_int_equal(it[FK_PARTS].data_references, -1); /* references a table without rows */

    assert_false(it[TRIGGER].on_pool);
    for (size_t i = 0; i < plan->item_count; i++) {
        assert_int_equal(it[i].index, i);
        assert_true(it[i].selected);
        /* the statements as the document has them */
        json_t *item = json_array_get(json_object_get(toc, "items"), i);
        const char *sql = json_string_value(json_object_get(item, "sql"));
        if (sql)
            assert_string_equal(text_of(plan, it[i].sql), sql);
        else
            assert_int_equal(it[i].sql, 0);
        for (size_t s = 0; s < it[i].step_count; s++)
            assert_string_equal(
                text_of(plan, it[i].steps[s].sql),
                json_string_value(json_object_get(json_array_get(json_object_get(item, "steps"), s), "sql")));
    }
    assert_int_equal(plan->tables[1].oid, 16401);
    assert_string_equal(plan->relations[plan->tables[1].relation], "\"shop\".\"items\"");

    /* read from a stream a few bytes at a time, the same plan */
    for (size_t piece = 1; piece < 12; piece += 5) {
        piecewise source = {shop_toc, 0, strlen(shop_toc), piece};
        zb_pg_plan *streamed = NULL;
        assert_int_equal(zb_pg_plan_read_stream(&streamed, source.len, read_piecewise, &source), 0);
        assert_int_equal(source.at, source.len);
        assert_int_equal(streamed->server_version, 160004);
        assert_int_equal(streamed->connections, 2);
        assert_int_equal(streamed->item_count, plan->item_count);
        assert_int_equal(streamed->relation_count, plan->relation_count);
        for (size_t i = 0; i < plan->item_count; i++) {
            assert_int_equal(streamed->items[i].table, it[i].table);
            assert_int_equal(streamed->items[i].step_count, it[i].step_count);
            const char *sql = text_of(plan, it[i].sql);
            if (sql)
                assert_string_equal(text_of(streamed, streamed->items[i].sql), sql);
        }
        zb_pg_plan_free(streamed);
    }
    /* a text shorter than it says is refused */
    piecewise cut = {shop_toc, 0, strlen(shop_toc) - 3, 64};
    zb_pg_plan *none = NULL;
    assert_int_equal(zb_pg_plan_read_stream(&none, strlen(shop_toc), read_piecewise, &cut), ZB_EFORMAT);
    assert_null(none);
    zb_pg_plan_free(plan);
    json_decref(toc);
}

/* Kinds a later backup writes (another engineer's new object kinds) keep
 * their name and SQL and are restored by section and order. */
static void plan_carries_unknown_kinds(void **state)
{
    (void)state;
    json_t *toc = parse_json(shop_toc);
    zb_pg_plan *plan = plan_of(toc);
    const zb_pg_plan_item *pub = &plan->items[PUBLICATION], *stats = &plan->items[STATISTICS];
    assert_int_equal(pub->kind, ZB_PG_KIND_OTHER);
    assert_string_equal(pub->kind_name, "PUBLICATION");
    assert_string_equal(text_of(plan, pub->sql), "CREATE PUBLICATION feed;");
    assert_int_equal(pub->section, ZB_PG_SECTION_PRE_DATA);
    assert_false(pub->on_pool);
    assert_int_equal(stats->kind, ZB_PG_KIND_OTHER);
    assert_string_equal(stats->kind_name, "STATISTICS");
    assert_int_equal(stats->section, ZB_PG_SECTION_POST_DATA);
    assert_int_equal(stats->table, plan->items[ORDERS].table);
    assert_false(stats->on_pool); /* not marked parallel: the leader runs it in order */
    assert_false(stats->needs_privilege);
    zb_pg_plan_free(plan);
    json_decref(toc);
}

/* A publication of an older archive that adds its tables in its own
 * statement would fail in a restore of some of them: a selection leaves it
 * out. */
static void plan_leaves_out_publications_of_tables(void **state)
{
    (void)state;
    json_t *toc = parse_json(
        "{\"format\":2,\"database\":\"shop\",\"server_version\":150004,\"encoding\":\"UTF8\",\"connections\":1,\"items\":["
        "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"items\",\"table\":\"\\\"shop\\\".\\\"items\\\"\","
        "\"sql\":\"CREATE TABLE shop.items (o int);\"},"
        "{\"section\":\"pre-data\",\"kind\":\"PUBLICATION\",\"name\":\"zakpos_backup\",\"sql\":\"CREATE PUBLICATION "
        "zakpos_backup WITH (publish = 'insert');\\nALTER PUBLICATION zakpos_backup ADD TABLE ONLY shop.orders;\"}"
        "],\"tables\":[]}");
    zb_pg_plan *plan = plan_of(toc);
    const char *const tables[] = {"shop.items", NULL};
    assert_int_equal(zb_pg_plan_select(plan, tables, NULL), 0);
    assert_true(plan->items[0].selected);
    assert_false(plan->items[1].selected);
    assert_int_equal(zb_pg_plan_select(plan, NULL, NULL), 0);
    assert_true(plan->items[1].selected); /* a whole restore keeps it */
    zb_pg_plan_free(plan);
    json_decref(toc);
}

/* An object of no table that needs a relation a selection leaves out (a
 * function returning SETOF a view's rows) is left out with it; one that
 * needs only kept relations, or names one the toc lacks, is kept. */
static void plan_leaves_out_what_needs_a_relation_left_out(void **state)
{
    (void)state;
    json_t *toc = parse_json(
        "{\"format\":2,\"database\":\"shop\",\"server_version\":150004,\"encoding\":\"UTF8\",\"connections\":1,\"items\":["
        "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"items\",\"table\":\"shop.items\","
        "\"sql\":\"CREATE TABLE shop.items (o int);\"},"
        "{\"section\":\"pre-data\",\"kind\":\"VIEW\",\"schema\":\"shop\",\"name\":\"big\",\"table\":\"shop.big\","
        "\"sql\":\"CREATE VIEW shop.big AS SELECT o FROM shop.items;\"},"
        "{\"section\":\"pre-data\",\"kind\":\"FUNCTION\",\"schema\":\"shop\",\"name\":\"big_rows\","
        "\"needs\":[\"shop.items\",\"shop.big\"],\"sql\":\"CREATE FUNCTION shop.big_rows() ...;\"},"
        "{\"section\":\"pre-data\",\"kind\":\"FUNCTION\",\"schema\":\"shop\",\"name\":\"item_rows\","
        "\"needs\":[\"shop.items\",\"shop.gone\"],\"sql\":\"CREATE FUNCTION shop.item_rows() ...;\"},"
        "{\"section\":\"pre-data\",\"kind\":\"TYPE\",\"schema\":\"shop\",\"name\":\"mood\","
        "\"sql\":\"CREATE TYPE shop.mood AS ENUM ('a');\"}"
        "],\"tables\":[]}");
    zb_pg_plan *plan = plan_of(toc);
    const char *const tables[] = {"shop.items", NULL};
    assert_int_equal(zb_pg_plan_select(plan, tables, NULL), 0);
    assert_true(plan->items[0].selected);
    assert_false(plan->items[1].selected);
    assert_false(plan->items[2].selected); /* needs the view left out */
    assert_true(plan->items[3].selected);  /* a name the toc lacks is no relation left out */
    assert_true(plan->items[4].selected);
    const char *const both[] = {"shop.items", "shop.big", NULL};
    assert_int_equal(zb_pg_plan_select(plan, both, NULL), 0);
    assert_true(plan->items[2].selected);
    assert_int_equal(zb_pg_plan_select(plan, NULL, NULL), 0);
    for (size_t i = 0; i < plan->item_count; i++)
        assert_true(plan->items[i].selected); /* a whole restore keeps everything */
    zb_pg_plan_free(plan);
    json_decref(toc);
}

static void plan_selects_tables_and_what_hangs_off_them(void **state)
{
    (void)state;
    json_t *toc = parse_json(shop_toc);
    zb_pg_plan *plan = plan_of(toc);
    const char *const tables[] = {"shop.items", NULL};
    assert_int_equal(zb_pg_plan_select(plan, tables, NULL), 0);
    const zb_pg_plan_item *it = plan->items;
    assert_true(it[SCHEMA].selected);
    assert_true(it[PUBLICATION].selected); /* belongs to no table */
    assert_true(it[ITEMS].selected);
    assert_false(it[ORDERS].selected);
    assert_false(it[INDEX].selected);
    assert_false(it[FK_ORDERS].selected); /* items is kept, the table it references is not */
    assert_false(it[TRIGGER].selected);
    assert_false(plan->tables[0].selected);
    assert_true(plan->tables[1].selected);

    const char *const both[] = {"shop.items", "shop.orders", "shop.parts", NULL};
    assert_int_equal(zb_pg_plan_select(plan, both, NULL), 0);
    assert_true(it[FK_ORDERS].selected);
    assert_true(it[FK_PARTS].selected);
    const char *const schemas[] = {"other", NULL};
    assert_int_equal(zb_pg_plan_select(plan, NULL, schemas), 0);
    assert_false(it[ORDERS].selected);
    assert_true(it[SCHEMA].selected);
    assert_int_equal(zb_pg_plan_select(plan, NULL, NULL), 0);
    for (size_t i = 0; i < plan->item_count; i++)
        assert_true(it[i].selected);
    zb_pg_plan_free(plan);
    json_decref(toc);
}

/* Fields and kinds written lately: a partition names its parent
 * (partition_of), two levels deep; a partitioned table's index makes and
 * attaches its partitions' indexes by their names and its trigger sets the
 * clones' states (both items of the parent's table); privileges changed on
 * an extension's member are an ACL item with its statements in acl; a
 * publication's table is a PUBLICATION TABLE item of that table. A
 * selection of the parent brings every partition and what hangs off them;
 * of a sub-partitioned partition, its own partitions only; the publication
 * keeps only its restored tables. */
static const char partitions_toc[] =
    "{\"format\":2,\"database\":\"shop\",\"server_version\":170002,\"encoding\":\"UTF8\",\"connections\":2,\"items\":["
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"ev\",\"table\":\"shop.ev\","
    "\"sql\":\"CREATE TABLE shop.ev (at date) PARTITION BY RANGE (at);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"ev_2024\",\"table\":\"shop.ev_2024\","
    "\"partition_of\":\"shop.ev\",\"sql\":\"CREATE TABLE shop.ev_2024 PARTITION OF shop.ev FOR VALUES FROM (1) TO (2);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"ev_2026\",\"table\":\"shop.ev_2026\","
    "\"partition_of\":\"shop.ev\",\"sql\":\"CREATE TABLE shop.ev_2026 PARTITION OF shop.ev ... PARTITION BY LIST (at);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"ev_2026_a\",\"table\":\"shop.ev_2026_a\","
    "\"partition_of\":\"shop.ev_2026\",\"sql\":\"CREATE TABLE shop.ev_2026_a PARTITION OF shop.ev_2026 ...;\"},"
    "{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"schema\":\"shop\",\"name\":\"other\",\"table\":\"shop.other\","
    "\"sql\":\"CREATE TABLE shop.other (id int);\"},"
    "{\"section\":\"pre-data\",\"kind\":\"ACL\",\"schema\":\"ext\",\"name\":\"citext_larger(citext, citext)\",\"sql\":\"\","
    "\"acl\":\"GRANT EXECUTE ON FUNCTION ext.citext_larger(ext.citext, ext.citext) TO reader;\"},"
    "{\"section\":\"post-data\",\"kind\":\"INDEX\",\"schema\":\"shop\",\"name\":\"ev_key\",\"table\":\"shop.ev\","
    "\"sql\":\"CREATE INDEX ev_key ON ONLY shop.ev (at);\\nCREATE INDEX ev24_by_hand ON shop.ev_2024 (at);"
    "\\nALTER INDEX shop.ev_key ATTACH PARTITION shop.ev24_by_hand;\",\"parallel\":true},"
    "{\"section\":\"post-data\",\"kind\":\"TRIGGER\",\"schema\":\"shop\",\"name\":\"ev_touch\",\"table\":\"shop.ev\","
    "\"sql\":\"CREATE TRIGGER ev_touch ...;\\nALTER TABLE shop.ev_2024 DISABLE TRIGGER ev_touch;\"},"
    "{\"section\":\"post-data\",\"kind\":\"PUBLICATION\",\"name\":\"feed\",\"sql\":\"CREATE PUBLICATION feed;\"},"
    "{\"section\":\"post-data\",\"kind\":\"PUBLICATION TABLE\",\"name\":\"feed\",\"table\":\"shop.other\","
    "\"sql\":\"ALTER PUBLICATION feed ADD TABLE ONLY shop.other;\"},"
    "{\"section\":\"post-data\",\"kind\":\"PUBLICATION TABLE\",\"name\":\"feed\",\"table\":\"shop.ev\","
    "\"sql\":\"ALTER PUBLICATION feed ADD TABLE ONLY shop.ev;\"}"
    "],\"tables\":["
    "{\"oid\":16400,\"schema\":\"shop\",\"name\":\"ev_2024\",\"table\":\"shop.ev_2024\",\"columns\":\"at\"},"
    "{\"oid\":16401,\"schema\":\"shop\",\"name\":\"ev_2026_a\",\"table\":\"shop.ev_2026_a\",\"columns\":\"at\"},"
    "{\"oid\":16402,\"schema\":\"shop\",\"name\":\"other\",\"table\":\"shop.other\",\"columns\":\"id\"}"
    "]}";

enum { EV, EV_2024, EV_2026, EV_2026_A, OTHER, MEMBER_ACL, EV_INDEX, EV_TRIGGER, FEED, FEED_OTHER, FEED_EV };

static void plan_reads_partitions_clones_and_member_privileges(void **state)
{
    (void)state;
    json_t *toc = parse_json(partitions_toc);
    zb_pg_plan *plan = plan_of(toc);
    const zb_pg_plan_item *it = plan->items;
    assert_int_equal(it[EV].partition_of, ZB_PG_NO_RELATION);
    assert_int_equal(it[EV_2024].partition_of, it[EV].table);
    assert_int_equal(it[EV_2026].partition_of, it[EV].table);
    assert_int_equal(it[EV_2026_A].partition_of, it[EV_2026].table);
    assert_int_equal(it[OTHER].partition_of, ZB_PG_NO_RELATION);
    assert_int_equal(it[MEMBER_ACL].kind, ZB_PG_KIND_OTHER);
    assert_string_equal(it[MEMBER_ACL].kind_name, "ACL");
    assert_string_equal(text_of(plan, it[MEMBER_ACL].sql), "");
    assert_non_null(strstr(text_of(plan, it[MEMBER_ACL].acl), "GRANT EXECUTE ON FUNCTION ext.citext_larger"));
    assert_int_equal(it[MEMBER_ACL].table, ZB_PG_NO_RELATION);
    assert_int_equal(it[EV_INDEX].table, it[EV].table);
    assert_true(it[EV_INDEX].on_pool);
    assert_non_null(strstr(text_of(plan, it[EV_INDEX].sql), "ATTACH PARTITION shop.ev24_by_hand"));
    assert_int_equal(it[EV_TRIGGER].table, it[EV].table);
    assert_non_null(strstr(text_of(plan, it[EV_TRIGGER].sql), "ALTER TABLE shop.ev_2024 DISABLE TRIGGER ev_touch"));
    assert_int_equal(it[FEED_OTHER].kind, ZB_PG_KIND_PUBLICATION_TABLE);
    assert_int_equal(it[FEED_OTHER].table, it[OTHER].table);
    assert_int_equal(it[FEED].kind, ZB_PG_KIND_OTHER);

    const char *const parent[] = {"shop.ev", NULL};
    assert_int_equal(zb_pg_plan_select(plan, parent, NULL), 0);
    for (size_t i = 0; i < plan->item_count; i++)
        assert_int_equal(it[i].selected, i != OTHER && i != FEED_OTHER);
    assert_true(plan->tables[0].selected);
    assert_true(plan->tables[1].selected);
    assert_false(plan->tables[2].selected);

    const char *const middle[] = {"shop.ev_2026", NULL};
    assert_int_equal(zb_pg_plan_select(plan, middle, NULL), 0);
    assert_false(it[EV].selected);
    assert_false(it[EV_2024].selected);
    assert_true(it[EV_2026].selected);
    assert_true(it[EV_2026_A].selected);
    assert_false(it[EV_INDEX].selected); /* the parent's, which is not restored */
    assert_false(plan->tables[0].selected);
    assert_true(plan->tables[1].selected);
    zb_pg_plan_free(plan);
    json_decref(toc);

    /* a partition_of that is not a string is refused, naming the item */
    const char *bad_toc =
        "{\"format\":2,\"items\":[{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"name\":\"p\","
        "\"table\":\"p\",\"partition_of\":7,\"sql\":\"CREATE TABLE p ();\"}],\"tables\":[]}";
    zb_pg_plan *bad = NULL;
    assert_int_equal(zb_pg_plan_read(&bad, bad_toc, strlen(bad_toc)), ZB_EFORMAT);
    assert_non_null(strstr(zb_error_message(), "item 1: \"partition_of\" is not a string"));
    assert_null(bad);
}

static int committed_in(size_t table, void *payload) { return ((const int *)payload)[table]; }

/* An item may start while other tables load once every table it depends
 * on is in; one on a table without rows (a missing dependency) or one that
 * reaches beyond its tables waits for the end of loading. */
static void plan_dependencies_decide_early_starts(void **state)
{
    (void)state;
    json_t *toc = parse_json(shop_toc);
    zb_pg_plan *plan = plan_of(toc);
    const zb_pg_plan_item *it = plan->items;
    int committed[2] = {0, 0};
    assert_false(zb_pg_plan_item_ready(plan, &it[INDEX], committed_in, committed));
    committed[0] = 1;
    assert_true(zb_pg_plan_item_ready(plan, &it[INDEX], committed_in, committed));
    assert_true(zb_pg_plan_item_ready(plan, &it[PKEY], committed_in, committed));
    assert_false(zb_pg_plan_item_ready(plan, &it[STATISTICS], committed_in, committed)); /* leader's */
    assert_false(zb_pg_plan_item_ready(plan, &it[ORDERS], committed_in, committed));     /* pre-data */
    committed[1] = 1;
    assert_false(zb_pg_plan_item_ready(plan, &it[FK_ORDERS], committed_in, committed)); /* no steps: reaches further */
    assert_false(zb_pg_plan_item_ready(plan, &it[FK_PARTS], committed_in, committed));

    /* a foreign key split into steps, each way between two tables (a
     * cycle of references): each waits for both tables, neither for the other */
    const char *cycle =
        "{\"format\":2,\"items\":["
        "{\"section\":\"post-data\",\"kind\":\"FK CONSTRAINT\",\"name\":\"a_b\",\"table\":\"a\",\"references\":\"b\","
        "\"parallel\":true,\"steps\":[{\"sql\":\"1\",\"lock\":\"SHARE ROW EXCLUSIVE\",\"references_lock\":"
        "\"SHARE ROW EXCLUSIVE\"},{\"sql\":\"2\",\"lock\":\"SHARE UPDATE EXCLUSIVE\",\"references_lock\":\"ROW SHARE\"}]},"
        "{\"section\":\"post-data\",\"kind\":\"FK CONSTRAINT\",\"name\":\"b_a\",\"table\":\"b\",\"references\":\"a\","
        "\"parallel\":true,\"steps\":[{\"sql\":\"1\"}]},"
        "{\"section\":\"post-data\",\"kind\":\"INDEX\",\"name\":\"gone\",\"table\":\"missing\",\"lock\":\"SHARE\","
        "\"sql\":\"x\",\"parallel\":true}],"
        "\"tables\":[{\"oid\":1,\"table\":\"a\"},{\"oid\":2,\"table\":\"b\"}]}";
    json_t *toc2 = parse_json(cycle);
    zb_pg_plan *plan2 = plan_of(toc2);
    const zb_pg_plan_item *c = plan2->items;
    assert_int_equal(c[0].steps[1].references_lock, ZB_PG_LOCK_ROW_SHARE);
    assert_int_equal(c[0].steps[0].lock, ZB_PG_LOCK_SHARE_ROW_EXCLUSIVE);
    int only_a[2] = {1, 0}, both[2] = {1, 1};
    assert_false(zb_pg_plan_item_ready(plan2, &c[0], committed_in, only_a));
    assert_false(zb_pg_plan_item_ready(plan2, &c[1], committed_in, only_a));
    assert_true(zb_pg_plan_item_ready(plan2, &c[0], committed_in, both));
    assert_true(zb_pg_plan_item_ready(plan2, &c[1], committed_in, both));
    assert_int_equal(c[2].data_table, -1);
    assert_false(zb_pg_plan_item_ready(plan2, &c[2], committed_in, both));
    zb_pg_plan_free(plan2);
    json_decref(toc2);
    zb_pg_plan_free(plan);
    json_decref(toc);
}

/* Crafted tables of contents: refused with the item or table at fault
 * named, nothing returned, never a crash. */
static void plan_refuses_malformed_tocs(void **state)
{
    (void)state;
#define ITEMS_(x)  "{\"format\":2,\"items\":[" x "],\"tables\":[]}"
#define TABLES_(x) "{\"format\":2,\"items\":[],\"tables\":[" x "]}"
    static const struct {
        const char *toc;
        int code;
        const char *message;
    } bad[] = {
        {"[]", ZB_EFORMAT, "fields missing"},
        {"{\"items\":{},\"tables\":[]}", ZB_EFORMAT, "fields missing"},
        {"{\"format\":3,\"items\":[],\"tables\":[]}", ZB_EFORMAT, "newer format (3)"},
        {"{\"connections\":4611686018427387904,\"items\":[],\"tables\":[]}", ZB_EFORMAT,
         "4611686018427387904 connections"},
        {"{\"connections\":-1,\"items\":[],\"tables\":[]}", ZB_EFORMAT, "-1 connections"},
        {"{\"server_version\":-5,\"items\":[],\"tables\":[]}", ZB_EFORMAT, "server version -5"},
        {"{\"database\":7,\"items\":[],\"tables\":[]}", ZB_EFORMAT, "\"database\" is not a string"},
        {ITEMS_("7"), ZB_EFORMAT, "item 1 is not an object"},
        {ITEMS_("{\"kind\":\"TABLE\"}"), ZB_EFORMAT, "item 1 has no section"},
        {ITEMS_("{\"section\":\"pre-data\",\"kind\":\"TABLE\"},{\"section\":\"data\",\"kind\":\"X\"}"), ZB_EFORMAT,
         "item 2: section \"data\" is neither pre-data nor post-data"},
        {ITEMS_("{\"section\":\"pre-data\"}"), ZB_EFORMAT, "item 1 has no kind"},
        {ITEMS_("{\"section\":\"pre-data\",\"kind\":[]}"), ZB_EFORMAT, "item 1: \"kind\" is not a string"},
        {ITEMS_("{\"section\":\"pre-data\",\"kind\":\"TABLE\",\"table\":5}"), ZB_EFORMAT,
         "item 1: \"table\" is not a string"},
        {ITEMS_("{\"section\":\"pre-data\",\"kind\":\"X\",\"steps\":{}}"), ZB_EFORMAT,
         "item 1: \"steps\" is not a list"},
        {ITEMS_(
             "{\"section\":\"post-data\",\"kind\":\"CONSTRAINT\",\"schema\":\"s\",\"name\":\"k\",\"steps\":[{\"lock\":\"SHARE\"}]}"),
         ZB_EFORMAT, "malformed step of CONSTRAINT s.k"},
        {ITEMS_("{\"section\":\"post-data\",\"kind\":\"CONSTRAINT\",\"steps\":[7]}"), ZB_EFORMAT, "malformed step"},
        {ITEMS_("{\"section\":\"post-data\",\"kind\":\"INDEX\",\"schema\":\"s\",\"name\":\"i\",\"parallel\":true}"),
         ZB_EFORMAT, "item 1 (INDEX s.i) has neither sql nor steps"},
        {ITEMS_(
             "{\"section\":\"post-data\",\"kind\":\"X\",\"steps\":[{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},"
             "{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},"
             "{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"},{\"sql\":\"1\"}]}"),
         ZB_EUNSAFE, "item 1 has 17 steps (at most 16)"},
        {TABLES_("[]"), ZB_EFORMAT, "table 1 is not an object"},
        {TABLES_("{\"table\":\"a\"}"), ZB_EFORMAT, "table 1 has no valid oid"},
        {TABLES_("{\"oid\":4294967296,\"table\":\"a\"}"), ZB_EFORMAT, "table 1 has no valid oid"},
        {TABLES_("{\"oid\":0,\"table\":\"a\"}"), ZB_EFORMAT, "table 1 has no valid oid"},
        {TABLES_("{\"oid\":1,\"table\":\"a\"},{\"oid\":2}"), ZB_EFORMAT, "table 2 has no name"},
        {TABLES_("{\"oid\":1,\"table\":\"a\",\"schema\":1}"), ZB_EFORMAT, "table 1: \"schema\" is not a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zb_pg_plan *plan = (zb_pg_plan *)&bad; /* must be cleared */
        int rc = zb_pg_plan_read(&plan, bad[i].toc, strlen(bad[i].toc));
        if (rc != bad[i].code || !strstr(zb_error_message(), bad[i].message))
            fail_msg("case %zu: %d '%s', expected %d with '%s'", i, rc, zb_error_message(), bad[i].code,
                     bad[i].message);
        assert_null(plan);
    }
}

/* Many items and tables: every name is numbered once (sorted), so the plan
 * costs memory in proportion to the toc and no lookups per item later. */
static void plan_numbers_many_relations(void **state)
{
    (void)state;
    enum { N = 20000 };
    json_t *toc = json_pack("{s:i, s:[], s:[]}", "format", 2, "items", "tables");
    json_t *items = json_object_get(toc, "items"), *tables = json_object_get(toc, "tables");
    for (int i = N - 1; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof(name), "t%05d", i);
        char sql[96];
        snprintf(sql, sizeof(sql), "CREATE INDEX ON %s (id); -- the statement of item %d", name, N - 1 - i);
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "section", "post-data", "kind",
                                               "INDEX", "table", name, "sql", sql, "lock", "SHARE", "parallel", 1));
        if (i % 2 == 0)
            json_array_append_new(tables, json_pack("{s:i, s:s}", "oid", i + 1, "table", name));
    }
    zb_pg_plan *plan = plan_of(toc);
    assert_int_equal(plan->relation_count, N);
    for (size_t i = 1; i < plan->relation_count; i++)
        assert_true(strcmp(plan->relations[i - 1], plan->relations[i]) < 0);
    for (size_t i = 0; i < plan->item_count; i++) {
        const zb_pg_plan_item *it = &plan->items[i];
        int number = N - 1 - (int)i; /* items were written from the last name down */
        assert_int_equal(it->table, number);
        if (number % 2 == 0)
            assert_int_equal(plan->tables[it->data_table].oid, number + 1);
        else
            assert_int_equal(it->data_table, -1);
    }
    /* statements held compressed, in blocks, read back in any order (the
     * last first, as a table's index may be released before the others) */
    for (size_t i = plan->item_count; i-- > 0;) {
        char sql[96];
        snprintf(sql, sizeof(sql), "CREATE INDEX ON t%05d (id); -- the statement of item %zu", N - 1 - (int)i, i);
        assert_string_equal(text_of(plan, plan->items[i].sql), sql);
        /* a kind, repeated by every item, is held once */
        assert_ptr_equal(plan->items[i].kind_name, plan->items[0].kind_name);
    }
    assert_true(zb_textpack_held(plan->texts) < zb_textpack_size(plan->texts) / 2);
    const char *unknown = NULL;
    assert_int_equal(zb_pg_plan_text(plan, (zb_pg_text)1 << 40, &unknown), ZB_EFAIL);
    zb_pg_plan_free(plan);
    json_decref(toc);
    zb_pg_plan_free(NULL);
}

ZB_TEST_MAIN(plan_reads_every_field_once, plan_carries_unknown_kinds, plan_selects_tables_and_what_hangs_off_them,
             plan_leaves_out_publications_of_tables, plan_leaves_out_what_needs_a_relation_left_out,
             plan_reads_partitions_clones_and_member_privileges, plan_dependencies_decide_early_starts,
             plan_refuses_malformed_tocs, plan_numbers_many_relations)
