foreach(t usage roundtrip passphrase tamper unsafe_restore interrupt no_encryption prune healthcheck run_job daemon crafted_limits secrets)
  zb_shell_test(cli.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS cli)
endforeach()
