foreach(t volume services tls changing read_back crafted paused concurrent hooks restart leftovers sigterm fidelity trust force agent)
  zb_shell_test(integration.docker.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;docker" TIMEOUT 300)
endforeach()
