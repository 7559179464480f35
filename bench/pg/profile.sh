# shellcheck shell=bash
# One restore of the bench archive profiled statement by statement: every
# statement of the restore's sessions logs its time and the server's CPU
# for it (log_min_duration_statement=0, log_statement_stats, set for these
# sessions only through the connection's options), summed here by kind,
# beside the client's own CPU and the restore's phases (its detail log).
# Sourced by bench.sh (BENCH_PG_PARTS=profile); bench_pg_profile ARCHIVE.

# the server log from byte FROM on, summed by statement kind: backend
# elapsed (from the duration line) and CPU (user + system, from the
# statistics) per kind; a backend's statistics follow its duration line
profile_sum() {
    tail -c +$(($1 + 1)) "$work/pg.log" | awk '
    function kind(s) {
        if (s ~ /^COPY /) return "COPY (rows)"
        if (s ~ /^CREATE (UNIQUE )?INDEX/) return "CREATE INDEX"
        if (s ~ /ADD CONSTRAINT .* USING INDEX/) return "key USING INDEX"
        if (s ~ /FOREIGN KEY .* NOT VALID/) return "foreign key NOT VALID"
        if (s ~ /VALIDATE CONSTRAINT/) return "VALIDATE CONSTRAINT"
        if (s ~ /^ANALYZE/) return "ANALYZE"
        if (s ~ /^(BEGIN|COMMIT|TRUNCATE)/) return "BEGIN/TRUNCATE/COMMIT"
        if (s ~ /^CREATE TABLE/) return "CREATE TABLE"
        return "other"
    }
    match($0, /\[[0-9]+\]/) { pid = substr($0, RSTART + 1, RLENGTH - 2) }
    / duration: [0-9.]+ ms  statement: / {
        s = $0; sub(/.* statement: /, "", s); k = kind(s)
        d = $0; sub(/.* duration: /, "", d); sub(/ ms.*/, "", d)
        last[pid] = k; elapsed[k] += d / 1000; n[k]++
    }
    /s user, .* s system, .* s elapsed/ {
        u = $0; sub(/^[^0-9]*/, "", u); split(u, f, " ")
        if (pid in last) { cpu[last[pid]] += f[1] + f[4]; delete last[pid] }
    }
    END {
        for (k in n) { printf "  %-24s %6d statements %8.2f s server elapsed %8.2f s server CPU\n", k, n[k], elapsed[k], cpu[k]
            te += elapsed[k]; tc += cpu[k] }
        printf "  %-24s %6s            %8.2f s server elapsed %8.2f s server CPU\n", "all", "", te, tc
    }' | sort -k1,1
}

bench_pg_profile() {
    local archive=$1 from t
    psql_ -d postgres -c "DROP DATABASE IF EXISTS target"
    sync
    [ -n "${BENCH_NO_DROP:-}" ] || echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    from=$(stat -c %s "$work/pg.log")
    t=$(mktemp)
    echo "profile of one restore of $archive (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
    /usr/bin/time -f '%e %U %S %M' -o "$t.time" "$bin" --log-level detail --log-format text restore --key "$work/key" "$archive" \
        --pg-target "$(conninfo target) options='-c log_min_duration_statement=0 -c log_statement_stats=on'" \
        --jobs "$jobs" >/dev/null 2>"$t"
    read -r wall user sys rss <"$t.time"
    echo "  client: $wall s wall, $user s user + $sys s system CPU, $rss KiB peak RSS"
    grep -E 'data loaded in|built in|published|verified' "$t" | sed 's/^/  client log: /'
    profile_sum "$from"
    rm -f "$t" "$t.time"
    psql_ -d postgres -c "DROP DATABASE IF EXISTS target"
}
