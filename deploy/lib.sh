# deploy/lib.sh - shell helpers shared by run.sh, test.sh, the integration
# tests and the benchmarks: Debian packages, the build, free loopback ports,
# and private PostgreSQL and Redis servers under a folder of our own.
#
# Source it from bash; every function is prefixed hl_ but python3 (below).
# Nothing here touches system-wide configuration: the servers run from
# generated configs, listen on 127.0.0.1 only and keep their data, sockets and
# logs in the folder given.

HL_ROOT=${HL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# hl_pg_bindir: the newest PostgreSQL server's programs, or nothing before the
# server is installed (`|| true`: under `set -o pipefail` ls's failure would
# otherwise end the calling script, silently, on a machine without it).
hl_pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true; }
HL_PG_BIN=${HL_PG_BIN:-$(hl_pg_bindir)}

HL_PACKAGES="build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libhiredis-dev libpq-dev postgresql postgresql-client redis-server redis-tools
  libmicrohttpd-dev libjansson-dev libcmocka-dev"

# python3 is Debian's (the package test.sh installs), whatever comes first on
# PATH: a version manager's shim there (pyenv's runs a dozen processes per
# call, 0.34 s against 0.03 s) made the tests' hundreds of small JSON and XML
# look-ups cost minutes of CI's time. The scripts only use the standard library.
python3() {
    if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else command python3 "$@"; fi
}

hl_say() { printf '\033[1m[hotline]\033[0m %s\n' "$*" >&2; }
hl_die() { printf '[hotline] error: %s\n' "$*" >&2; exit 1; }

# hl_machine: the machine a benchmark ran on, as key=value lines.
hl_machine() {
    echo "machine=$(hostname)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
    echo "cores=$(nproc)"
    echo "memory_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "kernel=$(uname -r)"
}

# Install the Debian packages that are missing (needs root; idempotent).
hl_install_deps() {
    local missing=() p
    for p in $HL_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || hl_die "missing Debian packages: ${missing[*]} (run as root, or install them)"
    hl_say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || hl_die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        hl_die "apt-get install failed"
    HL_PG_BIN=$(hl_pg_bindir)
}

# hl_build DIR [cmake args...]: configure (once) and build into DIR.
hl_build() {
    local dir=$1; shift
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$HL_ROOT" -B "$dir" "$@" >/dev/null || hl_die "cmake configure failed"
    fi
    cmake --build "$dir" -j "$(nproc)" >/dev/null 2>"$dir.build.log" || {
        cat "$dir.build.log" >&2; hl_die "build failed"; }
}

# hl_free_port VAR: set VAR to a TCP port on 127.0.0.1 that nobody listens
# on, and keep it reserved (a lock file held open, as pgbouncer's test suite
# does) until this shell and its children exit. Not for use inside $(...).
hl_free_port() {
    local lockdir=${TMPDIR:-/tmp}/hotline-ports p fd i low=32768
    mkdir -p "$lockdir" && chmod 1777 "$lockdir" 2>/dev/null
    # Stay below the kernel's ephemeral range: a port in use as the local end
    # of an outgoing connection refuses connects but cannot be bound either.
    [ -r /proc/sys/net/ipv4/ip_local_port_range ] &&
        read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$low" -gt 12000 ] || low=32768
    for i in $(seq 1 200); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
        exec {fd}>"$lockdir/$p.lock" || continue
        if flock -n "$fd" && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf -v "$1" '%s' "$p"
            return 0
        fi
        exec {fd}>&-
    done
    hl_die "no free port found"
}

# The user PostgreSQL runs as: ourselves, or the package's postgres user when
# we are root (initdb and postgres refuse to run as root).
hl_pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

hl_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# hl_pg_start DIR PORT [durable]: start PostgreSQL with its data in DIR/data,
# creating the cluster on first use (superuser "hotline", database "hotline").
# Without "durable", fsync is off (tests: a crashed router, not a crashed
# machine, is what they simulate).
hl_pg_start() {
    local dir=$1 port=$2 durable=${3:-}
    [ -n "$HL_PG_BIN" ] || hl_die "PostgreSQL server binaries not found"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        # The postgres user must reach DIR: a checkout under /root is not
        # reachable, so keep the cluster in /var/lib/hotline and link it here.
        if ! runuser -u postgres -- test -w "$dir"; then
            local real=/var/lib/hotline/pg-$(echo "$dir" | md5sum | cut -c1-12)
            mkdir -p "$real" && chown postgres: "$real" && chmod 700 "$real"
            rmdir "$dir" 2>/dev/null; ln -sfn "$real" "$dir"
            hl_say "PostgreSQL cannot reach $dir; its cluster lives in $real"
        fi
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        hl_as_pg "$HL_PG_BIN/initdb" -D "$dir/data" -U hotline -A trust -E UTF8 \
            --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; hl_die "initdb failed"; }
    fi
    local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/data"
    opts="$opts -c max_connections=100 -c shared_buffers=256MB -c logging_collector=off"
    # Checkpoints on time rather than on WAL volume: with the default 1 GB a
    # busy intake checkpoints every few minutes, and each checkpoint's final
    # fsyncs stall commits for hundreds of milliseconds.
    opts="$opts -c max_wal_size=8GB -c min_wal_size=1GB -c checkpoint_timeout=15min -c log_checkpoints=on"
    # Vacuum gently (10 ms pauses instead of 2): after a burst of inserts
    # autovacuum walks the new pages of tickets, events and their TOAST, and
    # at full pace its writes (full-page images after a checkpoint) held
    # commits 50-250 ms; throttled, p99 at half rate in tests/bench/http.sh
    # went from 40-85 ms to 34-35 ms on the 2-core dev VM.
    opts="$opts -c autovacuum_vacuum_cost_delay=10ms"
    if [ -z "$durable" ]; then opts="$opts -c fsync=off -c full_page_writes=off"; fi
    # More settings for a session of measurement (e.g. pg_stat_statements).
    opts="$opts ${HL_PG_OPTS:-}"
    # In its own session: a Ctrl-C at the terminal is for run.sh, which stops
    # the servers in order.
    hl_as_pg setsid "$HL_PG_BIN/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/postgres.log" -w -t 60 start \
        >/dev/null || { tail -20 "$dir/postgres.log" >&2; hl_die "PostgreSQL did not start"; }
    "$HL_PG_BIN/psql" -h 127.0.0.1 -p "$port" -U hotline -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'hotline'" | grep -q 1 ||
        "$HL_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U hotline hotline ||
        hl_die "createdb failed"
}

