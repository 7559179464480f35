/* The restore plan and the rehearsal report, without any server: a fake
 * source kind records what the plan hands it (which entries, to which
 * target, when each target is finished), and a rehearsal built by hand
 * becomes the JSON report whose member order docs/FORMAT.md documents. */
#include "zb_cmocka.h"

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/restore/plan.h"
#include "zakpos_backup/restore/rehearse.h"
#include "zakpos_backup/source/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a fake kind: every call is one line of the log ---- */

static zb_buf events;

typedef struct fake {
    char target[64];
} fake;

static int fake_begin(void **state, const char *name, const char *target, const zb_source_restore_options *opts)
{
    (void)opts;
    fake *f = calloc(1, sizeof(*f));
    snprintf(f->target, sizeof(f->target), "%s", target ? target : "(none)");
    *state = f;
    zb_buf_printf(&events, "begin %s -> %s\n", name ? name : "(any)", f->target);
    return 0;
}

static int fake_entry(void *state, zb_archive_reader *r, struct archive_entry *e, const zb_entry_info *info)
{
    (void)r, (void)e;
    zb_buf_printf(&events, "entry %s/%s -> %s\n", info->source_name, info->relative, ((fake *)state)->target);
    return 0;
}

static int fake_finish(void *state, zb_archive_reader *r)
{
    (void)r;
    zb_buf_printf(&events, "finish %s\n", ((fake *)state)->target);
    return 0;
}

static const char *fake_target(const void *state) { return ((const fake *)state)->target; }
static void fake_free(void *state) { free(state); }

static const zb_source_ops fake_path = {.kind = ZB_SOURCE_PATH,
                                        .restore_begin = fake_begin,
                                        .restore_entry = fake_entry,
                                        .restore_finish = fake_finish,
                                        .restore_target = fake_target,
                                        .restore_free = fake_free};
static const zb_source_ops fake_any = {.kind = ZB_SOURCE_PATH,
                                       .any_name = 1,
                                       .restore_begin = fake_begin,
                                       .restore_entry = fake_entry,
                                       .restore_finish = fake_finish,
                                       .restore_target = fake_target,
                                       .restore_free = fake_free};

/* ---- an archive of two path sources ---- */

static char dir[] = "/tmp/zbplan.XXXXXX", archive[128], pass[128];

static void add_source(zb_archive_writer *w, const char *name, const char *const *files)
{
    assert_int_equal(zb_archive_writer_begin_source(w, ZB_SOURCE_PATH, name, NULL), 0);
    for (; *files; files++)
        assert_int_equal(zb_archive_writer_add_file(w, *files, "x", 1, 0644), 0);
    assert_int_equal(zb_archive_writer_end_source(w, NULL), 0);
}

static int archive_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/zbplan.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(archive, sizeof(archive), "%s/a.zbk", dir);
    snprintf(pass, sizeof(pass), "%s/pass", dir);
    assert_int_equal(zb_fs_write_file_atomic(pass, "secret\n", 7, 0600), 0);
    zb_archive_write_options opts = {0};
    opts.keys.passphrase_file = pass;
    opts.keys.kdf_opslimit = ZB_KDF_MIN_OPSLIMIT;
    opts.keys.kdf_memlimit = ZB_KDF_MIN_MEMLIMIT;
    opts.zstd_workers = 0;
    zb_archive_writer *w = NULL;
    assert_int_equal(zb_archive_writer_open(&w, archive, &opts), 0);
    add_source(w, "app", (const char *const[]){"one", "two", NULL});
    add_source(w, "logs", (const char *const[]){"l1", NULL});
    assert_int_equal(zb_archive_writer_close(w), 0);
    zb_archive_writer_free(w);
    zb_buf_reset(&events);
    return 0;
}

static int archive_teardown(void **state)
{
    (void)state;
    zb_fs_remove_tree(dir);
    zb_buf_free(&events);
    return 0;
}

static int run_plan(zb_restore_plan *p)
{
    zb_read_keys keys = {0};
    keys.passphrase_file = pass;
    zb_archive_reader *r = NULL;
    assert_int_equal(zb_archive_reader_open(&r, archive, &keys), 0);
    int rc = zb_restore_plan_run(p, r);
    zb_archive_reader_free(r);
    return rc;
}

