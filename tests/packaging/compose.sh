# docker-compose.backup.yml beside a stand-in of the zakpos stack's compose
# file, the way an operator uses it: `config` merges and validates the two,
# refuses to go on without DOCKER_GID, and the merged service passes
# compose_check.py (network, socket, secrets through *_FILE variables the
# tool reads, volumes, the daemon); a service that lost its socket or its
# secrets is refused.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    zb_require "docker-compose (Debian package docker-compose)"
fi
# Debian's python3 has PyYAML with docker-compose; another python3 may not
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
"$python" -c 'import yaml' 2>/dev/null || zb_require "PyYAML for $python (Debian package python3-yaml)"

stack=$ZB_TMP/stack
mkdir -p "$stack/database/init" "$stack/redis" "$stack/secrets"
cp "$ZB_SOURCE_DIR/tests/packaging/zakpos-stack.yml" "$stack/docker-compose.yml"
cp "$ZB_SOURCE_DIR/packaging/docker/docker-compose.backup.yml" "$stack/"
echo "appendonly yes" >"$stack/redis/redis.conf"
echo "zakpos_secure_password_2024" >"$stack/secrets/zakpos_pg_password"
"$ZB_BIN" keygen --out "$stack/secrets/zakpos-backup" >/dev/null 2>&1
cd "$stack" || exit 1
merge() { "${compose[@]}" -f docker-compose.yml -f "$1" config; }

zb_expect_status 1 "without DOCKER_GID compose refuses" -- env -u DOCKER_GID "${compose[@]}" -f docker-compose.yml -f docker-compose.backup.yml config
zb_expect_contains "$ZB_LAST_OUTPUT" "set DOCKER_GID to the group of the Docker socket" "says what to set"

export DOCKER_GID=4242
zb_expect_status 0 "compose merges the stack and the backup service" -- merge docker-compose.backup.yml
merge docker-compose.backup.yml >merged.yml 2>/dev/null
check() {
    "$python" "$ZB_SOURCE_DIR/tests/packaging/compose_check.py" --merged "$1" --binary "$ZB_BIN" --docker-gid 4242 \
        --config "$ZB_SOURCE_DIR/docs/examples/zakpos-backup.conf"
}
zb_expect_status 0 "the merged service is what the tool and the stack need" -- check merged.yml

# a service without the socket, or with its password in the environment, is refused
sed '\|- /var/run/docker.sock:/var/run/docker.sock|d' docker-compose.backup.yml >no-socket.yml
merge no-socket.yml >no-socket.merged.yml 2>/dev/null
zb_expect_status 1 "a service without the Docker socket" -- check no-socket.merged.yml
zb_expect_contains "$ZB_LAST_OUTPUT" "the Docker socket /var/run/docker.sock is not mounted" "names the socket"
sed 's|ZAKPOS_BACKUP_PG_PASSWORD_FILE: /run/secrets/zakpos_pg_password|PGPASSWORD: zakpos_secure_password_2024|' \
    docker-compose.backup.yml >plain-password.yml
merge plain-password.yml >plain-password.merged.yml 2>/dev/null
zb_expect_status 1 "a password in the environment" -- check plain-password.merged.yml
zb_expect_contains "$ZB_LAST_OUTPUT" "PGPASSWORD puts a secret in the environment" "names the variable"
sed 's|ZAKPOS_BACKUP_TZ:|ZAKPOS_BACKUP_TIMEZONE:|' docker-compose.backup.yml >misspelt.yml
merge misspelt.yml >misspelt.merged.yml 2>/dev/null
zb_expect_status 1 "a variable the tool does not read" -- check misspelt.merged.yml
zb_expect_contains "$ZB_LAST_OUTPUT" "ZAKPOS_BACKUP_TIMEZONE is not a variable zakpos-backup reads" "names the variable"
zb_test_end
