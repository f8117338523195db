#!/usr/bin/env bash
# tests/bench/http.sh - tickets over HTTP (wrk -> hotline-gateway -> router ->
# PostgreSQL + Redis) against the raw PostgreSQL limit of tests/bench/e2e.sh.
#
# Starts its own durable PostgreSQL (fsync and synchronous_commit on), Redis,
# router (with the trained model) and gateway in a temporary folder, then in
# one run:
#  (a) raw: the rows N intakes make, COPY'd into PostgreSQL alone (pgraw.c);
#  (b) saturation: wrk POSTs /api/v1/tickets with real citizen messages as
#      bodies (../shared/data when present), a unique Idempotency-Key each,
#      for SECONDS over CONNECTIONS connections;
#  (c) latency at half of (b)'s rate: the same with each connection pausing
#      an exponentially distributed time between requests (scaled once a
#      second by the rate answered, so that the phase offers half of (b)'s
#      rate although each connection waits for its answer first: see
#      http.lua), from one wrk thread instead of two (see below), over
#      HALF_CONNECTIONS (default: CONNECTIONS), after a
#      CHECKPOINT of (b)'s WAL (as e2e.sh does), for HALF_SECONDS (default:
#      SECONDS). The first 30 s after the checkpoint are its best: on the dev
#      VM the kernel starts writing the new rows' pages back 30 s after they
#      were dirtied, and those writes then slow the commits' fdatasync (p99
#      at half rate 33-49 ms in the first 30 s, 90-110 ms in the minute
#      after); -H 90 or more includes that.
# Afterwards it counts the tickets stored against the 201s wrk received
# (stored may exceed them by up to CONNECTIONS per phase: the requests in
# flight when wrk stops are stored, but wrk does not count their answers).
# CONNECTIONS defaults to 1,024 (gateway.max_connections' default): a city's
# gateway has many clients at once, and fewer leave the pipeline waiting on
# commits (CPU idle) rather than full: 256 gave 8,090 tickets/s, 512 9,292
# and 1,024 9,750 on the 2-core dev VM (smaller commits cost PostgreSQL more
# per ticket).
# One real message (35 KB) is over router.max_text and is refused (400), so
# http_non_201_* counts about one request in 6,483.
# Prints one key=value line per figure. Not a test: nothing is asserted.
#
# It also prints the CPU each process (wrk too) used per ticket, the
# machine's idle share and its context switches per ticket during (b) and
# during (c), and the gateway's own p99 during (c) (to the bucket, from its
# /metrics histogram), to show where the time goes. At half rate every
# process spends about twice the CPU per ticket it spends at saturation
# (smaller batches, so more sleeps and wake-ups: 2.9 context switches per
# ticket against 0.9, ZeroMQ's I/O threads the most; each costs tens of
# microseconds on the dev VM), so the machine is still 83-92 % busy. wrk's
# pauses are timers, and each of its threads wakes for them about once a
# millisecond: with one thread for (c) (ample for half rate)
# p50/p99 at half read 5.8-7.6 / 29-55 ms in 5 runs, with two 10.2-13.7 /
# 51-95 ms in 4 alternating runs on the 2-core dev VM (the gateway's own p99
# likewise 30-75 against 50-250 ms): the second thread's wake-ups delayed
# the service it measured.
#
# PostgreSQL's WAL bytes and full-page images per ticket, and tickets per
# commit, are printed for (b) and (c): on the dev VM ~2.1 kB and none in
# both; ~120 tickets per commit at saturation, 14-20 at half rate.
#
# The bus between gateway and router runs over ipc:// (Unix sockets) by
# default, as for a router and gateway on one host (zmq.intake/zmq.events
# set to ipc:// paths); -b tcp measures it over loopback TCP (the sample
# config's tcp://127.0.0.1 endpoints), which costs ~5 us more CPU per ticket.
#
# Usage: tests/bench/http.sh [-d SECONDS] [-H HALF_SECONDS] [-c CONNECTIONS]
#          [-C HALF_CONNECTIONS] [-n RAW_TICKETS] [-S on|off] [-b ipc|tcp] [-s S.K=V]...
#   -C: wrk's connections in (c); each has a timer while it pauses, and wrk
#       scans all its timers on every turn of its loop: at half rate wrk
#       spent 52-57 us per ticket with 1,024, 38-54 with 512 on the dev VM
#   -S: the similar-ticket search done with every POST (gateway.similar)
#   -b: the bus's transport
#   -s: one more setting for the router and gateway, e.g. -s postgres.connections=1
#   (defaults: -d 30 -H the same -c 1024 -C the same -n 200000 -S on -b ipc)
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
source tests/bench/stack.sh

