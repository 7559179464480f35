#include "zb_cmocka.h"

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/timeutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void error_context_and_exit_status(void **state)
{
    (void)state;
    int rc = zb_error_set(ZB_EINTEGRITY, "chunk %d failed", 3);
    assert_int_equal(rc, ZB_EINTEGRITY);
    assert_int_equal(zb_error_context("verify of %s", "a.zbk"), ZB_EINTEGRITY);
    assert_string_equal(zb_error_message(), "verify of a.zbk: chunk 3 failed");
    zb_error_hint("run %s", "x");
    assert_string_equal(zb_error_hint_text(), "run x");
    assert_int_equal(zb_error_exit_status(ZB_EINTEGRITY), 6);
    assert_int_equal(zb_error_exit_status(ZB_EUSAGE), 2);
    assert_int_equal(zb_error_exit_status(ZB_EINTR), 130);
    assert_int_equal(zb_error_exit_status(0), 0);
    assert_string_equal(zb_error_name(ZB_EKEY), "ZB_EKEY");
}

/* Re-raising the current message under another code must keep it whole:
 * the message is an argument and the buffer written at once. */
static void error_reraise_keeps_message(void **state)
{
    (void)state;
    zb_error_set(ZB_EUSAGE, "--max-age: '%s' is not a duration", "7x");
    zb_error_hint("write %s", "7d");
    assert_int_equal(zb_error_set(ZB_EFAIL, "healthcheck: %s", zb_error_message()), ZB_EFAIL);
    assert_string_equal(zb_error_message(), "healthcheck: --max-age: '7x' is not a duration");
    zb_error_hint("write %s", "7d");
    zb_error_hint("or %s", zb_error_hint_text());
    assert_string_equal(zb_error_hint_text(), "or write 7d");
}

static void buf_grows_and_detaches(void **state)
{
    (void)state;
    zb_buf b = ZB_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(zb_buf_printf(&b, "%d,", i), 0);
    assert_true(b.len > 2000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = zb_buf_detach(&b);
    assert_null(b.data);
    assert_int_equal(strlen(s), 3890);
    free(s);
    char small[4];
    assert_int_equal(zb_strlcpy_checked(small, sizeof(small), "abc"), 0);
    assert_int_equal(zb_strlcpy_checked(small, sizeof(small), "abcd"), ZB_EFAIL);
}

static void time_formats_round_trip(void **state)
{
    (void)state;
    char iso[32], compact[32];
    time_t t = 1795546075, back = 0;
    zb_time_format_iso(iso, sizeof(iso), t);
    zb_time_format_compact(compact, sizeof(compact), t);
    assert_string_equal(iso, "2026-11-24T18:47:55Z");
    assert_string_equal(compact, "20261124T184755Z");
    assert_int_equal(zb_time_parse_utc(&back, iso), 0);
    assert_int_equal(back, t);
    assert_int_equal(zb_time_parse_utc(&back, compact), 0);
    assert_int_equal(back, t);
    assert_int_equal(zb_time_parse_utc(&back, "yesterday"), ZB_EFAIL);
    char text[32];
    zb_format_bytes(text, sizeof(text), 1536);
    assert_string_equal(text, "1.5 KiB");
    zb_format_duration(text, sizeof(text), 3723);
    assert_string_equal(text, "1h02m03s");
}

static void make_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/zbunit.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static int count_entries(const char *dir)
{
    int empty = zb_fs_dir_is_empty(dir);
    if (empty == 1)
        return 0;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void atomic_file_publishes_only_on_commit(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/out.zbk", dir);
    zb_atomic_file *f = NULL;
    assert_int_equal(zb_atomic_file_open(&f, path, 0600), 0);
    assert_int_equal(zb_fs_write_all(zb_atomic_file_fd(f), "data", 4, "t"), 0);
    assert_int_equal(access(path, F_OK), -1); /* not visible before commit */
    zb_atomic_file_abort(f);
    assert_int_equal(count_entries(dir), 0); /* abort leaves nothing */

    assert_int_equal(zb_atomic_file_open(&f, path, 0600), 0);
    assert_int_equal(zb_fs_write_all(zb_atomic_file_fd(f), "data", 4, "t"), 0);
    assert_int_equal(zb_atomic_file_commit(f), 0);
    zb_atomic_file_abort(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A second archive under the same name never replaces the first. */
    assert_int_equal(zb_atomic_file_open(&f, path, 0600), 0);
    assert_int_equal(zb_atomic_file_commit(f), ZB_EEXIST);
    zb_atomic_file_abort(f);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(zb_fs_remove_tree(dir), 0);
}

static void secret_file_strips_newline(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/pass", dir);
    FILE *f = fopen(path, "w");
    fputs("correct horse\n", f);
    fclose(f);
    char *secret = NULL;
    size_t len = 0;
    assert_int_equal(zb_fs_read_secret(&secret, &len, path), 0);
    assert_string_equal(secret, "correct horse");
    assert_int_equal(len, 13);
    zb_fs_secret_free(secret, len);
    assert_int_equal(zb_fs_read_secret(&secret, &len, "/nonexistent/pass"), ZB_ENOTFOUND);
    assert_int_equal(zb_fs_remove_tree(dir), 0);
}

/* JSON from an archive: too deep, too long, or too costly to hold is
 * refused (exit 8) before it costs more than the budget; a normal document
 * parses, and values parsed under the budget are freed normally. */
static void json_parse_limits(void **state)
{
    (void)state;
    json_t *doc = NULL;
    const char *nested = "{\"a\":[1,{\"b\":\"[[[[\"}]}";
    assert_int_equal(zb_json_parse_limited(&doc, nested, strlen(nested), "doc"), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "a"), 1), "b")), "[[[[");
    json_decref(doc);

    char deep[100];
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    assert_int_equal(zb_json_parse_limited(&doc, deep, 66, "deep"), ZB_EUNSAFE);
    assert_non_null(strstr(zb_error_message(), "deep nests deeper than 32 levels"));
    assert_int_equal(zb_json_parse_limited(&doc, deep + 1, 64, "32 deep"), 0);
    json_decref(doc);

    /* 12 MiB of empty arrays: several hundred MiB as jansson values */
    size_t len = 12u << 20;
    char *many = malloc(len);
    many[0] = '[';
    for (size_t i = 1; i + 3 < len; i += 3)
        memcpy(many + i, "[],", 3);
    size_t end = 1 + (len - 4) / 3 * 3;
    many[end - 1] = ']';
    assert_int_equal(zb_json_parse_limited(&doc, many, end, "many"), ZB_EUNSAFE);
    assert_non_null(strstr(zb_error_message(), "many needs more than 40 MiB of memory to parse"));
    assert_null(doc);
    free(many);

    char *text = NULL;
    assert_int_equal(zb_json_parse_limited(&doc, "{}", ZB_JSON_MAX_TEXT + 1u, "long"), ZB_EUNSAFE);
    assert_int_equal(zb_json_parse_limited(&doc, "{\"x\":\"y\"}", 9, "small"), 0);
    text = json_dumps(doc, 0); /* jansson's text is freed with free() */
    free(text);
    json_decref(doc);
}

