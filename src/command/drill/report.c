#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"

#include <stdlib.h>

#include <string.h>

static const char *text(const char *value) { return value ? value : "-"; }

const char *zb_report_duration(char *buf, size_t size, double s)
{
    zb_format_duration(buf, size, s);
    return buf;
}

#define duration zb_report_duration
#define cell     zb_report_cell

/* A table cell: no '|' or newline may break the row. */
void zb_report_cell(FILE *out, const char *value)
{
    fputs("| ", out);
    for (const char *p = value; *p; p++)
        fputs(*p == '|' ? "\\|" : *p == '\n' ? "<br>" : (char[]){*p, 0}, out);
    fputc(' ', out);
}

static void write_summary(FILE *out, const zb_drill_report *d)
{
    char a[32], b[32], c[32];
    const zb_rehearsal *r = d->rehearsal;
    fprintf(out, "# Disaster-recovery drill: %s\n\n",
            r->result == ZB_REHEARSAL_PASS         ? "PASSED"
            : r->result == ZB_REHEARSAL_INCOMPLETE ? "INCOMPLETE (objects not verified)"
                                                   : "FAILED");
    fprintf(out, "- Archive: `%s` (%s)\n", r->archive,
            r->read ? (zb_format_bytes(a, sizeof(a), (uint64_t)r->bytes), a) : "-");
    if (d->fetched_from)
        fprintf(out, "- Fetched from: `%s`\n", d->fetched_from);
    fprintf(out, "- Archive created: %s\n", r->read && r->has_created ? r->created : "-");
    if (r->read && r->has_created)
        fprintf(out, "- Recovery point (archive age at drill time): **%s**\n",
                duration(a, sizeof(a), (double)r->age_seconds));
    fprintf(out, "- Recovery time (fetch, decrypt, restore every part): **%s**\n",
            duration(b, sizeof(b), d->rto_seconds));
    fprintf(out, "- Whole drill (with verification and smoke checks): %s\n", duration(c, sizeof(c), d->total_seconds));
    fprintf(out, "- Drill %s on %s, started %s%s\n", r->id, r->host, r->started,
            r->kept ? "; scratch targets kept" : "; scratch targets removed");
    if (r->error)
        fprintf(out, "- Error: %s\n", r->error);
    fprintf(
        out,
        "\n## Time by phase\n\nReading, decrypting and decompressing the archive overlap with restoring the\n"
        "parts (the archive streams into them), so that time is inside each part's.\n\n| phase | time |\n|---|---|\n");
    const struct {
        const char *what;
        double seconds;
    } phases[] = {
        {"fetch the archive", r->fetch_seconds},     {"archive read outside the parts' work", r->read_seconds},
        {"restore (all parts)", r->restore_seconds}, {"verify (all parts)", r->verify_seconds},
        {"smoke checks", d->checks_seconds},         {"total", d->total_seconds}};
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
        fprintf(out, "| %s | %s |\n", phases[i].what, duration(a, sizeof(a), phases[i].seconds));
}

static void write_part(FILE *out, const zb_rehearsal_part *p)
{
    char size[32], restore[32], verify[32], rate[32], what[600], amount[64];
    double took = p->restore_seconds;
    uint64_t bytes = p->verified && p->has_bytes ? (uint64_t)p->bytes : 0;
    zb_format_bytes(size, sizeof(size), bytes);
    zb_format_bytes(rate, sizeof(rate), took > 0 ? (uint64_t)((double)bytes / took) : bytes);
    snprintf(what, sizeof(what), "%s %s", p->ops->kind, p->name);
    int rows = p->verified && p->check.has_amount && p->check.amount_is_rows;
    snprintf(amount, sizeof(amount), "%lld %s", p->verified && p->check.has_amount ? p->check.amount : 0,
             rows ? "rows" : "entries");
    cell(out, what);
    cell(out, p->target);
    cell(out, size);
    cell(out, duration(restore, sizeof(restore), took));
    fprintf(out, "| %s/s ", rate);
    cell(out, duration(verify, sizeof(verify), p->verified ? p->verify_seconds : 0));
    cell(out, amount);
    cell(out, zb_part_result_name(p->result));
    fputs("|\n", out);
}

static void write_parts(FILE *out, const zb_rehearsal *r)
{
    fprintf(out,
            "\n## Parts\n\n| part | restored into | size | restore | throughput | verify | read back | result |\n"
            "|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < r->part_count; i++)
        if (r->parts[i].target) /* one that never began is not in the report */
            write_part(out, &r->parts[i]);
    for (size_t i = 0; i < r->part_count; i++) {
        const zb_rehearsal_part *p = &r->parts[i];
        if (!p->target || !p->verified || p->check.count == 0)
            continue;
        fprintf(out, "\n### Differences in %s %s (%lld)\n\n", p->ops->kind, p->name, (long long)p->check.count);
        for (size_t j = 0; j < p->check.kept; j++)
            fprintf(out, "- %s\n", p->check.differences[j]);
    }
}

static void write_checks(FILE *out, const zb_drill_report *d)
{
    fprintf(out, "\n## Smoke checks\n\n");
    if (d->check_count == 0) {
        fprintf(out, "None configured (add [check NAME] sections with sql and expect).\n");
        return;
    }
    fprintf(out, "| check | query | expected | got | result |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < d->check_count; i++) {
        const zb_drill_check *k = &d->checks[i];
        cell(out, text(k->name));
        cell(out, text(k->sql));
        cell(out, text(k->expect));
        cell(out, k->error ? k->error : text(k->got));
        cell(out, k->passed ? "pass" : "fail");
        fputs("|\n", out);
    }
}

void zb_drill_write_markdown(FILE *out, const zb_drill_report *report)
{
    write_summary(out, report);
    write_parts(out, report->rehearsal);
    if (report->pitr)
        zb_drill_pitr_markdown(out, report->pitr);
    write_checks(out, report);
}

/* FILE.md and FILE.json; a FILE ending in either names that one. */
static int report_paths(zb_buf *md, zb_buf *js, const char *file)
{
    size_t n = strlen(file);
    size_t stem = n > 3 && strcmp(file + n - 3, ".md") == 0     ? n - 3
                  : n > 5 && strcmp(file + n - 5, ".json") == 0 ? n - 5
                                                                : n;
    int rc = zb_buf_printf(md, "%.*s.md", (int)stem, file);
    return rc < 0 ? rc : zb_buf_printf(js, "%.*s.json", (int)stem, file);
}

int zb_report_write(json_t *report, const char *file, int as_json, zb_report_markdown_fn write_markdown,
                    const void *markdown_of, const char *what)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *markdown = NULL;
    size_t markdown_len = 0;
    FILE *mem = open_memstream(&markdown, &markdown_len);
    if (mem) {
        write_markdown(mem, markdown_of);
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
