#include "zakpos_backup/config/config.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/parse.h"
#include "zakpos_backup/common/timezone.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/config/validate.h"
#include "zakpos_backup/schedule/cron.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The configuration keys are the settings table's rows with a section. */
static const zb_setting *const keys = zb_settings;

static int is_key(size_t i) { return keys[i].section != NULL; }

/* A value kept as an allocated string. */
static int is_text(const zb_setting *k)
{
    return k->type == ZB_SETTING_STRING || k->type == ZB_SETTING_PATH || k->type == ZB_SETTING_LIST ||
           k->type == ZB_SETTING_SECRET_FILE || k->type == ZB_SETTING_SECRET || k->type == ZB_SETTING_CONNINFO;
}

static const struct {
    const char *name, *dir;
} default_paths[] = {
    {"database-init", "/srv/zakpos/database/init"},
    {"redis-conf", "/srv/zakpos/redis/redis.conf"},
};

static const struct {
    const char *name, *schedule, *action;
    int prune;
} default_jobs[] = {
    {"nightly", "0 2 * * *", "backup", 1},
    {"weekly-verify", "30 4 * * 0", "verify-restore", 0},
};

static const char *const actions[] = {"backup", "prune", "verify", "verify-restore"};

int zb_config_parse_duration(int *seconds, const char *text, const char *what)
{
    long long value = 0;
    if (zb_parse_duration(&value, text, ZB_DURATION_MAX_SECONDS) < 0)
        return zb_error_set(ZB_ECONFIG, "%s takes a duration such as 90s, 15m, 26h or 7d, not '%s'", what, text);
    *seconds = (int)value;
    return 0;
}

int zb_config_parse_bool(int *out, const char *text) { return zb_parse_bool(out, text); }

/* Stores text as the value of key k; returns 0 or a message in `why`. */
static int set_value(zb_config *c, const zb_setting *k, const char *text, char *why, size_t why_size)
{
    char *base = (char *)c;
    switch (k->type) {
    case ZB_SETTING_STRING:
    case ZB_SETTING_PATH:
    case ZB_SETTING_LIST:
    case ZB_SETTING_SECRET_FILE:
    case ZB_SETTING_SECRET:
    case ZB_SETTING_CONNINFO: {
        char **field = (char **)(base + k->offset);
        char *copy = zb_strdup(text);
        if (!copy)
            return snprintf(why, why_size, "out of memory"), -1;
        free(*field);
        *field = copy;
        return 0;
    }
    case ZB_SETTING_INT: {
        long long v = 0;
        if (zb_parse_int(&v, text, k->min, k->max) < 0)
            return snprintf(why, why_size, "takes a whole number from %lld to %lld, not '%s'", k->min, k->max, text),
                   -1;
        *(int *)(base + k->offset) = (int)v;
        return 0;
    }
    case ZB_SETTING_BOOL:
        if (zb_parse_bool((int *)(base + k->offset), text) < 0)
            return snprintf(why, why_size, "takes yes or no, not '%s'", text), -1;
        return 0;
    case ZB_SETTING_DURATION: {
        int secs = 0;
        if (zb_config_parse_duration(&secs, text, k->key) < 0 || secs < k->min || secs > k->max)
            return snprintf(why, why_size, "takes a duration such as 90s, 15m, 26h or 7d (%lld s to %lld s), not '%s'",
                            k->min, k->max, text),
                   -1;
        *(int *)(base + k->offset) = secs;
        return 0;
    }
    case ZB_SETTING_WITHIN:
        if (!*text) {
            c->keep.within_set = 0;
            return 0;
        }
        if (zb_retention_parse_within(&c->keep, text) < 0)
            return snprintf(why, why_size, "takes a duration such as 7d, 2y6m or 36h, not '%s'", text), -1;
        return 0;
    case ZB_SETTING_SIZE: {
        unsigned long long bytes = 0;
        if (zb_parse_size(&bytes, text) < 0 || bytes < (unsigned long long)k->min || bytes > (unsigned long long)k->max)
            return snprintf(why, why_size, "takes a size such as 256K, 64M or 2G (%lld to %lld bytes), not '%s'",
                            k->min, k->max, text),
                   -1;
        *(long long *)(base + k->offset) = (long long)bytes;
        return 0;
    }
    case ZB_SETTING_SWITCH: break;
    }
    return -1;
}

