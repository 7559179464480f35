#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/pitr/xidsnap.h"

#include <stdint.h>
#include <stdio.h>

/* Snapshots as PostgreSQL prints them (pg_current_snapshot()::text), ids
 * with their epoch in the high 32 bits. */
#define EPOCH(e) ((uint64_t)(e) << 32)

static void xid_visible_in_snapshot(void **state)
{
    (void)state;
    zb_xid_snapshot s;
    assert_int_equal(zb_xid_snapshot_parse(&s, "100:110:103,105"), 0);
    assert_int_equal(s.xip_count, 2);
    assert_true(zb_xid_visible(&s, 99));  /* below xmin: finished before */
    assert_true(zb_xid_visible(&s, 100)); /* xmin itself: not listed as running */
    assert_true(zb_xid_visible(&s, 104));
    assert_false(zb_xid_visible(&s, 103)); /* running when the snapshot was taken */
    assert_false(zb_xid_visible(&s, 105));
    assert_false(zb_xid_visible(&s, 110)); /* xmax and after: started later */
    assert_false(zb_xid_visible(&s, 5000));
    zb_xid_snapshot_clear(&s);
    assert_int_equal(zb_xid_snapshot_parse(&s, "7:7:"), 0); /* nothing running */
    assert_true(zb_xid_visible(&s, 6));
    assert_false(zb_xid_visible(&s, 7));
    zb_xid_snapshot_clear(&s);
}

/* The stream's 32-bit ids across an epoch boundary: 2^32 - 2 belongs to the
 * epoch before xmax's, 3 to xmax's own; plain 32-bit comparison gets both
 * wrong. */
static void xid_wraparound_with_epoch(void **state)
{
    (void)state;
    char text[128];
    zb_xid_snapshot s;
    uint64_t xmin = EPOCH(1) + 0xFFFFFFF0u, xmax = EPOCH(2) + 5, running = EPOCH(2) + 2;
    snprintf(text, sizeof(text), "%llu:%llu:%llu", (unsigned long long)xmin, (unsigned long long)xmax,
             (unsigned long long)running);
    assert_int_equal(zb_xid_snapshot_parse(&s, text), 0);
    assert_true(zb_xid_widen(&s, 0xFFFFFFFEu) == EPOCH(1) + 0xFFFFFFFEu);
    assert_true(zb_xid_widen(&s, 3) == EPOCH(2) + 3);
    assert_true(zb_xid_widen(&s, 0x7FFFFFFFu) == EPOCH(2) + 0x7FFFFFFFu);
    assert_true(zb_xid_visible(&s, 0xFFFFFFEFu)); /* below xmin, the epoch before */
    assert_true(zb_xid_visible(&s, 0xFFFFFFFEu)); /* between xmin and xmax, not running */
    assert_true(zb_xid_visible(&s, 1));           /* after the wrap, before xmax */
    assert_false(zb_xid_visible(&s, 2));          /* running */
    assert_false(zb_xid_visible(&s, 5));          /* xmax */
    assert_false(zb_xid_visible(&s, 1000));       /* later, same epoch */
    zb_xid_snapshot_clear(&s);
    /* the first epoch: an id far "before" xmax cannot go below zero */
    assert_int_equal(zb_xid_snapshot_parse(&s, "3:10:"), 0);
    assert_true(zb_xid_widen(&s, 0xFFFFFFF0u) == 0xFFFFFFF0u);
    assert_false(zb_xid_visible(&s, 0xFFFFFFF0u));
    zb_xid_snapshot_clear(&s);
}

static void xid_snapshot_refuses_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"", "1", "1:2", "x:2:", "5:3:", "1:5:7", "1:5:0", "1:5:2,", "1:5:2;3", "-1:5:", NULL};
    for (const char **b = bad; *b; b++) {
        zb_xid_snapshot s;
        assert_int_equal(zb_xid_snapshot_parse(&s, *b), ZB_EFORMAT);
        assert_null(s.xip);
    }
    zb_xid_snapshot_clear(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xid_visible_in_snapshot),
        cmocka_unit_test(xid_wraparound_with_epoch),
        cmocka_unit_test(xid_snapshot_refuses_malformed),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
