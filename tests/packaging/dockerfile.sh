# The Dockerfile, checked without a registry (dockerfile_check.py): its
# stages, its RUN lines' shell syntax, the build stage replayed here from what
# it copies, and its runtime packages against the libraries of the binary that
# replay built. Then the checker is shown broken Dockerfiles and must refuse
# each one, naming the fault.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
for tool in readelf ldd dpkg-query pkg-config dash; do
    command -v "$tool" >/dev/null 2>&1 || zb_require "$tool"
done
dockerfile=$ZB_SOURCE_DIR/Dockerfile
check() {
    python3 "$ZB_SOURCE_DIR/tests/packaging/dockerfile_check.py" --context "$ZB_SOURCE_DIR" --work "$ZB_TMP/work" \
        --dockerfile "$@"
}
zb_expect_status 0 "the Dockerfile" -- check "$dockerfile"
zb_expect_contains "$ZB_LAST_OUTPUT" "runtime packages match the libraries" "the runtime packages were compared"

# broken "DESCRIPTION" "EXPECTED MESSAGE" SED-SCRIPT: a copy of the Dockerfile
# edited by SED-SCRIPT is refused with EXPECTED MESSAGE.
broken() {
    sed "$3" "$dockerfile" >"$ZB_TMP/Dockerfile.broken"
    if cmp -s "$dockerfile" "$ZB_TMP/Dockerfile.broken"; then
        zb_fail "$1: the edit changed nothing"
        return
    fi
    zb_expect_status 1 "$1" -- check "$ZB_TMP/Dockerfile.broken"
    zb_expect_contains "$ZB_LAST_OUTPUT" "$2" "$1: the fault is named"
}
broken "a runtime library left out" "the runtime stage lacks libsodium23, which provides libsodium.so.23" 's/ libsodium23//'
broken "a library the binary does not link" "installs libxml2, which provides no library the binary links" \
    's/ libssl3 / libssl3 libxml2 /'
broken "a -dev package in the runtime stage" "installs libpq-dev, which only building needs" 's/ libpq5 / libpq5 libpq-dev /'
broken "a build package left out" "the build stage lacks libjansson-dev, which provides the pkg-config module jansson" \
    's/libjansson-dev //'
broken "COPY from a stage that does not exist" "COPY --from=builder names no earlier stage" 's/--from=build /--from=builder /'
broken "a COPY of a file the build does not install" "is not in the build stage's installation" \
    's|examples/zakpos-backup.conf|examples/zakpos.conf|'
broken "a RUN that does not parse" 'RUN does not parse with sh' 's|&& rm -rf /var/lib/apt/lists/\*$|\&\& then|'
broken "root at run time" "does not switch to a non-root USER" '/^USER /d'
broken "volumes the user cannot write" "VOLUME /var/lib/zakpos-backup is not created for zakpos-backup" \
    's/-o zakpos-backup -g zakpos-backup //'
broken "no HEALTHCHECK" "has no HEALTHCHECK" '/^HEALTHCHECK /,/CMD \["zakpos-backup", "healthcheck"\]$/d'
broken "a CMD the binary does not have" "the built binary has no 'deamon' command" 's/^CMD \["daemon"\]$/CMD ["deamon"]/'
broken "a slim build stage" "the build stage starts from debian:12-slim, not debian:12" 's/^FROM debian:12 AS build$/FROM debian:12-slim AS build/'
broken "a source the build needs not copied" "the build stage fails when replayed" '/^COPY docs /d'
zb_test_end
