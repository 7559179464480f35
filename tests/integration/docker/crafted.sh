# Crafted volume parts are handled safely. A link's target is data: a link
# pointing outside the volume is restored exactly as stored. Nothing is written
# through a link the restore made, so a chain of links to "." cannot carry a
# later entry outside the volume. A hard link whose target is not under data/
# is refused, never read past.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare
meta='file:volumes/v/volume.json:{"driver":"local"}'

no_volume_left() {
    if zb_dapi GET "/volumes/$1" | grep -q Mountpoint; then zb_fail "the refused restore left volume $1"; else zb_pass; fi
}

# a link out of the volume is data: restored as it was stored
"$ZB_CRAFT" --recipient key.pub --manifest --out stored.zbk "$meta" dir:volumes/v/data/ \
    'symlink:volumes/v/data/up:../../../etc' 'file:volumes/v/data/f:x' || zb_fail "cannot craft the archive"
zb_expect_status 0 "a link out of the volume is restored" -- "$ZB_BIN" --log-format text restore --key key stored.zbk --volume v=stored
zb_expect_equal "$(readlink "$(zb_volume_dir stored)/up")" "../../../etc" "its target as stored"

# s -> . makes s/s/s the volume's root; esc -> ../../../etc from there leaves it
"$ZB_CRAFT" --recipient key.pub --out chain.zbk "$meta" dir:volumes/v/data/ 'symlink:volumes/v/data/s:.' \
    'symlink:volumes/v/data/s/s/s/esc:../../../etc' 'file:volumes/v/data/s/s/s/esc/pwned:x' ||
    zb_fail "cannot craft the archive"
zb_expect_status 8 "a chain of links is refused" -- "$ZB_BIN" --log-format text restore --key key chain.zbk --volume v=chain
zb_expect_contains "$ZB_LAST_OUTPUT" "refusing s/s/s/esc: its path goes through the symbolic link s" "names the entry and the link"
no_volume_left chain

# a hard link to "dat", shorter than "data/"
"$ZB_CRAFT" --recipient key.pub --out short.zbk "$meta" dir:volumes/v/data/ 'file:volumes/v/data/f:x' \
    'hardlink:volumes/v/data/h:volumes/v/dat' || zb_fail "cannot craft the archive"
zb_expect_status 8 "a hard link outside data/ is refused" -- "$ZB_BIN" --log-format text restore --key key short.zbk --volume v=short
zb_expect_contains "$ZB_LAST_OUTPUT" "its hard-link target dat is not in the volume's data" "names the target"
no_volume_left short
zb_test_end
