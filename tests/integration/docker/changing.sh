# A volume whose file is cut short and grown again, again and again, while
# Docker reads it (read through the API, --volume-api): Docker's tar stream breaks off (the file is shorter than
# its tar header says), the backup writes the archive again,
# up to 3 tries, then fails naming the volume and the file, with the hint to
# stop or pause the writer; nothing is published. With the writer labelled
# zakpos-backup.stop-during-backup=pause the same volume backs up cleanly.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup
zb_docker_volume zakpos_kafka_logs
vol=$(zb_volume_dir zakpos_kafka_logs)
head -c 200M /dev/zero >"$vol/00000000.log"
printf 'index' >"$vol/00000000.index"

# a service that rewrites its log all the time
writer() { # NAME LABELS
    zb_dapi POST "/containers/create?name=$1" -H 'Content-Type: application/json' \
        -d "{\"Image\":\"zbtest-busybox:1\",\"Cmd\":[\"/bin/sh\",\"-c\",\"while :; do /bin/busybox truncate -s 0 /data/00000000.log; /bin/busybox truncate -s 200M /data/00000000.log; /bin/sleep 0.05; done\"],\"Labels\":$2,\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"zakpos_kafka_logs\",\"Target\":\"/data\"}]}}" >/dev/null
    zb_dapi POST "/containers/$1/start" >/dev/null
}
mtime_before=$(stat -c %y "$vol/00000000.log")
writer kafka '{}'
rewritten() { [ "$(stat -c %y "$vol/00000000.log")" != "$mtime_before" ]; }
zb_wait_until rewritten
rewritten && zb_pass || zb_fail "the writer does not write"

# Each try can be lucky (Docker's stat and read may fall between two cuts,
# a few percent of the time); three runs of three tries all lucky would be
# the same as no break ever being caught.
for run in 1 2 3; do
    "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --volume zakpos_kafka_logs --volume-api >out 2>&1
    status=$?
    [ "$status" = 0 ] || break
    rm -f repo/*.zbk
done
ZB_LAST_OUTPUT=$(cat out)
zb_expect_equal "$status" "11" "a volume that changes while read fails (exit 11)"
zb_expect_contains "$ZB_LAST_OUTPUT" "writing the archive again (try 2 of 3)" "it tried again"
zb_expect_contains "$ZB_LAST_OUTPUT" "writing the archive again (try 3 of 3)" "three times"
zb_expect_contains "$ZB_LAST_OUTPUT" "volume zakpos_kafka_logs could not be read consistently (last file: 00000000.log)" "names the volume and the file"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: files change while they are read" "says what to do"
zb_expect_equal "$(ls -A repo | wc -l)" "$(ls -A repo | grep -c '^\.zakpos-backup')" "no archive, no partial file"
zb_expect_equal "$(zb_docker_state kafka)" "running" "the writer was not touched"

# the same writer, paused during the read as its label asks
zb_dapi POST "/containers/kafka?force=1" -X DELETE >/dev/null 2>&1 || zb_dapi DELETE "/containers/kafka?force=1" >/dev/null
writer kafka-paused '{"zakpos-backup.stop-during-backup":"pause"}'
zb_expect_status 0 "the writer paused meanwhile" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume zakpos_kafka_logs --volume-api
zb_expect_equal "$(zb_archives_in repo | wc -l)" "1" "one archive"
zb_expect_equal "$(zb_docker_state kafka-paused)" "running" "the writer runs again"
zb_dapi DELETE "/containers/kafka-paused?force=1" >/dev/null
zb_test_end
