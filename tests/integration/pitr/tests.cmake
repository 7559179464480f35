# Point-in-time recovery through a logical replication stream: a POS-like
# load while following, kill -9 of the follower and a server restart
# mid-stream, recovery to several points compared with hashes taken then.
foreach(major 12 15 17)
  zb_shell_test(integration.pitr.follow_${major} ${CMAKE_CURRENT_LIST_DIR}/follow.sh LABELS "integration;pg;pitr" TIMEOUT 480
                ARGS ${major})
endforeach()
# The daemon's follower service, slot watcher, lag metrics and healthcheck,
# list's chain windows and prune of chains under the chain's lock.
zb_shell_test(integration.pitr.ops_15 ${CMAKE_CURRENT_LIST_DIR}/ops.sh LABELS "integration;pg;pitr" TIMEOUT 180 ARGS 15)
