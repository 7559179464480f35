#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/config/validate.h"

#include <stddef.h>
#include <string.h>

#define AT(field) offsetof(zb_config, field)
#define NO_FIELD  ZB_SETTING_NO_FIELD

const zb_setting zb_settings[ZB_SET_COUNT] = {
#define ZB_SETTING(ID, FLAG, SECTION, KEY, ENV, TYPE, MIN, MAX, DEFAULT, RULES, FIELD, COMMANDS, FLAGS, HELP)          \
    [ZB_SET_##                                                                                                         \
        ID] = {FLAG, SECTION, KEY, ENV, ZB_SETTING_##TYPE, MIN, MAX, DEFAULT, RULES, FIELD, COMMANDS, FLAGS, HELP},
#include "zakpos_backup/config/settings.def"
#undef ZB_SETTING
};

int zb_setting_for(const zb_setting *s, const char *command)
{
    size_t len = strlen(command);
    for (const char *at = s->commands; s->flag && at && *at;) {
        size_t word = strcspn(at, " ");
        if (word == len && strncmp(at, command, len) == 0)
            return 1;
        at += word;
        at += strspn(at, " ");
    }
    return 0;
}

int zb_settings_options(struct option *out, size_t cap, const char *command, const struct option *local)
{
    size_t n = 0;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (!zb_setting_for(&zb_settings[i], command))
            continue;
        if (n + 1 >= cap)
            return zb_error_set(ZB_EFAIL, "the option table of %s is too small", command);
        /* a yes/no setting's flag says yes: the configuration says no */
        zb_setting_type type = zb_settings[i].type;
        int has_arg = type == ZB_SETTING_SWITCH || type == ZB_SETTING_BOOL ? no_argument : required_argument;
        out[n++] = (struct option){zb_settings[i].flag, has_arg, NULL, ZB_SETTING_OPT(i)};
    }
    for (; local && local->name; local++) {
        if (n + 1 >= cap)
            return zb_error_set(ZB_EFAIL, "the option table of %s is too small", command);
        out[n++] = *local;
    }
    out[n] = (struct option){NULL, 0, NULL, 0};
    return 0;
}

static const char *type_name(const zb_setting *s)
{
    static const char *const names[] = {
        [ZB_SETTING_STRING] = "text",   [ZB_SETTING_PATH] = "path",         [ZB_SETTING_LIST] = "list",
        [ZB_SETTING_SECRET] = "secret", [ZB_SETTING_CONNINFO] = "conninfo", [ZB_SETTING_SECRET_FILE] = "file",
        [ZB_SETTING_INT] = "number",    [ZB_SETTING_BOOL] = "yes/no",       [ZB_SETTING_DURATION] = "duration",
        [ZB_SETTING_WITHIN] = "span",   [ZB_SETTING_SWITCH] = "switch",     [ZB_SETTING_SIZE] = "size",
    };
    return names[s->type];
}

/* "number, -1 to 1000000", "duration, 60s to 31622400s", or the type alone. */
static void write_type(FILE *out, const zb_setting *s)
{
    fputs(type_name(s), out);
    if (s->type == ZB_SETTING_INT)
        fprintf(out, ", %lld to %lld", s->min, s->max);
    else if (s->type == ZB_SETTING_DURATION)
        fprintf(out, ", %llds to %llds", s->min, s->max);
    else if (s->type == ZB_SETTING_SIZE)
        fprintf(out, ", %lld to %lld bytes", s->min, s->max);
}

static int is_secret(const zb_setting *s) { return s->type == ZB_SETTING_SECRET || s->type == ZB_SETTING_CONNINFO; }

void zb_settings_write_markdown(FILE *out)
{
    fputs("| key | environment | flag | type | default | meaning |\n|---|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        const zb_setting *s = &zb_settings[i];
        if (!s->section)
            continue;
        fprintf(out, "| `%s.%s` | ", s->section, s->key);
        if (s->env)
            fprintf(out, "`%s`%s", s->env, is_secret(s) ? " (secret)" : "");
        fputs(" | ", out);
        if (s->flag)
            fprintf(out, "`--%s` (%s)", s->flag, s->commands);
        fputs(" | ", out);
        write_type(out, s);
        fprintf(out, " | %s%s%s | %s |\n", *s->fallback ? "`" : "", s->fallback, *s->fallback ? "`" : "", s->help);
    }
    fputs("\nCommand line only (never a key or a variable):\n\n", out);
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        const zb_setting *s = &zb_settings[i];
        if (!s->section)
            fprintf(out, "- `--%s` (%s): %s\n", s->flag, s->commands, s->help);
    }
}

/* troff: a backslash and a leading dot or quote are escaped; `code` is bold. */
static void write_troff_text(FILE *out, const char *text)
{
    int bold = 0;
    if (*text == '.' || *text == '\'')
        fputs("\\&", out); /* else the line would be read as a request */
    for (const char *p = text; *p; p++) {
        if (*p == '`') {
            fputs(bold ? "\\fR" : "\\fB", out);
            bold = !bold;
        } else if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
    if (bold)
        fputs("\\fR", out);
}

void zb_settings_write_man(FILE *out)
{
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        const zb_setting *s = &zb_settings[i];
        if (!s->section)
            continue;
        fputs(".TP\n.B ", out);
        write_troff_text(out, s->section);
        fputc('.', out);
        write_troff_text(out, s->key);
        fputs("\n(", out);
        write_type(out, s);
        if (*s->fallback) {
            fputs("; default ", out);
            write_troff_text(out, s->fallback);
        }
        if (s->env) {
            fputs("; \\fB", out);
            write_troff_text(out, s->env);
            fputs("\\fR", out);
        }
        if (s->flag) {
            fputs("; \\fB\\-\\-", out);
            write_troff_text(out, s->flag);
            fputs("\\fR", out);
        }
        fputs(")\n", out);
        write_troff_text(out, s->help);
        fputs(".\n", out);
    }
}
