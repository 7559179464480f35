foreach(t verify_restore drill untrusted)
  zb_shell_test(integration.rehearse.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;pg;docker" TIMEOUT 300)
endforeach()