SECS=30
HALF_SECS=
CONNS=1024
HALF_CONNS=
N=200000
SIMILAR=on
BUS=ipc
SETS=()
while getopts "d:H:c:C:n:S:b:s:" o; do
    case $o in
    d) SECS=$OPTARG ;;
    H) HALF_SECS=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    C) HALF_CONNS=$OPTARG ;;
    n) N=$OPTARG ;;
    S) SIMILAR=$OPTARG ;;
    b) BUS=$OPTARG ;;
    s) SETS+=("$OPTARG") ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done

hl_bench_setup wrk
GW_PID= ROUTER_PID=
HL_BENCH_DAEMONS=(GW_PID ROUTER_PID)

DATA=$PWD/../shared/data/citizen_messages_train.csv
if [ -r "$DATA" ]; then RAWCSV=(-f "$DATA"); data=real; else RAWCSV=(); data=synthetic; fi
# One JSON body per line: the real messages, or a few of our own.
python3 - "$DATA" "$T/bodies.jsonl" <<'PY'
import csv, json, os, sys
src, out = sys.argv[1], sys.argv[2]
rows = []
if os.path.exists(src):
    with open(src, newline="", encoding="utf-8") as f:
        rows = [(r["title"], r["body"]) for r in csv.DictReader(f)]
else:
    rows = [("小区路灯不亮", "小区门口的路灯坏了一周，晚上出行很不方便，请尽快维修。"),
            ("供水管道破裂", "楼下供水管道破裂，大量自来水外流，请派人维修。"),
            ("噪音扰民", "附近工地夜间施工，噪音很大，影响休息。"),
            ("公交站台损坏", "12路公交车站台顶棚破损，下雨时无法避雨。")]
with open(out, "w", encoding="utf-8") as f:
    for i, (title, body) in enumerate(rows):
        f.write(json.dumps({"channel": "web", "title": title, "body": body,
                            "requester": {"name": "市民", "phone": "138%08d" % (i % 100000000)}},
                           ensure_ascii=False) + "\n")
PY

hl_bench_versions
echo "libmicrohttpd=$(dpkg-query -W -f='${Version}' libmicrohttpd12 2>/dev/null || echo '?')"
echo "wrk=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
echo "data=$data"
echo "bodies=$(wc -l <"$T/bodies.jsonl")"
echo "connections=$CONNS"
HALF_CONNS=${HALF_CONNS:-$CONNS}
echo "connections_at_half=$HALF_CONNS"
HALF_SECS=${HALF_SECS:-$SECS}
echo "seconds=$SECS"
echo "half_seconds=$HALF_SECS"
echo "similar=$SIMILAR"
echo "bus=$BUS"
echo "settings=${SETS[*]:-}"

hl_bench_stores_up

# (a) the raw limit
"$B/tests/bench/bench_pgraw" -d "$CONNINFO" "${RAWCSV[@]}" -n "$N" -c 2 >"$T/raw.out" 2>"$T/raw.err"
RAW=$(grep '^raw_pg_rows_per_s=' "$T/raw.out" | cut -d= -f2)
echo "raw_pg_rows_per_s=$RAW"

BUSSETS=()
case $BUS in
ipc) BUSSETS=("zmq.intake=ipc://$T/intake.sock" "zmq.events=ipc://$T/events.sock") ;;
tcp) ;;
*) hl_die "-b takes ipc or tcp" ;;
esac
hl_write_conf "$T/hotline.conf" /dev/null "${BUSSETS[@]}" log.level=warn "classify.model=\"$PWD/deploy/models/hotline.model\"" \
    "gateway.listen=127.0.0.1:$HTTP_PORT" gateway.max_connections_per_ip=1024 gateway.similar="$SIMILAR" "${SETS[@]}"
# The router logs at info: its stats line (every 10 s) gives the write
# path's worst times during (c).
"$B/router/hotline-router" --config "$T/hotline.conf" -s log.level=info 2>"$T/router.log" &
ROUTER_PID=$!
if [ "$BUS" = ipc ]; then
    hl_wait 10 '[ -S "$T/intake.sock" ]' || hl_die "the router's socket $T/intake.sock did not appear"
else
    hl_wait_port "$INTAKE_PORT" 10
