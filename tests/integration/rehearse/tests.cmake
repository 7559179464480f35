foreach(t verify_restore drill)
  zb_shell_test(integration.rehearse.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;pg;docker" TIMEOUT 300)
endforeach()
