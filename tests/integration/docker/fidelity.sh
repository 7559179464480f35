# Everything a local volume holds survives a backup and a restore on the
# Docker host (the volume's folder read and written directly): hard links;
# symbolic links that are absolute, dangling or leave the volume (restored as
# links, never refused); a fifo and device nodes; a sparse file (disk use
# within 2x of the source's); user.* and security.capability xattrs; POSIX
# ACLs; nanosecond and pre-1970 mtimes; names with a newline, invalid UTF-8
# and 255 bytes; a path deeper than 4096 bytes; uid/gid above 65535. The
# check is a listing made without the tool (tests/lib/tree_listing.py:
# lstat, readlink, listxattr, sha256) and du. A restore whose folder lacks
# an entry afterwards fails naming it. Through the Engine API (what
# a host that cannot reach the folder uses), a path Docker's archive stream
# leaves out fails the backup naming it instead of being dropped silently
# (and a restore through the API refuses it, the target it was to replace
# untouched),
# links of every kind restore as links, and a backup or restore through the
# API (--volume-api) warns what Docker's tar loses.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
listing() { python3 "$ZB_TEST_LIB/tree_listing.py" "$1"; }
disk_use() { du -s --block-size=1 "$1" | cut -f1; }

zb_docker_volume every_kind
src=$(zb_volume_dir every_kind)
python3 "$ZB_SOURCE_DIR/tests/integration/docker/fidelity_fixture.py" "$src" || zb_fail "cannot build the fixture"
touch -d '2020-01-01 00:00:00.25' "$src"
listing "$src" >source.list
zb_expect_equal "$(grep -c . source.list)" "43" "the fixture lists every entry"

zb_expect_status 0 "backup of the volume" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume every_kind
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore into a new volume" -- "$ZB_BIN" -q restore --key key "$archive" --volume every_kind=every_copy
copy=$(zb_volume_dir every_copy)
listing "$copy" >copy.list
if diff source.list copy.list >diff.out; then zb_pass; else zb_fail "the restored volume differs: $(head -c 3000 diff.out)"; fi
source_use=$(disk_use "$src/sparse.img")
copy_use=$(disk_use "$copy/sparse.img")
[ "$copy_use" -le $((2 * source_use)) ] && zb_pass || zb_fail "the sparse file takes $copy_use bytes on disk, its source $source_use"
zb_expect_status 0 "verify --restore of the archive" -- "$ZB_BIN" -q verify --restore --key key "$archive"
# a restore that loses an entry on its way to the disk (the test build
# removes one before the written folder is counted) fails naming it, and
# names nothing else (the deep path is there)
zb_expect_status 4 "a restore that lost an entry" -- env ZB_FAULT_AT=volume-restore-written \
    ZB_FAULT_RUN='rm "$ZB_FAULT_DETAIL/xattr.txt"' "$ZB_FAULT_BIN" --log-format text restore --key key "$archive" \
    --volume every_kind=every_lost
zb_expect_contains "$ZB_LAST_OUTPUT" "were written; missing:
  xattr.txt" "names the entry the disk lacks"
zb_expect_not_contains "$ZB_LAST_OUTPUT" "d00x" "names nothing that is there"
if zb_dapi GET /volumes/every_lost | grep -q Mountpoint; then zb_fail "the failed restore left its volume"; else zb_pass; fi

# through the API: Docker's stream leaves out the deep path; the backup
# says so instead of publishing an archive without it
zb_expect_status 11 "an API backup that would lose a path" -- "$ZB_BIN" --log-format text backup --repo repo-api \
    --recipient key.pub --volume every_kind --volume-api
zb_expect_contains "$ZB_LAST_OUTPUT" "reached the archive; missing:" "says entries are missing"
zb_expect_contains "$ZB_LAST_OUTPUT" "/deep-file (4230 bytes)" "names the deep file"
zb_expect_equal "$(zb_archives_in repo-api | wc -l)" "0" "no archive published"

# nor can a restore write it through the API: it refuses the deep path,
# naming it and the two ways that write it, and the target it was to
# replace (--force) stays as it was, entry for entry (the same inodes: it
# was never emptied and filled again)
zb_docker_volume api_target
api_dir=$(zb_volume_dir api_target)
mkdir -p "$api_dir/conf" && echo kept >"$api_dir/conf/kept.conf" && head -c 64K /dev/urandom >"$api_dir/data.bin"
inodes() { find "$1" -printf '%P %i %n %s %T@\n' | sort; }
listing "$api_dir" >api_target.list
inodes "$api_dir" >api_target.inodes
zb_expect_status 11 "an API restore of a path deeper than 4096 bytes" -- "$ZB_BIN" --log-format text restore --key key \
    "$archive" --volume every_kind=api_target --force --volume-api
zb_expect_contains "$ZB_LAST_OUTPUT" "xxx (4220 bytes) cannot be written through the Docker API: its name is longer than 4096 bytes" \
    "names the first path too deep (a folder above the deep file)"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: run the restore on the Docker host (as root), where the volume's folder is written directly, or through the volume agent (--volume-agent)" \
    "says which modes write it"
zb_expect_equal "$(listing "$api_dir")" "$(cat api_target.list)" "the target's content is as before"
zb_expect_equal "$(inodes "$api_dir")" "$(cat api_target.inodes)" "the target's entries are the same inodes"
zb_expect_equal "$(zb_dapi GET /volumes | grep -c 'api_target\.zb-')" "0" "no stage volume left"

# links of every kind go through the API as links
zb_docker_volume links
links=$(zb_volume_dir links)
ln -s /etc/passwd "$links/absolute"
ln -s no/such/target "$links/dangling"
ln -s ../../../../../etc "$links/leaving"
echo data >"$links/file"
touch -h -d '2020-01-01' "$links"/* "$links"
zb_expect_status 0 "API backup of links" -- "$ZB_BIN" --log-format text backup --repo repo-links --recipient key.pub \
    --volume links --volume-api
# a folder out of reach has no independent count: the loss is said, always
zb_expect_contains "$ZB_LAST_OUTPUT" "volume links: going through Docker's own tar (--volume-api), which loses" \
    "the API backup says what Docker's tar loses"
zb_expect_status 0 "API restore of links" -- "$ZB_BIN" --log-format text restore --key key "$("$ZB_BIN" latest --repo repo-links)" \
    --volume links=links_api --volume-api
zb_expect_contains "$ZB_LAST_OUTPUT" "volume links_api: going through Docker's own tar (--volume-api), which loses" \
    "the API restore says what Docker's tar loses"
zb_expect_equal "$(listing "$(zb_volume_dir links_api)")" "$(listing "$links")" "the links came back as links"
zb_expect_equal "$(cat /etc/passwd | sha256sum)" "$(sha256sum </etc/passwd)" "nothing was written through a link"
zb_expect_equal "$(zb_dapi GET '/containers/json?all=1')" "[]" "no helper container left"
zb_test_end