/* Records where key `index` got its value: "default", "FILE:LINE", "env VAR". */
static void set_origin(zb_config *c, size_t index, const char *what, const char *name, int line)
{
    char text[512];
    if (line)
        snprintf(text, sizeof(text), "%s:%d", name, line);
    else if (name)
        snprintf(text, sizeof(text), "%s %s", what, name);
    else
        snprintf(text, sizeof(text), "%s", what);
    free(c->origins[index]);
    c->origins[index] = zb_strdup(text);
}

/* ---- the file ---- */

/* Names met in the file with the line of their first appearance: a section
 * or key given twice is an error, never "the last one wins". */
typedef struct seen_names {
    char **names;
    int *lines;
    size_t count, cap;
} seen_names;

typedef struct parse_state {
    zb_config *c;
    const char *file;
    FILE *fp;
    int line;
    int indented; /* the line starts with blanks: inih's continuation of a value */
    int error_line;
    char error[512];
    int paths_from_file;
    int jobs_from_file;
    seen_names sections, keys;
} parse_state;

/* 0 the first time, else the line where name was first seen; -1 out of memory. */
static int seen_before(seen_names *s, const char *name, int line)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->names[i], name) == 0)
            return s->lines[i];
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **names = realloc(s->names, cap * sizeof(*names));
        if (names)
            s->names = names;
        int *lines = names ? realloc(s->lines, cap * sizeof(*lines)) : NULL;
        if (!lines)
            return -1;
        s->lines = lines;
        s->cap = cap;
    }
    if (!(s->names[s->count] = zb_strdup(name)))
        return -1;
    s->lines[s->count++] = line;
    return 0;
}

static void seen_free(seen_names *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->names[i]);
    free(s->names);
    free(s->lines);
    memset(s, 0, sizeof(*s));
}

/* Keeps the first error (file, line, what, why); inih goes on to the end of
 * the file, and the first error is what the user fixes first. */
static void fail_line(parse_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_line(parse_state *st, const char *fmt, ...)
{
    if (st->error_line)
        return;
    int n = snprintf(st->error, sizeof(st->error), "%s:%d: ", st->file, st->line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(st->error))
        vsnprintf(st->error + n, sizeof(st->error) - (size_t)n, fmt, ap);
    va_end(ap);
    st->error_line = st->line;
}

static int fail_at(parse_state *st, const char *section, const char *key, const char *why)
{
    fail_line(st, "[%s] %s: %s", section, key, why);
    return 0;
}

/* A section header seen before: inih would merge the two silently. */
static void note_section(parse_state *st, const char *line)
{
    const char *end = strchr(line + 1, ']');
    if (!end)
        return; /* inih reports the malformed line */
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)(end - line - 1), line + 1);
    int first = seen_before(&st->sections, name, st->line);
    if (first > 0)
        fail_line(st, "[%s] appears twice (first at line %d); give each section once", name, first);
    else if (first < 0)
        fail_line(st, "out of memory");
}

/* inih's buffer is fixed at build time: a longer line would reach it in
 * pieces, the second read as a line of its own. Drops the rest of a line
 * that did not fit and says so. */
static int line_was_cut(const char *buf, int size, FILE *fp)
{
    size_t len = strlen(buf);
    if (len < (size_t)size - 1 || buf[len - 1] == '\n')
        return 0;
    int ch = fgetc(fp);
    if (ch == EOF || ch == '\n')
        return 0; /* it fitted exactly */
    while (ch != EOF && ch != '\n')
        ch = fgetc(fp);
    return 1;
}

