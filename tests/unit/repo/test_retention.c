#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/repo/retention.h"

#include <stdlib.h>
#include <string.h>

/* The archive dates of the table, newest first (UTC):
 *  0 2026-11-24 02:00 Tue W48    7 2026-11-08 02:00 Sun W45
 *  1 2026-11-23 14:00 Mon W48    8 2026-10-31 02:00 Sat W44
 *  2 2026-11-23 02:00 Mon W48    9 2026-10-01 02:00 Thu W40
 *  3 2026-11-22 02:00 Sun W47   10 2026-09-15 02:00 Tue W38
 *  4 2026-11-21 02:00 Sat W47   11 2025-12-31 02:00 Wed 2026-W01 (ISO)
 *  5 2026-11-16 02:00 Mon W47   12 2025-06-01 02:00 Sun 2025-W22
 *  6 2026-11-15 02:00 Sun W46   13 2024-01-01 02:00 Mon 2024-W01 */
static const time_t dates[] = {
    1795485600, 1795442400, 1795399200, 1795312800, 1795226400, 1794794400, 1794708000,
    1794103200, 1793412000, 1790820000, 1789437600, 1767146400, 1748743200, 1704074400,
};
#define N         ZB_ARRAY_LEN(dates)
#define BIT(rule) (1u << (rule))

static zb_retention_policy policy(int last, int hourly, int daily, int weekly, int monthly, int yearly)
{
    zb_retention_policy p;
    memset(&p, 0, sizeof(p));
    int counts[] = {last, hourly, daily, weekly, monthly, yearly};
    memcpy(p.count, counts, sizeof(counts));
    return p;
}

/* Checks which archives are kept (by index, -1 ends the list). */
static void expect_kept(const zb_retention_policy *p, size_t n, const int *kept)
{
    unsigned keep[N];
    setenv("TZ", "UTC", 1);
    tzset();
    zb_retention_apply(keep, dates, n, p);
    int want[N] = {0};
    for (const int *k = kept; *k >= 0; k++)
        want[*k] = 1;
    for (size_t i = 0; i < n; i++) {
        if ((keep[i] != 0) != want[i])
            fail_msg("archive %zu: kept=%u, expected %s", i, keep[i], want[i] ? "kept" : "removed");
    }
}

static void keep_last(void **state)
{
    (void)state;
    zb_retention_policy p = policy(3, 0, 0, 0, 0, 0);
    expect_kept(&p, N, (const int[]){0, 1, 2, -1});
}

static void keep_hourly_daily_weekly_monthly(void **state)
{
    (void)state;
    zb_retention_policy p = policy(0, 2, 0, 0, 0, 0);
    expect_kept(&p, N, (const int[]){0, 1, -1});
    p = policy(0, 0, 4, 0, 0, 0); /* 2 is the second archive of the 23rd */
    expect_kept(&p, N, (const int[]){0, 1, 3, 4, -1});
    p = policy(0, 0, 0, 3, 0, 0); /* newest of W48, W47, W46 */
    expect_kept(&p, N, (const int[]){0, 3, 6, -1});
    p = policy(0, 0, 0, 0, 2, 0);
    expect_kept(&p, N, (const int[]){0, 8, -1});
}

static void keep_yearly_and_the_oldest(void **state)
{
    (void)state;
    zb_retention_policy p = policy(0, 0, 0, 0, 0, 5);
    expect_kept(&p, N, (const int[]){0, 11, 13, -1});
    /* Without 13, 12 shares 2025 with 11, but a rule with count left keeps the oldest too. */
    expect_kept(&p, N - 1, (const int[]){0, 11, 12, -1});
    /* Unlimited daily: every day's newest, so only 2 (same day as 1) goes. */
    p = policy(0, 0, -1, 0, 0, 0);
    expect_kept(&p, N, (const int[]){0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, -1});
}

static void keep_within(void **state)
{
    (void)state;
    zb_retention_policy p = policy(0, 0, 0, 0, 0, 0);
    assert_int_equal(zb_retention_parse_within(&p, "2d"), 0);
    /* Newer than 2026-11-22 02:00; 3 is exactly at the limit and goes. */
    expect_kept(&p, N, (const int[]){0, 1, 2, -1});
    assert_int_equal(zb_retention_parse_within(&p, "1m"), 0);
    expect_kept(&p, N, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, 8, -1});
    assert_int_equal(zb_retention_parse_within(&p, "1y2m3d4h"), 0);
    assert_int_equal(p.within_years, 1);
    assert_int_equal(p.within_months, 2);
    assert_int_equal(p.within_days, 3);
    assert_int_equal(p.within_hours, 4);
    assert_int_equal(zb_retention_parse_within(&p, "3x"), ZB_EUSAGE);
    assert_int_equal(zb_retention_parse_within(&p, "2d1y"), ZB_EUSAGE);
    assert_int_equal(zb_retention_parse_within(&p, ""), ZB_EUSAGE);
}

/* restic: "no policy was specified" for a zero duration; keeping nothing
 * would remove every archive, the newest included. */