static void plan_hands_each_entry_to_its_target(void **state)
{
    (void)state;
    zb_restore_plan *p = NULL;
    assert_int_equal(zb_restore_plan_new(&p), 0);
    assert_int_equal(zb_restore_plan_add(p, &fake_path, "app", "t-app", NULL), 0);
    assert_int_equal(run_plan(p), 0);
    /* the unselected source is read (verified) but reaches no target, and
     * the target is finished only once the whole archive was read */
    assert_string_equal(events.data,
                        "begin app -> t-app\n"
                        "entry app/one -> t-app\n"
                        "entry app/two -> t-app\n"
                        "finish t-app\n");
    assert_int_equal(zb_restore_plan_count(p), 1);
    zb_restore_target_info t = zb_restore_plan_target(p, 0);
    assert_string_equal(t.kind, ZB_SOURCE_PATH);
    assert_string_equal(t.name, "app");
    assert_string_equal(t.target, "t-app");
    assert_true(t.finished);
    assert_ptr_equal(t.ops, &fake_path);
    zb_restore_plan_free(p);
}

static void plan_names_the_sources_an_archive_has(void **state)
{
    (void)state;
    zb_restore_plan *p = NULL;
    assert_int_equal(zb_restore_plan_new(&p), 0);
    assert_int_equal(zb_restore_plan_add(p, &fake_path, "app", "t-app", NULL), 0);
    assert_int_equal(zb_restore_plan_add(p, &fake_path, "nope", "t-nope", NULL), 0);
    assert_int_equal(zb_restore_plan_add(p, &fake_path, "nope", "again", NULL), ZB_EUSAGE);
    assert_int_equal(run_plan(p), ZB_ENOTFOUND);
    assert_string_equal(zb_error_message(), "the archive has no path source named 'nope'; nothing was restored");
    assert_string_equal(zb_error_hint_text(), "the archive holds: path app, path logs");
    assert_null(strstr(events.data, "finish")); /* nothing finished: nothing published */
    zb_restore_plan_free(p);
}

static void plan_target_without_name_takes_the_first(void **state)
{
    (void)state;
    zb_restore_plan *p = NULL;
    assert_int_equal(zb_restore_plan_new(&p), 0);
    assert_int_equal(zb_restore_plan_add(p, &fake_any, NULL, "t-any", NULL), 0);
    assert_int_equal(run_plan(p), 0);
    assert_string_equal(zb_restore_plan_target(p, 0).name, "app");
    assert_null(strstr(events.data, "logs/"));
    zb_restore_plan_free(p);
}

static int select_logs(zb_restore_plan *plan, const char *kind, const char *name, void *payload)
{
    (*(int *)payload)++;
    zb_buf_printf(&events, "asked %s %s\n", kind, name);
    return strcmp(name, "logs") == 0 ? zb_restore_plan_add(plan, &fake_path, name, "t-logs", NULL) : 0;
}

static void plan_asks_once_per_unselected_source(void **state)
{
    (void)state;
    zb_restore_plan *p = NULL;
    int asked = 0;
    assert_int_equal(zb_restore_plan_new(&p), 0);
    zb_restore_plan_on_unselected(p, select_logs, &asked);
    assert_int_equal(run_plan(p), 0);
    assert_int_equal(asked, 2);
    assert_string_equal(events.data,
                        "asked path app\n"
                        "asked path logs\n"
                        "begin logs -> t-logs\n"
                        "entry logs/l1 -> t-logs\n"
                        "finish t-logs\n");
    zb_restore_plan_free(p);
}

/* ---- the table of kinds ---- */

static void source_table_has_each_kind_once(void **state)
{
    (void)state;
    const char *order[] = {ZB_SOURCE_VOLUME, ZB_SOURCE_PG, ZB_SOURCE_PATH};
    size_t n = 0;
    for (const zb_source_ops *const *k = zb_source_kinds; *k; k++, n++) {
        assert_true(n < 3);
        assert_string_equal((*k)->kind, order[n]); /* backup order: volumes first */
        assert_ptr_equal(zb_source_find((*k)->kind), *k);
        assert_non_null((*k)->selected);
        assert_non_null((*k)->backup);
        assert_non_null((*k)->restore_begin);
        assert_non_null((*k)->restore_entry);
        assert_non_null((*k)->restore_finish);
        assert_non_null((*k)->restore_target);
        assert_non_null((*k)->restore_free);
        assert_non_null((*k)->scratch_target);
        assert_non_null((*k)->verify);
        assert_non_null((*k)->scratch_remove);
    }
    assert_int_equal(n, 3);
    assert_null(zb_source_find("tape"));
    assert_true(zb_source_pg.any_name);
    zb_source_selection none = {0};
    for (const zb_source_ops *const *k = zb_source_kinds; *k; k++)
        assert_false((*k)->selected(&none));
}

