# A PostgreSQL cluster kept in a benchmark's work folder, shared by the
# bench/pg scripts: bench_pg_cluster WORK PORT sets pgbin, data, sock and
# port, makes the cluster on first use, and defines as_pg, psql_, conninfo,
# pg_start [SERVER OPTIONS...] and pg_stop. Every run uses the same server
# settings, so the tools compared see the same server.
bench_pg_cluster() {
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    data=$1/cluster
    sock=$1/sock
    port=$2
    bench_pg_log=$1/pg.log
    if [ ! -d "$data" ]; then
        mkdir -p "$sock"
        chown postgres "$1" "$sock"
        as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    chown postgres "$sock"
}
as_pg() { runuser -u postgres -- "$@"; }
psql_() { as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" "$@"; }
conninfo() { echo "host=$sock port=$port user=postgres dbname=$1"; }
# shared_buffers small so reads come from the (dropped) page cache
pg_start() {
    as_pg "$pgbin/pg_ctl" -D "$data" -l "$bench_pg_log" -w -o "-p $port -k $sock -c listen_addresses='' \
        -c max_wal_size=4GB -c shared_buffers=128MB $*" start >/dev/null
}
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true; }
