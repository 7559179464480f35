zb_unit_test(pitr ${CMAKE_CURRENT_LIST_DIR}/test_decode.c TESTS
  decode_begin_and_commit decode_relation decode_insert_update_delete decode_truncate decode_refuses_truncated_messages
  lsn_and_time_text)
zb_unit_test(pitr ${CMAKE_CURRENT_LIST_DIR}/test_watch.c TESTS watch_lag_seconds watch_verdict_limits
  reconnect_backoff_is_bounded)
