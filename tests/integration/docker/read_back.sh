# verify --restore reads a restored volume back through the Docker API and
# compares every file's content hash with the backup's: a restored file whose
# bytes differ while its size, owner and times are the backup's is found and
# named (exit 14). The test build of the tool changes the file in the scratch
# volume between the restore and the read-back.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
zb_docker_volume redis_data
vol=$(zb_volume_dir redis_data)
mkdir -p "$vol/appendonlydir"
head -c 10000 /dev/zero | tr '\0' 'A' >"$vol/appendonlydir/base.rdb"
printf 'REDIS' >"$vol/dump.rdb"
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
zb_expect_equal "$(zb_dapi GET /volumes | python3 -c 'import json,sys; print(sum("_verify_" in v["Name"] for v in json.load(sys.stdin)["Volumes"] or []))')" \
    "0" "no scratch volume left"
zb_test_end
