# The tree itself: the modules of src/ include each other without a cycle
# (common below stream below archive ... below command), so each layer builds
# and tests on its own.
add_test(NAME tree.include_graph COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/include_graph.py)
set_tests_properties(tree.include_graph PROPERTIES LABELS "unit;tree")
# The configuration is loaded in one place (config/context.c) and handed to
# the commands; no command reads the file on its own.
add_test(NAME tree.config_loaded_once COMMAND python3 ${PROJECT_SOURCE_DIR}/scripts/config_loads.py)
set_tests_properties(tree.config_loaded_once PROPERTIES LABELS "unit;tree")
