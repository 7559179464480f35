# Crafted archives with names or links that point outside the target: restore
# refuses them (exit 8), writes nothing outside, and leaves no target behind.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1
mkdir outside

try_archive() {
    local what=$1
    shift
    rm -rf target crafted.zbk
    "$ZB_CRAFT" --recipient key.pub --out crafted.zbk "$@" || { zb_fail "cannot craft $what"; return; }
    zb_expect_status 8 "$what is refused" -- "$ZB_BIN" restore --key key crafted.zbk --path data="$ZB_TMP/target"
    if [ -n "$(ls -A outside)" ]; then zb_fail "$what wrote outside the target: $(ls -A outside)"; else zb_pass; fi
    if [ -e target ] || ls -A | grep -q zb-restore; then zb_fail "$what left a target or staging folder"; else zb_pass; fi
    if [ -e "$ZB_TMP/escaped" ]; then zb_fail "$what escaped"; else zb_pass; fi
}

try_archive "a '..' name" dir:paths/data/ 'file:paths/data/../../escaped:x'
try_archive "an absolute name" "file:$ZB_TMP/escaped:x"
try_archive "a name outside every source" 'file:escaped:x'
try_archive "a write through a symlink" dir:paths/data/ "symlink:paths/data/evil:$ZB_TMP/outside" 'file:paths/data/evil/pwned:x'
try_archive "a write through a relative symlink" dir:paths/data/ 'symlink:paths/data/up:../../outside' 'file:paths/data/up/pwned:x'
try_archive "a write through a chain of links" dir:paths/data/ 'symlink:paths/data/s:.' \
    'symlink:paths/data/s/s/s/esc:../../../outside' 'file:paths/data/s/s/s/esc/pwned:x'
zb_expect_contains "$ZB_LAST_OUTPUT" "its path goes through the symbolic link s restored before it" "names the link"
try_archive "a hard link through a restored link" dir:paths/data/ "symlink:paths/data/up:$ZB_TMP/outside" \
    'file:paths/data/f:x' 'hardlink:paths/data/h:paths/data/up/f'
try_archive "an absolute hard link" dir:paths/data/ 'hardlink:paths/data/h:/etc/passwd'
try_archive "a hard link into another source" dir:paths/data/ 'file:paths/other/f:x' 'hardlink:paths/data/h:paths/other/f'
zb_expect_contains "$ZB_LAST_OUTPUT" "another source" "cross-source hard link is named"
zb_test_end
