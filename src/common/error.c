#include "zakpos_backup/common/error.h"

/* The functions themselves, not the analyzer's models of them (error.h). */
#undef zb_error_context
#undef zb_error_hint

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct zb_error_record {
    int code;
    const char *file;
    int line;
    char message[ZB_ERROR_MESSAGE_MAX];
    char hint[ZB_ERROR_MESSAGE_MAX / 2];
};

static _Thread_local struct zb_error_record last_error;

__attribute__((format(printf, 4, 0))) static int record(const char *file, int line, int code, const char *fmt,
                                                        va_list ap)
{
    /* Formatted aside first: callers pass the current message or hint back
     * in (re-raising with another code), and vsnprintf must not read the
     * buffer it writes. */
    char message[ZB_ERROR_MESSAGE_MAX];
    vsnprintf(message, sizeof(message), fmt, ap);
    memcpy(last_error.message, message, sizeof(message));
    last_error.code = code;
    last_error.file = file;
    last_error.line = line;
    last_error.hint[0] = '\0';
    return code;
}

int zb_error_set_at(const char *file, int line, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(file, line, code, fmt, ap);
    va_end(ap);
    return code;
}

int zb_error_errno_at(const char *file, int line, int code, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(file, line, code, fmt, ap);
    va_end(ap);
    size_t used = strlen(last_error.message);
    snprintf(last_error.message + used, sizeof(last_error.message) - used, ": %s", strerror(err));
    return code;
}

int zb_error_context(const char *fmt, ...)
{
    char prefix[ZB_ERROR_MESSAGE_MAX];
    char joined[ZB_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Truncation keeps the start of the message, which names the failing thing. */
    if (snprintf(joined, sizeof(joined), "%s: %s", prefix, last_error.message) >= (int)sizeof(joined))
        joined[sizeof(joined) - 1] = '\0';
    memcpy(last_error.message, joined, sizeof(joined));
    if (last_error.code == 0)
        last_error.code = ZB_EFAIL;
    return last_error.code;
}

int zb_error_hint(const char *fmt, ...)
{
    char hint[sizeof(last_error.hint)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hint, sizeof(hint), fmt, ap);
    va_end(ap);
    memcpy(last_error.hint, hint, sizeof(hint));
    return last_error.code;
}

void zb_error_save(zb_error_saved *out)
{
    out->code = last_error.code ? last_error.code : ZB_EFAIL;
    memcpy(out->message, last_error.message, sizeof(out->message));
    memcpy(out->hint, last_error.hint, sizeof(out->hint));
}

int zb_error_raise(const zb_error_saved *saved)
{
    zb_error_set(saved->code, "%s", saved->message);
    if (saved->hint[0])
        zb_error_hint("%s", saved->hint);
    return saved->code;
}

int zb_error_code(void) { return last_error.code; }
const char *zb_error_message(void) { return last_error.message; }
const char *zb_error_hint_text(void) { return last_error.hint; }
const char *zb_error_file(void) { return last_error.file ? last_error.file : ""; }
int zb_error_line(void) { return last_error.line; }

void zb_error_clear(void)
{
    last_error.code = 0;
    last_error.file = NULL;
    last_error.line = 0;
    last_error.message[0] = '\0';
    last_error.hint[0] = '\0';
}

const char *zb_error_name(int code)
{
    switch (code) {
    case ZB_OK: return "ZB_OK";
#define ZB_ERROR(name, value, status, desc)                                                                            \
    case value:                                                                                                        \
        return #name;
#include "zakpos_backup/common/error.def"
#undef ZB_ERROR
    default: return "ZB_EUNKNOWN";
    }
}

const char *zb_error_description(int code)
{
    switch (code) {
    case ZB_OK: return "ok";
#define ZB_ERROR(name, value, status, desc)                                                                            \
    case value:                                                                                                        \
        return desc;
#include "zakpos_backup/common/error.def"
#undef ZB_ERROR
    default: return "unknown error";
    }
}

int zb_error_exit_status(int code)
{
    switch (code) {
    case ZB_OK: return 0;
#define ZB_ERROR(name, value, status, desc)                                                                            \
    case value:                                                                                                        \
        return status;
#include "zakpos_backup/common/error.def"
#undef ZB_ERROR
    default: return 1;
    }
}
