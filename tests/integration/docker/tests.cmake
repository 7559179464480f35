foreach(t volume services tls changing read_back crafted paused concurrent hooks restart leftovers sigterm fidelity trust)
  zb_shell_test(integration.docker.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;docker" TIMEOUT 300)
endforeach()
# the agent's test kills runs mid-stream in several ways: it takes longer
zb_shell_test(integration.docker.agent ${CMAKE_CURRENT_LIST_DIR}/agent.sh LABELS "integration;docker" TIMEOUT 600 COST 46)
# restore --force is stopped, killed and resumed at many points, each with its
# users stopped and started again: slow on a loaded machine
zb_shell_test(integration.docker.force ${CMAKE_CURRENT_LIST_DIR}/force.sh LABELS "integration;docker" TIMEOUT 600 COST 77)
# the longest of the first loop (see zb_shell_test's COST)
set_tests_properties(integration.docker.restart PROPERTIES COST 70)
set_tests_properties(integration.docker.services PROPERTIES COST 45)