# hl_pg_stop DIR [mode]: stop the cluster (mode fast by default, or immediate).
hl_pg_stop() {
    local dir=$1 mode=${2:-fast}
    [ -f "$dir/data/postmaster.pid" ] || return 0
    hl_as_pg "$HL_PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

# hl_write_conf FILE BASE [section.key=value ...]: write a config for the
# servers of this machine: BASE (a config file, or /dev/null), then the
# endpoints from PG_PORT, REDIS_PORT, INTAKE_PORT and EVENTS_PORT, then each
# extra setting. A later value of a key wins over an earlier one.
hl_write_conf() {
    local file=$1 base=$2 kv
    shift 2
    {
        cat "$base"
        printf '\n# This machine (written by deploy/lib.sh).\n'
        printf '[zmq]\nintake = tcp://127.0.0.1:%s\nevents = tcp://127.0.0.1:%s\n' "$INTAKE_PORT" "$EVENTS_PORT"
        printf '[postgres]\nconninfo = "host=127.0.0.1 port=%s dbname=hotline user=hotline"\n' "$PG_PORT"
        printf '[redis]\nhost = 127.0.0.1\nport = %s\n' "$REDIS_PORT"
        for kv in "$@"; do
            printf '[%s]\n%s = %s\n' "${kv%%.*}" "$(echo "${kv#*.}" | cut -d= -f1)" "${kv#*=}"
        done
    } >"$file"
}

# hl_usage FILE: FILE's leading comment block (after its #! line), which is
# each script's help; read from the file, so it cannot fall out of step.
hl_usage() { awk 'NR == 1 && /^#!/ { next } /^#/ { print; next } { exit }' "$1"; }

hl_psql() { "$HL_PG_BIN/psql" -X -v ON_ERROR_STOP=1 -qAt "$@"; }

# hl_redis_start DIR PORT: start redis-server (append-only file on) with its
# data in DIR; the pid is in DIR/redis.pid.
hl_redis_start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    cat >"$dir/redis.conf" <<EOF
port $port
bind 127.0.0.1
protected-mode yes
dir $dir
appendonly yes
appendfsync everysec
# Rewrite the AOF after 512 MB of it rather than 64: each rewrite forks
# Redis and writes its data out, which held stream writes 100-170 ms on the
# 2-core dev VM under load (tests/bench/http.sh). Units delete what they ack,
# so the data stays small; a 512 MB file reloads in about ten seconds
# (67 MB of stream writes took 1.2 s here).
auto-aof-rewrite-min-size 512mb
save ""
daemonize no
pidfile $dir/redis.pid
logfile $dir/redis.log
EOF
    setsid redis-server "$dir/redis.conf" &
    echo $! >"$dir/redis.pid"
    hl_wait 10 'redis-cli -p "$port" ping 2>/dev/null | grep -q PONG' && return 0
    tail -20 "$dir/redis.log" >&2
    hl_die "Redis did not start"
}

hl_redis_stop() {
    local dir=$1 pid
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$dir/redis.pid"
}

# hl_wait SECONDS 'CONDITION': evaluate CONDITION (a shell command line) every
# 0.1 s until it succeeds; status 1 if it never did within SECONDS. The
# condition sees the caller's variables (a function's arguments: copy them
# into locals first, $1 and $2 are hl_wait's own).
hl_wait() {
    local _hl_n
    for _hl_n in $(seq 1 "$(($1 * 10))"); do
        eval "$2" && return 0
        sleep 0.1
    done
    return 1
}

# hl_wait_port PORT [seconds]: wait until something listens on 127.0.0.1:PORT.
hl_wait_port() {
    local port=$1
    hl_wait "${2:-10}" '(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null'
}
