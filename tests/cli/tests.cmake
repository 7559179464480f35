foreach(t usage roundtrip passphrase trust tamper unsafe_restore interrupt no_encryption prune healthcheck run_job daemon
        crafted final_flush read_back crafted_limits secrets no_test_hooks settings)
  zb_shell_test(cli.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS cli)
endforeach()
# Every header byte is flipped and verified: the signature slot makes the header longer.
math(EXPR tamper_timeout "600 * ${ZB_TEST_TIMEOUT_FACTOR}")
set_tests_properties(cli.tamper PROPERTIES TIMEOUT ${tamper_timeout})
# the longest (see zb_shell_test's COST); daemon and secrets wait for the
# next minute or two of the schedule
set_tests_properties(cli.tamper PROPERTIES COST 80)
set_tests_properties(cli.daemon PROPERTIES COST 65)
set_tests_properties(cli.secrets PROPERTIES COST 53)
