#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/common/timeutil.h"

#include <string.h>

static const char *text(json_t *o, const char *key)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t ? t : "-";
}

static double seconds(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

static const char *duration(char *buf, size_t size, double s)
{
    zb_format_duration(buf, size, s);
    return buf;
}

/* A table cell: no '|' or newline may break the row. */
static void cell(FILE *out, const char *value)
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
