# the test library itself: what a killed test leaves behind is stopped
zb_shell_test(integration.lib.killed_test_leaves_nothing ${CMAKE_CURRENT_LIST_DIR}/killed_test.sh LABELS "integration;pg" TIMEOUT 120)
# ... and so are the processes of a killed Docker test's containers
zb_shell_test(integration.lib.killed_docker_test_leaves_nothing ${CMAKE_CURRENT_LIST_DIR}/killed_docker_test.sh
              LABELS "integration;docker" TIMEOUT 300)
