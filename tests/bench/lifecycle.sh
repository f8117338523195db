#!/usr/bin/env bash
# tests/bench/lifecycle.sh - a large city's day of ticket lifecycles, compressed.
#
# Starts its own PostgreSQL (fsync and synchronous_commit on), Redis and
# router in a temporary folder, then measures in one run:
#  (a) raw: what action batches write in PostgreSQL (keys, locked reads,
#      updates, events; 1,000-ticket transactions on 2 connections), without
#      the router, in actions/s (tests/bench/lifecycle.c --raw);
#  (b) the lifecycle: N tickets (default 60,000) through dispatch, sign,
#      reply, review, callback and close, 5 % returned once and 3 % extended
#      once, through the router as fast as the answers come, in actions/s,
#      with the ratio to (a) and the action latency;
#  (c) the deadline watcher with 1,000,000 open deadlines (written straight
#      into PostgreSQL): time to build its index, resident memory, CPU while
#      it watches, and how fast it sends a burst of 10,000 due notices.
# Prints one key=value line per figure. Not a test: nothing is asserted.
#
# Usage: tests/bench/lifecycle.sh [-n TICKETS] [-d DEADLINES] [-i IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
source tests/bench/stack.sh

N=60000
D=1000000
IDLE=60
while getopts "n:d:i:" o; do
    case $o in
    n) N=$OPTARG ;;
    d) D=$OPTARG ;;
    i) IDLE=$OPTARG ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done

hl_bench_setup
ROUTER_PID= SLA_PID=
HL_BENCH_DAEMONS=(SLA_PID ROUTER_PID)

hl_bench_versions
echo "tickets=$N"

hl_bench_stores_up

# Every new ticket waits for a dispatcher: the office dispatches them all.
hl_write_conf "$T/hotline.conf" /dev/null log.level=warn router.min_confidence=1
"$B/router/hotline-router" --config "$T/hotline.conf" 2>"$T/router.log" &
ROUTER_PID=$!
hl_wait_port "$INTAKE_PORT" 10
sleep 1
LG=("$B/workers/hotline-loadgen" --config "$T/hotline.conf" -q -w 2000)
"${LG[@]}" -n "$N" --prefix life >/dev/null
"${LG[@]}" -n "$N" --prefix raw >/dev/null
sql "CHECKPOINT" >/dev/null

# (a) the raw limit: six rounds over N tickets, through the states of the path.
"$B/tests/bench/bench_lifecycle" -c "$T/hotline.conf" --raw --prefix raw --rounds 6 >"$T/raw.out"
cat "$T/raw.out"
RAW=$(grep '^raw_actions_per_s=' "$T/raw.out" | cut -d= -f2)
sql "CHECKPOINT" >/dev/null

# (b) the lifecycle through the router, with the CPU time each side used.
cpu_of() { # cpu_of PID...: user + system seconds
    local p t=0
    for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}'
}
PG_PIDS() { pgrep -d ' ' -u postgres postgres || true; }
r0=$(cpu_of "$ROUTER_PID"); p0=$(cpu_of $(PG_PIDS))
"$B/tests/bench/bench_lifecycle" -c "$T/hotline.conf" --prefix life --window 2000 >"$T/life.out" || true
r1=$(cpu_of "$ROUTER_PID"); p1=$(cpu_of $(PG_PIDS))
cat "$T/life.out"
awk -v a="$r0" -v b="$r1" -v c="$p0" -v d="$p1" 'BEGIN {printf "router_cpu_s=%.1f\npostgres_cpu_s=%.1f\n", b - a, d - c}'
LIFE=$(grep '^actions_per_s=' "$T/life.out" | cut -d= -f2)
awk -v l="$LIFE" -v r="$RAW" 'BEGIN { printf "lifecycle_ratio=%.3f\n", l / r }'
echo "closed=$(sql "SELECT count(*) FROM tickets t JOIN intake_keys k ON k.ticket_id = t.id WHERE k.key LIKE 'life-%' AND t.state = 'CLOSED'")"
echo "events_per_ticket=$(sql "SELECT round(count(*)::numeric / $N, 3) FROM ticket_events e JOIN intake_keys k ON k.ticket_id = e.ticket_id WHERE k.key LIKE 'life-%'")"
echo "duplicate_events=$(sql "SELECT count(*) FROM (SELECT 1 FROM ticket_events GROUP BY ticket_id, seq HAVING count(*) > 1) d")"