/* inih asks for the file line by line: counting here gives the handler the
 * line number of every key, for messages and for `config check`, and shows
 * every section header, which the handler never sees on its own. */
static char *read_line(char *buf, int size, void *stream)
{
    parse_state *st = stream;
    char *got = fgets(buf, size, st->fp);
    if (!got)
        return got;
    st->line++;
    if (line_was_cut(buf, size, st->fp)) {
        fail_line(st, "the line is longer than %d characters, the longest the configuration reader takes", size - 2);
        buf[0] = '\0'; /* the rest was dropped: inih sees an empty line */
        return got;
    }
    const char *p = buf + strspn(buf, " \t");
    st->indented = p > buf && *p && !strchr("\r\n;#", *p);
    if (*p == '[')
        note_section(st, p);
    return got;
}

static void free_path(zb_config_path *p)
{
    free(p->name);
    free(p->dir);
    free(p->origin);
    memset(p, 0, sizeof(*p));
}

static void free_job(zb_config_job *j)
{
    free(j->name);
    free(j->schedule);
    free(j->action);
    free(j->origin);
    memset(j, 0, sizeof(*j));
}

static char *origin_text(const parse_state *st)
{
    zb_buf b = ZB_BUF_INIT;
    if (zb_buf_printf(&b, "%s:%d", st->file, st->line) < 0)
        return NULL;
    return zb_buf_detach(&b);
}

static int handle_path(parse_state *st, const char *key, const char *value)
{
    zb_config *c = st->c;
    if (!st->paths_from_file) { /* a [paths] section replaces the default list */
        for (size_t i = 0; i < c->path_count; i++)
            free_path(&c->paths[i]);
        c->path_count = 0;
        st->paths_from_file = 1;
    }
    if (zb_manifest_check_source_name(key) < 0)
        return fail_at(st, "paths", key, "not a valid source name (use letters, digits and ._@+=-)");
    if (!*value)
        return fail_at(st, "paths", key, "names no folder");
    char why[300];
    if (zb_config_check_value(ZB_VALUE_ABSOLUTE, value, why, sizeof(why)) < 0)
        return fail_at(st, "paths", key, why);
    if (c->path_count == ZB_CONFIG_MAX_PATHS)
        return fail_at(st, "paths", key, "too many paths");
    zb_config_path *p = &c->paths[c->path_count++];
    p->name = zb_strdup(key);
    p->dir = zb_strdup(value);
    p->origin = origin_text(st);
    return 1;
}

static zb_config_job *find_or_add_job(parse_state *st, const char *name)
{
    zb_config *c = st->c;
    if (!st->jobs_from_file) { /* job sections replace the default jobs */
        for (size_t i = 0; i < c->job_count; i++)
            free_job(&c->jobs[i]);
        c->job_count = 0;
        st->jobs_from_file = 1;
    }
    for (size_t i = 0; i < c->job_count; i++)
        if (strcmp(c->jobs[i].name, name) == 0)
            return &c->jobs[i];
    if (c->job_count == ZB_CONFIG_MAX_JOBS)
        return NULL;
    zb_config_job *j = &c->jobs[c->job_count++];
    j->name = zb_strdup(name);
    j->action = zb_strdup("backup");
    j->origin = origin_text(st);
    return j;
}

static int handle_job(parse_state *st, const char *section, const char *name, const char *key, const char *value)
{
    zb_config_job *j = find_or_add_job(st, name);
    if (!j)
        return fail_at(st, section, key, "too many jobs");
    if (strcmp(key, "schedule") == 0) {
        zb_cron cron;
        time_t next;
        if (zb_cron_parse(&cron, value) < 0)
            return fail_at(st, section, key, zb_error_message());
        if (zb_cron_next(&next, &cron, time(NULL)) < 0) {
            char why[300];
            snprintf(why, sizeof(why), "cron expression '%s' never fires (no such date in the next eight years)",
                     value);
            zb_error_clear();
            return fail_at(st, section, key, why);
        }
        free(j->schedule);
        j->schedule = zb_strdup(value);
        return 1;
    }
    if (strcmp(key, "action") == 0) {
        int action = 0;
        if (zb_parse_enum(&action, value, actions, ZB_ARRAY_LEN(actions)) == 0) {
            free(j->action);
            j->action = zb_strdup(actions[action]);
            return 1;
        }
        return fail_at(st, section, key, "not an action (use backup, prune, verify or verify-restore)");
    }
    if (strcmp(key, "prune") == 0) {
        if (zb_parse_bool(&j->prune, value) < 0)
            return fail_at(st, section, key, "takes yes or no");
        return 1;
    }
    return fail_at(st, section, key, "unknown key (schedule, action, prune)");
}

