/* What a setting's value must be beyond its type: an absolute path (a
 * daemon or cron job has no useful working directory), a file that exists
 * and can be read now rather than at 02:00, an http(s) URL, a time zone the
 * C library knows. Checked at load, so every command sees the same errors
 * with the file and line that caused them. */
#ifndef ZB_CONFIG_VALIDATE_H
#define ZB_CONFIG_VALIDATE_H

#include <stddef.h>

enum zb_value_rule {
    ZB_VALUE_ABSOLUTE = 1 << 0, /* an absolute path */
    ZB_VALUE_READABLE = 1 << 1, /* a file that exists and can be read */
    ZB_VALUE_LIST = 1 << 2,     /* space-separated: each word is checked */
    ZB_VALUE_HTTP_URL = 1 << 3, /* http:// or https:// */
    ZB_VALUE_ZONE = 1 << 4,     /* a time zone name */
};

/* 0 if value ("" always passes) follows the rules; -1 with the reason in why. */
int zb_config_check_value(unsigned rules, const char *value, char *why, size_t why_size);

#endif