# (c) the watcher with D open deadlines: tickets in progress, each with its
# reply deadline running (working days, started an hour ago, due over the
# next 30 days), 10,000 of them urgent with a 24-hour deadline 18 hours gone
# (a warning due now).
sql "INSERT INTO tickets (id, created_at, ticket_no, state, version, channel, request_type, urgency, category,
        confidence, classifier, unit, region, body, received_at, reply_due, idempotency_key, dispatched_at,
        signed_at, contacted_at, reply_start)
     SELECT 900000000 + g, c, to_char(c AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || (900000000 + g)::text,
        'IN_PROGRESS', 3, 'phone', 'help', CASE WHEN g <= 10000 THEN 'urgent' ELSE 'normal' END, 'construction',
        0.9, 'bench', 'HOUSING', '990101001', 'bench', c,
        CASE WHEN g <= 10000 THEN now() + interval '6 hours'
             ELSE date_trunc('day', now()) + ((g % 30) + 1) * interval '1 day' - interval '1 ms' END,
        'bench-' || g, c, c, c,
        CASE WHEN g <= 10000 THEN now() - interval '18 hours' ELSE now() - interval '1 hour' END
     FROM generate_series(1, $D) g, LATERAL (SELECT now() - (g % 20) * interval '1 day' - interval '1 hour' AS c) x" >/dev/null
sql "VACUUM ANALYZE tickets" >/dev/null
echo "open_deadlines=$D"
"$B/workers/hotline-sla" --config "$T/hotline.conf" --set log.level=info --set sla.stats_ms=3600000 \
    --stats "$T/sla.stats" 2>"$T/sla.log" &
SLA_PID=$!
until grep -q 'watching' "$T/sla.log"; do
    kill -0 "$SLA_PID" 2>/dev/null || { cat "$T/sla.log"; hl_die "hotline-sla exited"; }
    sleep 0.02
done
t0=$(date +%s.%N)
echo "sla_index_build_ms=$(grep -o 'deadlines in [0-9]* ms' "$T/sla.log" | awk '{print $3}')"
echo "sla_deadlines_indexed=$(grep -o 'watching [0-9]*' "$T/sla.log" | awk '{print $2}')"
# The burst: 10,000 warnings due now, through the router into PostgreSQL.
for _ in $(seq 1 1500); do
    [ "$(sql "SELECT count(*) FROM ticket_events WHERE ticket_id > 900000000 AND kind = 'notify'")" -ge 10000 ] && break
    sleep 0.2
done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "sla_burst_10k_notices_s=%.2f\nsla_notices_per_s=%.0f\n", b - a, 10000 / (b - a) }'
echo "sla_rss_mib=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$SLA_PID/status)"
echo "sla_hwm_mib=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' /proc/$SLA_PID/status)"
# CPU while watching: clock ticks of user + system time over IDLE seconds.
ticks() { awk '{print $14 + $15}' /proc/$SLA_PID/stat; }
c0=$(ticks)
sleep "$IDLE"
c1=$(ticks)
awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v s="$IDLE" \
    'BEGIN { printf "sla_cpu_while_watching_pct=%.2f\n", 100 * (b - a) / hz / s }'
hl_bench_stop SLA_PID
sed 's/^/sla_final_/' "$T/sla.stats" | grep -E 'deadlines|index_kib|warnings|refused|stale'
echo "sla_duplicate_notices=$(sql "SELECT count(*) FROM (SELECT 1 FROM ticket_events WHERE kind = 'notify' GROUP BY ticket_id, payload->>'clock', payload->>'due', payload->>'notice', payload->>'level' HAVING count(*) > 1) d")"
