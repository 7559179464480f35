/* Retention with restic's documented semantics. Archives are considered
 * newest first; --keep-last N keeps the N newest; --keep-hourly/daily/
 * weekly/monthly/yearly N keep, for each of the N most recent hours (days,
 * ISO weeks, months, years) that have archives, the newest archive in it;
 * -1 means no limit; a rule that still has count left when it reaches the
 * oldest archive keeps that one too; --keep-within D keeps every archive
 * less than D older than the newest one that is not in the future. Time
 * buckets use the local time zone (TZ). */
#ifndef ZB_REPO_RETENTION_H
#define ZB_REPO_RETENTION_H

#include <stddef.h>
#include <time.h>

enum zb_keep_rule {
    ZB_KEEP_LAST = 0,
    ZB_KEEP_HOURLY,
    ZB_KEEP_DAILY,
    ZB_KEEP_WEEKLY,
    ZB_KEEP_MONTHLY,
    ZB_KEEP_YEARLY,
    ZB_KEEP_WITHIN,
    ZB_KEEP_RULES
};

typedef struct zb_retention_policy {
    int count[ZB_KEEP_WITHIN]; /* per bucket rule: 0 off, -1 unlimited */
    int within_set;
    int within_years, within_months, within_days, within_hours;
    char within_text[32];
} zb_retention_policy;

/* Parses "2y5m7d3h" (any subset, in that order). */
int zb_retention_parse_within(zb_retention_policy *p, const char *text);
int zb_retention_is_empty(const zb_retention_policy *p);
/* times[i] is archive i's creation time, newest first. keep[i] receives a
 * bit mask of the rules (1 << enum zb_keep_rule) that keep archive i; 0
 * means it goes. */
void zb_retention_apply(unsigned *keep, const time_t *times, size_t n, const zb_retention_policy *p);
const char *zb_retention_rule_name(enum zb_keep_rule rule);

#endif
