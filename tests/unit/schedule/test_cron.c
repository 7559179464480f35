#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/schedule/cron.h"

#include <stdlib.h>
#include <string.h>

static void use_zone(const char *zone)
{
    setenv("TZ", zone, 1);
    tzset();
}

/* Asserts the fire times that follow `after`, in order. */
static void expect_fires(const char *expr, time_t after, const time_t *want, size_t n)
{
    zb_cron c;
    if (zb_cron_parse(&c, expr) < 0)
        fail_msg("'%s' does not parse: %s", expr, zb_error_message());
    time_t t = after;
    for (size_t i = 0; i < n; i++) {
        time_t next = 0;
        assert_int_equal(zb_cron_next(&next, &c, t), 0);
        if (next != want[i])
            fail_msg("'%s' fire %zu after %lld: got %lld, expected %lld", expr, i, (long long)t, (long long)next,
                     (long long)want[i]);
        t = next;
    }
}

#define FIRES(expr, after, ...)                                                                                        \
    do {                                                                                                               \
        const time_t want_[] = {__VA_ARGS__};                                                                          \
        expect_fires(expr, after, want_, ZB_ARRAY_LEN(want_));                                                         \
    } while (0)

/* 2026-11-24 12:00 UTC, a Tuesday. */
#define NOON 1795521600

static void fields_lists_ranges_steps_names(void **state)
{
    (void)state;
    use_zone("UTC");
    FIRES("0 2 * * *", NOON, NOON + 14 * 3600, NOON + 38 * 3600);                  /* 02:00 daily */
    FIRES("*/15 * * * *", NOON, NOON + 900, NOON + 1800);                          /* every quarter hour */
    FIRES("5/20 12 * * *", NOON, NOON + 300, NOON + 1500, NOON + 2700);            /* 12:05, 12:25, 12:45 */
    FIRES("0 9-17/4 * * *", NOON, NOON + 3600, NOON + 5 * 3600, NOON + 21 * 3600); /* 13:00, 17:00, 09:00 */
    FIRES("30 1,13 * * *", NOON, NOON + 5400, NOON + 13 * 3600 + 1800);            /* 13:30, then 01:30 */
    FIRES("0 0 * * sat", NOON, 1795824000);                                        /* Saturday 2026-11-28 */
    FIRES("0 0 * * 7", NOON, 1795910400);                                          /* 7 is Sunday: 2026-11-29 */
    FIRES("0 0 1 jan *", NOON, 1798761600);                                        /* 2027-01-01 */
    FIRES("@daily", NOON, NOON + 12 * 3600);
    FIRES("@hourly", NOON, NOON + 3600);
    FIRES("@weekly", NOON, 1795910400);  /* Sunday 00:00 */
    FIRES("@monthly", NOON, 1796083200); /* 2026-12-01 */
    FIRES("@yearly", NOON, 1798761600);
}

static void day_of_month_or_day_of_week(void **state)
{
    (void)state;
    use_zone("UTC");
    /* Both restricted: the 1st of the month OR a Friday: Friday 11-27, Tuesday 12-01, Friday 12-04. */
    FIRES("0 0 1 * fri", NOON, 1795737600, 1796083200, 1796342400);
    /* Day of month with "*" weekday: only the 1st. */
    FIRES("0 0 1 * *", NOON, 1796083200);
    /* "*" day of month with a weekday: only Fridays. */
    FIRES("0 0 * * fri", NOON, 1795737600, 1796342400);
}

static void dst_spring_forward(void **state)
{
    (void)state;
    /* Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). */
    use_zone("Europe/Berlin");
    /* A fixed 02:30 job runs once, at the jump, then at 02:30 CEST the next day. */
    FIRES("30 2 * * *", 1774699200, 1774746000, 1774830600);
    /* Every half hour: 02:00 and 02:30 do not exist that night. */
    FIRES("*/30 * * * *", 1774745100, 1774746000, 1774747800);
}

static void dst_fall_back(void **state)
{
    (void)state;
    /* Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:xx happens twice. */
    use_zone("Europe/Berlin");
    /* A fixed 02:30 job runs the first time only, then at 02:30 CET the next day. */
    FIRES("30 2 * * *", 1792843200, 1792888200, 1792978200);
    /* Every half hour runs in both passes of the repeated hour. */
    FIRES("*/30 * * * *", 1792887300, 1792888200, 1792890000, 1792891800, 1792893600);
}

static void invalid_expressions_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        const char *message;
    } bad[] = {
        {"60 * * * *", "minute 60 is out of range"},
        {"* * *", "needs 5"},
        {"* * * * * *", "more than 5 fields"},
        {"0 24 * * *", "hour 24 is out of range"},
        {"0 0 0 * *", "day of month 0 is out of range"},
        {"0 0 * 13 *", "month 13 is out of range"},
        {"0 0 * * 8", "day of week 8 is out of range"},
        {"0 0 * foo *", "'foo' is not a valid month"},
        {"5-1 * * * *", "runs backwards"},
        {"*/0 * * * *", "bad step"},
        {"1,,2 * * * *", "not a valid minute"},
        {"@reboot", "unknown macro"},
        {"", "needs 5"},
    };
    zb_cron c;
    for (size_t i = 0; i < ZB_ARRAY_LEN(bad); i++) {
        if (zb_cron_parse(&c, bad[i].expr) != ZB_ECONFIG)
            fail_msg("'%s' parsed", bad[i].expr);
        if (!strstr(zb_error_message(), bad[i].message))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].expr, zb_error_message(), bad[i].message);
    }
    use_zone("UTC");
    assert_int_equal(zb_cron_parse(&c, "0 0 30 feb *"), 0);
    time_t next;
    assert_int_equal(zb_cron_next(&next, &c, NOON), ZB_ENOTFOUND);
}

ZB_TEST_MAIN(fields_lists_ranges_steps_names, day_of_month_or_day_of_week, dst_spring_forward, dst_fall_back,
             invalid_expressions_are_named)
