#include "zakpos_backup/repo/retention.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *zb_retention_rule_name(enum zb_keep_rule rule)
{
    static const char *names[] = {"last", "hourly", "daily", "weekly", "monthly", "yearly", "within"};
    return rule < ZB_KEEP_RULES ? names[rule] : "?";
}

int zb_retention_parse_within(zb_retention_policy *p, const char *text)
{
    static const char units[] = "ymdh";
    int *fields[] = {&p->within_years, &p->within_months, &p->within_days, &p->within_hours};
    const char *s = text;
    size_t next_unit = 0;
    p->within_years = p->within_months = p->within_days = p->within_hours = 0;
    if (!*s)
        return zb_error_set(ZB_EUSAGE, "--keep-within takes a duration such as 7d, 2y5m or 36h, not ''");
    while (*s) {
        char *end = NULL;
        if (!isdigit((unsigned char)*s))
            break;
        long v = strtol(s, &end, 10);
        const char *u = end && *end ? strchr(units + next_unit, *end) : NULL;
        if (!u || v < 0 || v > 100000)
            break;
        *fields[u - units] = (int)v;
        next_unit = (size_t)(u - units) + 1;
        s = end + 1;
    }
    if (*s)
        return zb_error_set(ZB_EUSAGE, "--keep-within takes a duration such as 7d, 2y5m or 36h, not '%s'", text);
    /* As restic: a zero duration is no policy at all, not "keep nothing"
     * (which would leave every archive, the newest included, to go). */
    p->within_set = p->within_years || p->within_months || p->within_days || p->within_hours;
    if (zb_strlcpy_checked(p->within_text, sizeof(p->within_text), text) < 0)
        return zb_error_code();
    return 0;
}

int zb_retention_is_empty(const zb_retention_policy *p)
{
    for (int r = 0; r < ZB_KEEP_WITHIN; r++)
        if (p->count[r] != 0)
            return 0;
    return !p->within_set;
}

/* The bucket an archive falls in for a rule; different archives in the same
 * bucket compete, the newest wins. */
static long long bucket(enum zb_keep_rule rule, time_t t, size_t index)
{
    struct tm tm;
    localtime_r(&t, &tm);
    long long y = tm.tm_year + 1900;
    switch (rule) {
    case ZB_KEEP_LAST: return (long long)index; /* every archive is its own bucket */
    case ZB_KEEP_HOURLY: return ((y * 100 + tm.tm_mon + 1) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
    case ZB_KEEP_DAILY: return (y * 100 + tm.tm_mon + 1) * 100 + tm.tm_mday;
    case ZB_KEEP_WEEKLY: {
        char iso[16];
        strftime(iso, sizeof(iso), "%G%V", &tm); /* ISO 8601 year and week */
        return atoll(iso);
    }
    case ZB_KEEP_MONTHLY: return y * 100 + tm.tm_mon + 1;
    case ZB_KEEP_YEARLY: return y;
    default: return 0;
    }
}

/* The newest archive's time minus the --keep-within duration, as restic
 * computes it: calendar years, months and days back in the local zone, then
 * elapsed hours (so 36h is 36 real hours even across a DST change). */
static time_t within_limit(time_t newest, const zb_retention_policy *p)
{
    struct tm tm;
    localtime_r(&newest, &tm);
    tm.tm_year -= p->within_years;
    tm.tm_mon -= p->within_months;
    tm.tm_mday -= p->within_days;
    tm.tm_isdst = -1;
    return mktime(&tm) - (time_t)p->within_hours * 3600;
}

void zb_retention_apply(unsigned *keep, const time_t *times, size_t n, const zb_retention_policy *p)
{
    int remaining[ZB_KEEP_WITHIN];
    long long last_bucket[ZB_KEEP_WITHIN];
    int have_last[ZB_KEEP_WITHIN] = {0};
    memcpy(remaining, p->count, sizeof(remaining));
    /* The reference for --keep-within: the newest archive not in the future. */
    time_t now = time(NULL), newest = 0;
    for (size_t i = 0; i < n && !newest; i++)
        if (times[i] <= now)
            newest = times[i];
    time_t limit = newest && p->within_set ? within_limit(newest, p) : 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = 0;
        for (int r = 0; r < ZB_KEEP_WITHIN; r++) {
            if (remaining[r] == 0)
                continue;
            long long b = bucket((enum zb_keep_rule)r, times[i], i);
            /* A rule with count left also keeps the oldest archive: it
             * stretches the history kept as far as it goes. */
            if (have_last[r] && b == last_bucket[r] && i != n - 1)
                continue;
            keep[i] |= 1u << r;
            last_bucket[r] = b;
            have_last[r] = 1;
            if (remaining[r] > 0)
                remaining[r]--;
        }
        if (p->within_set && newest && times[i] > limit)
            keep[i] |= 1u << ZB_KEEP_WITHIN;
    }
}
