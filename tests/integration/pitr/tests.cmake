# Point-in-time recovery through a logical replication stream: a POS-like
# load while following, kill -9 of the follower and a server restart
# mid-stream, recovery to several points compared with hashes taken then.
foreach(major 12 15 17)
  zb_shell_test(integration.pitr.follow_${major} ${CMAKE_CURRENT_LIST_DIR}/follow.sh LABELS "integration;pg;pitr" TIMEOUT 480
                ARGS ${major})
endforeach()
