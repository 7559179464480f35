# Runs one test of a C integration test program against a throwaway cluster:
#   run_c.sh PROGRAM TEST
# The program finds the server through ZB_PG_CONNINFO.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
zb_pg_start
export ZB_PG_CONNINFO
"$1" "$2"
rc=$?
if [ "$rc" -eq 0 ]; then zb_pass; else zb_fail "$2 failed (exit $rc)"; fi
zb_test_end
