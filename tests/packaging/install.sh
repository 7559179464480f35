# `cmake --install` into a DESTDIR with the prefix a distribution uses: every
# file lands where it belongs and nothing else does, the units name the
# installed binary, the manual page renders without a warning, the example
# configuration is valid, and systemd-tmpfiles creates the repository folder.
# Argument: the build tree.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
build=${1:?the build tree}
dest=$ZB_TMP/dest

zb_expect_status 0 "cmake --install into a DESTDIR" -- env DESTDIR="$dest" cmake --install "$build" --prefix /usr

expected="usr/bin/zakpos-backup
usr/lib/systemd/system/zakpos-backup-daemon.service
usr/lib/systemd/system/zakpos-backup.service
usr/lib/systemd/system/zakpos-backup.timer
usr/lib/tmpfiles.d/zakpos-backup.conf
usr/libexec/zakpos-backup/zb-volume-agent
usr/share/doc/zakpos-backup/CONFIG.md
usr/share/doc/zakpos-backup/PACKAGING.md
usr/share/doc/zakpos-backup/README.md
usr/share/doc/zakpos-backup/SECURITY.md
usr/share/doc/zakpos-backup/USER_GUIDE.md
usr/share/doc/zakpos-backup/examples/docker-compose.backup.yml
usr/share/doc/zakpos-backup/examples/zakpos-backup.conf
usr/share/doc/zakpos-backup/examples/zakpos-backup.json
usr/share/doc/zakpos-backup/examples/zakpos-backup.rules.yml
usr/share/man/man1/zakpos-backup.1"
zb_expect_equal "$(cd "$dest" && find . -type f -o -type l | sed 's|^\./||' | LC_ALL=C sort)" "$expected" \
    "the installed files, and only those"

zb_expect_status 0 "the installed binary runs" -- "$dest/usr/bin/zakpos-backup" --version
zb_expect_equal "$(stat -c %a "$dest/usr/bin/zakpos-backup")" "755" "the binary is executable by all"
zb_expect_equal "$(readelf -d "$dest/usr/libexec/zakpos-backup/zb-volume-agent" 2>&1 | grep -c NEEDED)" "0" \
    "the volume agent is static: its helper image holds nothing else"
for pair in share/man/man1/zakpos-backup.1:docs/man/zakpos-backup.1 \
    share/doc/zakpos-backup/examples/zakpos-backup.conf:docs/examples/zakpos-backup.conf \
    share/doc/zakpos-backup/examples/docker-compose.backup.yml:packaging/docker/docker-compose.backup.yml \
    lib/systemd/system/zakpos-backup.timer:packaging/systemd/zakpos-backup.timer \
    lib/tmpfiles.d/zakpos-backup.conf:packaging/systemd/zakpos-backup.tmpfiles; do
    if cmp -s "$dest/usr/${pair%%:*}" "$ZB_SOURCE_DIR/${pair#*:}"; then zb_pass; else zb_fail "${pair%%:*} differs from ${pair#*:}"; fi
done

# the services name the binary where it is installed, without DESTDIR
for unit in zakpos-backup.service zakpos-backup-daemon.service; do
    text=$(cat "$dest/usr/lib/systemd/system/$unit")
    zb_expect_contains "$text" "ExecStart=/usr/bin/zakpos-backup " "$unit runs the installed binary"
    if [[ "$text" == *@*@* || "$text" == *"$dest"* ]]; then zb_fail "$unit has a placeholder or the DESTDIR in it"; else zb_pass; fi
done

# the manual page renders, with every groff warning enabled, and says nothing on stderr
man_page=$dest/usr/share/man/man1/zakpos-backup.1
warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1)
zb_expect_equal "$warnings" "" "groff -man -ww renders the page without a warning"
rendered=$(MANWIDTH=80 man --warnings -l "$man_page" 2>"$ZB_TMP/man.err")
zb_expect_equal "$(cat "$ZB_TMP/man.err")" "" "man -l renders the page without a warning"
zb_expect_contains "$rendered" "EXIT STATUS" "man -l shows the page"
zb_expect_contains "$rendered" "15 2 * * * root /usr/bin/zakpos-backup run nightly" "the page gives the cron line"

# The example configuration is valid. Its recipient key and database
# password are files the operator makes, so on this machine the errors are
# those files (a configuration error at their line); with real files in
# their place every setting of the file is taken.
example=$dest/usr/share/doc/zakpos-backup/examples/zakpos-backup.conf
zb_expect_status 3 "the example lacks only its recipient key and password file here" -- \
    env -u ZAKPOS_BACKUP_RECIPIENTS "$ZB_BIN" --log-format text config check --config "$example"
zb_expect_contains "$ZB_LAST_OUTPUT" "zakpos-backup.conf:17: [repository] recipients: cannot read /etc/zakpos-backup/backup.pub" \
    "names the key file"
"$ZB_BIN" keygen --out "$ZB_TMP/backup.key" >/dev/null 2>&1
echo secret >"$ZB_TMP/pg_password"
zb_expect_status 3 "then the password file" -- env ZAKPOS_BACKUP_RECIPIENTS="$ZB_TMP/backup.key.pub" \
    "$ZB_BIN" --log-format text config check --config "$example"
password_line=$(grep -n '^password_file *=' "$example" | cut -d: -f1)
zb_expect_contains "$ZB_LAST_OUTPUT" "zakpos-backup.conf:$password_line: [postgres] password_file: cannot read /etc/zakpos-backup/pg_password" \
    "names the password file"
zb_expect_status 0 "config check accepts the example" -- \
    env ZAKPOS_BACKUP_RECIPIENTS="$ZB_TMP/backup.key.pub" ZAKPOS_BACKUP_PG_PASSWORD_FILE="$ZB_TMP/pg_password" \
    "$ZB_BIN" config check --config "$example"
checked=$ZB_LAST_OUTPUT
# each `key = value` of the file is an effective setting, taken from its line
while IFS=$'\t' read -r line section key; do
    got=$(grep -F "$section.$key = " <<<"$checked")
    if [[ "$got" == *" ($example:$line)" ]]; then zb_pass; else zb_fail "$section.$key is not taken from line $line: '$got'"; fi
done < <(awk '/^\[/ { s = substr($0, 2, length($0) - 2); next }
              /^[a-z_-]+ *=/ && s !~ /^job / && !(s == "repository" && $1 == "recipients") &&
              !(s == "postgres" && $1 == "password_file") {
                  split($0, kv, / *= */); printf "%d\t%s\t%s\n", NR, s, kv[1] }' "$example")
zb_expect_contains "$checked" "job.nightly = backup \"0 2 * * *\" then prune" "the nightly job the systemd units and cron run"

# systemd-tmpfiles finds the entry where it is installed and creates the repository folder
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    zb_expect_status 0 "systemd-tmpfiles --create in the DESTDIR" -- systemd-tmpfiles --root="$dest" --create
    zb_expect_equal "$(stat -c '%F %a %U' "$dest/var/backups/zakpos-backup" 2>&1)" "directory 700 root" \
        "the repository folder of the default configuration"
else
    echo "note: systemd-tmpfiles is not installed; the tmpfiles.d entry was not applied"
fi
zb_test_end
