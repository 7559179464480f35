#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/error.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

zb_log_level zb_log_threshold = ZB_LOG_INFO;
static int log_json;
static char run_id[13];

static const char *level_names[] = {"error", "warn", "info", "detail", "debug"};

void zb_log_setup(zb_log_level level, zb_log_format format)
{
    zb_log_threshold = level;
    if (format == ZB_LOG_FORMAT_AUTO)
        log_json = !isatty(STDERR_FILENO);
    else
        log_json = format == ZB_LOG_FORMAT_JSON;
}

int zb_log_is_json(void) { return log_json; }

int zb_log_parse_level(zb_log_level *out, const char *name)
{
    for (size_t i = 0; i < ZB_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (zb_log_level)i;
            return 0;
        }
    }
    return zb_error_set(ZB_EUSAGE, "unknown log level '%s' (use error, warn, info, detail or debug)", name);
}

int zb_log_parse_format(zb_log_format *out, const char *name)
{
    if (strcmp(name, "text") == 0)
        *out = ZB_LOG_FORMAT_TEXT;
    else if (strcmp(name, "json") == 0)
        *out = ZB_LOG_FORMAT_JSON;
    else if (strcmp(name, "auto") == 0)
        *out = ZB_LOG_FORMAT_AUTO;
    else
        return zb_error_set(ZB_EUSAGE, "unknown log format '%s' (use text, json or auto)", name);
    return 0;
}

const char *zb_log_run_id(void)
{
    if (!run_id[0]) {
        static const char digits[] = "0123456789abcdef";
        unsigned char raw[6];
        randombytes_buf(raw, sizeof(raw));
        for (size_t i = 0; i < sizeof(raw); i++) {
            run_id[2 * i] = digits[raw[i] >> 4];
            run_id[2 * i + 1] = digits[raw[i] & 15];
        }
    }
    return run_id;
}

static void format_timestamp(char *out, size_t size)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03ldZ", now.tv_nsec / 1000000);
}

/* hint: what to do about it, or NULL; in JSON it rides in the same object,
 * so a log shipper never separates an error from its advice. */
static void emit(zb_log_level level, const char *message, const char *hint)
{
    char stamp[40];
    format_timestamp(stamp, sizeof(stamp));
    if (log_json) {
        json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "time", stamp, "level", level_names[level], "run",
                                 zb_log_run_id(), "msg", message);
        if (line && hint && *hint)
            json_object_set_new(line, "hint", json_string(hint));
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (text)
            fprintf(stderr, "%s\n", text);
        free(text);
        json_decref(line);
    } else if (level <= ZB_LOG_WARN) {
        fprintf(stderr, "zakpos-backup: %s: %s\n", level_names[level], message);
    } else {
        fprintf(stderr, "%s\n", message);
    }
    if (!log_json && hint && *hint)
        fprintf(stderr, "hint: %s\n", hint);
    fflush(stderr);
}

void zb_log_write(zb_log_level level, const char *fmt, ...)
{
    char message[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    emit(level, message, NULL);
}

void zb_log_last_error(void) { emit(ZB_LOG_ERROR, zb_error_message(), zb_error_hint_text()); }
