# The metrics textfile is valid Prometheus text format for any job name:
# label values escaped as the exposition format says, read back by a parser
# (promtool check metrics, and the Python client's parser).
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
export TZ=UTC
mkdir -p src repo && echo data >src/f
"$ZB_BIN" keygen --out key >/dev/null 2>&1
name='nightly "main" \ db'
{
    printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\nkeep_last = 1\n' "$ZB_TMP" "$ZB_TMP"
    zb_config_paths_only
    printf 'metrics_file = %s/metrics.prom\n[job %s]\nschedule = 0 2 * * *\naction = backup\n' "$ZB_TMP" "$name"
    printf '[job plain]\nschedule = 0 3 * * *\naction = prune\n'
} >zb.conf
zb_expect_status 0 "run a job with a quote and a backslash in its name" -- "$ZB_BIN" --config zb.conf run "$name"
zb_expect_status 0 "run another" -- "$ZB_BIN" --config zb.conf run plain
zb_expect_contains "$(cat metrics.prom)" 'zakpos_backup_last_run_success{job="nightly \"main\" \\ db"} 1' "escaped as the format says"

parsers=0
if command -v promtool >/dev/null; then
    parsers=$((parsers + 1))
    zb_expect_status 0 "promtool check metrics" -- sh -c 'promtool check metrics <metrics.prom'
fi
if python3 -c 'import prometheus_client' 2>/dev/null; then
    parsers=$((parsers + 1))
    zb_expect_equal "$(python3 - "$name" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
jobs = set()
for family in text_string_to_metric_families(open("metrics.prom").read()):
    for sample in family.samples:
        jobs.add(sample.labels["job"])
print("ok" if jobs == {sys.argv[1], "plain"} else "labels read back: %r" % sorted(jobs))
PY
)" "ok" "the parser reads the job names back exactly"
fi
[ "$parsers" -gt 0 ] || zb_require "a Prometheus text format parser (promtool or python3-prometheus-client)"
zb_test_end
