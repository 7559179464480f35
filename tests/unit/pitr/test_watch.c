#include "zb_cmocka.h"

#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/follow.h"
#include "zakpos_backup/source/pg/pitr/watch.h"

#include <string.h>

static zb_pitr_slot_status slot(uint64_t confirmed, uint64_t lag, uint64_t retained)
{
    zb_pitr_slot_status s;
    memset(&s, 0, sizeof(s));
    s.exists = 1, s.confirmed_lsn = confirmed, s.lag_bytes = lag, s.retained_bytes = retained;
    return s;
}

/* The age counts from the first look that found the slot behind; a confirmed
 * position that moves starts it again; caught up is no lag at all. */
static void watch_lag_seconds(void **state)
{
    (void)state;
    zb_pitr_watch w;
    memset(&w, 0, sizeof(w));
    zb_pitr_slot_status caught_up = slot(100, 0, 10), behind = slot(100, 50, 60), moved = slot(120, 30, 60);
    assert_true(zb_pitr_watch_update(&w, &caught_up, 1000) == 0);
    assert_true(zb_pitr_watch_update(&w, &behind, 1010) == 0);
    assert_true(zb_pitr_watch_update(&w, &behind, 1040) == 30);
    assert_true(zb_pitr_watch_update(&w, &behind, 1100) == 90);
    assert_true(zb_pitr_watch_update(&w, &moved, 1105) == 0);
    assert_true(zb_pitr_watch_update(&w, &moved, 1125) == 20);
    assert_true(zb_pitr_watch_update(&w, &caught_up, 1130) == 0);
    zb_pitr_slot_status gone;
    memset(&gone, 0, sizeof(gone));
    assert_true(zb_pitr_watch_update(&w, &gone, 1200) == 0);
}

static void watch_verdict_limits(void **state)
{
    (void)state;
    zb_pitr_slot_status s = slot(100, 50, 2048);
    assert_int_equal(zb_pitr_watch_verdict(&s, 10, 4096, 60), ZB_PITR_SLOT_OK);
    assert_int_equal(zb_pitr_watch_verdict(&s, 10, 2048, 60), ZB_PITR_SLOT_OK); /* at the limit: kept */
    assert_int_equal(zb_pitr_watch_verdict(&s, 10, 2047, 60), ZB_PITR_SLOT_TOO_MUCH_WAL);
    assert_int_equal(zb_pitr_watch_verdict(&s, 61, 4096, 60), ZB_PITR_SLOT_TOO_OLD);
    s.exists = 0;
    assert_int_equal(zb_pitr_watch_verdict(&s, 1000, 1, 1), ZB_PITR_SLOT_OK);
}

/* 1 s, 2 s, 4 s ... and never more than a minute between tries. */
static void reconnect_backoff_is_bounded(void **state)
{
    (void)state;
    assert_int_equal(zb_pitr_reconnect_delay(0), 1);
    assert_int_equal(zb_pitr_reconnect_delay(1), 2);
    assert_int_equal(zb_pitr_reconnect_delay(5), 32);
    assert_int_equal(zb_pitr_reconnect_delay(6), 60);
    assert_int_equal(zb_pitr_reconnect_delay(1000), 60);
}

/* Each chain's slot: the configured name, then the chain's stamp in lower
 * case (PostgreSQL takes [a-z0-9_] only); a long name is cut so that the
 * whole fits 63 bytes and the stamp stays whole. */
static void chain_slot_names_fit(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(zb_pitr_chain_slot_name(out, sizeof(out), "zakpos_backup", "20261207T191000Z"), 0);
    assert_string_equal(out, "zakpos_backup_20261207t191000z");
    const char *long_name = "a_very_long_slot_name_that_goes_on_and_on_past_the_limit_of_63";
    assert_int_equal(zb_pitr_chain_slot_name(out, sizeof(out), long_name, "20261207T191000Z"), 0);
    assert_int_equal(strlen(out), 63);
    assert_memory_equal(out, long_name, 46);
    assert_string_equal(out + 46, "_20261207t191000z");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(watch_lag_seconds),
        cmocka_unit_test(watch_verdict_limits),
        cmocka_unit_test(reconnect_backoff_is_bounded),
        cmocka_unit_test(chain_slot_names_fit),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