static void free_check(zb_config_check *k)
{
    free(k->name);
    free(k->sql);
    free(k->expect);
    free(k->origin);
    memset(k, 0, sizeof(*k));
}

static int handle_check(parse_state *st, const char *section, const char *name, const char *key, const char *value)
{
    zb_config *c = st->c;
    zb_config_check *k = NULL;
    for (size_t i = 0; i < c->check_count; i++)
        if (strcmp(c->checks[i].name, name) == 0)
            k = &c->checks[i];
    if (!k && c->check_count == ZB_CONFIG_MAX_CHECKS)
        return fail_at(st, section, key, "too many checks");
    if (!k) {
        k = &c->checks[c->check_count++];
        k->name = zb_strdup(name);
        k->origin = origin_text(st);
    }
    char **field = strcmp(key, "sql") == 0 ? &k->sql : strcmp(key, "expect") == 0 ? &k->expect : NULL;
    if (!field)
        return fail_at(st, section, key, "unknown key (sql, expect)");
    free(*field);
    *field = zb_strdup(value);
    return 1;
}

static int handle_remote(parse_state *st, const char *section, const char *name, const char *key, const char *value)
{
    zb_config *c = st->c;
    zb_config_remote *r = NULL;
    for (size_t i = 0; i < c->remote_count; i++)
        if (strcmp(c->remotes[i].name, name) == 0)
            r = &c->remotes[i];
    if (!r) {
        if (zb_manifest_check_source_name(name) < 0)
            return fail_at(st, section, key, "not a valid remote name (use letters, digits and ._@+=-)");
        if (c->remote_count == ZB_CONFIG_MAX_REMOTES)
            return fail_at(st, section, key, "too many remotes");
        r = &c->remotes[c->remote_count++];
        zb_config_remote_init(r);
        r->name = zb_strdup(name);
        r->origin = origin_text(st);
    }
    char why[400];
    if (zb_config_remote_set(r, key, value, why, sizeof(why)) < 0)
        return fail_at(st, section, key, why);
    return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *st = user;
    if (!st->indented) {
        char both[512];
        snprintf(both, sizeof(both), "%s\n%s", section, key);
        int first = seen_before(&st->keys, both, st->line);
        if (first > 0) {
            fail_line(st, "[%s] %s: given twice (first at line %d); give each key once", section, key, first);
            return 0;
        }
        if (first < 0)
            return fail_at(st, section, key, "out of memory");
    }
    if (strncmp(section, "check ", 6) == 0 && section[6])
        return handle_check(st, section, section + 6, key, value);
    if (strcmp(section, "paths") == 0)
        return handle_path(st, key, value);
    if (strncmp(section, "job ", 4) == 0 && section[4])
        return handle_job(st, section, section + 4, key, value);
    if (strncmp(section, "remote ", 7) == 0 && section[7])
        return handle_remote(st, section, section + 7, key, value);
    int known_section = 0;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (!is_key(i) || strcmp(keys[i].section, section) != 0)
            continue;
        known_section = 1;
        if (strcmp(keys[i].key, key) != 0)
            continue;
        char why[300];
        if (set_value(st->c, &keys[i], value, why, sizeof(why)) < 0)
            return fail_at(st, section, key, why);
        set_origin(st->c, i, NULL, st->file, st->line);
        return 1;
    }
    if (!known_section)
        return fail_at(
            st, section, key,
            "unknown section (use repository, postgres, verify, docker, paths, recover, daemon, job NAME, check NAME or remote NAME)");
    return fail_at(st, section, key, "unknown key");
}

