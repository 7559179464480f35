#include "zb_cmocka.h"

#include "zakpos_backup/common/parse.h"

#include <limits.h>

static void ints_take_a_range_and_nothing_else(void **state)
{
    (void)state;
    long long v = 0;
    assert_int_equal(zb_parse_int(&v, "19", 1, 19), 0);
    assert_int_equal(v, 19);
    assert_int_equal(zb_parse_int(&v, "-1", -1, 1000000), 0);
    assert_int_equal(v, -1);
    v = 7;
    assert_int_equal(zb_parse_int(&v, "20", 1, 19), -1); /* above the range */
    assert_int_equal(zb_parse_int(&v, "0", 1, 19), -1);  /* below it */
    assert_int_equal(zb_parse_int(&v, "-2", -1, 1000000), -1);
    assert_int_equal(zb_parse_int(&v, "", 0, 10), -1);   /* empty */
    assert_int_equal(zb_parse_int(&v, "3x", 0, 10), -1); /* a tail */
    assert_int_equal(zb_parse_int(&v, "3 ", 0, 10), -1);
    assert_int_equal(zb_parse_int(&v, "0x10", 0, 100), -1);                       /* decimal only */
    assert_int_equal(zb_parse_int(&v, "99999999999999999999", 0, LLONG_MAX), -1); /* overflow */
    assert_int_equal(v, 7); /* a refused value leaves the output alone */
}

static void sizes_take_units_and_refuse_overflow(void **state)
{
    (void)state;
    unsigned long long v = 0;
    assert_int_equal(zb_parse_size(&v, "1048576"), 0);
    assert_int_equal(v, 1048576ull);
    assert_int_equal(zb_parse_size(&v, "256K"), 0);
    assert_int_equal(v, 256ull * 1024);
    assert_int_equal(zb_parse_size(&v, "64m"), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(zb_parse_size(&v, "64MiB"), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(zb_parse_size(&v, "5MB"), 0);
    assert_int_equal(v, 5ull << 20);
    assert_int_equal(zb_parse_size(&v, "1G"), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(zb_parse_size(&v, "0"), 0);
    assert_int_equal(v, 0);
    v = 9;
    assert_int_equal(zb_parse_size(&v, ""), -1);
    assert_int_equal(zb_parse_size(&v, "M"), -1);
    assert_int_equal(zb_parse_size(&v, "-1"), -1); /* strtoull would wrap it */
    assert_int_equal(zb_parse_size(&v, " -1M"), -1);
    assert_int_equal(zb_parse_size(&v, "5T"), -1); /* unknown unit */
    assert_int_equal(zb_parse_size(&v, "5Mx"), -1);
    assert_int_equal(zb_parse_size(&v, "5KiBB"), -1);
    assert_int_equal(zb_parse_size(&v, "17179869184G"), -1); /* 2^34 GiB = 2^64: one past the largest */
    assert_int_equal(zb_parse_size(&v, "99999999999999999999"), -1);
    assert_int_equal(v, 9);
    assert_int_equal(zb_parse_size(&v, "17179869183G"), 0);
    assert_true(v == 17179869183ull << 30);
}

static void durations_take_units_and_a_ceiling(void **state)
{
    (void)state;
    long long s = 0;
    assert_int_equal(zb_parse_duration(&s, "90", 3600), 0);
    assert_int_equal(s, 90);
    assert_int_equal(zb_parse_duration(&s, "90s", 3600), 0);
    assert_int_equal(s, 90);
    assert_int_equal(zb_parse_duration(&s, "15m", 3600), 0);
    assert_int_equal(s, 900);
    assert_int_equal(zb_parse_duration(&s, "26h", ZB_DURATION_MAX_SECONDS), 0);
    assert_int_equal(s, 26 * 3600);
    assert_int_equal(zb_parse_duration(&s, "7d", ZB_DURATION_MAX_SECONDS), 0);
    assert_int_equal(s, 7 * 86400);
    assert_int_equal(zb_parse_duration(&s, "0", 0), 0);
    assert_int_equal(s, 0);
    assert_int_equal(zb_parse_duration(&s, "400d", ZB_DURATION_MAX_SECONDS), 0);
    s = 5;
    assert_int_equal(zb_parse_duration(&s, "401d", ZB_DURATION_MAX_SECONDS), -1);
    assert_int_equal(zb_parse_duration(&s, "61m", 3600), -1);
    assert_int_equal(zb_parse_duration(&s, "", 3600), -1);
    assert_int_equal(zb_parse_duration(&s, "m", 3600), -1);
    assert_int_equal(zb_parse_duration(&s, "-1s", 3600), -1);
    assert_int_equal(zb_parse_duration(&s, "1w", ZB_DURATION_MAX_SECONDS), -1);
    assert_int_equal(zb_parse_duration(&s, "1hh", ZB_DURATION_MAX_SECONDS), -1);
    assert_int_equal(zb_parse_duration(&s, "9223372036854775807d", LLONG_MAX), -1); /* would overflow */
    assert_int_equal(zb_parse_duration(&s, "99999999999999999999", LLONG_MAX), -1);
    assert_int_equal(s, 5);
}

static void booleans_and_enums(void **state)
{
    (void)state;
    int v = -1;
    assert_int_equal(zb_parse_bool(&v, "YES"), 0);
    assert_int_equal(v, 1);
    assert_int_equal(zb_parse_bool(&v, "off"), 0);
    assert_int_equal(v, 0);
    assert_int_equal(zb_parse_bool(&v, "1"), 0);
    assert_int_equal(v, 1);
    assert_int_equal(zb_parse_bool(&v, ""), -1);
    assert_int_equal(zb_parse_bool(&v, "y"), -1);
    assert_int_equal(zb_parse_bool(&v, "2"), -1);
    static const char *const actions[] = {"backup", "prune", "verify", "verify-restore"};
    assert_int_equal(zb_parse_enum(&v, "verify-restore", actions, 4), 0);
    assert_int_equal(v, 3);
    assert_int_equal(zb_parse_enum(&v, "Verify", actions, 4), -1);
    assert_int_equal(zb_parse_enum(&v, "", actions, 4), -1);
    assert_int_equal(zb_parse_enum(&v, "verify-", actions, 4), -1);
}

ZB_TEST_MAIN(ints_take_a_range_and_nothing_else, sizes_take_units_and_refuse_overflow,
             durations_take_units_and_a_ceiling, booleans_and_enums)
