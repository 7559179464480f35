# Point-in-time recovery through a logical replication stream: a POS-like
# load while following, kill -9 of the follower and a server restart
# mid-stream, recovery to several points compared with hashes taken then.
foreach(major 12 15 17)
  zb_shell_test(integration.pitr.follow_${major} ${CMAKE_CURRENT_LIST_DIR}/follow.sh LABELS "integration;pg;pitr" TIMEOUT 480
                ARGS ${major})
endforeach()
# The daemon's follower service, slot watcher, lag metrics and healthcheck,
# list's chain windows and prune of chains under the chain's lock.
# On 12 (no max_slot_wal_keep_size: the watcher is the only guard), 15 and
# 17; the cut of a chain by prune, which depends on no server version, on 15.
# 15 also follows schema changes across chains (see zb_shell_test's COST)
set_tests_properties(integration.pitr.follow_12 PROPERTIES COST 62)
set_tests_properties(integration.pitr.follow_15 PROPERTIES COST 95)
set_tests_properties(integration.pitr.follow_17 PROPERTIES COST 70)
foreach(major 12 15 17)
  zb_shell_test(integration.pitr.ops_${major} ${CMAKE_CURRENT_LIST_DIR}/ops.sh LABELS "integration;pg;pitr" TIMEOUT 240
                ARGS ${major})
endforeach()
set_tests_properties(integration.pitr.ops_15 PROPERTIES COST 40)