static int load_file(zb_config *c, const char *file)
{
    parse_state st;
    memset(&st, 0, sizeof(st));
    st.c = c;
    st.file = file;
    st.fp = fopen(file, "r");
    if (!st.fp)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_ECONFIG, errno, "cannot read config file %s", file);
    int rc = ini_parse_stream(read_line, &st, handler, &st);
    fclose(st.fp);
    seen_free(&st.sections);
    seen_free(&st.keys);
    if (st.error_line)
        return zb_error_set(ZB_ECONFIG, "%s", st.error);
    if (rc != 0)
        return zb_error_set(ZB_ECONFIG, "%s:%d: not a valid line (expected [section] or key = value)", file, rc);
    for (size_t i = 0; i < c->job_count; i++)
        if (!c->jobs[i].schedule)
            return zb_error_set(ZB_ECONFIG, "%s: [job %s] has no schedule", file, c->jobs[i].name);
    for (size_t i = 0; i < c->remote_count; i++) {
        char why[400];
        if (zb_config_remote_check(&c->remotes[i], why, sizeof(why)) < 0)
            return zb_error_set(ZB_ECONFIG, "%s: [remote %s] %s", c->remotes[i].origin, c->remotes[i].name, why);
    }
    c->file = zb_strdup(file);
    return 0;
}

/* ---- environment ---- */

/* A secret may come from VAR or, as Docker secrets do, from the file VAR_FILE names. */
static int env_value(char **out, const zb_setting *k, const char **origin_var)
{
    *out = NULL;
    char file_var[96];
    snprintf(file_var, sizeof(file_var), "%s_FILE", k->env);
    const char *file = (k->type == ZB_SETTING_SECRET || k->type == ZB_SETTING_CONNINFO) ? getenv(file_var) : NULL;
    if (file) {
        size_t len = 0;
        char *secret = NULL;
        if (zb_fs_read_secret(&secret, &len, file) < 0)
            return zb_error_context("%s", file_var);
        *out = zb_strdup(secret);
        zb_fs_secret_free(secret, len);
        *origin_var = k->env;
        return *out ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    const char *value = getenv(k->env);
    if (!value && strcmp(k->env, "ZAKPOS_BACKUP_PG_CONNINFO") == 0)
        value = getenv("DATABASE_URL"), *origin_var = "DATABASE_URL";
    else
        *origin_var = k->env;
    if (!value)
        return 0;
    *out = zb_strdup(value);
    return *out ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int apply_environment(zb_config *c)
{
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (!is_key(i) || !keys[i].env)
            continue;
        char *value = NULL;
        const char *var = NULL;
        int rc = env_value(&value, &keys[i], &var);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        char why[300];
        rc = set_value(c, &keys[i], value, why, sizeof(why));
        free(value);
        if (rc < 0)
            return zb_error_set(ZB_ECONFIG, "environment variable %s: %s", var, why);
        set_origin(c, i, "env", var, 0);
    }
    return 0;
}

/* ---- checks of the whole, after the file and the environment ---- */

/* "FILE:LINE: [section] key: why" or "environment variable VAR: why". */
static int fail_key(const zb_config *c, size_t index, const char *why)
{
    const char *origin = c->origins[index];
    if (strncmp(origin, "env ", 4) == 0)
        return zb_error_set(ZB_ECONFIG, "environment variable %s: %s", origin + 4, why);
    return zb_error_set(ZB_ECONFIG, "%s: [%s] %s: %s", origin, keys[index].section, keys[index].key, why);
}

static int check_values(const zb_config *c)
{
    const char *base = (const char *)c;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (!is_key(i) || !keys[i].rules || strcmp(c->origins[i], "default") == 0)
            continue;
        char why[600];
        if (zb_config_check_value(keys[i].rules, *(char *const *)(base + keys[i].offset), why, sizeof(why)) < 0)
            return fail_key(c, i, why);
    }
    return 0;
}

