#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/fingerprint.h"

#include <stdlib.h>
#include <string.h>

typedef struct seen {
    char text[16][512];
    size_t count;
} seen;

static void collect(const char *text, void *payload)
{
    seen *s = payload;
    if (s->count < 16)
        snprintf(s->text[s->count], sizeof(s->text[0]), "%s", text);
    s->count++;
}

static json_t *fp(int version, const char *objects)
{
    json_error_t error;
    json_t *o = json_loads(objects, 0, &error);
    if (!o)
        fail_msg("bad test JSON: %s", error.text);
    return json_pack("{s:i, s:i, s:o}", "format", 1, "server_version", version, "objects", o);
}

static size_t compare(seen *s, int v1, const char *a, int v2, const char *b, const zb_pg_fingerprint_scope *scope)
{
    json_t *x = fp(v1, a), *y = fp(v2, b);
    memset(s, 0, sizeof(*s));
    size_t n = zb_pg_fingerprint_compare(x, y, NULL, scope, collect, s);
    json_decref(x);
    json_decref(y);
    assert_int_equal(n, s->count);
    return n;
}

static void fingerprint_names_each_difference(void **state)
{
    (void)state;
    seen s;
    assert_int_equal(compare(&s, 150004,
                             "{\"column a.t.c\": {\"storage\": \"x\", \"type\": \"text\"}, \"index a.i\": {}}", 150010,
                             "{\"column a.t.c\": {\"storage\": \"e\", \"type\": \"text\", \"comment\": \"new\"},"
                             " \"trigger g on a.t\": {\"enabled\": \"D\"}}",
                             NULL),
                     4);
    assert_string_equal(s.text[0], "column a.t.c: comment: archive (not set), restored 'new'");
    assert_string_equal(s.text[1], "column a.t.c: storage: archive 'x', restored 'e'");
    assert_string_equal(s.text[2], "index a.i: missing from the restored database");
    assert_string_equal(s.text[3], "trigger g on a.t: in the restored database but not in the archive");
    /* the same on both sides: nothing */
    assert_int_equal(compare(&s, 150004, "{\"x\": {\"a\": \"1\"}}", 150004, "{\"x\": {\"a\": \"1\"}}", NULL), 0);
    /* text that is not UTF-8 is compared as its bytes */
    assert_int_equal(
        compare(&s, 150004, "{\"x\": {\"a\": {\"hex\": \"e9\"}}}", 150004, "{\"x\": {\"a\": {\"hex\": \"e8\"}}}", NULL),
        1);
    assert_string_equal(s.text[0], "x: a: archive bytes e9, restored bytes e8");
}

static void fingerprint_across_versions(void **state)
{
    (void)state;
    seen s;
    const char *old =
        "{\"relation a.t\": {\"acl\": \"o=arwdDxt/o r=r/o\"},"
        " \"column a.t.c\": {\"default\": \"('x'::text)\", \"statistics\": \"-1\"}}";
    const char *newer =
        "{\"relation a.t\": {\"acl\": \"o=arwdDxtm/o r=r/o\"},"
        " \"column a.t.c\": {\"default\": \"'x'::text\", \"statistics\": \"-1\"}}";
    /* 15 -> 17: MAINTAIN and another printing of the same default agree */
    assert_int_equal(compare(&s, 150004, old, 170002, newer, NULL), 0);
    /* within one major version, text is compared as it is */
    assert_int_equal(compare(&s, 170000, old, 170002, newer, NULL), 2);
    /* across versions a real difference still counts */
    assert_int_equal(compare(&s, 150004, old, 170002,
                             "{\"relation a.t\": {\"acl\": \"o=arwdDxtm/o\"},"
                             " \"column a.t.c\": {\"default\": \"'y'::text\", \"statistics\": \"-1\"}}",
                             NULL),
                     2);
    assert_string_equal(s.text[0], "column a.t.c: default: archive '('x'::text)', restored ''y'::text'");
    assert_string_equal(s.text[1], "relation a.t: acl: archive 'o=arwdDxt/o r=r/o', restored 'o=arwdDxtm/o'");
}

static void fingerprint_scope(void **state)
{
    (void)state;
    seen s;
    const char *a =
        "{\"relation a.t\": {\"owner\": \"app\", \"acl\": \"app=r/app\"}, \"index a.i\": {},"
        " \"database\": {\"owner\": \"app\"}, \"settings of role app in the database\": {\"settings\": \"x=1\"}}";
    const char *b =
        "{\"relation a.t\": {\"owner\": \"postgres\", \"acl\": \"postgres=r/postgres\"}, \"database\": {\"owner\": \"postgres\"}}";
    zb_pg_fingerprint_scope all = {1, 1, 1, 1}, none = {0, 0, 0, 0};
    assert_int_equal(compare(&s, 150004, a, 150004, b, &all), 0);
    assert_int_equal(compare(&s, 150004, a, 150004, b, &none), 5);
}

static void normalise_deparsed_sql(void **state)
{
    (void)state;
    char *a = zb_pg_fingerprint_normalise("((a.x + 1))::numeric(10,2) > '5'::\"my type\"[]");
    char *b = zb_pg_fingerprint_normalise("a.x+1 > '5'");
    assert_non_null(a);
    assert_string_equal(a, "a.x+1,2>'5'");
    assert_string_equal(b, "a.x+1>'5'");
    free(a);
    free(b);
}

ZB_TEST_MAIN(fingerprint_names_each_difference, fingerprint_across_versions, fingerprint_scope, normalise_deparsed_sql)
