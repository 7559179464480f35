foreach(t globals globals_versions recover plan)
  zb_shell_test(integration.recover.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;recover" TIMEOUT 600)
endforeach()
# eight interrupted recoveries and their resumption: slow on a loaded machine
zb_shell_test(integration.recover.phases ${CMAKE_CURRENT_LIST_DIR}/phases.sh LABELS "integration;recover" TIMEOUT 2400 COST 130)
