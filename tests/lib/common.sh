# Shared helpers for the shell-level tests (tests/cli, tests/integration).
# A test sources this file, calls zb_test_begin, and uses the assertions; every
# server it starts registers a cleanup with zb_on_exit so it is stopped even
# when an assertion fails.
set -u -o pipefail

: "${ZB_BIN:?ZB_BIN must name the zakpos-backup binary}"
ZB_TEST_FAILURES=0
ZB_TEST_CHECKS=0
ZB_CLEANUPS=()

zb_on_exit() { ZB_CLEANUPS+=("$*"); }

zb_run_cleanups() {
    local i
    for ((i = ${#ZB_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${ZB_CLEANUPS[$i]}" >/dev/null 2>&1 || true
    done
}

zb_test_begin() {
    ZB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/zbtest.XXXXXX")
    chmod 755 "$ZB_TMP"
    zb_on_exit "rm -rf '$ZB_TMP'"
    trap 'zb_run_cleanups' EXIT
    trap 'exit 130' INT TERM
    # reports of an earlier run of this test are not this run's
    [ -z "${ZB_SANITIZER_LOG:-}" ] || rm -f "$ZB_SANITIZER_LOG".*
    # a double fork: the watchdog is nobody's child, so a kill of the test's
    # process tree leaves it to stop what the test started
    (ZB_WATCH_TMP=$ZB_TMP setsid bash "$(dirname "${BASH_SOURCE[0]}")/watchdog.sh" "$$" </dev/null >/dev/null 2>&1 &)
}

# zb_start_inner SCRIPT: runs SCRIPT, a test of its own that is handed this
# test's folder as $1, in its own process group (killed whole, as ctest
# kills a test's process tree), output in $ZB_TMP/inner.log; sets
# ZB_INNER_PID, and the cleanup kills the group.
zb_start_inner() {
    TMPDIR=$ZB_TMP setsid bash "$1" "$ZB_TMP" </dev/null >"$ZB_TMP/inner.log" 2>&1 &
    ZB_INNER_PID=$!
    zb_on_exit "kill -9 -- -$ZB_INNER_PID"
}

zb_fail() {
    echo "FAIL: $*" >&2
    ZB_TEST_FAILURES=$((ZB_TEST_FAILURES + 1))
}

zb_pass() { ZB_TEST_CHECKS=$((ZB_TEST_CHECKS + 1)); }

# zb_expect_status WANT DESCRIPTION -- command...
zb_expect_status() {
    local want=$1 what=$2
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    ZB_LAST_OUTPUT=$out
    if [ "$rc" -ne "$want" ]; then
        zb_fail "$what: exit $rc, wanted $want; output:"$'\n'"$out"
        return 1
    fi
    zb_pass
}

zb_expect_contains() {
    local haystack=$1 needle=$2 what=$3
    if [[ "$haystack" != *"$needle"* ]]; then
        zb_fail "$what: output lacks '$needle'; got:"$'\n'"$haystack"
        return 1
    fi
    zb_pass
}

zb_expect_not_contains() {
    local haystack=$1 needle=$2 what=$3
    if [[ "$haystack" == *"$needle"* ]]; then
        zb_fail "$what: output has '$needle':"$'\n'"$haystack"
        return 1
    fi
    zb_pass
}

zb_expect_equal() {
    local got=$1 want=$2 what=$3
    if [ "$got" != "$want" ]; then
        zb_fail "$what: got '$got', wanted '$want'"
        return 1
    fi
    zb_pass
}

# Under the sanitizers (ZB_SANITIZER_LOG set by tests/CMakeLists.txt) each
# report is a file ZB_SANITIZER_LOG.PID: any report fails the test, also
# one from a command the test expected to fail.
zb_check_sanitizer_reports() {
    [ -n "${ZB_SANITIZER_LOG:-}" ] || return 0
    local report
    for report in "$ZB_SANITIZER_LOG".*; do
        [ -e "$report" ] || continue
        zb_fail "sanitizer report $report:"$'\n'"$(head -40 "$report")"
    done
}

# Ends the test: non-zero if any check failed or none ran.
zb_test_end() {
    zb_check_sanitizer_reports
    if [ "$ZB_TEST_CHECKS" -eq 0 ] && [ "$ZB_TEST_FAILURES" -eq 0 ]; then
        echo "FAIL: the test made no checks" >&2
        exit 1
    fi
    echo "$ZB_TEST_CHECKS checks passed, $ZB_TEST_FAILURES failed"
    [ "$ZB_TEST_FAILURES" -eq 0 ]
}

# A required server is missing: in CI that is a failure, elsewhere a skip
# (ctest reports exit 77 as skipped).
zb_require() {
    local what=$1
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: $what is not available, and CI requires it" >&2
        exit 1
    fi
    echo "SKIP: $what is not available" >&2
    exit 77
}

# One line per entry of ROOT (itself included): name, type, mode, owner, mtime, link count,
# and size + SHA-256 for files or the target for symlinks. Names are quoted
# with %q so spaces, newlines and any bytes compare exactly.
zb_tree_listing() {
    local root=$1
    (
        cd "$root" || exit 1
        find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' p; do
            local meta extra=""
            meta=$(stat -c '%F|%a|%u|%g|%Y|%h' -- "$p")
            case "$meta" in
            regular*)
                # Files over 256 MiB (the sparse giants) are hashed without
                # reading their holes: sha256sum would read gigabytes of zeros.
                if [ "$(stat -c %s -- "$p")" -gt 268435456 ]; then
                    extra="$(stat -c %s -- "$p")|$(python3 "$ZB_TEST_LIB/content_digest.py" "$p")"
                else
                    extra="$(stat -c %s -- "$p")|$(sha256sum <"$p" | cut -c1-64)"
                fi
                ;;
            symbolic*) extra=$(readlink -- "$p") ;;
            esac
            printf '%q|%s|%s\n' "$p" "$meta" "$extra"
        done
    )
}

zb_expect_same_tree() {
    local a=$1 b=$2 what=$3
    local la lb
    la=$(zb_tree_listing "$a")
    lb=$(zb_tree_listing "$b")
    if [ "$la" != "$lb" ]; then
        zb_fail "$what: trees differ:"$'\n'"$(diff <(echo "$la") <(echo "$lb") | head -20)"
        return 1
    fi
    zb_pass
}

# Files in DIR that look like finished archives.
zb_archives_in() { find "$1" -maxdepth 1 -name '*.zbk' ! -name '.*' 2>/dev/null | sort; }

# zb_config_paths_only: the [postgres], [docker], [paths] and [daemon]
# sections of a test config that backs up $ZB_TMP/src alone (no server).
zb_config_paths_only() {
    printf '[postgres]\nenabled = no\n[docker]\nenabled = no\n[paths]\ndata = %s/src\n[daemon]\nstate_dir = %s/state\n' \
        "$ZB_TMP" "$ZB_TMP"
}

# A TCP port on 127.0.0.1 that nothing listens on.
zb_free_port() {
    local port
    for port in $(shuf -i 20000-40000 -n 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# zb_wait_port PORT [SECONDS]: waits until something accepts on 127.0.0.1:PORT.
zb_wait_port() {
    local port=$1 tenths=$((${2:-20} * 10)) i
    for ((i = 0; i < tenths; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# zb_wait_until COMMAND...: up to 120 s for COMMAND to succeed (by the
# clock, not a count of tries: on a loaded machine each try is slow).
zb_wait_until() {
    local deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
