# The Docker engine over TCP with TLS, as a remote Docker host is reached
# (DOCKER_HOST=tcp://..., DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH with the
# client's ca.pem, cert.pem, key.pem): a volume backs up and restores through
# it unchanged, also through the volume agent (its attach on the TLS
# connection); without a client certificate, or trusting another CA, the
# command fails with exit 11 and says why, and nothing is written.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
zb_docker_setup_bare tls
zb_docker_volume zakpos_redis_data
src=$(zb_volume_dir zakpos_redis_data)
mkdir -p "$src/appendonlydir"
head -c 1000000 /dev/urandom >"$src/dump.rdb"
printf 'multi\nexec\n' >"$src/appendonlydir/appendonly.aof"
chown -R 999:999 "$src"

over_tls() { env DOCKER_HOST="$ZB_DOCKER_TLS_HOST" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$1" "${@:2}"; }
zb_expect_status 0 "backup over TLS" -- over_tls "$ZB_DOCKER_CERTS" "$ZB_BIN" -q backup --repo repo --recipient key.pub --volume zakpos_redis_data
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore over TLS" -- over_tls "$ZB_DOCKER_CERTS" "$ZB_BIN" -q restore --key key "$archive" --volume zakpos_redis_data=redis_copy
zb_expect_same_tree "$src" "$(zb_volume_dir redis_copy)" "the volume restored over TLS"
zb_expect_status 0 "verify --restore over TLS" -- over_tls "$ZB_DOCKER_CERTS" "$ZB_BIN" -q verify --restore --key key "$archive"
# the volume agent's attached streams go over the same TLS connection kind
zb_expect_status 0 "backup through the agent over TLS" -- over_tls "$ZB_DOCKER_CERTS" "$ZB_BIN" -q backup --repo repo-agent \
    --recipient key.pub --volume zakpos_redis_data --volume-agent
zb_expect_status 0 "restore through the agent over TLS" -- over_tls "$ZB_DOCKER_CERTS" "$ZB_BIN" -q restore --key key \
    "$("$ZB_BIN" latest --repo repo-agent)" --volume zakpos_redis_data=redis_agent --volume-agent
zb_expect_same_tree "$src" "$(zb_volume_dir redis_agent)" "the volume through the agent over TLS"

# no client certificate: the engine refuses the handshake
mkdir -p no-client && cp "$ZB_DOCKER_CERTS/ca.pem" no-client/
zb_expect_status 11 "no client certificate" -- over_tls "$ZB_TMP/no-client" "$ZB_BIN" --log-format text backup --repo repo2 --recipient key.pub --volume zakpos_redis_data
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot reach the Docker daemon at $ZB_DOCKER_TLS_HOST" "names the engine"
# another CA: the client refuses the engine's certificate
mkdir -p other && zb_docker_make_certs "$ZB_TMP/other"
cp "$ZB_DOCKER_CERTS/cert.pem" "$ZB_DOCKER_CERTS/key.pem" other/client/
zb_expect_status 11 "an engine certificate from another CA" -- over_tls "$ZB_TMP/other/client" "$ZB_BIN" --log-format text backup --repo repo2 --recipient key.pub --volume zakpos_redis_data
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot reach the Docker daemon at $ZB_DOCKER_TLS_HOST" "names the engine"
zb_expect_equal "$(zb_archives_in repo2 | wc -l)" "0" "no archive from a refused engine"
zb_test_end