static void keep_within_zero_is_no_policy(void **state)
{
    (void)state;
    zb_retention_policy p = policy(0, 0, 0, 0, 0, 0);
    assert_int_equal(zb_retention_parse_within(&p, "0d"), 0);
    assert_true(zb_retention_is_empty(&p));
    assert_int_equal(zb_retention_parse_within(&p, "0h"), 0);
    assert_true(zb_retention_is_empty(&p));
    assert_int_equal(zb_retention_parse_within(&p, "0y0m0d0h"), 0);
    assert_true(zb_retention_is_empty(&p));
    assert_int_equal(zb_retention_parse_within(&p, "0d1h"), 0);
    assert_false(zb_retention_is_empty(&p));
}

/* Hours are elapsed time, as restic counts them: Europe/Berlin sprang
 * forward on 2026-03-29 (02:00 -> 03:00), so 36 wall-clock hours back from
 * 12:00 that day are only 35 real hours. */
static void keep_within_hours_are_elapsed_across_dst(void **state)
{
    (void)state;
    static const time_t times[] = {
        1774778400, /* 2026-03-29 10:00 UTC, 12:00 CEST: the newest */
        1774650600, /* 2026-03-27 22:30 UTC: 35.5 h before it */
        1774647000, /* 2026-03-27 21:30 UTC: 36.5 h before it */
    };
    zb_retention_policy p = policy(0, 0, 0, 0, 0, 0);
    assert_int_equal(zb_retention_parse_within(&p, "36h"), 0);
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    unsigned keep[3];
    zb_retention_apply(keep, times, 3, &p);
    assert_int_equal(keep[0], BIT(ZB_KEEP_WITHIN));
    assert_int_equal(keep[1], BIT(ZB_KEEP_WITHIN));
    assert_int_equal(keep[2], 0);
    /* days are calendar days: 1d back from 12:00 CEST is 12:00 CET, 23 h */
    assert_int_equal(zb_retention_parse_within(&p, "1d"), 0);
    static const time_t day[] = {1774778400, 1774778400 - 23 * 3600 + 60, 1774778400 - 23 * 3600 - 60};
    zb_retention_apply(keep, day, 3, &p);
    assert_int_equal(keep[1], BIT(ZB_KEEP_WITHIN));
    assert_int_equal(keep[2], 0);
    setenv("TZ", "UTC", 1);
    tzset();
}

static void combined_rules_record_their_reasons(void **state)
{
    (void)state;
    zb_retention_policy p = policy(1, 0, 2, 2, 3, -1);
    expect_kept(&p, N, (const int[]){0, 1, 3, 8, 10, 11, 13, -1});
    unsigned keep[N];
    zb_retention_apply(keep, dates, N, &p);
    assert_int_equal(keep[0], BIT(ZB_KEEP_LAST) | BIT(ZB_KEEP_DAILY) | BIT(ZB_KEEP_WEEKLY) | BIT(ZB_KEEP_MONTHLY) |
                                  BIT(ZB_KEEP_YEARLY));
    assert_int_equal(keep[1], BIT(ZB_KEEP_DAILY));
    assert_int_equal(keep[3], BIT(ZB_KEEP_WEEKLY));
    assert_int_equal(keep[8], BIT(ZB_KEEP_MONTHLY));
    assert_int_equal(keep[10], BIT(ZB_KEEP_MONTHLY));
    assert_int_equal(keep[11], BIT(ZB_KEEP_YEARLY));
    assert_int_equal(keep[13], BIT(ZB_KEEP_YEARLY));
    assert_int_equal(keep[2], 0);
    assert_true(zb_retention_is_empty(&(zb_retention_policy){0}));
    assert_false(zb_retention_is_empty(&p));
}

/* A week belongs to the year of its Thursday (ISO 8601): Monday 2025-12-29
 * and Friday 2026-01-02 are both in 2026-W01, Sunday 2025-12-28 in 2025-W52.
 * Buckets named by the calendar year would put the Monday in a "2025-W01"
 * of its own and keep it instead of the Sunday. */
static void weekly_buckets_use_the_iso_week_year(void **state)
{
    (void)state;
    const time_t year_end[] = {1767319200, 1766973600, 1766887200};
    unsigned keep[3];
    setenv("TZ", "UTC", 1);
    tzset();
    zb_retention_policy p = policy(0, 0, 0, 2, 0, 0);
    zb_retention_apply(keep, year_end, 3, &p);
    assert_int_equal(keep[0], BIT(ZB_KEEP_WEEKLY));
    assert_int_equal(keep[1], 0);
    assert_int_equal(keep[2], BIT(ZB_KEEP_WEEKLY));
}

ZB_TEST_MAIN(keep_last, keep_hourly_daily_weekly_monthly, keep_yearly_and_the_oldest, keep_within,
             keep_within_zero_is_no_policy, keep_within_hours_are_elapsed_across_dst,
             combined_rules_record_their_reasons, weekly_buckets_use_the_iso_week_year)
