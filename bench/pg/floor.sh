# shellcheck shell=bash
# The floor of a restore: the server's own work on a database, each kind
# alone, one statement at a time on one connection (the rows' files read
# from a cold page cache; the tables then warm, as after a restore's load) —
# loading every table's rows (COPY FREEZE of text files on the server into
# tables without indexes, in the transaction that truncated them), building
# every index and key, checking every foreign key, ANALYZE — with no client
# in between. Sourced by bench.sh (BENCH_PG_PARTS=floor); bench_pg_floor DB
# prints each statement's time, each kind's sum and the sum over two
# connections kept equally busy (half the serial sum: a lower bound for a
# restore at --jobs 2 on a machine with two cores), and records them in
# $BENCH_RESULTS as "floor <kind>".

# floor_time SQL...: runs the statements in one session, prints the sum of
# their times as psql measures them (the client's start and connection,
# slow from a cold page cache, left out)
floor_time() {
    psql_ -d floor -c '\timing on' "${@/#/-c}" | awk '/^Time: / { s += $2 } END { printf "%.2f", s / 1000 }'
}

floor_record() {
    printf 'floor %s\t%s\t0\t0\n' "$1" "$2" >>"$BENCH_RESULTS"
}

bench_pg_floor() {
    local db=$1 dir=$work/floor$tag t s kind sum
    mkdir -p "$dir" && chown postgres "$dir"
    psql_ -d postgres -c "DROP DATABASE IF EXISTS floor" -c "CREATE DATABASE floor"
    as_pg "$pgbin/pg_dump" -h "$sock" -p "$port" --section=pre-data "$db" | psql_ -d floor >/dev/null
    as_pg "$pgbin/pg_dump" -h "$sock" -p "$port" --section=post-data "$db" >"$dir/post.sql"
    local tables
    tables=$(psql_ -d "$db" -At -c "SELECT c.oid::regclass FROM pg_class c WHERE c.relkind = 'r'
        AND c.relnamespace = 'public'::regnamespace ORDER BY pg_relation_size(c.oid) DESC")
    for t in $tables; do
        [ -f "$dir/$t.copy" ] || psql_ -d "$db" -c "COPY $t TO '$dir/$t.copy'"
    done
    sync
    [ -n "${BENCH_NO_DROP:-}" ] || echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    psql_ -d floor -c CHECKPOINT
    declare -A kinds=([load]=0 [index]=0 [key]=0 [foreign]=0 [analyze]=0)
    echo "floor of $db (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
    for t in $tables; do
        s=$(floor_time "SET synchronous_commit = off" "BEGIN" "TRUNCATE $t" "COPY $t FROM '$dir/$t.copy' WITH (FREEZE)" "COMMIT")
        printf '  %6.2f s  load %s (%s bytes of COPY text)\n' "$s" "$t" "$(stat -c %s "$dir/$t.copy")"
        kinds[load]=$(awk -v a="${kinds[load]}" -v b="$s" 'BEGIN { print a + b }')
    done
    # post-data statements one by one in pg_dump's order (indexes and keys,
    # then foreign keys)
    local statements=$dir/statements
    rm -rf "$statements" && mkdir -p "$statements"
    awk -v dir="$statements" '/^--/ || /^SET / || /^SELECT / || /^\\/ || /^$/ { next }
        { buf = buf $0 "\n" } /;$/ { n++; f = sprintf("%s/%04d.sql", dir, n); printf "%s", buf > f; close(f); buf = "" }' "$dir/post.sql"
    for f in "$statements"/*.sql; do
        case $(tr '\n' ' ' <"$f") in
        *"FOREIGN KEY"*) kind=foreign ;;
        *"PRIMARY KEY"* | *" UNIQUE "*) kind=key ;; # unique indexes too
        *"CREATE INDEX"*) kind=index ;;
        *) kind=other ;;
        esac
        [ "$kind" = other ] && { psql_ -d floor -f "$f" >/dev/null; continue; }
        s=$(floor_time "SET maintenance_work_mem = '256MB'" "SET work_mem = '64MB'" "$(cat "$f")")
        printf '  %6.2f s  %s %s\n' "$s" "$kind" "$(tr '\n' ' ' <"$f" | sed 's/  */ /g' | cut -c1-90)"
        kinds[$kind]=$(awk -v a="${kinds[$kind]}" -v b="$s" 'BEGIN { print a + b }')
    done
    for t in $tables; do
        s=$(floor_time "ANALYZE $t")
        kinds[analyze]=$(awk -v a="${kinds[analyze]}" -v b="$s" 'BEGIN { print a + b }')
    done
    for kind in load index key foreign analyze; do
        printf '  %-8s %7.2f s\n' "$kind" "${kinds[$kind]}"
        floor_record "$kind" "${kinds[$kind]}"
    done
    sum=$(awk -v a="${kinds[load]}" -v b="${kinds[index]}" -v c="${kinds[key]}" -v d="${kinds[foreign]}" 'BEGIN { print a + b + c + d }')
    printf '  serial sum without ANALYZE %.2f s; over two connections at best %.2f s (with ANALYZE %.2f s)\n' "$sum" \
        "$(awk -v s="$sum" 'BEGIN { print s / 2 }')" "$(awk -v s="$sum" -v a="${kinds[analyze]}" 'BEGIN { print (s + a) / 2 }')"
    floor_record "serial" "$sum"
    floor_record "two connections" "$(awk -v s="$sum" 'BEGIN { print s / 2 }')"
    psql_ -d postgres -c "DROP DATABASE floor"
}
