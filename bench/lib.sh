# Shared benchmark helpers. bench_run times a command BENCH_REPEAT times
# (default 3), each from a cold page cache, and records the median wall time
# and the largest peak RSS as "name<TAB>wall_seconds<TAB>peak_rss_kib<TAB>cpu_seconds"
# in $BENCH_RESULTS (cpu: the median of the runs' user + system seconds).
# BENCH_NO_DROP=1 keeps the page cache (dropping it is machine-wide: other
# work on the machine then reads cold too).

# bench_run NAME -- command...
bench_run() {
    local name=$1
    shift 2
    local repeat=${BENCH_REPEAT:-3} walls=() cpus=() rss_max=0 i t wall rss user sys
    t=$(mktemp)
    for ((i = 0; i < repeat; i++)); do
        [ -n "${BENCH_BEFORE_EACH:-}" ] && eval "$BENCH_BEFORE_EACH"
        if [ -z "${BENCH_NO_DROP:-}" ]; then
            sync
            echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
        fi
        if ! /usr/bin/time -f '%e %M %U %S' -o "$t" "$@" >/dev/null 2>"$t.err"; then
            echo "bench: $name failed:" >&2
            cat "$t.err" >&2
            rm -f "$t" "$t.err"
            return 1
        fi
        read -r wall rss user sys <"$t"
        walls+=("$wall")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")
        [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    done
    rm -f "$t" "$t.err"
    wall=$(printf '%s\n' "${walls[@]}" | bench_median)
    local cpu
    cpu=$(printf '%s\n' "${cpus[@]}" | bench_median)
    printf '%s\t%s\t%s\t%s\n' "$name" "$wall" "$rss_max" "$cpu" >>"$BENCH_RESULTS"
    printf '%-34s %6.2f s wall (median of %d: %s)  %6.2f s cpu  %7d KiB peak RSS\n' "$name" "$wall" "$repeat" \
        "${walls[*]}" "$cpu" "$rss_max"
}

# bench_value NAME COLUMN: the recorded value; where NAME was run several
# times (bench_interleave), the median of its walls or CPU times and the
# largest peak RSS.
bench_value() {
    if [ "$2" = 3 ]; then
        awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$BENCH_RESULTS" | sort -n | tail -1
    else
        awk -F'\t' -v n="$1" -v col="$2" '$1 == n { print $col }' "$BENCH_RESULTS" | bench_median
    fi
}

# bench_median: the median of the numbers on stdin, one a line (the mean
# of the middle two for an even count), to two decimals.
bench_median() {
    sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.2f\n", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# bench_interleave NAME BEFORE COMMAND [NAME BEFORE COMMAND...]: runs the
# commands (shell strings; BEFORE, possibly empty, runs before each) in
# turns, one run each per round, BENCH_REPEAT rounds, so rivals measured
# side by side share whatever the machine does meanwhile. Prints each
# one's median. BENCH_ALTERNATE=1 reverses the order in every second round
# (A B, B A, A B ...), so neither command always runs first: the first of
# a round reads colder caches and follows the previous round's last.
bench_interleave() {
    local round i k n rounds=${BENCH_REPEAT:-3} args=("$@")
    n=$((${#args[@]} / 3))
    for ((round = 0; round < rounds; round++)); do
        for ((k = 0; k < n; k++)); do
            i=$((3 * k))
            [ -n "${BENCH_ALTERNATE:-}" ] && ((round % 2 == 1)) && i=$((3 * (n - 1 - k)))
            BENCH_REPEAT=1 BENCH_BEFORE_EACH=${args[i + 1]} bench_run "${args[i]}" -- bash -c "${args[i + 2]}" >/dev/null || return 1
        done
    done
    for ((i = 0; i < ${#args[@]}; i += 3)); do
        printf '%-34s %6.2f s wall (median of %d interleaved runs: %s)  %6.2f s cpu  %7d KiB peak RSS\n' "${args[i]}" \
            "$(bench_value "${args[i]}" 2)" "$rounds" "$(awk -F'\t' -v n="${args[i]}" '$1 == n { printf "%s ", $2 }' "$BENCH_RESULTS")" \
            "$(bench_value "${args[i]}" 4)" "$(bench_value "${args[i]}" 3)"
    done
}

# bench_ratio A B: the median of A's wall times over the median of B's.
bench_ratio() {
    local a b
    a=$(bench_value "$1" 2)
    b=$(bench_value "$2" 2)
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
}

# bench_pair_ratio A B: the median of the rounds' own ratios, A's k-th wall
# time over B's k-th, for two commands run in turns by bench_interleave:
# each pair shares one round's machine, so a slow round counts once.
bench_pair_ratio() {
    paste <(awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$BENCH_RESULTS") \
        <(awk -F'\t' -v n="$2" '$1 == n { print $2 }' "$BENCH_RESULTS") |
        awk '$1 != "" && $2 > 0 { print $1 / $2 }' | bench_median
}
