#include "zb_cmocka.h"

#include "zakpos_backup/common/map.h"

#include <stdlib.h>

/* Keys as the catalog hands them out (dense, sequential oids, pairs of
 * them), past several doublings of the table: each is found with its value,
 * a key added again keeps its first value, and keys never added are absent. */
static void map_finds_each_key_it_holds(void **state)
{
    (void)state;
    zb_map *map = NULL;
    assert_int_equal(zb_map_new(&map, 4), 0);
    const size_t n = 50000;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zb_map_add(map, zb_map_key2(1259, (unsigned int)(16384 + i)), i), 0);
    for (size_t i = 0; i < n; i += 2) /* the same keys again: ignored */
        assert_int_equal(zb_map_add(map, zb_map_key2(1259, (unsigned int)(16384 + i)), n + i), 0);
    for (size_t i = 0; i < n; i++) /* the same oids under another class: other keys */
        assert_int_equal(zb_map_add(map, zb_map_key2(1247, (unsigned int)(16384 + i)), 2 * n + i), 0);
    assert_int_equal(zb_map_count(map), 2 * n);
    for (size_t i = 0; i < n; i++) {
        size_t v = 0;
        assert_int_equal(zb_map_get(map, zb_map_key2(1259, (unsigned int)(16384 + i)), &v), 1);
        assert_int_equal(v, i);
        assert_int_equal(zb_map_get(map, zb_map_key2(1247, (unsigned int)(16384 + i)), &v), 1);
        assert_int_equal(v, 2 * n + i);
    }
    size_t v = 7;
    assert_int_equal(zb_map_get(map, zb_map_key2(1259, 16383), &v), 0);
    assert_int_equal(zb_map_get(map, zb_map_key2(1259, (unsigned int)(16384 + n)), &v), 0);
    assert_int_equal(zb_map_get(map, zb_map_key2(2615, 16384), &v), 0);
    assert_int_equal(zb_map_get(map, 0, &v), 0);
    assert_int_equal(v, 7);
    /* key 0 and value 0 are ordinary ones */
    assert_int_equal(zb_map_add(map, 0, 0), 0);
    assert_int_equal(zb_map_get(map, 0, &v), 1);
    assert_int_equal(v, 0);
    zb_map_free(map);
    zb_map_free(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_finds_each_key_it_holds),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}