fi
"$B/workers/hotline-gateway" --config "$T/hotline.conf" 2>"$T/gateway.log" &
GW_PID=$!
hl_wait_port "$HTTP_PORT" 10
TOKEN=$("$B/workers/hotline-token" --config "$T/hotline.conf" create --role agent --name bench --rate 1000000)
SUPER=$("$B/workers/hotline-token" --config "$T/hotline.conf" create --role supervisor --name bench-metrics)
sleep 1.5 # the gateway reads new tokens on NOTIFY
U=http://127.0.0.1:$HTTP_PORT
# CPU ticks of a process and its children (PostgreSQL's backends).
ticks() {
    local sum=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$sum"
}
cpu_snapshot() {
    echo "gateway=$(ticks "$GW_PID") router=$(ticks "$ROUTER_PID") postgres=$(ticks "$(head -1 "$T/pg/data/postmaster.pid")")" \
        "redis=$(ticks "$(cat "$T/redis/redis.pid")")" \
        "$(awk '/^cpu / {m = $2 + $3 + $4 + $7 + $8; i = $5 + $6} /^ctxt / {c = $2}
                END {print "machine=" m, "idle=" i, "ctxt=" c}' /proc/stat)"
}
# cpu_per_ticket SUFFIX SNAPSHOT0 SNAPSHOT1 WRK_TIME_FILE TICKETS: the CPU
# (microseconds) each process spent per ticket between two snapshots, from
# clock ticks, wrk's from /usr/bin/time, the machine's idle share and its
# context switches per ticket (every task's, the kernel's too).
cpu_per_ticket() {
    awk -v s="$1" -v a="$2" -v b="$3" -v w="$(cat "$4")" -v n="$5" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        for (i in x) { split(x[i], kv, "="); split(y[i], kv2, "="); d[kv[1]] = kv2[2] - kv[2] }
        for (k in d) if (k != "idle" && k != "machine" && k != "ctxt") printf "cpu_us_per_ticket%s_%s=%.0f\n", s, k, d[k] / hz * 1e6 / n
        printf "cpu_us_per_ticket%s_all=%.0f\n", s, d["machine"] / hz * 1e6 / n
        split(w, t, " "); printf "cpu_us_per_ticket%s_wrk=%.0f\n", s, (t[1] + t[2]) * 1e6 / n
        printf "machine_idle_share%s=%.2f\n", s, d["idle"] / (d["idle"] + d["machine"])
        printf "context_switches_per_ticket%s=%.2f\n", s, d["ctxt"] / n
    }' | sort
}
commits() { sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'hotline'"; }
# per_commit SUFFIX TICKETS COMMITS: tickets per PostgreSQL transaction (all
# of the database's commits count).
per_commit() { awk -v s="$1" -v n="$2" -v c="$3" 'BEGIN {printf "tickets_per_commit%s=%.1f\n", s, n / (c ? c : 1)}'; }
stored() { sql "SELECT count(*) FROM tickets"; }
# PostgreSQL's WAL so far: "bytes|full-page images".
wal() { sql "SELECT wal_bytes, wal_fpi FROM pg_stat_wal"; }
# wal_per_ticket SUFFIX WAL0 WAL1 TICKETS
wal_per_ticket() {
    awk -v a="$2" -v b="$3" -v n="$4" -v s="$1" 'BEGIN {
        split(a, x, "|"); split(b, y, "|"); if (n < 1) n = 1
        printf "wal_bytes_per_ticket%s=%.0f\nwal_fpi_per_ticket%s=%.2f\n", s, (y[1] - x[1]) / n, s, (y[2] - x[2]) / n
    }'
}
WRK=(env HL_TOKEN="$TOKEN" HL_BODIES="$T/bodies.jsonl" wrk -t 2 -c "$CONNS" -d "${SECS}s" --timeout 10s
    -s "$PWD/tests/bench/http.lua")

# (b) saturation (a short warm-up first)
HL_RUN=warm timeout 10 "${WRK[@]}" -d 3s "$U" >/dev/null 2>&1 || true
sleep 1 # the warm-up's last answers
before=$(stored)
commits0=$(commits)
wal0=$(wal)
cpu0=$(cpu_snapshot)
HL_RUN=sat /usr/bin/time -f "%U %S" -o "$T/wrk.time" "${WRK[@]}" "$U" >"$T/sat.out" 2>&1
cpu1=$(cpu_snapshot)
commits1=$(commits)
sleep 1
after_sat=$(stored)
wal1=$(wal)
RATE=$(sed -n 's/^rate_per_s=//p' "$T/sat.out")
echo "http_tickets_per_s=$RATE"
echo "http_p50_ms_at_saturation=$(sed -n 's/^p50_ms=//p' "$T/sat.out")"
echo "http_p99_ms_at_saturation=$(sed -n 's/^p99_ms=//p' "$T/sat.out")"
echo "http_non_201_at_saturation=$(sed -n 's/^non_2xx=//p' "$T/sat.out")"
echo "http_socket_errors_at_saturation=$(sed -n 's/^socket_errors=//p' "$T/sat.out")"
awk -v e="$RATE" -v r="$RAW" 'BEGIN {printf "http_ratio=%.3f\n", e / r}'
per_commit "" "$((after_sat - before))" "$((commits1 - commits0))"
cpu_per_ticket "" "$cpu0" "$cpu1" "$T/wrk.time" "$((after_sat - before))"
wal_per_ticket "" "$wal0" "$wal1" "$((after_sat - before))"

