foreach(t connect roundtrip concurrent failures many_tables batches upgrade interrupt roles progress proof database_properties encodings cross_version restore_cases skip_unsupported coverage_cases)
  zb_shell_test(integration.pg.${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;pg" TIMEOUT 180)
endforeach()
# the longest of the loop (see zb_shell_test's COST)
set_tests_properties(integration.pg.coverage_cases integration.pg.cross_version PROPERTIES COST 40)
# every supported server version: Debian's 15 above, the others here
foreach(major 12 13 14 16 17)
  zb_shell_test(integration.pg.server_${major} ${CMAKE_CURRENT_LIST_DIR}/versions.sh LABELS "integration;pg" TIMEOUT 180
                ARGS ${major})
endforeach()

# the object kinds beyond the application schema, and the attributes a
# restore must keep: on the oldest, Debian's and the newest supported server
foreach(major 12 15 17)
  zb_shell_test(integration.pg.kinds_${major} ${CMAKE_CURRENT_LIST_DIR}/kinds.sh LABELS "integration;pg" TIMEOUT 180
                ARGS ${major})
  zb_shell_test(integration.pg.attributes_${major} ${CMAKE_CURRENT_LIST_DIR}/attrs.sh LABELS "integration;pg" TIMEOUT 180
                ARGS ${major})
endforeach()

# C-level tests against a throwaway cluster: one ctest entry (and one
# cluster) per test function.
add_executable(pg_test_snapshot ${CMAKE_CURRENT_LIST_DIR}/test_snapshot.c)
target_link_libraries(pg_test_snapshot PRIVATE zakpos_backup_core PkgConfig::CMOCKA)
target_include_directories(pg_test_snapshot PRIVATE ${PROJECT_SOURCE_DIR}/tests/lib)
foreach(t workers_share_the_leaders_view a_conflicting_lock_fails_fast the_table_list)
  zb_shell_test(integration.pg.snapshot.${t} ${CMAKE_CURRENT_LIST_DIR}/run_c.sh LABELS "integration;pg" TIMEOUT 180
                ARGS $<TARGET_FILE:pg_test_snapshot> ${t})
endforeach()

# a table of contents and catalog fingerprint over the 16 MiB other documents keep
zb_shell_test(integration.pg.large_catalog ${CMAKE_CURRENT_LIST_DIR}/large_catalog.sh LABELS "integration;pg" TIMEOUT 180)
# the catalog queries run without JIT compilation
zb_shell_test(integration.pg.catalog_cost ${CMAKE_CURRENT_LIST_DIR}/catalog_cost.sh LABELS "integration;pg" TIMEOUT 180)