/* ---- the rehearsal's report ---- */

static void rehearsal_report_keeps_its_layout(void **state)
{
    (void)state;
    char *difference = "public.t: 1 row differs", *object = "EXTENSION x: not allowed";
    zb_rehearsal_part parts[] = {
        {.ops = &zb_source_pg,
         .name = "db",
         .target = "zakpos_backup_verify_1",
         .restore_seconds = 1.5,
         .verified = 1,
         .has_bytes = 1,
         .bytes = 100,
         .check = {.differences = &difference,
                   .kept = 1,
                   .count = 3,
                   .amount = 7,
                   .amount_is_rows = 1,
                   .has_amount = 1,
                   .not_verified = &object,
                   .not_verified_count = 1,
                   .settings_left_out = 2,
                   .has_left_out = 1},
         .verify_seconds = 0.25,
         .result = ZB_PART_FAIL},
        {.ops = &zb_source_path,
         .name = "cfg",
         .target = "/tmp/s/cfg",
         .restore_seconds = 0.5,
         .result = ZB_PART_NOT_VERIFIED},
    };
    zb_rehearsal r = {.archive = "/r/a.zbk",
                      .id = "0000abcd",
                      .host = "h",
                      .started = "2026-01-01T00:00:00Z",
                      .parts = parts,
                      .part_count = 2,
                      .read = 1,
                      .has_created = 1,
                      .created = "2025-12-31T00:00:00Z",
                      .age_seconds = 86400,
                      .bytes = 4096,
                      .result = ZB_REHEARSAL_FAIL,
                      .error = "it differs",
                      .fetch_seconds = 0,
                      .read_seconds = 0.125,
                      .restore_seconds = 2,
                      .verify_seconds = 0.25,
                      .total_seconds = 3};
    json_t *extra = json_pack("{s:[]}", "checks");
    json_t *report = zb_rehearsal_json(&r, extra);
    char *text = json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(
        text,
        "{\"archive\":\"/r/a.zbk\",\"id\":\"0000abcd\",\"host\":\"h\",\"started\":\"2026-01-01T00:00:00Z\",\"parts\":["
        "{\"kind\":\"pg\",\"name\":\"db\",\"target\":\"zakpos_backup_verify_1\",\"restore_seconds\":1.5,\"bytes\":100,"
        "\"rows\":7,\"not_verified\":[\"EXTENSION x: not allowed\"],\"owners_privileges_left_out\":2,"
        "\"differences\":[\"public.t: 1 row differs\"],\"difference_count\":3,\"result\":\"fail\",\"verify_seconds\":0.25},"
        "{\"kind\":\"path\",\"name\":\"cfg\",\"target\":\"/tmp/s/cfg\",\"restore_seconds\":0.5,\"result\":\"not verified\"}],"
        "\"kept\":false,\"archive_created\":\"2025-12-31T00:00:00Z\",\"archive_age_seconds\":86400,\"bytes\":4096,"
        "\"checks\":[],\"result\":\"fail\",\"error\":\"it differs\","
        "\"seconds\":{\"fetch\":0.0,\"read\":0.125,\"restore\":2.0,\"verify\":0.25,\"total\":3.0}}");
    free(text);
    json_decref(report);
    json_decref(extra);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(plan_hands_each_entry_to_its_target, archive_setup, archive_teardown),
        cmocka_unit_test_setup_teardown(plan_names_the_sources_an_archive_has, archive_setup, archive_teardown),
        cmocka_unit_test_setup_teardown(plan_target_without_name_takes_the_first, archive_setup, archive_teardown),
        cmocka_unit_test_setup_teardown(plan_asks_once_per_unselected_source, archive_setup, archive_teardown),
        cmocka_unit_test(source_table_has_each_kind_once),
        cmocka_unit_test(rehearsal_report_keeps_its_layout),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