static int is_keep_key(size_t i)
{
    return is_key(i) && strcmp(keys[i].section, "repository") == 0 && strncmp(keys[i].key, "keep_", 5) == 0;
}

/* One meaning for keep_* wherever it appears: any keep_* given replaces the
 * built-in rules, as it does in a [remote] section. Earlier versions mixed
 * them (keep_last = 3 alone still kept 7 daily, 4 weekly, 12 monthly); a
 * file that may rely on that is told once per load. */
static int settle_retention(zb_config *c)
{
    size_t given = 0, last_given = 0;
    for (size_t i = 0; i < ZB_SET_COUNT; i++)
        if (is_keep_key(i) && strcmp(c->origins[i], "default") != 0)
            given++, last_given = i;
    if (!given)
        return 0;
    zb_buf dropped = ZB_BUF_INIT;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (!is_keep_key(i) || strcmp(c->origins[i], "default") != 0 || keys[i].type != ZB_SETTING_INT)
            continue;
        if (strcmp(keys[i].fallback, "0") != 0)
            zb_buf_printf(&dropped, "%s%s = %s", dropped.len ? ", " : "", keys[i].key, keys[i].fallback);
        *(int *)((char *)c + keys[i].offset) = 0;
    }
    static int told; /* once a process: `run` loads the file for each step */
    if (dropped.len && !told++)
        zb_log_warn(
            "%s: [repository] keeps only the keep_* rules it gives; the built-in %s no longer apply "
            "beside them (write them in the file to keep them)",
            c->origins[last_given], dropped.data);
    zb_buf_free(&dropped);
    if (zb_retention_is_empty(&c->keep)) {
        fail_key(c, last_given, "these keep_* rules keep no archive at all");
        return zb_error_hint("give at least one keep_* above 0 (-1: no limit); prune never removes everything");
    }
    return 0;
}

const char *zb_config_origin(const zb_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < ZB_SET_COUNT; i++)
        if (is_key(i) && strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return c->origins && c->origins[i] ? c->origins[i] : "default";
    return "default";
}

int zb_config_use_timezone(const zb_config *c)
{
    if (zb_time_zone_use(c->timezone) < 0)
        return zb_error_context("daemon.timezone");
    return 0;
}

/* ---- the whole ---- */

static int load_defaults(zb_config *c)
{
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        char why[300];
        if (!is_key(i))
            continue;
        if (set_value(c, &keys[i], keys[i].fallback, why, sizeof(why)) < 0)
            return zb_error_set(ZB_EFAIL, "built-in default of %s.%s: %s", keys[i].section, keys[i].key, why);
        set_origin(c, i, "default", NULL, 0);
    }
    for (size_t i = 0; i < ZB_ARRAY_LEN(default_paths); i++) {
        zb_config_path *p = &c->paths[c->path_count++];
        p->name = zb_strdup(default_paths[i].name);
        p->dir = zb_strdup(default_paths[i].dir);
        p->origin = zb_strdup("default");
    }
    for (size_t i = 0; i < ZB_ARRAY_LEN(default_jobs); i++) {
        zb_config_job *j = &c->jobs[c->job_count++];
        j->name = zb_strdup(default_jobs[i].name);
        j->schedule = zb_strdup(default_jobs[i].schedule);
        j->action = zb_strdup(default_jobs[i].action);
        j->prune = default_jobs[i].prune;
        j->origin = zb_strdup("default");
    }
    return 0;
}

