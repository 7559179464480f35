#include "zakpos_backup/command/drill.h"
#include "zakpos_backup/command/recover_parts.h"

#include <string.h>

static const char *text(json_t *o, const char *key)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t ? t : "-";
}

static double seconds(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

static void names(FILE *out, const char *what, json_t *list)
{
    size_t i;
    json_t *x;
    if (json_array_size(list) == 0)
        return;
    fprintf(out, "- %s:", what);
    json_array_foreach (list, i, x)
        fprintf(out, "%s `%s`", i ? "," : "", json_string_value(x));
    fputc('\n', out);
}

static void write_summary(FILE *out, json_t *report)
{
    char a[32];
    json_t *s = json_object_get(report, "seconds");
    fprintf(out, "# Recovery: %s\n\n", strcmp(text(report, "result"), "pass") == 0 ? "COMPLETE" : "FAILED");
    fprintf(out, "- Archive: `%s`\n", text(report, "archive"));
    if (json_object_get(report, "fetched_from"))
        fprintf(out, "- Fetched from: `%s`\n", text(report, "fetched_from"));
    fprintf(out, "- Recovery time (fetch to a stack that answers): **%s**\n",
            zb_report_duration(a, sizeof(a), seconds(report, "rto_seconds")));
    fprintf(out, "- On %s, started %s%s\n", text(report, "host"), text(report, "started"),
            json_is_true(json_object_get(report, "resumed")) ? "; finished an interrupted recovery" : "");
    if (json_object_get(report, "error"))
        fprintf(out, "- Error: %s\n", text(report, "error"));
    fprintf(
        out,
        "\n## Time by phase\n\nThe roles, the database, the volumes and the folders are restored in one\n"
        "verified pass over the archive, so their times overlap within \"restore\".\n\n| phase | time |\n|---|---|\n");
    static const char *const phases[][2] = {{"fetch", "fetch the archive"},
                                            {"stop", "stop the stack"},
                                            {"restore", "restore (roles, database, volumes, folders)"},
                                            {"roles", "of which roles"},
                                            {"start", "start the stack, health checks"},
                                            {"smoke", "smoke check"},
                                            {"total", "total"}};
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
        fprintf(out, "| %s | %s |\n", phases[i][1], zb_report_duration(a, sizeof(a), seconds(s, phases[i][0])));
}

static void write_parts(FILE *out, json_t *report)
{
    size_t i;
    json_t *part;
    char took[32], what[600];
    fprintf(out, "\n## Parts\n\n| part | restored into | time | result |\n|---|---|---|---|\n");
    json_array_foreach (json_object_get(report, "parts"), i, part) {
        snprintf(what, sizeof(what), "%s %s", text(part, "kind"), text(part, "name"));
        zb_report_cell(out, what);
        zb_report_cell(out, text(part, "target"));
        zb_report_cell(out, zb_report_duration(took, sizeof(took), seconds(part, "restore_seconds")));
        zb_report_cell(out, text(part, "result"));
        fputs("|\n", out);
    }
    json_t *roles = json_object_get(report, "roles");
    fprintf(out, "\n## Roles\n\n");
    names(out, "Created", json_object_get(roles, "created"));
    names(out, "Kept as they were (they existed)", json_object_get(roles, "kept"));
    names(out, "Restored without a password", json_object_get(roles, "without_password"));
    names(out, "Tablespaces created", json_object_get(roles, "tablespaces_created"));
    names(out, "Problems", json_object_get(roles, "problems"));
}

static void write_stack(FILE *out, json_t *report)
{
    size_t i;
    json_t *c;
    char took[32];
    fprintf(out, "\n## Containers\n\n");
    if (json_array_size(json_object_get(report, "containers")) == 0)
        fprintf(out, "None were stopped.\n");
    else
        fprintf(out, "| container | health | ready after |\n|---|---|---|\n");
    json_array_foreach (json_object_get(report, "containers"), i, c) {
        zb_report_cell(out, text(c, "name"));
        zb_report_cell(out, text(c, "health"));
        zb_report_cell(out, zb_report_duration(took, sizeof(took), seconds(c, "seconds")));
        fputs("|\n", out);
    }
    json_t *smoke = json_object_get(report, "smoke");
    fprintf(out, "\n## Smoke check\n\n");
    if (!json_object_get(smoke, "command")) {
        fprintf(out, "None configured (recover.smoke_command).\n");
        return;
    }
    fprintf(out, "| command | exit status | result |\n|---|---|---|\n");
    zb_report_cell(out, text(smoke, "command"));
    fprintf(out, "| %lld ", (long long)json_integer_value(json_object_get(smoke, "exit_status")));
    zb_report_cell(out, text(smoke, "result"));
    fputs("|\n", out);
}

void zb_recover_write_markdown(FILE *out, const void *markdown_of)
{
    json_t *report = (json_t *)markdown_of; /* jansson's getters take no const */
    write_summary(out, report);
    write_parts(out, report);
    write_stack(out, report);
}
