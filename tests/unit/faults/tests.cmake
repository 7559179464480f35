zb_unit_test(faults ${CMAKE_CURRENT_LIST_DIR}/test_alloc_failures.c TESTS
  async_stage_out_of_memory_names_its_buffers volume_selection_of_nothing_sorts_nothing
  restore_plan_out_of_memory_is_not_unselected sftp_open_out_of_memory_hands_out_no_state)
# The wrappers the test arms (failing allocations, poisoned frees, qsort's
# NULL base) replace the calls made from the core library's objects, linked
# statically into this executable only.
target_link_options(faults_test_alloc_failures PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=free -Wl,--wrap=zb_strdup -Wl,--wrap=qsort)
