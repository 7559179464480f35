#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/stream/spool.h"

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

/* A side from a list of "name", "{attributes}" pairs, NULL-ended. */
typedef struct listed {
    const char *const *pairs;
    size_t next;
} listed;

static int listed_next(char **name, json_t **attributes, void *payload)
{
    listed *l = payload;
    if (!l->pairs[l->next])
        return 0;
    *name = strdup(l->pairs[l->next]);
    *attributes = json_loads(l->pairs[l->next + 1], 0, NULL);
    l->next += 2;
    return 1;
}

static int compare_lists(seen *s, const char *const *a, const char *const *b, size_t *found)
{
    listed x = {a, 0}, y = {b, 0};
    zb_pg_fingerprint_side want = {150004, listed_next, &x, NULL}, got = {150004, listed_next, &y, NULL};
    memset(s, 0, sizeof(*s));
    int rc = zb_pg_fingerprint_compare_streams(found, &want, &got, NULL, NULL, collect, s);
    if (rc == 0)
        assert_int_equal(*found, s->count);
    return rc;
}

static void fingerprint_streams_merge(void **state)
{
    (void)state;
    seen s;
    size_t found = 0;
    /* differences at the start, in the middle and at the end, objects
     * missing and more on either side */
    const char *const archive[] = {
        "a", "{\"k\": \"1\"}", "b", "{}", "c", "{\"k\": \"1\"}", "m", "{\"k\": \"1\"}", "n", "{}", "x", "{}", NULL};
    const char *const restored[] = {"0", "{}", "a", "{\"k\": \"2\"}", "c", "{\"k\": \"1\"}",
                                    "d", "{}", "m", "{\"k\": \"3\"}", "n", "{}",
                                    "z", "{}", NULL};
    assert_int_equal(compare_lists(&s, archive, restored, &found), 0);
    assert_int_equal(found, 7);
    assert_string_equal(s.text[0], "0: in the restored database but not in the archive");
    assert_string_equal(s.text[1], "a: k: archive '1', restored '2'");
    assert_string_equal(s.text[2], "b: missing from the restored database");
    assert_string_equal(s.text[3], "d: in the restored database but not in the archive");
    assert_string_equal(s.text[4], "m: k: archive '1', restored '3'");
    assert_string_equal(s.text[5], "x: missing from the restored database");
    assert_string_equal(s.text[6], "z: in the restored database but not in the archive");
    /* the last objects, on one side or both */
    const char *const first_missing[] = {"a", "{}", "b", "{}", "c", "{\"k\": \"1\"}", NULL};
    const char *const last_differs[] = {"b", "{}", "c", "{\"k\": \"2\"}", NULL};
    assert_int_equal(compare_lists(&s, first_missing, last_differs, &found), 0);
    assert_int_equal(found, 2);
    assert_string_equal(s.text[0], "a: missing from the restored database");
    assert_string_equal(s.text[1], "c: k: archive '1', restored '2'");
    const char *const one[] = {"a", "{}", NULL}, *const two[] = {"a", "{}", "b", "{}", NULL}, *const none[] = {NULL};
    assert_int_equal(compare_lists(&s, one, two, &found), 0);
    assert_int_equal(found, 1);
    assert_string_equal(s.text[0], "b: in the restored database but not in the archive");
    assert_int_equal(compare_lists(&s, two, one, &found), 0);
    assert_int_equal(found, 1);
    assert_string_equal(s.text[0], "b: missing from the restored database");
    assert_int_equal(compare_lists(&s, none, one, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(compare_lists(&s, two, none, &found), 0);
    assert_int_equal(found, 2);
    assert_int_equal(compare_lists(&s, two, two, &found), 0);
    assert_int_equal(found, 0);
    /* a side out of name order cannot be merged: an error, not differences */
    const char *const unsorted[] = {"b", "{}", "a", "{}", NULL};
    assert_true(compare_lists(&s, unsorted, two, &found) < 0);
}

/* Objects one a line, as catalog.json holds them, read back as a side. */
static void fingerprint_lines_read_back(void **state)
{
    (void)state;
    zb_spool *spool = NULL;
    assert_int_equal(zb_spool_new(&spool), 0);
    const char *text = "\"a\":{\"k\":\"1\"},\n\"relation s.t\":{\"kind\":\"r\"},\n\"hex:e9\":{}\n}}";
    assert_int_equal(zb_spool_write(spool, text, strlen(text)), 0);
    assert_int_equal(zb_spool_finish(spool), 0);
    json_t *header = json_pack("{s:i}", "server_version", 150004);
    zb_pg_fingerprint_side want;
    assert_int_equal(zb_pg_fingerprint_recorded_side(&want, header, spool), 0);
    const char *const restored[] = {"a", "{\"k\": \"1\"}", "relation s.t", "{\"kind\": \"v\"}", "hex:e9", "{}", NULL};
    listed y = {restored, 0};
    zb_pg_fingerprint_side got = {150004, listed_next, &y, NULL};
    seen s;
    memset(&s, 0, sizeof(s));
    size_t found = 0;
    assert_int_equal(zb_pg_fingerprint_compare_streams(&found, &want, &got, NULL, NULL, collect, &s), 0);
    assert_int_equal(found, 1);
    assert_string_equal(s.text[0], "relation s.t: kind: archive 'r', restored 'v'");
    zb_pg_fingerprint_side_free(&want);
    zb_spool_free(spool);
    json_decref(header);
    /* a name in hex sorts by its bytes: 0xe9 after "relation" */
    assert_true(zb_pg_fingerprint_name_order("hex:e9", "relation s.t") > 0);
    assert_true(zb_pg_fingerprint_name_order("hex:61", "b") < 0);
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

ZB_TEST_MAIN(fingerprint_names_each_difference, fingerprint_across_versions, fingerprint_scope,
             fingerprint_streams_merge, fingerprint_lines_read_back, normalise_deparsed_sql)
