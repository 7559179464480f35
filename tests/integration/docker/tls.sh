# The Docker engine over TCP with TLS, as a remote Docker host is reached
# (DOCKER_HOST=tcp://..., DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH with the
# client's ca.pem, cert.pem, key.pem): a volume backs up and restores through
# it unchanged; without a client certificate, or trusting another CA, the
# command fails with exit 11 and says why, and nothing is written.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/docker.sh"
zb_test_begin
cd "$ZB_TMP"
zb_docker_start tls
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_dapi POST /volumes/create -H 'Content-Type: application/json' -d '{"Name":"zakpos_redis_data"}' >/dev/null
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
