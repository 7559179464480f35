foreach(t globals globals_versions recover plan)
  zb_shell_test(integration.recover.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;recover" TIMEOUT 600)
endforeach()
# the longest of the loop (see zb_shell_test's COST)
set_tests_properties(integration.recover.recover PROPERTIES COST 63)
set_tests_properties(integration.recover.globals_versions PROPERTIES COST 48)
# eight interrupted recoveries and their resumption: slow on a loaded machine
zb_shell_test(integration.recover.phases ${CMAKE_CURRENT_LIST_DIR}/phases.sh LABELS "integration;recover" TIMEOUT 2400 COST 250)