int zb_config_load(zb_config *out, const char *file)
{
    memset(out, 0, sizeof(*out));
    out->origin_count = ZB_SET_COUNT;
    out->origins = calloc(out->origin_count, sizeof(char *));
    if (!out->origins)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = load_defaults(out);
    if (rc == 0 && file)
        rc = load_file(out, file);
    else if (rc == 0) {
        const char *candidates[] = {ZB_CONFIG_DEFAULT_FILE, ZB_CONFIG_LOCAL_FILE};
        for (size_t i = 0; rc == 0 && i < ZB_ARRAY_LEN(candidates); i++)
            if (access(candidates[i], F_OK) == 0) {
                rc = load_file(out, candidates[i]);
                break;
            }
    }
    if (rc == 0)
        rc = apply_environment(out);
    if (rc == 0)
        rc = check_values(out);
    if (rc == 0)
        rc = settle_retention(out);
    for (size_t i = 0; rc == 0 && i < out->check_count; i++)
        if (!out->checks[i].sql || !out->checks[i].expect)
            rc = zb_error_set(ZB_ECONFIG, "%s: [check %s] needs both sql and expect", out->checks[i].origin,
                              out->checks[i].name);
    if (rc < 0)
        zb_config_free(out);
    return rc;
}

void zb_config_free(zb_config *c)
{
    char *base = (char *)c;
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        if (is_key(i) && is_text(&keys[i])) {
            char **field = (char **)(base + keys[i].offset);
            if (keys[i].type == ZB_SETTING_SECRET && *field)
                sodium_memzero(*field, strlen(*field));
            free(*field);
            *field = NULL;
        }
    }
    for (size_t i = 0; i < c->path_count; i++)
        free_path(&c->paths[i]);
    for (size_t i = 0; i < c->job_count; i++)
        free_job(&c->jobs[i]);
    for (size_t i = 0; i < c->check_count; i++)
        free_check(&c->checks[i]);
    for (size_t i = 0; i < c->remote_count; i++)
        zb_config_remote_free(&c->remotes[i]);
    for (size_t i = 0; c->origins && i < c->origin_count; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c->file);
    memset(c, 0, sizeof(*c));
}

