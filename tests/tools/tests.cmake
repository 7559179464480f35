# The tree itself: the modules of src/ include each other without a cycle
# (common below stream below archive ... below command), so each layer builds
# and tests on its own.
add_test(NAME tree.include_graph COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/include_graph.py)
set_tests_properties(tree.include_graph PROPERTIES LABELS "unit;tree")
# The configuration is loaded in one place (config/context.c) and handed to
# the commands; no command reads the file on its own.
add_test(NAME tree.config_loaded_once COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/config_loads.py)
set_tests_properties(tree.config_loaded_once PROPERTIES LABELS "unit;tree")
# scripts/size.sh, which measures the closing figures of a change (lines per
# module, largest files and functions), counts what it says on a known tree.
add_test(NAME tree.size_script COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/size_check.sh ${PROJECT_SOURCE_DIR}/scripts/size.sh)
set_tests_properties(tree.size_script PROPERTIES LABELS "unit;tree")
# The C layout is .clang-format's everywhere (scripts/format.sh applies it):
# a change laid out otherwise fails here, naming the file.
add_test(NAME tree.format COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/format.sh --check)
set_tests_properties(tree.format PROPERTIES LABELS "unit;tree")
