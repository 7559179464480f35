#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/common/error.h"

#include <stdio.h>
#include <string.h>

double zb_time_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void zb_time_format_iso(char *out, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void zb_time_format_compact(char *out, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y%m%dT%H%M%SZ", &tm);
}

int zb_time_parse_utc(time_t *out, const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(text, "%Y%m%dT%H%M%SZ", &tm);
    }
    if (!end || *end)
        return zb_error_set(ZB_EFAIL, "'%s' is not a UTC time like 2026-11-24T18:34:00Z", text);
    *out = timegm(&tm);
    return 0;
}

void zb_format_bytes(char *out, size_t size, uint64_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < ZB_ARRAY_LEN(units)) {
        value /= 1024.0;
        unit++;
    }
    if (unit == 0)
        snprintf(out, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, size, "%.1f %s", value, units[unit]);
}

void zb_format_duration(char *out, size_t size, double seconds)
{
    if (seconds < 60.0) {
        snprintf(out, size, "%.1fs", seconds);
        return;
    }
    unsigned long total = (unsigned long)(seconds + 0.5);
    unsigned long h = total / 3600, m = (total / 60) % 60, s = total % 60;
    if (h)
        snprintf(out, size, "%luh%02lum%02lus", h, m, s);
    else
        snprintf(out, size, "%lum%02lus", m, s);
}
