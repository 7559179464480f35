#include "zakpos_backup/schedule/cron.h"
#include "zakpos_backup/common/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* names for min, min+1, ... or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static const field_spec fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day of week", 0, 7, weekday_names}, /* 7 is Sunday too */
};

static int parse_value(int *out, const char **p, const field_spec *f, const char *whole)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (v < f->min || v > f->max)
            return zb_error_set(ZB_ECONFIG, "cron expression '%s': %s %ld is out of range (%d-%d)", whole, f->name, v,
                                f->min, f->max);
        *out = (int)v;
        *p = end;
        return 0;
    }
    if (f->names && isalpha((unsigned char)*s)) {
        for (int i = 0; i <= f->max - f->min; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
                *out = f->min + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    return zb_error_set(ZB_ECONFIG, "cron expression '%s': '%.12s' is not a valid %s", whole, s, f->name);
}

/* One comma-separated item: "*", "N", "N-M", any of them with "/STEP". */
static int parse_item(uint64_t *bits, int *is_any, const char **p, const field_spec *f, const char *whole)
{
    int lo = f->min, hi = f->max, step = 1, rc;
    const char *s = *p;
    int star = *s == '*';
    if (star) {
        s++;
    } else {
        if ((rc = parse_value(&lo, &s, f, whole)) < 0)
            return rc;
        hi = lo;
        if (*s == '-') {
            s++;
            if ((rc = parse_value(&hi, &s, f, whole)) < 0)
                return rc;
            if (hi < lo)
                return zb_error_set(ZB_ECONFIG, "cron expression '%s': the %s range %d-%d runs backwards", whole,
                                    f->name, lo, hi);
        }
    }
    if (*s == '/') {
        char *end = NULL;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || v < 1 || v > f->max)
            return zb_error_set(ZB_ECONFIG, "cron expression '%s': bad step in the %s field", whole, f->name);
        step = (int)v;
        s = end;
        if (!star && hi == lo)
            hi = f->max; /* "5/15" means from 5 to the end, every 15 */
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    *is_any = star;
    *p = s;
    return 0;
}

static int parse_field(uint64_t *bits, int *is_any, const char *text, size_t len, const field_spec *f,
                       const char *whole)
{
    char buf[128];
    if (len == 0 || len >= sizeof(buf))
        return zb_error_set(ZB_ECONFIG, "cron expression '%s': the %s field is malformed", whole, f->name);
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *p = buf;
    *bits = 0;
    *is_any = 0;
    /* As in Vixie cron, a field counts as "*" when it starts with a star,
     * steps over the whole range included. */
    int first = 1;
    for (;;) {
        int any = 0, rc = parse_item(bits, &any, &p, f, whole);
        if (rc < 0)
            return rc;
        if (first)
            *is_any = any;
        first = 0;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '\0')
            return zb_error_set(ZB_ECONFIG, "cron expression '%s': unexpected '%c' in the %s field", whole, *p,
                                f->name);
        return 0;
    }
}

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

int zb_cron_parse(zb_cron *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    const char *expr = text;
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        for (size_t i = 0; i < ZB_ARRAY_LEN(macros); i++)
            if (strcasecmp(expr, macros[i].name) == 0)
                return zb_cron_parse(out, macros[i].expansion);
        return zb_error_set(ZB_ECONFIG,
                            "cron expression '%s': unknown macro (use @yearly, @monthly, @weekly, "
                            "@daily, @midnight or @hourly)",
                            text);
    }
    uint64_t bits[5];
    int any[5];
    const char *p = expr;
    for (int i = 0; i < 5; i++) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p == start)
            return zb_error_set(ZB_ECONFIG,
                                "cron expression '%s' has %d fields; it needs 5 (minute hour day month "
                                "weekday)",
                                text, i);
        int rc = parse_field(&bits[i], &any[i], start, (size_t)(p - start), &fields[i], text);
        if (rc < 0)
            return rc;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return zb_error_set(ZB_ECONFIG, "cron expression '%s' has more than 5 fields", text);
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->days = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->weekdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday */
    out->days_any = any[2];
    out->weekdays_any = any[4];
    out->hours_any = any[1];
    return 0;
}

