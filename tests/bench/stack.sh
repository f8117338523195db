# tests/bench/stack.sh - what the benchmarks source: a private, durable stack.
#
# Sourced from the repository's root after a benchmark has read its options:
#   hl_bench_setup [PACKAGE...]  install what is missing (and PACKAGEs), build
#                                build/ (RelWithDebInfo), set B (the build
#                                folder) and T (a temporary folder), and on
#                                exit stop the daemons, Redis and PostgreSQL
#                                and remove T;
#   hl_bench_stores_up           free loopback ports (PG_PORT, REDIS_PORT,
#                                INTAKE_PORT, EVENTS_PORT, HTTP_PORT), a
#                                PostgreSQL with fsync and synchronous_commit
#                                on and Redis in T, migrated with the demo
#                                city; sets CONNINFO;
#   HL_BENCH_DAEMONS             names of the variables holding the pids of
#                                the benchmark's daemons (first stopped first);
#   hl_bench_stop VAR            stop (TERM, wait) the daemon whose pid VAR
#                                holds, if any, and clear VAR;
#   hl_bench_versions            the machine and server versions, as
#                                key=value lines;
#   sql SQL                      one value from the benchmark's database;
#   hl_bench_checkpoints         PostgreSQL's checkpoints so far.

HL_BENCH_DAEMONS=()

hl_bench_stop() {
    local pid=${!1:-}
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null && { wait "$pid" 2>/dev/null || true; }
    fi
    printf -v "$1" '%s' ''
}

hl_bench_cleanup() {
    local v
    for v in "${HL_BENCH_DAEMONS[@]}"; do hl_bench_stop "$v"; done
    hl_redis_stop "$T/redis"
    hl_pg_stop "$T/pg"
    rm -rf "$T"
}

hl_bench_setup() {
    hl_install_deps "$@"
    hl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
    B=$PWD/build
    T=$(mktemp -d "${TMPDIR:-/tmp}/hl-bench.XXXXXX")
    chmod 755 "$T"
    trap hl_bench_cleanup EXIT
}

hl_bench_stores_up() {
    hl_free_port PG_PORT
    hl_free_port REDIS_PORT
    hl_free_port INTAKE_PORT
    hl_free_port EVENTS_PORT
    hl_free_port HTTP_PORT
    hl_pg_start "$T/pg" "$PG_PORT" durable >/dev/null
    hl_redis_start "$T/redis" "$REDIS_PORT" >/dev/null
    CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=hotline user=hotline"
    "$B/workers/hotline-migrate" --set "postgres.conninfo=$CONNINFO" --demo >/dev/null
}

hl_bench_versions() {
    hl_machine
    echo "postgres=$("$HL_PG_BIN/postgres" --version | awk '{print $3}')"
    echo "redis=$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)"
}

sql() { hl_psql -h 127.0.0.1 -p "$PG_PORT" -U hotline -d hotline -c "$1"; }

# Checkpoints PostgreSQL has made (timed or requested) so far.
hl_bench_checkpoints() { sql "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }
