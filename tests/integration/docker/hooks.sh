# Exec hooks: every exec-pre runs before anything is stopped or paused, so a
# failing one stops nothing; exec-post runs only where exec-pre succeeded.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume shop_data
data=$(zb_volume_dir shop_data)
# Docker lists the newest container first: cache (whose hook succeeds), then
# web (to be stopped), then db (whose hook fails)
zb_docker_run db shop_data '{"zakpos-backup.exec-pre":"exit 3","zakpos-backup.exec-post":"touch /data/post-db"}'
zb_docker_run web shop_data '{"zakpos-backup.stop-during-backup":"true"}'
zb_docker_run cache shop_data '{"zakpos-backup.exec-pre":"touch /data/pre-cache","zakpos-backup.exec-post":"touch /data/post-cache"}'
since=$(date +%s)
zb_expect_status 11 "a failing pre-hook" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume shop_data
zb_expect_contains "$ZB_LAST_OUTPUT" "exited with status 3" "names the hook's status"
events=$(zb_dapi GET "/events?since=$since&until=$(($(date +%s) + 2))&filters=%7B%22type%22%3A%5B%22container%22%5D%7D")
zb_expect_not_contains "$events" '"status":"kill"' "no container was stopped"
zb_expect_not_contains "$events" '"status":"die"' "no container died"
zb_expect_not_contains "$events" '"status":"pause"' "no container was paused"
zb_expect_equal "$(zb_docker_state web)" "running" "web runs"
if [ -e "$data/post-db" ]; then zb_fail "the post-hook of db ran although its pre-hook failed"; else zb_pass; fi
if [ -e "$data/pre-cache" ]; then zb_pass; else zb_fail "the pre-hook of cache did not run"; fi
if [ -e "$data/post-cache" ]; then zb_pass; else zb_fail "the post-hook of cache (whose pre-hook succeeded) did not run"; fi
zb_expect_equal "$(zb_archives_in repo)" "" "no archive after the failure"

# without the failing hook: pre-hooks, then the stop, then start and post-hooks
zb_dapi DELETE "/containers/db?force=1" >/dev/null
rm -f "$data/pre-cache" "$data/post-cache"
zb_expect_status 0 "backup with hooks" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume shop_data
zb_expect_contains "$ZB_LAST_OUTPUT" "stopped container web" "web was stopped"
if [ -e "$data/post-cache" ]; then zb_pass; else zb_fail "the post-hook of cache did not run"; fi
zb_expect_equal "$(zb_docker_state web)" "running" "web runs after the backup"
zb_test_end
