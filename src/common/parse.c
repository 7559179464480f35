#include "zakpos_backup/common/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int zb_parse_int(long long *out, const char *text, long long min, long long max)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int zb_parse_size(unsigned long long *out, const char *text)
{
    const char *digits = text + strspn(text, " \t");
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    /* strtoull takes "-1" as 2^64 - 1: a sign is refused before it */
    if (errno || end == text || *digits == '-')
        return -1;
    unsigned long long scale = 1;
    switch (*end) {
    case 'K':
    case 'k': scale = 1024ull; break;
    case 'M':
    case 'm': scale = 1024ull * 1024; break;
    case 'G':
    case 'g': scale = 1024ull * 1024 * 1024; break;
    case '\0': break;
    default: return -1;
    }
    if (scale > 1 && end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
        return -1;
    if (v > ~0ull / scale)
        return -1;
    *out = v * scale;
    return 0;
}

int zb_parse_duration(long long *seconds, const char *text, long long max_seconds)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    long long scale = 1;
    if (errno || !end || end == text || v < 0)
        return -1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        scale = 60, end++;
    else if (*end == 'h')
        scale = 3600, end++;
    else if (*end == 'd')
        scale = 86400, end++;
    /* compared before multiplying: v * scale cannot overflow */
    if (*end || v > max_seconds / scale)
        return -1;
    *seconds = v * scale;
    return 0;
}

int zb_parse_bool(int *out, const char *text)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(text, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

int zb_parse_enum(int *out, const char *text, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(text, names[i]) == 0)
            return *out = (int)i, 0;
    return -1;
}
