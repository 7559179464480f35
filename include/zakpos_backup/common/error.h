/* Errors as values. A fallible function returns 0 or a negative zb error code
 * after recording a message in a thread-local last-error record; callers add
 * context on the way up and main() turns the code into an exit status. */
#ifndef ZB_COMMON_ERROR_H
#define ZB_COMMON_ERROR_H

enum zb_error_code {
    ZB_OK = 0,
#define ZB_ERROR(name, code, status, desc) name = code,
#include "zakpos_backup/common/error.def"
#undef ZB_ERROR
};

#define ZB_ERROR_MESSAGE_MAX 2048

/* Records code and message (printf format) and returns code, so that
 * `return zb_error_set(ZB_EIO, "...")` reads naturally. */
#define zb_error_set(code, ...) zb_error_set_at(__FILE__, __LINE__, (code), __VA_ARGS__)
int zb_error_set_at(const char *file, int line, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Like zb_error_set, adding ": strerror(errno)" for the errno given. */
#define zb_error_errno(code, err, ...) zb_error_errno_at(__FILE__, __LINE__, (code), (err), __VA_ARGS__)
int zb_error_errno_at(const char *file, int line, int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#ifdef __clang_analyzer__
/* For the static analyzer (scan-build) only: the same calls, with the value
 * they return written out, so that it sees `return zb_error_set(ZB_EIO, ...)`
 * return a negative code and follows the error paths as they run (it does
 * not look into zb_error_set_at). Evaluated once, before the call, as the
 * functions do. */
#undef zb_error_set
#undef zb_error_errno
#define zb_error_set(code, ...)                                                                                        \
    __extension__({                                                                                                    \
        int zb_analyzed_code_ = (code);                                                                                \
        zb_error_set_at(__FILE__, __LINE__, zb_analyzed_code_, __VA_ARGS__);                                           \
        zb_analyzed_code_;                                                                                             \
    })
#define zb_error_errno(code, err, ...)                                                                                 \
    __extension__({                                                                                                    \
        int zb_analyzed_code_ = (code);                                                                                \
        zb_error_errno_at(__FILE__, __LINE__, zb_analyzed_code_, (err), __VA_ARGS__);                                  \
        zb_analyzed_code_;                                                                                             \
    })
#endif

/* Prepends context ("backup of volume x: ") to the current message; returns
 * the current code so it can be used as `return zb_error_context(...)`. */
int zb_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds a "hint: ..." line telling the user what to do. Returns the current code. */
int zb_error_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __clang_analyzer__
/* For the analyzer too: context and hints are added to an error already set,
 * so what they return is that error's negative code. */
#define zb_error_context(...)                                                                                          \
    __extension__({                                                                                                    \
        int zb_analyzed_rc_ = zb_error_context(__VA_ARGS__);                                                           \
        if (zb_analyzed_rc_ >= 0)                                                                                      \
            __builtin_unreachable();                                                                                   \
        zb_analyzed_rc_;                                                                                               \
    })
#define zb_error_hint(...)                                                                                             \
    __extension__({                                                                                                    \
        int zb_analyzed_rc_ = zb_error_hint(__VA_ARGS__);                                                              \
        if (zb_analyzed_rc_ >= 0)                                                                                      \
            __builtin_unreachable();                                                                                   \
        zb_analyzed_rc_;                                                                                               \
    })
#endif

/* The last error of one thread, carried to another (errors are
 * thread-local): a worker saves it, the thread that reports raises it. */
typedef struct zb_error_saved {
    int code;
    char message[ZB_ERROR_MESSAGE_MAX];
    char hint[ZB_ERROR_MESSAGE_MAX / 2];
} zb_error_saved;
void zb_error_save(zb_error_saved *out);
int zb_error_raise(const zb_error_saved *saved);

int zb_error_code(void);
const char *zb_error_message(void);
const char *zb_error_hint_text(void);
const char *zb_error_file(void);
int zb_error_line(void);
void zb_error_clear(void);

const char *zb_error_name(int code);
const char *zb_error_description(int code);
int zb_error_exit_status(int code);

#endif
