# `cpack -G DEB` in the build tree makes the package a new host installs with
# `apt install ./zakpos-backup_*.deb`: its control fields (name, version,
# architecture, the libraries it depends on) and its files (the binary, the
# manual page, the documentation and runbook, the example configuration and
# Compose service, the systemd units), checked with dpkg-deb; the packaged
# binary runs and knows `recover`. Argument: the build tree.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
build=${1:?the build tree}
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || zb_require "cpack and dpkg-deb"
# a copy of the build tree's package configuration, so a parallel run of the
# install test is not disturbed
zb_expect_status 0 "cpack -G DEB" -- cpack -G DEB --config "$build/CPackConfig.cmake" -B "$ZB_TMP/pkg"
deb=$(ls "$ZB_TMP"/pkg/zakpos-backup_*.deb 2>/dev/null)
zb_expect_contains "$deb" "zakpos-backup_" "a package named for apt install ./zakpos-backup_*.deb"
info=$(dpkg-deb -I "$deb")
zb_expect_contains "$info" "Package: zakpos-backup" "its name"
zb_expect_contains "$info" "Version: $("$ZB_BIN" --version | cut -d' ' -f2)" "the tool's version"
zb_expect_contains "$info" "Architecture: $(dpkg --print-architecture)" "this machine's architecture"
for lib in libarchive libsodium libpq5 libcurl libzstd libjansson; do
    zb_expect_contains "$(grep '^ *Depends:' <<<"$info")" "$lib" "depends on $lib"
done
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/zakpos-backup ./usr/share/man/man1/zakpos-backup.1 ./usr/share/doc/zakpos-backup/USER_GUIDE.md \
    ./usr/share/doc/zakpos-backup/README.md ./usr/share/doc/zakpos-backup/examples/zakpos-backup.conf \
    ./usr/share/doc/zakpos-backup/examples/docker-compose.backup.yml ./usr/lib/systemd/system/zakpos-backup.service \
    ./usr/lib/systemd/system/zakpos-backup.timer; do
    zb_expect_contains "$files" "$f" "the package holds $f"
done
zb_expect_not_contains "$files" "faults" "no test binary"
zb_expect_not_contains "$files" "$ZB_TMP" "no build path"
dpkg-deb -x "$deb" "$ZB_TMP/root"
zb_expect_status 0 "the packaged binary runs" -- "$ZB_TMP/root/usr/bin/zakpos-backup" recover --help
zb_expect_contains "$ZB_LAST_OUTPUT" "usage: zakpos-backup recover" "and knows recover"
zb_expect_contains "$(cat "$ZB_TMP/root/usr/lib/systemd/system/zakpos-backup.service")" "ExecStart=/usr/bin/zakpos-backup " \
    "the units name the installed binary"
zb_test_end
