# A Docker volume with every kind of entry (owners, modes, mtimes, empty
# folders, symbolic and hard links, names that are not UTF-8) goes through
# the Engine API into an archive and back into a new volume unchanged; the
# volume's driver labels come back; an existing volume is refused without
# --force and replaced with it; a missing volume and an unreachable daemon
# fail clearly (crafted archives: crafted.sh).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare

zb_dapi POST /volumes/create -H 'Content-Type: application/json' \
    -d '{"Name":"zakpos_redis_data","Labels":{"com.docker.compose.project":"zakpos","tier":"cache"}}' >/dev/null
src=$(zb_volume_dir zakpos_redis_data)
mkdir -p "$src/appendonlydir" "$src/empty" "$src/deep/er/still"
printf 'REDIS0011\0\1\2' >"$src/dump.rdb"
head -c 3000000 /dev/urandom >"$src/appendonlydir/appendonly.aof.1.base.rdb"
printf 'multi\nexec\n' >"$src/appendonlydir/appendonly.aof.1.incr.aof"
ln "$src/dump.rdb" "$src/dump-hardlink.rdb"
ln -s appendonlydir/appendonly.aof.1.incr.aof "$src/latest.aof"
ln -s ../../dump.rdb "$src/deep/er/up-link"
printf 'ü' >"$src/ünïcödé näme.txt"
printf 'x' >"$src/$(printf 'latin1-\xe9')"
printf 'spaces' >"$src/ with  spaces "
chown 999:1000 "$src/dump.rdb" "$src/appendonlydir"
chown -h 123:456 "$src/latest.aof"
chmod 0640 "$src/dump.rdb"
chmod 0700 "$src/appendonlydir"
chmod 1777 "$src/empty"
touch -h -d '2024-02-29 12:34:56' "$src/latest.aof"
touch -d '2001-09-09 01:46:40' "$src/dump.rdb" "$src/appendonlydir/appendonly.aof.1.base.rdb"
touch -d '2020-01-01 00:00:00' "$src/deep/er/still" "$src/deep/er" "$src/deep" "$src/empty" "$src/appendonlydir" "$src"

zb_expect_status 0 "backup --volume" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume zakpos_redis_data
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "verify" -- "$ZB_BIN" -q verify --key key "$archive"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left behind"

zb_expect_status 0 "restore into a new volume" -- "$ZB_BIN" -q restore --key key "$archive" --volume zakpos_redis_data=redis_copy
zb_expect_equal "$ZB_LAST_OUTPUT" "restored volume zakpos_redis_data redis_copy" "names the volume"
zb_expect_same_tree "$src" "$(zb_volume_dir redis_copy)" "the restored volume"
zb_expect_contains "$(zb_dapi GET /volumes/redis_copy)" '"tier":"cache"' "the volume's labels came back"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left after the restore"

# direct mode reads the same content from the volume's folder
zb_expect_status 0 "backup --volume-direct" -- "$ZB_BIN" -v --log-format text backup --repo repo-direct --recipient key.pub \
    --volume zakpos_redis_data --volume-direct
zb_expect_contains "$ZB_LAST_OUTPUT" "reading volume zakpos_redis_data directly from $src" "read from the mount point"
zb_expect_status 0 "restore the direct backup" -- "$ZB_BIN" -q restore --key key "$("$ZB_BIN" latest --repo repo-direct)" \
    --volume zakpos_redis_data=redis_direct
zb_expect_same_tree "$src" "$(zb_volume_dir redis_direct)" "the volume restored from a direct backup"

zb_expect_status 9 "restore onto an existing volume" -- "$ZB_BIN" --log-format text restore --key key "$archive" --volume zakpos_redis_data=redis_copy
zb_expect_contains "$ZB_LAST_OUTPUT" "Docker volume 'redis_copy' exists" "says why"
echo changed >"$(zb_volume_dir redis_copy)/dump.rdb"
echo extra >"$(zb_volume_dir redis_copy)/not-in-the-backup"
zb_expect_equal "$(cat "$(zb_volume_dir redis_copy)/dump.rdb")" "changed" "the refused volume was left alone"
zb_docker_image
zb_docker_run user redis_copy
zb_expect_status 0 "restore --force replaces the content" -- "$ZB_BIN" -q restore --key key "$archive" --volume zakpos_redis_data=redis_copy --force
zb_expect_same_tree "$src" "$(zb_volume_dir redis_copy)" "the replaced volume"
zb_expect_equal "$(zb_docker_state user)" "running" "its user runs again"

zb_expect_status 13 "a volume that does not exist" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume no_such_volume
zb_expect_contains "$ZB_LAST_OUTPUT" "Docker volume 'no_such_volume' does not exist" "names the volume"
zb_expect_status 11 "no Docker daemon" -- env DOCKER_HOST="unix://$ZB_TMP/nothing.sock" "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume zakpos_redis_data
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot reach the Docker daemon at unix://$ZB_TMP/nothing.sock" "names the socket"
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "failed backups left no archive"

# the compose project selects its volumes; PostgreSQL's data volume only when named
zb_dapi POST /volumes/create -H 'Content-Type: application/json' \
    -d '{"Name":"zakpos_postgres_data","Labels":{"com.docker.compose.project":"zakpos"}}' >/dev/null
zb_expect_status 0 "backup --compose-project" -- "$ZB_BIN" --log-format text backup --repo repo2 --recipient key.pub --compose-project zakpos
zb_expect_contains "$ZB_LAST_OUTPUT" "leaving out volume zakpos_postgres_data" "explains the PostgreSQL volume"
zb_expect_contains "$("$ZB_BIN" show --key key "$("$ZB_BIN" latest --repo repo2)")" "volume zakpos_redis_data" "the project's volume"

# an archive that is not proven whole leaves nothing behind (links are
# data: that one leaves the volume but is no reason to refuse)
"$ZB_CRAFT" --recipient key.pub --out crafted.zbk 'file:volumes/v/volume.json:{"driver":"local"}' dir:volumes/v/data/ \
    'symlink:volumes/v/data/evil:../../../etc' || zb_fail "cannot craft the archive"
zb_expect_status 6 "an archive without its manifest" -- "$ZB_BIN" --log-format text restore --key key crafted.zbk --volume v=crafted
zb_expect_contains "$ZB_LAST_OUTPUT" "ends without a manifest" "says why"
if zb_dapi GET /volumes/crafted | grep -q Mountpoint; then zb_fail "the refused restore left a volume"; else zb_pass; fi
zb_test_end
