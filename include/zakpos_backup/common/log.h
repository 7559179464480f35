/* Logging to stderr: human lines on a terminal, one JSON object per line
 * otherwise (cron, daemon) or when asked. Results never go through here:
 * they go to stdout. The macros check the level before formatting. */
#ifndef ZB_COMMON_LOG_H
#define ZB_COMMON_LOG_H

typedef enum zb_log_level {
    ZB_LOG_ERROR = 0,
    ZB_LOG_WARN,
    ZB_LOG_INFO,
    ZB_LOG_DETAIL,
    ZB_LOG_DEBUG,
} zb_log_level;

typedef enum zb_log_format {
    ZB_LOG_FORMAT_AUTO = 0, /* text on a terminal, json otherwise */
    ZB_LOG_FORMAT_TEXT,
    ZB_LOG_FORMAT_JSON,
} zb_log_format;

extern zb_log_level zb_log_threshold;

void zb_log_setup(zb_log_level level, zb_log_format format);
int zb_log_parse_level(zb_log_level *out, const char *name);
int zb_log_parse_format(zb_log_format *out, const char *name);
/* A short random id that tags every log line of one run. */
const char *zb_log_run_id(void);
int zb_log_is_json(void);

void zb_log_write(zb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs the current last-error record (message and hint) at error level. */
void zb_log_last_error(void);

#define ZB_LOG(level, ...)                                                                                             \
    do {                                                                                                               \
        if ((level) <= zb_log_threshold)                                                                               \
            zb_log_write((level), __VA_ARGS__);                                                                        \
    } while (0)
#define zb_log_error(...)  ZB_LOG(ZB_LOG_ERROR, __VA_ARGS__)
#define zb_log_warn(...)   ZB_LOG(ZB_LOG_WARN, __VA_ARGS__)
#define zb_log_info(...)   ZB_LOG(ZB_LOG_INFO, __VA_ARGS__)
#define zb_log_detail(...) ZB_LOG(ZB_LOG_DETAIL, __VA_ARGS__)
#define zb_log_debug(...)  ZB_LOG(ZB_LOG_DEBUG, __VA_ARGS__)

#endif
