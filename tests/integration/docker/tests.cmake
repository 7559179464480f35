foreach(t volume services tls changing fidelity trust force)
  zb_shell_test(integration.docker.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;docker" TIMEOUT 300)
endforeach()
