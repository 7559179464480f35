# verify --restore reads a restored volume back (its folder, or the volume
# agent where the folder is out of reach) and compares every file's content
# hash with the backup's: a restored file whose bytes differ while its size,
# owner and times are the backup's is found and named (exit 14). So is an
# xattr or the nanoseconds of an mtime changed after the restore, which the
# manifest does not hold: they are compared with the archive's own entries,
# in a folder read directly and through the agent alike. The test build of
# the tool changes the file in the scratch volume between the restore and
# the read-back, and takes every volume's folder as out of reach when asked.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
zb_docker_volume redis_data
vol=$(zb_volume_dir redis_data)
mkdir -p "$vol/appendonlydir"
head -c 10000 /dev/zero | tr '\0' 'A' >"$vol/appendonlydir/base.rdb"
printf 'REDIS' >"$vol/dump.rdb"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.origin", b"primary")' "$vol/dump.rdb"
touch -d '2026-11-24 12:00:00.123456789' "$vol/appendonlydir/base.rdb"
a=$("$ZB_BIN" backup --repo repo --recipient key.pub --volume redis_data 2>/dev/null)
zb_expect_contains "$a" ".zbk" "backup of the volume"
verify=("$ZB_FAULT_BIN" --log-format text verify --restore --key key "$a")
# the scratch volume's folder on this host, from the detail (the volume's name)
mountpoint='curl -s --unix-socket "$ZB_DOCKER_SOCK" "http://d/v1.41/volumes/$ZB_FAULT_DETAIL" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"Mountpoint\"])"'

zb_expect_status 0 "a restored volume left as restored passes" -- env ZB_DOCKER_SOCK="$ZB_DOCKER_SOCK" \
    ZB_FAULT_AT=before-read-back ZB_FAULT_RUN="test -f \"\$($mountpoint)/dump.rdb\"" "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "fault point before-read-back reached (redis_data_verify_" "the point is reached with the scratch volume"
flip="f=\$($mountpoint)/appendonlydir/base.rdb; m=\$(stat -c %y \"\$f\"); printf B | dd of=\"\$f\" bs=1 seek=5000 conv=notrunc status=none; touch -d \"\$m\" \"\$f\""
zb_expect_status 14 "a restored file with other content" -- env ZB_DOCKER_SOCK="$ZB_DOCKER_SOCK" \
    ZB_FAULT_AT=before-read-back ZB_FAULT_RUN="$flip" "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "appendonlydir/base.rdb: hash differs from the backup" "names the file and only its content"
zb_expect_contains "$ZB_LAST_OUTPUT" "differs from the backup (1 difference)" "one difference"

# xattrs and mtime nanoseconds, read back directly and through the agent
xattr="f=\$($mountpoint)/dump.rdb; python3 -c 'import os, sys; os.setxattr(sys.argv[1], \"user.origin\", b\"replica\")' \"\$f\""
nsec="f=\$($mountpoint)/appendonlydir/base.rdb; python3 -c 'import os, sys; s = os.stat(sys.argv[1]); os.utime(sys.argv[1], ns=(s.st_atime_ns, s.st_mtime_ns + 1))' \"\$f\""
zb_expect_status 14 "an xattr changed after the restore" -- env ZB_DOCKER_SOCK="$ZB_DOCKER_SOCK" \
    ZB_FAULT_AT=before-read-back ZB_FAULT_RUN="$xattr" "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "dump.rdb: xattrs differs from the backup" "names the file and its xattrs"
far=(env ZAKPOS_BACKUP_TEST_VOLUME_UNREACHABLE=1 ZB_DOCKER_SOCK="$ZB_DOCKER_SOCK" ZB_FAULT_AT=before-read-back)
zb_expect_status 0 "out of reach: restored and read back through the agent, left as restored" -- "${far[@]}" \
    ZB_FAULT_RUN=true "${verify[@]}"
zb_expect_status 14 "out of reach: an xattr changed after the restore" -- "${far[@]}" ZB_FAULT_RUN="$xattr" "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "dump.rdb: xattrs differs from the backup" "names the file and its xattrs, out of reach"
zb_expect_status 14 "out of reach: an mtime's nanoseconds changed after the restore" -- "${far[@]}" ZB_FAULT_RUN="$nsec" \
    "${verify[@]}"
zb_expect_contains "$ZB_LAST_OUTPUT" "appendonlydir/base.rdb: mtime nanoseconds differs from the backup" "names the file and its time"
zb_expect_equal "$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(sum("_verify_" in v["Name"] for v in json.load(sys.stdin)["Volumes"] or []))')" \
    "0" "no scratch volume left"
zb_test_end
