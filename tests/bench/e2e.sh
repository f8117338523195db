#!/usr/bin/env bash
# tests/bench/e2e.sh - end-to-end durable intake against the raw PostgreSQL limit.
#
# Starts its own PostgreSQL (fsync and synchronous_commit on), Redis and router
# in a temporary folder, then measures in one run:
#  (a) raw: the rows N intakes make (tickets, events, PII vault), COPY'd into
#      PostgreSQL alone in 1,000-ticket transactions, 1 and 2 connections, best
#      rate in tickets/s (tests/bench/pgraw.c);
#  (b) end to end: hotline-loadgen -> router -> COMMIT -> XADD -> ack at
#      saturation, with real citizen messages when ../shared/data is present;
#  (c) latency at 10 % of (a)'s rate.
# Both loadgen runs verify every acked ticket in PostgreSQL and its stream, and
# hotline-figures checks the live figures the router counted against the log.
# Prints one key=value line per figure. Not a test: nothing is asserted.
#
# Usage: tests/bench/e2e.sh [-n TICKETS] [-s SECONDS_AT_10PCT] [-w WINDOW]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
source tests/bench/stack.sh

N=200000
SECS=15
WINDOW=4000
while getopts "n:s:w:" o; do
    case $o in
    n) N=$OPTARG ;;
    s) SECS=$OPTARG ;;
    w) WINDOW=$OPTARG ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done

hl_bench_setup
ROUTER_PID=
HL_BENCH_DAEMONS=(ROUTER_PID)

DATA=$PWD/../shared/data/citizen_messages_train.csv
if [ -r "$DATA" ]; then CSV=(--csv "$DATA"); RAWCSV=(-f "$DATA"); data=real; else CSV=(); RAWCSV=(); data=synthetic; fi

hl_bench_versions
echo "data=$data"
echo "tickets=$N"

hl_bench_stores_up

# (a) the raw limit
"$B/tests/bench/bench_pgraw" -d "$CONNINFO" "${RAWCSV[@]}" -n "$N" -c 2 >"$T/raw.out" 2>"$T/raw.err"
cat "$T/raw.out"
RAW=$(grep '^raw_pg_rows_per_s=' "$T/raw.out" | cut -d= -f2)
RAW_ALL=$(grep '^raw_pg_all_rows_per_s=' "$T/raw.out" | cut -d= -f2)

hl_write_conf "$T/hotline.conf" /dev/null log.level=warn "classify.model=\"$PWD/deploy/models/hotline.model\""
"$B/router/hotline-router" --config "$T/hotline.conf" 2>"$T/router.log" &
ROUTER_PID=$!
hl_wait_port "$INTAKE_PORT" 10
sleep 1
LG=("$B/workers/hotline-loadgen" --config "$T/hotline.conf" -q --verify "${CSV[@]}")

# (b) saturation
"${LG[@]}" -n "$N" -w "$WINDOW" --prefix sat >"$T/sat.out" || true
E2E=$(grep '^rate_per_s=' "$T/sat.out" | cut -d= -f2)
echo "e2e_tickets_per_s=$E2E"
echo "e2e_p50_ms_at_saturation=$(grep '^p50_ms=' "$T/sat.out" | cut -d= -f2)"
awk -v e="$E2E" -v r="$RAW" -v a="$RAW_ALL" 'BEGIN {
    printf "e2e_ratio=%.3f\ne2e_ratio_vs_all_rows=%.3f\n", e / r, e / a }'

# (c) latency at 10 % of the raw rate. The WAL of the phases above is
# checkpointed first, so that its write-back does not land in this window;
# checkpoints that still happen during it are counted.
RATE=$(awk -v r="$RAW" 'BEGIN {printf "%d", r / 10}')
COUNT=$((RATE * SECS))
sql CHECKPOINT >/dev/null
c0=$(hl_bench_checkpoints)
"${LG[@]}" -n "$COUNT" -r "$RATE" -w 100000 --prefix lat >"$T/lat.out" || true
echo "checkpoints_during_10pct=$(($(hl_bench_checkpoints) - c0))"
echo "rate_at_10pct=$RATE"
echo "achieved_at_10pct=$(grep '^rate_per_s=' "$T/lat.out" | cut -d= -f2)"
echo "p50_ms_at_10pct=$(grep '^p50_ms=' "$T/lat.out" | cut -d= -f2)"
echo "p99_ms_at_10pct=$(grep '^p99_ms=' "$T/lat.out" | cut -d= -f2)"
echo "p999_ms_at_10pct=$(grep '^p999_ms=' "$T/lat.out" | cut -d= -f2)"

sum() { awk -F= -v k="$1" '$1 == k {s += $2} END {print s + 0}' "$T/sat.out" "$T/lat.out"; }
echo "acked=$(sum acked)"
echo "lost=$(sum lost)"
echo "undelivered=$(sum undelivered)"
echo "mismatched=$(sum mismatched)"
echo "duplicated=$(sum duplicated)"
# The live figures the router counted in Redis for every intake (three days
# around today, whatever the zone) against the event log.
FIG=$("$B/workers/hotline-figures" --config "$T/hotline.conf" check \
    --from "$(date -d yesterday +%F)" --to "$(date -d tomorrow +%F)" 2>&1 | tail -1 || true)
echo "figures_cells_different=${FIG##*=}"
