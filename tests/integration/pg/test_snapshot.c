/* The snapshot and the locks, against a real server (ZB_PG_CONNINFO). */
#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/snapshot.h"

#include <stdlib.h>
#include <string.h>

static PGconn *connect_or_fail(void)
{
    PGconn *c = NULL;
    if (zb_pg_connect(&c, getenv("ZB_PG_CONNINFO"), NULL) < 0)
        fail_msg("cannot connect: %s", zb_error_message());
    return c;
}

static void sql(PGconn *c, const char *statement)
{
    PGresult *r = PQexec(c, statement);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", statement, PQerrorMessage(c));
    PQclear(r);
}

static long count(PGconn *c, const char *table)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s", table);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Writes committed after the export are seen by neither the leader nor a
 * worker that adopted its snapshot, and the writer is not blocked. */
static void workers_share_the_leaders_view(void **state)
{
    (void)state;
    PGconn *setup = connect_or_fail(), *leader = connect_or_fail(), *worker = connect_or_fail();
    sql(setup, "CREATE TABLE public.orders (id int PRIMARY KEY, total numeric)");
    sql(setup, "INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 100) g");
    zb_pg_snapshot snap;
    assert_int_equal(zb_pg_snapshot_export(&snap, leader), 0);
    assert_true(strlen(snap.id) > 0);
    zb_pg_table_list tables;
    assert_int_equal(zb_pg_list_tables(&tables, leader), 0);
    assert_int_equal(zb_pg_lock_tables(leader, &tables, 1000), 0);
    assert_int_equal(zb_pg_measure_tables(leader, &tables), 0);
    sql(setup, "INSERT INTO public.orders SELECT g, 0 FROM generate_series(101, 150) g"); /* not blocked */
    sql(setup, "DELETE FROM public.orders WHERE id <= 10");
    assert_int_equal(zb_pg_snapshot_import(worker, &snap), 0);
    assert_int_equal(count(leader, "public.orders"), 100);
    assert_int_equal(count(worker, "public.orders"), 100);
    assert_int_equal(count(setup, "public.orders"), 140);
    zb_pg_table_list_free(&tables);
    PQfinish(worker);
    PQfinish(leader);
    PQfinish(setup);
}

/* A session holding an ACCESS EXCLUSIVE lock (an ALTER in progress) makes
 * the backup fail within the timeout, naming the table, also when the
 * table's lock is not the first of the statements sent together. */
static void a_conflicting_lock_fails_fast(void **state)
{
    (void)state;
    PGconn *setup = connect_or_fail(), *leader = connect_or_fail();
    /* listed by name: "A1" and "A2" before the table, "Z1" after it */
    sql(setup,
        "CREATE TABLE public.\"A1\" (id int); CREATE TABLE public.\"A2\" (id int); "
        "CREATE TABLE public.\"Z1\" (id int)");
    sql(setup, "CREATE TABLE public.\"Order Items\" (id int)");
    sql(setup, "BEGIN");
    sql(setup, "LOCK TABLE public.\"Order Items\" IN ACCESS EXCLUSIVE MODE");
    zb_pg_snapshot snap;
    assert_int_equal(zb_pg_snapshot_export(&snap, leader), 0);
    zb_pg_table_list tables;
    assert_int_equal(zb_pg_list_tables(&tables, leader), 0);
    double started = zb_time_monotonic();
    assert_int_equal(zb_pg_lock_tables(leader, &tables, 300), ZB_EPG);
    double took = zb_time_monotonic() - started;
    assert_true(took < 5.0);
    assert_non_null(strstr(zb_error_message(), "cannot lock table \"public\".\"Order Items\""));
    assert_non_null(strstr(zb_error_message(), "lock timeout"));
    assert_non_null(strstr(zb_error_hint_text(), "conflicting lock"));
    zb_pg_table_list_free(&tables);
    sql(setup, "ROLLBACK");
    PQfinish(leader);
    PQfinish(setup);
}

/* Largest first; partitions and their parent listed; system and extension
 * tables left out; awkward names kept exactly. */
static void the_table_list(void **state)
{
    (void)state;
    PGconn *c = connect_or_fail();
    sql(c, "CREATE SCHEMA \"Shop ü\"");
    sql(c, "CREATE TABLE \"Shop ü\".big (v text)");
    sql(c, "INSERT INTO \"Shop ü\".big SELECT repeat('x', 100) FROM generate_series(1, 5000)");
    sql(c, "CREATE TABLE public.small (v int)");
    sql(c, "CREATE TABLE public.sales (day date, amount numeric) PARTITION BY RANGE (day)");
    sql(c, "CREATE TABLE public.sales_2026 PARTITION OF public.sales FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')");
    zb_pg_table_list t;
    assert_int_equal(zb_pg_list_tables(&t, c), 0);
    assert_int_equal(t.count, 4);
    assert_int_equal(zb_pg_measure_tables(c, &t), 0);
    assert_string_equal(t.items[0].schema, "Shop ü");
    assert_string_equal(t.items[0].name, "big");
    int saw_parent = 0, saw_partition = 0;
    for (size_t i = 0; i < t.count; i++) {
        saw_parent |= strcmp(t.items[i].name, "sales") == 0 && t.items[i].kind == 'p';
        saw_partition |= strcmp(t.items[i].name, "sales_2026") == 0 && t.items[i].kind == 'r';
        assert_string_not_equal(t.items[i].schema, "pg_catalog");
    }
    assert_true(saw_parent && saw_partition);
    char *q = zb_pg_qualified_name(c, &t.items[0]);
    assert_string_equal(q, "\"Shop ü\".\"big\"");
    free(q);
    zb_pg_table_list_free(&t);
    PQfinish(c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workers_share_the_leaders_view),
        cmocka_unit_test(a_conflicting_lock_fails_fast),
        cmocka_unit_test(the_table_list),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
