foreach(t connect)
  zb_shell_test(integration.pg.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;pg" TIMEOUT 180)
endforeach()