/* Bytes that are not UTF-8 (an SQL_ASCII database's names): written as
 * {"hex": ...} where a string would be, only those; read back as the same
 * bytes; a document without them is the same document; crafted hex is
 * refused; reports show them as \xNN. */
static void json_texts_round_trip_bytes(void **state)
{
    (void)state;
    assert_true(zb_json_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    assert_false(zb_json_utf8_valid("caf\xe9", 4));
    assert_false(zb_json_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(zb_json_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(zb_json_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(zb_json_utf8_valid("\xe2\x82", 2));         /* cut short */

    json_t *doc = json_pack("{s:[{s:o, s:s}], s:o}", "items", "sql", zb_json_bytes("COMMENT 'caf\xe9'", 14), "kind",
                            "TABLE", "tables", json_pack("[{s:o}]", "name", zb_json_bytes("\xff\xfe", 2)));
    json_t *encoded = NULL;
    assert_int_equal(zb_json_texts_encode(&encoded, doc), 0);
    assert_ptr_not_equal(encoded, doc); /* doc may be shared: a copy */
    char *text = json_dumps(encoded, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text,
                        "{\"items\":[{\"kind\":\"TABLE\",\"sql\":{\"hex\":\"434f4d4d454e542027636166e927\"}}],"
                        "\"tables\":[{\"name\":{\"hex\":\"fffe\"}}]}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "sql")),
                        "COMMENT 'caf\xe9'");
    json_t *read = NULL;
    assert_int_equal(zb_json_parse_limited(&read, text, strlen(text), "toc"), 0);
    assert_int_equal(zb_json_texts_decode(read, "toc"), 0);
    assert_true(json_equal(read, doc));
    free(text);
    json_decref(read);
    json_decref(encoded);
    json_decref(doc);

    doc = json_pack("{s:s, s:{s:s, s:s}}", "sql", "SELECT 1", "x", "hex", "00", "other", "kept");
    assert_int_equal(zb_json_texts_encode(&encoded, doc), 0);
    assert_ptr_equal(encoded, doc); /* all UTF-8: the document itself */
    json_decref(encoded);
    assert_int_equal(zb_json_texts_decode(doc, "toc"), 0); /* two keys: not the hex form */
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "x"), "other")), "kept");
    json_decref(doc);

    const char *crafted[] = {"{\"sql\":{\"hex\":\"abc\"}}", "{\"sql\":{\"hex\":\"zz\"}}", "[{\"hex\":\"6100\"}]"};
    for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
        assert_int_equal(zb_json_parse_limited(&doc, crafted[i], strlen(crafted[i]), "toc"), 0);
        assert_int_equal(zb_json_texts_decode(doc, "the toc"), ZB_EFORMAT);
        assert_non_null(strstr(zb_error_message(), "the toc holds text in hex that is not valid"));
        json_decref(doc);
    }

    char *shown = zb_json_printable("sch\xe9ma.caf\xc3\xa9 \xff");
    assert_string_equal(shown, "sch\\xe9ma.caf\xc3\xa9 \\xff");
    free(shown);
}

ZB_TEST_MAIN(error_context_and_exit_status, error_reraise_keeps_message, buf_grows_and_detaches,
             time_formats_round_trip, atomic_file_publishes_only_on_commit, secret_file_strips_newline,
             json_parse_limits, json_texts_round_trip_bytes)