# (c) half of (b)'s rate: each connection pauses CONNS/(rate/2) on average.
# As in e2e.sh, (b)'s WAL is checkpointed first, so that its write-back does
# not land in this window; checkpoints that still happen in it are counted.
sql CHECKPOINT >/dev/null
c0=$(hl_bench_checkpoints)
rl0=$(wc -l <"$T/router.log")
hwal0=$(wal)
hcommits0=$(commits)
HALF_RATE=$((${RATE%.*} / 2))
DELAY=$(awk -v c="$HALF_CONNS" -v r="$HALF_RATE" 'BEGIN {printf "%.2f", c / r * 1000}')
durations() { curl -sf -H "Authorization: Bearer $SUPER" "$U/metrics" | grep '^hotline_gateway_request_duration_seconds_bucket'; }
durations >"$T/durations0" || true
hcpu0=$(cpu_snapshot)
HL_RUN=half HL_DELAY_MS=$DELAY HL_RATE=$HALF_RATE /usr/bin/time -f "%U %S" -o "$T/wrk_half.time" "${WRK[@]}" -t 1 -c "$HALF_CONNS" -d "${HALF_SECS}s" "$U" >"$T/half.out" 2>&1
hcpu1=$(cpu_snapshot)
durations >"$T/durations1" || true
cpu_per_ticket _at_half "$hcpu0" "$hcpu1" "$T/wrk_half.time" "$(sed -n 's/^requests=//p' "$T/half.out")"
echo "checkpoints_during_half=$(($(hl_bench_checkpoints) - c0))"
sleep 1
after_half=$(stored)
wal_per_ticket _at_half "$hwal0" "$(wal)" "$((after_half - after_sat))"
per_commit _at_half "$((after_half - after_sat))" "$(($(commits) - hcommits0))"
echo "half_target_per_s=$HALF_RATE"
echo "half_achieved_per_s=$(sed -n 's/^rate_per_s=//p' "$T/half.out")"
echo "p50_ms_at_half=$(sed -n 's/^p50_ms=//p' "$T/half.out")"
echo "p99_ms_at_half=$(sed -n 's/^p99_ms=//p' "$T/half.out")"
echo "max_ms_at_half=$(sed -n 's/^max_ms=//p' "$T/half.out")"
# The gateway's own p99 in (c), to the bucket (its /metrics histogram): the
# least bucket bound at or under which 99 % of its requests were answered.
# Above wrk's p99 by more than a bucket: the time is spent outside the gateway
# (in wrk or waiting for the CPU between the two).
paste -d' ' "$T/durations0" "$T/durations1" | awk '{
    le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); n++; bound[n] = le; cum[n] = $4 - $2
} END {
    if (!n) { print "gateway_p99_ms_at_half_le=?"; exit }
    for (i = 1; i <= n; i++) if (cum[i] >= 0.99 * cum[n]) break
    printf "gateway_p99_ms_at_half_le=%s\n", bound[i] == "+Inf" ? "inf" : bound[i] * 1000
}'
# The router's worst batch times in its stats lines of (c): waiting for a
# writer (the oldest intake arrived -> batch formed), PostgreSQL (formed ->
# committed) and Redis (committed -> stream writes answered).
# The first line logged in (c) covers mostly the 10 s before it: skipped.
tail -n +"$((rl0 + 1))" "$T/router.log" | awk '/ stats: / && seen++ {
    for (i = 1; i < NF; i++) {
        split($(i + 1), v, "/")
        if ($i == "wait_ms" && v[2] + 0 > w) w = v[2] + 0
        if ($i == "store_ms" && v[2] + 0 > s) s = v[2] + 0
        if ($i == "queue_ms" && v[2] + 0 > q) q = v[2] + 0
    }
} END {
    printf "router_wait_ms_worst_at_half=%.1f\nrouter_store_ms_worst_at_half=%.1f\n", w, s
    printf "router_queue_ms_worst_at_half=%.1f\n", q
}'

# Every 201 is a stored ticket, and nothing else is.
ok=$(($(sed -n 's/^requests=//p' "$T/sat.out") - $(sed -n 's/^non_2xx=//p' "$T/sat.out") +
    $(sed -n 's/^requests=//p' "$T/half.out") - $(sed -n 's/^non_2xx=//p' "$T/half.out")))
echo "answered_201=$ok"
echo "stored=$((after_half - before))"
echo "gateway_errors=$(grep -c ' E \| W ' "$T/gateway.log" || true)"