/* Wall-clock times are handled as "local time read as UTC" (timegm), so the
 * search steps through the calendar without DST getting in the way; only
 * matches are turned into real instants. */
static int day_matches(const zb_cron *c, const struct tm *wall)
{
    int dom = (c->days >> wall->tm_mday) & 1, dow = (c->weekdays >> wall->tm_wday) & 1;
    if (c->days_any || c->weekdays_any)
        return c->days_any ? (c->weekdays_any ? 1 : dow) : dom;
    return dom || dow;
}

/* The real instants whose local wall clock reads `wall`: none (a skipped
 * time), one, or two (a repeated time). */
static int wall_to_instants(time_t out[2], const struct tm *wall)
{
    int n = 0;
    for (int dst = 0; dst <= 1; dst++) {
        struct tm t = *wall;
        t.tm_isdst = dst;
        time_t inst = mktime(&t);
        struct tm back;
        localtime_r(&inst, &back);
        if (inst != (time_t)-1 && back.tm_hour == wall->tm_hour && back.tm_min == wall->tm_min &&
            back.tm_mday == wall->tm_mday && back.tm_mon == wall->tm_mon && back.tm_year == wall->tm_year &&
            (n == 0 || out[0] != inst))
            out[n++] = inst;
    }
    if (n == 2 && out[1] < out[0]) {
        time_t tmp = out[0];
        out[0] = out[1];
        out[1] = tmp;
    }
    return n;
}

/* The local wall clock at instant t, as seconds ("local time read as UTC"). */
static time_t wall_seconds(time_t t)
{
    struct tm local;
    localtime_r(&t, &local);
    return timegm(&local);
}

/* A skipped wall time: the first instant whose wall clock reads later, i.e.
 * the moment the clock jumped over it. Found by bisection over a window
 * wider than any DST change, since the wall clock only moves forward there. */
static time_t gap_end(time_t wall)
{
    time_t lo = wall - 18 * 3600, hi = wall + 18 * 3600; /* UTC offsets lie within 14 hours */
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;
        if (wall_seconds(mid) >= wall)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int zb_cron_next(time_t *next, const zb_cron *c, time_t after)
{
    /* Start two wall-clock hours back: after a fall-back change the same
     * wall times come again, and only instants after `after` are taken.
     * Around such a change wall-clock order is not time order, so once a
     * candidate is found the scan goes on two more wall-clock hours and the
     * earliest instant wins. */
    time_t wall = wall_seconds(after) / 60 * 60 - 2 * 3600;
    time_t limit = wall + (time_t)8 * 366 * 86400;
    time_t best = 0;
    int found = 0;
    while (wall < limit) {
        struct tm w;
        gmtime_r(&wall, &w);
        if (!((c->months >> (w.tm_mon + 1)) & 1)) {
            w.tm_mon++, w.tm_mday = 1, w.tm_hour = w.tm_min = 0;
            wall = timegm(&w);
            continue;
        }
        if (!day_matches(c, &w)) {
            w.tm_mday++, w.tm_hour = w.tm_min = 0;
            wall = timegm(&w);
            continue;
        }
        if (!((c->hours >> w.tm_hour) & 1)) {
            w.tm_hour++, w.tm_min = 0;
            wall = timegm(&w);
            continue;
        }
        if (!((c->minutes >> w.tm_min) & 1)) {
            wall += 60;
            continue;
        }
        time_t inst[2];
        int n = wall_to_instants(inst, &w);
        if (n == 0) {
            /* Skipped by a DST change: a job at a fixed hour still runs, once,
             * when the clock jumps; an every-hour job just has no such time. */
            inst[0] = gap_end(wall);
            n = c->hours_any ? 0 : 1;
        } else if (!c->hours_any) {
            n = 1; /* repeated by a DST change: a fixed-hour job runs the first time only */
        }
        for (int i = 0; i < n; i++) {
            if (inst[i] > after && (!found || inst[i] < best)) {
                if (!found)
                    limit = wall + 2 * 3600 + 60;
                best = inst[i];
                found = 1;
            }
        }
        wall += 60;
    }
    if (found) {
        *next = best;
        return 0;
    }
    return zb_error_set(ZB_ENOTFOUND, "the schedule never fires (no matching date within eight years)");
}
