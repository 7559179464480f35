#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"

#include <stdlib.h>

#include <string.h>

static const char *text(json_t *o, const char *key)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t ? t : "-";
}

static double seconds(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

const char *zb_report_duration(char *buf, size_t size, double s)
{
    zb_format_duration(buf, size, s);
    return buf;
}

#define duration zb_report_duration
#define cell zb_report_cell

/* A table cell: no '|' or newline may break the row. */
void zb_report_cell(FILE *out, const char *value)
{
    fputs("| ", out);
    for (const char *p = value; *p; p++)
        fputs(*p == '|' ? "\\|" : *p == '\n' ? "<br>" : (char[]){*p, 0}, out);
    fputc(' ', out);
}

static void write_summary(FILE *out, json_t *report)
{
    char a[32], b[32], c[32];
    json_t *s = json_object_get(report, "seconds");
    const char *result = text(report, "result");
    fprintf(out, "# Disaster-recovery drill: %s\n\n",
            strcmp(result, "pass") == 0         ? "PASSED"
            : strcmp(result, "incomplete") == 0 ? "INCOMPLETE (objects not verified)"
                                                : "FAILED");
    fprintf(out, "- Archive: `%s` (%s)\n", text(report, "archive"),
            json_object_get(report, "bytes") ? (zb_format_bytes(a, sizeof(a), (uint64_t)json_integer_value(json_object_get(report, "bytes"))), a) : "-");
    if (json_object_get(report, "fetched_from"))
        fprintf(out, "- Fetched from: `%s`\n", text(report, "fetched_from"));
    fprintf(out, "- Archive created: %s\n", text(report, "archive_created"));
    if (json_object_get(report, "archive_age_seconds"))
        fprintf(out, "- Recovery point (archive age at drill time): **%s**\n",
                duration(a, sizeof(a), (double)json_integer_value(json_object_get(report, "archive_age_seconds"))));
    fprintf(out, "- Recovery time (fetch, decrypt, restore every part): **%s**\n", duration(b, sizeof(b), seconds(report, "rto_seconds")));
    fprintf(out, "- Whole drill (with verification and smoke checks): %s\n", duration(c, sizeof(c), seconds(s, "total")));
    fprintf(out, "- Drill %s on %s, started %s%s\n", text(report, "id"), text(report, "host"), text(report, "started"),
            json_is_true(json_object_get(report, "kept")) ? "; scratch targets kept" : "; scratch targets removed");
    if (json_object_get(report, "error"))
        fprintf(out, "- Error: %s\n", text(report, "error"));
    fprintf(out, "\n## Time by phase\n\nReading, decrypting and decompressing the archive overlap with restoring the\n"
                 "parts (the archive streams into them), so that time is inside each part's.\n\n| phase | time |\n|---|---|\n");
    static const char *const phases[][2] = {{"fetch", "fetch the archive"}, {"read", "archive read outside the parts' work"},
                                            {"restore", "restore (all parts)"}, {"verify", "verify (all parts)"},
                                            {"checks", "smoke checks"}, {"total", "total"}};
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
        fprintf(out, "| %s | %s |\n", phases[i][1], duration(a, sizeof(a), seconds(s, phases[i][0])));
}

static void write_parts(FILE *out, json_t *report)
{
    size_t i, j;
    json_t *part, *d;
    fprintf(out, "\n## Parts\n\n| part | restored into | size | restore | throughput | verify | read back | result |\n"
                 "|---|---|---|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(report, "parts"), i, part) {
        char size[32], restore[32], verify[32], rate[32], what[600], amount[64];
        double took = seconds(part, "restore_seconds");
        uint64_t bytes = (uint64_t)json_integer_value(json_object_get(part, "bytes"));
        zb_format_bytes(size, sizeof(size), bytes);
        zb_format_bytes(rate, sizeof(rate), took > 0 ? (uint64_t)((double)bytes / took) : bytes);
        snprintf(what, sizeof(what), "%s %s", text(part, "kind"), text(part, "name"));
        json_t *rows = json_object_get(part, "rows");
        snprintf(amount, sizeof(amount), "%lld %s", (long long)json_integer_value(rows ? rows : json_object_get(part, "entries")),
                 rows ? "rows" : "entries");
        cell(out, what);
        cell(out, text(part, "target"));
        cell(out, size);
        cell(out, duration(restore, sizeof(restore), took));
        fprintf(out, "| %s/s ", rate);
        cell(out, duration(verify, sizeof(verify), seconds(part, "verify_seconds")));
        cell(out, amount);
        cell(out, text(part, "result"));
        fputs("|\n", out);
    }
    json_array_foreach(json_object_get(report, "parts"), i, part) {
        if (json_integer_value(json_object_get(part, "difference_count")) == 0)
            continue;
        fprintf(out, "\n### Differences in %s %s (%lld)\n\n", text(part, "kind"), text(part, "name"),
                (long long)json_integer_value(json_object_get(part, "difference_count")));
        json_array_foreach(json_object_get(part, "differences"), j, d) fprintf(out, "- %s\n", json_string_value(d));
    }
}

static void write_checks(FILE *out, json_t *report)
{
    json_t *checks = json_object_get(report, "checks");
    size_t i;
    json_t *k;
    fprintf(out, "\n## Smoke checks\n\n");
    if (json_array_size(checks) == 0) {
        fprintf(out, "None configured (add [check NAME] sections with sql and expect).\n");
        return;
    }
    fprintf(out, "| check | query | expected | got | result |\n|---|---|---|---|---|\n");
    json_array_foreach(checks, i, k) {
        cell(out, text(k, "name"));
        cell(out, text(k, "sql"));
        cell(out, text(k, "expect"));
        cell(out, json_object_get(k, "error") ? text(k, "error") : text(k, "got"));
        cell(out, text(k, "result"));
        fputs("|\n", out);
    }
}

void zb_drill_write_markdown(FILE *out, json_t *report)
{
    write_summary(out, report);
    write_parts(out, report);
    write_checks(out, report);
}

/* FILE.md and FILE.json; a FILE ending in either names that one. */
static int report_paths(zb_buf *md, zb_buf *js, const char *file)
{
    size_t n = strlen(file);
    size_t stem = n > 3 && strcmp(file + n - 3, ".md") == 0 ? n - 3 : n > 5 && strcmp(file + n - 5, ".json") == 0 ? n - 5 : n;
    int rc = zb_buf_printf(md, "%.*s.md", (int)stem, file);
    return rc < 0 ? rc : zb_buf_printf(js, "%.*s.json", (int)stem, file);
}

int zb_report_write(json_t *report, const char *file, int as_json, zb_report_markdown_fn write_markdown, const char *what)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *markdown = NULL;
    size_t markdown_len = 0;
    FILE *mem = open_memstream(&markdown, &markdown_len);
    if (mem) {
        write_markdown(mem, report);
        fclose(mem);
    }
    int rc = text && markdown ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && file) {
        zb_buf md = ZB_BUF_INIT, js = ZB_BUF_INIT;
        rc = report_paths(&md, &js, file);
        const char *slash = rc == 0 ? strrchr(md.data, '/') : NULL;
        if (slash && slash != md.data) { /* the report's folder is made if missing */
            char *parent = strndup(md.data, (size_t)(slash - md.data));
            rc = parent ? zb_fs_mkdir_p(parent, 0755) : zb_error_set(ZB_ENOMEM, "out of memory");
            free(parent);
        }
        if (rc == 0)
            rc = zb_fs_write_file_atomic(js.data, text, strlen(text), 0644);
        if (rc == 0)
            rc = zb_fs_write_file_atomic(md.data, markdown, markdown_len, 0644);
        if (rc == 0)
            zb_log_info("%s report written to %s and %s", what, md.data, js.data);
        zb_buf_free(&md);
        zb_buf_free(&js);
    } else if (rc == 0) {
        fputs(as_json ? text : markdown, stdout);
        if (as_json)
            fputc('\n', stdout);
    }
    free(text);
    free(markdown);
    return rc;
}

