# The alert rules and the Grafana dashboard under packaging/: the rules pass
# promtool's check and its unit tests, and every metric the rules and the
# dashboard query is one the binary writes (read from a real textfile).
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
command -v promtool >/dev/null || zb_require "promtool (Debian package prometheus)"
rules=$ZB_SOURCE_DIR/packaging/prometheus/zakpos-backup.rules.yml
dashboard=$ZB_SOURCE_DIR/packaging/grafana/zakpos-backup.json
zb_expect_status 0 "promtool check rules" -- promtool check rules "$rules"
zb_expect_status 0 "promtool test rules" -- sh -c "cd '$ZB_SOURCE_DIR/packaging/prometheus' && promtool test rules zakpos-backup.rules.test.yml"

# a textfile from real runs: a backup job, a verification job and a remote
cd "$ZB_TMP"
mkdir -p src repo && echo data >src/f
"$ZB_BIN" keygen --out key >/dev/null 2>&1
{
    printf '[repository]\npath = %s/repo\nrecipients = %s/key.pub\nkey_file = %s/key\nkeep_last = 2\n' "$ZB_TMP" "$ZB_TMP" "$ZB_TMP"
    zb_config_paths_only
    printf 'metrics_file = %s/metrics.prom\n[job nightly]\nschedule = 0 2 * * *\naction = backup\nprune = yes\n' "$ZB_TMP"
    printf '[job check]\nschedule = 0 5 * * *\naction = verify\n'
} >zb.conf
zb_expect_status 0 "a backup job" -- "$ZB_BIN" --config zb.conf run nightly
zb_expect_status 0 "a verification job" -- "$ZB_BIN" --config zb.conf run check
zb_expect_status 0 "promtool check metrics" -- sh -c 'promtool check metrics <metrics.prom'
metrics=$(cat metrics.prom)
zb_expect_contains "$metrics" 'zakpos_backup_job_info{job="check",action="verify"} 1' "the job's action"
zb_expect_contains "$metrics" "zakpos_backup_repository_free_bytes{repository=\"$ZB_TMP/repo\"} " "the repository's free space"
# the free space moves with every other writer; the size does not
size=$(sed -n "s|^zakpos_backup_repository_size_bytes{repository=\"$ZB_TMP/repo\"} ||p" metrics.prom)
free=$(sed -n "s|^zakpos_backup_repository_free_bytes{repository=\"$ZB_TMP/repo\"} ||p" metrics.prom)
zb_expect_equal "$size" "$(($(stat -f -c '%b * %S' repo)))" "the file system's size, as statfs says"
if [ "$free" -gt 0 ] && [ "$free" -le "$size" ]; then zb_pass; else zb_fail "free bytes $free not within the size $size"; fi
written=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' metrics.prom | sort -u)
queried=$(python3 - "$rules" "$dashboard" <<'PY'
import json, re, sys
exprs = re.findall(r"expr: \|?\s*\n?((?:.*\n)+?)(?=\s+(?:for|labels):)", open(sys.argv[1]).read())
dash = json.load(open(sys.argv[2]))
exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
names = set()
for e in exprs:
    names.update(re.findall(r"\b(zakpos_backup_[a-z_]+)", e))
print("\n".join(sorted(names)))
PY
)
zb_expect_not_contains "$queried" "zakpos_backup_remote_pending_archives_" "names parsed"
missing=$(comm -13 <(echo "$written") <(echo "$queried" | grep -v '^zakpos_backup_remote_pending_archives$'))
zb_expect_equal "$missing" "" "the rules and the dashboard query only metrics the binary writes"
zb_expect_contains "$queried" "zakpos_backup_remote_pending_archives" "the remote gap is watched"
zb_expect_equal "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["panels"]), d["uid"])' "$dashboard")" \
    "7 zakpos-backup" "the dashboard loads as JSON"
zb_test_end
