# Fuzzing needs clang's libFuzzer; scripts/test.sh builds these in a second
# build tree (build-fuzz) whenever clang is installed.
if(ENABLE_FUZZERS)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ENABLE_FUZZERS needs clang (CC=clang)")
  endif()
  add_executable(zb-fuzz-reader ${CMAKE_CURRENT_LIST_DIR}/fuzz_reader.c)
  target_compile_options(zb-fuzz-reader PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(zb-fuzz-reader PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(zb-fuzz-reader PRIVATE zakpos_backup_core)
  # The decrypting reader: inputs read with a known key or passphrase;
  # regressions/ holds inputs that once crashed it (replayed by the smoke run).
  add_executable(zb-fuzz-reader-keyed ${CMAKE_CURRENT_LIST_DIR}/fuzz_reader_keyed.c)
  target_compile_options(zb-fuzz-reader-keyed PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(zb-fuzz-reader-keyed PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(zb-fuzz-reader-keyed PRIVATE zakpos_backup_core)
  add_executable(zb-fuzz-corpus ${CMAKE_CURRENT_LIST_DIR}/make_corpus.c)
  target_link_libraries(zb-fuzz-corpus PRIVATE zakpos_backup_core)
  # undefined behaviour must end a fuzz run (-fno-sanitize-recover): the
  # smoke test first proves it on a probe that has some
  add_executable(zb-fuzz-ub-probe ${CMAKE_CURRENT_LIST_DIR}/ub_probe.c)
  add_test(NAME fuzz.reader_smoke COMMAND bash -c
    "set -e; d=$(mktemp -d); trap 'rm -rf $d' EXIT; if $<TARGET_FILE:zb-fuzz-ub-probe> 2>$d/ub.log; then echo 'a UBSan report does not end the process' >&2; exit 1; fi; grep -q 'runtime error: signed integer overflow' $d/ub.log; rm $d/ub.log; $<TARGET_FILE:zb-fuzz-corpus> $d; $<TARGET_FILE:zb-fuzz-reader> -runs=20000 -max_total_time=60 -timeout=10 -rss_limit_mb=1024 $d")
  set_tests_properties(fuzz.reader_smoke PROPERTIES LABELS "fuzz" TIMEOUT 180)
  add_test(NAME fuzz.reader_keyed_smoke COMMAND bash -c
    "set -e; d=$(mktemp -d); trap 'rm -rf $d' EXIT; mkdir $d/plain $d/keyed; $<TARGET_FILE:zb-fuzz-corpus> $d/plain $d/keyed; $<TARGET_FILE:zb-fuzz-reader-keyed> -runs=5000 -max_total_time=20 -timeout=10 -rss_limit_mb=1024 $d/keyed ${CMAKE_CURRENT_LIST_DIR}/regressions")
  set_tests_properties(fuzz.reader_keyed_smoke PROPERTIES LABELS "fuzz" TIMEOUT 180)
endif()
