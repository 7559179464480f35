zb_unit_test(notify ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c TESTS concurrent_recorders_lose_nothing)