/* A conninfo value quoted as libpq reads it back. */
static void print_conninfo_value(FILE *out, const char *v)
{
    int plain = *v != '\0';
    for (const char *p = v; *p; p++)
        plain = plain && !isspace((unsigned char)*p) && *p != '\'' && *p != '\\';
    if (plain) {
        fputs(v, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = v; *p; p++) {
        if (*p == '\'' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('\'', out);
}

static const char *conninfo_password(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            return o->val;
    return NULL;
}

/* A URI with the password of its user part and of every "password"
 * parameter replaced by ****; NULL if out of memory. */
static char *mask_uri(const char *uri)
{
    zb_buf b = ZB_BUF_INIT;
    const char *authority = strstr(uri, "://") + 3;
    const char *authority_end = authority + strcspn(authority, "/?");
    const char *at = NULL;
    for (const char *p = authority; p < authority_end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
    int rc = colon ? zb_buf_printf(&b, "%.*s****%.*s", (int)(colon + 1 - uri), uri, (int)(authority_end - at), at)
                   : zb_buf_append(&b, uri, (size_t)(authority_end - uri));
    const char *query = strchr(authority_end, '?');
    if (rc == 0 && query)
        rc = zb_buf_append(&b, authority_end, (size_t)(query - authority_end));
    for (const char *p = query; rc == 0 && p && *p;) {
        size_t n = 1 + strcspn(p + 1, "&"); /* "?name=value" or "&name=value" */
        rc = strncmp(p + 1, "password=", 9) == 0 ? zb_buf_printf(&b, "%cpassword=****", *p) : zb_buf_append(&b, p, n);
        p += n;
    }
    if (rc == 0 && !query)
        rc = zb_buf_puts(&b, authority_end);
    if (rc < 0) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

/* Every option libpq found, the password as ****, values quoted as libpq
 * reads them back. */
static void print_conninfo_options(FILE *out, PQconninfoOption *opts)
{
    int first = 1;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        fprintf(out, "%s%s=", first ? "" : " ", o->keyword);
        if (strcmp(o->keyword, "password") == 0)
            fputs("****", out);
        else
            print_conninfo_value(out, o->val);
        first = 0;
    }
}

/* libpq itself parses the string, so every form it accepts is masked: key =
 * value pairs with spaces or quotes, a password given twice, a URI with the
 * password in its user part or its query. A URI is shown as written with
 * its passwords masked when libpq confirms that the masked text carries no
 * password; anything else is printed back from libpq's options. A string
 * libpq cannot parse is not shown at all. */
static void print_conninfo(FILE *out, const char *v)
{
    char *err = NULL;
    PQconninfoOption *opts = *v ? PQconninfoParse(v, &err) : NULL;
    PQfreemem(err);
    if (!opts || !conninfo_password(opts)) {
        fputs(!*v || opts ? v : "(hidden: libpq cannot parse it)", out);
        PQconninfoFree(opts);
        return;
    }
    char *masked = strstr(v, "://") ? mask_uri(v) : NULL;
    PQconninfoOption *check = masked ? PQconninfoParse(masked, NULL) : NULL;
    const char *left = check ? conninfo_password(check) : NULL;
    if (check && (!left || strcmp(left, "****") == 0))
        fputs(masked, out);
    else
        print_conninfo_options(out, opts);
    PQconninfoFree(check);
    free(masked);
    PQconninfoFree(opts);
}

void zb_config_print(const zb_config *c, FILE *out)
{
    const char *base = (const char *)c;
    fprintf(out, "# config file: %s\n", c->file ? c->file : "(none: built-in defaults)");
    for (size_t i = 0; i < ZB_SET_COUNT; i++) {
        const zb_setting *k = &keys[i];
        if (!is_key(i))
            continue;
        fprintf(out, "%s.%s = ", k->section, k->key);
        switch (k->type) {
        case ZB_SETTING_STRING:
        case ZB_SETTING_PATH:
        case ZB_SETTING_LIST:
        case ZB_SETTING_SECRET_FILE: fputs(*(char *const *)(base + k->offset), out); break;
        case ZB_SETTING_SECRET: fputs(**(char *const *)(base + k->offset) ? "****" : "", out); break;
        case ZB_SETTING_CONNINFO: print_conninfo(out, *(char *const *)(base + k->offset)); break;
        case ZB_SETTING_INT: fprintf(out, "%d", *(const int *)(base + k->offset)); break;
        case ZB_SETTING_BOOL: fputs(*(const int *)(base + k->offset) ? "yes" : "no", out); break;
        case ZB_SETTING_DURATION: fprintf(out, "%ds", *(const int *)(base + k->offset)); break;
        case ZB_SETTING_WITHIN: fputs(c->keep.within_set ? c->keep.within_text : "", out); break;
        case ZB_SETTING_SIZE: fprintf(out, "%lld", *(const long long *)(base + k->offset)); break;
        case ZB_SETTING_SWITCH: break;
        }
        fprintf(out, "  (%s)\n", c->origins[i]);
    }
    for (size_t i = 0; i < c->path_count; i++)
        fprintf(out, "paths.%s = %s  (%s)\n", c->paths[i].name, c->paths[i].dir, c->paths[i].origin);
    for (size_t i = 0; i < c->job_count; i++)
        fprintf(out, "job.%s = %s \"%s\"%s  (%s)\n", c->jobs[i].name, c->jobs[i].action, c->jobs[i].schedule,
                c->jobs[i].prune ? " then prune" : "", c->jobs[i].origin);
    for (size_t i = 0; i < c->check_count; i++)
        fprintf(out, "check.%s = %s => %s  (%s)\n", c->checks[i].name, c->checks[i].sql, c->checks[i].expect,
                c->checks[i].origin);
    for (size_t i = 0; i < c->remote_count; i++)
        zb_config_remote_print(&c->remotes[i], out);
}

int zb_config_is_set(const zb_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < ZB_SET_COUNT; i++)
        if (is_key(i) && strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return c->origins && c->origins[i] && strcmp(c->origins[i], "default") != 0;
    return 0;
}
