#!/usr/bin/env bash
# The test command: on a fresh Debian machine as root it installs what the
# build and the tests need, builds with warnings as errors, and runs every
# test through ctest. CI runs exactly this (.ci/run).
#
#   scripts/test.sh              install, build, run all tests
#   scripts/test.sh --sanitize   the same under AddressSanitizer + UBSan
#   ZB_SKIP_INSTALL=1            skip apt-get (packages already present)
set -euo pipefail
# Run as typed: root (a container, CI) runs it directly, where sudo is often
# not installed; anyone else goes through sudo.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "$0: run this as root (sudo is not installed)" >&2; exit 1; }
    exec sudo bash "$0" "$@"
fi

root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=0
for arg in "$@"; do
    case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
    esac
done

"$root/scripts/install-deps.sh"

jobs=$(nproc)
build=$root/build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DENABLE_WERROR=ON -DBUILD_TESTS=ON)
if [ "$sanitize" = 1 ]; then
    build=$root/build-sanitize
    # ASAN_OPTIONS and UBSAN_OPTIONS come with each test (tests/CMakeLists.txt):
    # reports are fatal and go to build-sanitize/sanitizer/<test>.<pid>
    flags+=(-DENABLE_SANITIZERS=ON)
fi

# The archive reader's fuzz target needs clang's libFuzzer: a second, small
# build runs its smoke test first (whenever clang is installed), so the main
# suite's summary is the last thing printed.
if command -v clang >/dev/null 2>&1 && [ "$sanitize" = 0 ]; then
    fuzz=$root/build-fuzz
    CC=clang cmake -S "$root" -B "$fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENABLE_WERROR=ON -DENABLE_FUZZERS=ON -DBUILD_TESTS=ON
    cmake --build "$fuzz" -j"$jobs" --target zb-fuzz-reader zb-fuzz-reader-keyed zb-fuzz-corpus zb-fuzz-ub-probe
    ctest --test-dir "$fuzz" --output-on-failure -L fuzz -j"$jobs"
fi

# The clang static analyzer (scan-build) over the sources, tests left out, in
# a build folder of its own analysed from scratch each time (an up-to-date
# build would analyse nothing): any finding fails the test command. It needs
# minutes of CPU and nothing else, and the tests leave much of the CPU idle
# (they wait on servers starting, on containers, on each other), so it runs
# beside the build and the tests at the lowest priority, its output in
# build-scan/scan.log, and the command waits for it at the end.
scan_pid=
if command -v scan-build >/dev/null 2>&1 && [ "$sanitize" = 0 ]; then
    scan=$root/build-scan
    mkdir -p "$scan"
    # its own process group, ended whole if the command stops before it does
    setsid nice -n 19 bash -c '
        scan-build -o "$1/reports" cmake -S "$2" -B "$1" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTS=OFF >/dev/null &&
            scan-build -o "$1/reports" --status-bugs cmake --build "$1" -j"$3" --clean-first' \
        scan "$scan" "$root" "$jobs" >"$scan/scan.log" 2>&1 &
    scan_pid=$!
    trap '[ -z "$scan_pid" ] || kill -- "-$scan_pid" 2>/dev/null' EXIT
fi
# the analyzer's verdict: its log's end and status
scan_result() {
    [ -n "$scan_pid" ] || return 0
    local rc=0
    wait "$scan_pid" || rc=$?
    scan_pid=
    if [ "$rc" = 0 ]; then
        echo "scan-build: no findings ($scan/scan.log)"
        return 0
    fi
    tail -40 "$scan/scan.log" >&2
    echo "scan-build failed or found bugs: $scan/scan.log, reports in $scan/reports" >&2
    return 1
}

cmake -S "$root" -B "$build" "${flags[@]}"
cmake --build "$build" -j"$jobs"
if [ "$sanitize" = 0 ]; then
    status=0
    ctest --test-dir "$build" --output-on-failure -j"$jobs" || status=$?
    scan_result || status=1
    exit "$status"
fi

# Under the sanitizers a report from a process whose exit status no test
# looks at (a daemon stopped in a cleanup) is still a failure of the run.
rm -rf "$build/sanitizer"/*
status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" || status=$?
for report in "$build/sanitizer"/*; do
    [ -e "$report" ] || continue
    echo "sanitizer report ${report##*/}:" >&2
    head -60 "$report" >&2
    status=1
done
exit "$status"

