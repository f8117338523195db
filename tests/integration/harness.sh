# tests/integration/harness.sh - what every integration test sources.
#
# Gives each test its own folder ($T), free loopback ports, a private
# PostgreSQL (copied from a cached, migrated template cluster with the demo
# city), a private Redis, the router, and helpers to check results. Cleans
# up on exit and fails the test if a daemon's log shows a sanitizer report.
# Tests run from ctest with HL_BUILD (the build folder) in the environment.
set -euo pipefail

HL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$HL_ROOT/deploy/lib.sh"
: "${HL_BUILD:?HL_BUILD must name the build folder}"
ROUTER=$HL_BUILD/router/hotline-router
ROUTER_WRAP=() # a command the router runs under (intake.sh: setpriv)
MIGRATE=$HL_BUILD/workers/hotline-migrate
LOADGEN=$HL_BUILD/workers/hotline-loadgen

T=$(mktemp -d "${TMPDIR:-/tmp}/hl-test.XXXXXX")
chmod 755 "$T"
ROUTER_PID=
FAILED=0

hl_test_cleanup() {
    local rc=${1:-$?}
    [ -n "$ROUTER_PID" ] && kill -9 "$ROUTER_PID" 2>/dev/null
    hl_redis_stop "$T/redis" 2>/dev/null || true
    hl_pg_stop "$T/pg" immediate 2>/dev/null || true
    if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.log 2>/dev/null; then
        echo "FAIL: sanitizer report in a daemon log (above)"
        grep -h -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.log | head -80
        rc=1
    fi
    [ "$FAILED" -ne 0 ] && rc=1
    if [ "$rc" -ne 0 ]; then
        for f in "$T"/router*.log; do [ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -40 "$f"; }; done
    fi
    if [ -n "${HL_KEEP_TMP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
    exit "$rc"
}
trap hl_test_cleanup EXIT

# A migrated cluster with the demo city, built once per version of the SQL.
hl_test_pg_template() {
    local sum dir lock
    sum=$(cat "$HL_ROOT"/deploy/sql/*.sql "$HL_ROOT"/deploy/sql/demo/*.sql | md5sum | cut -c1-12)
    dir=${TMPDIR:-/tmp}/hotline-pg-template-$(id -u)-$sum
    lock=${TMPDIR:-/tmp}/hotline-pg-template.lock
    (
        flock 9
        if [ ! -f "$dir/ready" ]; then
            rm -rf "$dir"
            local port
            hl_free_port port
            # PostgreSQL must not inherit the lock (9): it would hold it.
            hl_pg_start "$dir" "$port" >/dev/null 9>&-
            "$MIGRATE" --set "postgres.conninfo=host=127.0.0.1 port=$port dbname=hotline user=hotline" \
                --demo >"$dir/migrate.log" 2>&1 || {
                cat "$dir/migrate.log" >&2
                hl_pg_stop "$dir"
                exit 1
            }
            hl_pg_stop "$dir"
            touch "$dir/ready"
        fi
    ) 9>"$lock"
    echo "$dir"
}

# Start PostgreSQL (PG_PORT) and Redis (REDIS_PORT) and write $T/hotline.conf.
hl_test_stores_up() {
    local tpl
    tpl=$(hl_test_pg_template) || hl_die "the migrations failed (above)"
    mkdir -p "$T/pg"
    cp -a "$tpl/data" "$T/pg/data"
    rm -f "$T/pg/data/postmaster.pid"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$T/pg"
    hl_free_port PG_PORT
    hl_free_port REDIS_PORT
    hl_free_port INTAKE_PORT
    hl_free_port EVENTS_PORT
    hl_pg_start "$T/pg" "$PG_PORT"
    hl_redis_start "$T/redis" "$REDIS_PORT"
    CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=hotline user=hotline"
    hl_write_conf "$T/hotline.conf" /dev/null postgres.reconnect_ms=200 \
        postgres.request_timeout_ms=5000 redis.reconnect_ms=200 router.outbox_sweep_ms=200 \
        router.outbox_age_ms=1000 "classify.model=\"$HL_ROOT/deploy/models/hotline.model\""
}

hl_sql() { hl_psql -h 127.0.0.1 -p "$PG_PORT" -U hotline -d hotline -c "$1"; }
hl_redis() { redis-cli -p "$REDIS_PORT" "$@"; }

# hl_test_router_start [--set k=v ...]: start the router, wait until it serves.
hl_test_router_start() {
    local log=$T/router.log i
    "${ROUTER_WRAP[@]}" "$ROUTER" --config "$T/hotline.conf" "$@" >>"$log" 2>&1 &
    ROUTER_PID=$!
    for i in $(seq 1 100); do
        grep -q 'reference data loaded' "$log" 2>/dev/null && return 0
        kill -0 "$ROUTER_PID" 2>/dev/null || { cat "$log"; hl_die "router exited"; }
        sleep 0.1
    done
    cat "$log"
    hl_die "router did not load its reference data"
}

hl_test_router_stop() {
    [ -n "$ROUTER_PID" ] || return 0
    kill -TERM "$ROUTER_PID" 2>/dev/null || true
    wait "$ROUTER_PID" 2>/dev/null || true
    ROUTER_PID=
}

hl_test_router_kill9() {
    kill -9 "$ROUTER_PID" 2>/dev/null || true
    wait "$ROUTER_PID" 2>/dev/null || true
    ROUTER_PID=
}

hl_loadgen() { "$LOADGEN" --config "$T/hotline.conf" "$@"; }

# kv FILE KEY: the value of KEY=... in FILE.
kv() { grep -m1 "^$2=" "$1" | cut -d= -f2-; }

# check "what" VALUE EXPECTED: compare and record the result.
check() {
    if [ "$2" == "$3" ]; then
        echo "ok   $1 ($2)"
    else
        echo "FAIL $1: got '$2', want '$3'"
        FAILED=1
    fi
}

# check_le "what" VALUE MAX
check_le() {
    if [ "$2" -le "$3" ]; then echo "ok   $1 ($2 <= $3)"; else echo "FAIL $1: $2 > $3"; FAILED=1; fi
}

# check_ge "what" VALUE MIN
check_ge() {
    if [ "$2" -ge "$3" ]; then echo "ok   $1 ($2 >= $3)"; else echo "FAIL $1: $2 < $3"; FAILED=1; fi
}
