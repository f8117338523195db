#!/usr/bin/env bash
# tests/bench/metrics.sh - the figures for a large city's month, and what
# counting them live costs the router.
#
# Starts its own PostgreSQL (fsync and synchronous_commit on), Redis, router
# and gateway in a temporary folder, then measures in one run:
#  (a) counting: the router's throughput with live counting on and off
#      (router.live_figures), alternating, P pairs of rounds, best of each:
#      N intakes at saturation (hotline-loadgen), then the same tickets
#      through their whole lifecycle on seeded random paths
#      (bench_lifecycle --mixed); counting_ratio = the lower of the two
#      on/off ratios;
#  (b) a month of a large city written straight into PostgreSQL: T tickets
#      (default 2,000,000) in October 2026 with about 7.5 events each (15 M),
#      over 16 districts x 12 streets, the demo categories and units, six
#      channels; the live cells rebuilt from it (hotline-figures repair,
#      timed), then GET /api/v1/stats for the month, a unit's month, the
#      month of a category, a street, a channel (and of a category and a
#      street), a day, from Redis (live: the day's sums per counter|unit,
#      or per counter, unit and the one dimension filtered, kept at the
#      first read: timed alone; with two, every cell) and from PostgreSQL
#      (exact: the days sealed by hotline-figures seal, timed, after the
#      month counted from the log alone in SQL), each the median of R runs
#      (-t 0: counting only).
# Prints one key=value line per figure. Not a test: nothing is asserted.
#
# Usage: tests/bench/metrics.sh [-n INTAKES] [-p PAIRS] [-t TICKETS] [-r RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
source tests/bench/stack.sh

N=40000
TICKETS=2000000
RUNS=5
PAIRS=2
while getopts "n:p:t:r:" o; do
    case $o in
    n) N=$OPTARG ;;
    p) PAIRS=$OPTARG ;;
    t) TICKETS=$OPTARG ;;
    r) RUNS=$OPTARG ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done

hl_bench_setup
ROUTER_PID= GW_PID=
HL_BENCH_DAEMONS=(GW_PID ROUTER_PID)

hl_bench_versions

hl_bench_stores_up
# Every new ticket waits for the office, which dispatches it (bench_lifecycle).
hl_write_conf "$T/hotline.conf" /dev/null log.level=warn router.min_confidence=1 \
    "gateway.listen=127.0.0.1:$HTTP_PORT" gateway.rate_per_s=100000 gateway.rate_burst=100000

start_router() { # start_router LIVE_FIGURES
    "$B/router/hotline-router" --config "$T/hotline.conf" --set "router.live_figures=$1" 2>>"$T/router.log" &
    ROUTER_PID=$!
    hl_wait_port "$INTAKE_PORT" 10
    sleep 1
}

# (a) counting on and off, alternating.
echo "counting_intakes=$N"
declare -A BEST_IN=([0]=0 [1]=0) BEST_ACT=([0]=0 [1]=0)
round=0
for live in $(for _ in $(seq 1 "$PAIRS"); do echo 1 0; done); do
    round=$((round + 1))
    start_router "$live"
    "$B/workers/hotline-loadgen" --config "$T/hotline.conf" -q -w 4000 -n "$N" --prefix "c$round" >"$T/in.out"
    "$B/tests/bench/bench_lifecycle" -c "$T/hotline.conf" --prefix "c$round" --window 2000 --mixed "$round" \
        >"$T/act.out" 2>"$T/act.err" || { cat "$T/act.err"; hl_die "bench_lifecycle failed"; }
    hl_bench_stop ROUTER_PID
    in=$(grep '^rate_per_s=' "$T/in.out" | cut -d= -f2 | cut -d. -f1)
    act=$(grep '^actions_per_s=' "$T/act.out" | cut -d= -f2)
    echo "round$round: live_figures=$live intakes_per_s=$in actions_per_s=$act"
    [ "$in" -gt "${BEST_IN[$live]}" ] && BEST_IN[$live]=$in
    [ "$act" -gt "${BEST_ACT[$live]}" ] && BEST_ACT[$live]=$act
    sql "CHECKPOINT" >/dev/null
done
echo "intakes_per_s_counting=${BEST_IN[1]}"
echo "intakes_per_s_not_counting=${BEST_IN[0]}"
echo "actions_per_s_counting=${BEST_ACT[1]}"
echo "actions_per_s_not_counting=${BEST_ACT[0]}"
awk -v a="${BEST_IN[1]}" -v b="${BEST_IN[0]}" -v c="${BEST_ACT[1]}" -v d="${BEST_ACT[0]}" 'BEGIN {
    x = a / b; y = c / d
    printf "intake_counting_ratio=%.3f\nlifecycle_counting_ratio=%.3f\ncounting_ratio=%.3f\n", x, y, x < y ? x : y }'

# (b) a month: tickets and their events as the router writes them.
[ "$TICKETS" -gt 0 ] || exit 0
echo "month_tickets=$TICKETS"
t0=$(date +%s.%N)
sql "
CREATE TEMP TABLE dims AS
SELECT array_agg(code ORDER BY code) AS cats FROM categories;
CREATE TEMP TABLE us AS
SELECT array_agg(code ORDER BY code) AS units FROM units WHERE kind <> 'office';
INSERT INTO tickets (id, created_at, ticket_no, state, version, channel, request_type, urgency, category,
                     confidence, classifier, unit, region, body, received_at, sign_due, contact_due, reply_due,
                     idempotency_key, anonymous)
SELECT 500000000000 + g * 1000, c,
       to_char(c AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || (500000000000 + g * 1000)::text,
       'CLOSED', 8, (ARRAY['phone','phone','phone','phone','web','app','wechat','wechat','sms','mail'])[1 + h % 10],
       'complaint', 'normal', cat, 0.9, 'bench', (SELECT units[1 + abs(hashtext(cat)) % cardinality(units)] FROM us),
       '9901' || lpad((1 + (h >> 4) % 16)::text, 2, '0') || lpad((1 + (h >> 8) % 12)::text, 3, '0'),
       'bench', c, c + interval '2 hours', c + interval '4 hours', c + interval '5 days', 'month-' || g, h % 20 = 0
FROM generate_series(1, $TICKETS) g,
     LATERAL (SELECT abs(hashint8(g)) AS h) x,
     LATERAL (SELECT timestamptz '2026-10-01 00:00+08' + ((g - 1)::double precision / $TICKETS) * interval '31 days' AS c,
                     (SELECT cats[1 + (x.h >> 12) % cardinality(cats)] FROM dims) AS cat) y;
" >/dev/null
# The path of each ticket: intake, sign, (contact), (return, approval,
# re-dispatch), (extension), reply, review, callback, close, (notices).
sql "
INSERT INTO ticket_events (ticket_id, seq, at, kind, from_state, to_state, actor_role, unit, sign_due, contact_due,
                           reply_due, callback_due, payload, marks)
SELECT t.id, s.seq, t.created_at + s.after, s.kind, NULL, s.to_state, 'system', t.unit, t.sign_due, t.contact_due,
       t.reply_due, t.created_at + interval '7 days', s.payload, CASE WHEN (x.h >> 3) % 10 = 0 AND s.seq >= 5 THEN 1 ELSE 0 END
FROM tickets t
CROSS JOIN LATERAL (SELECT abs(hashint8(t.id)) AS h) x
CROSS JOIN LATERAL (VALUES
    (1, 'intake', 'DISPATCHED', interval '0', NULL::jsonb, true),
    (2, 'sign', 'SIGNED', CASE WHEN x.h % 10 = 0 THEN interval '3 hours' ELSE interval '1 hour' END, NULL, true),
    (3, 'contact', 'IN_PROGRESS', interval '3 hours', '{\"method\": \"phone\"}', x.h % 2 = 0),
    (4, 'return', 'RETURN_REQUESTED', interval '90 minutes', NULL, (x.h >> 3) % 10 = 0),
    (5, 'approve_return', 'PENDING_DISPATCH', interval '100 minutes', NULL, (x.h >> 3) % 10 = 0),
    (6, 'dispatch', 'DISPATCHED', interval '110 minutes', NULL, (x.h >> 3) % 10 = 0),
    (7, 'extend', 'EXTENSION_REQUESTED', interval '1 day', NULL, (x.h >> 6) % 20 = 0),
    (8, 'approve_extension', 'IN_PROGRESS', interval '25 hours', NULL, (x.h >> 6) % 20 = 0),
    (9, 'notify', 'IN_PROGRESS', interval '3 days 18 hours', '{\"notice\": \"warning\", \"clock\": \"reply\"}',
     (x.h >> 10) % 5 < 2),
    (10, 'reply', 'REPLIED', CASE WHEN (x.h >> 13) % 50 = 0 THEN interval '6 days' ELSE interval '2 days' END, NULL,
     true),
    (11, 'review_accept', 'CALLBACK', interval '3 days', NULL, true),
    (12, 'callback', 'CALLBACK', interval '4 days',
     jsonb_build_object('outcome', 'rated', 'resolution', CASE WHEN (x.h >> 16) % 10 < 9 THEN 'resolved' ELSE 'unresolved' END,
                        'satisfaction', (ARRAY['satisfied','satisfied','satisfied','basically','dissatisfied'])[1 + (x.h >> 20) % 5]),
     NOT t.anonymous),
    (13, 'close', 'CLOSED', interval '4 days 1 hour', NULL, true)
) s (seq, kind, to_state, after, payload, present)
WHERE s.present;
" >/dev/null
sql "VACUUM ANALYZE tickets" >/dev/null
sql "VACUUM ANALYZE ticket_events" >/dev/null
t1=$(date +%s.%N)
echo "month_events=$(sql "SELECT count(*) FROM ticket_events WHERE ticket_id >= 500000000000")"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "month_write_s=%.1f\n", b - a }'

FIG=("$B/workers/hotline-figures" --config "$T/hotline.conf")
t0=$(date +%s.%N)
"${FIG[@]}" repair --from 2026-10-01 --to 2026-11-07 >"$T/repair.out"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "live_rebuild_s=%.1f\n", b - a }'
echo "live_cells_per_day=$(redis-cli -p "$REDIS_PORT" HLEN hl:m:2026-10-15)"
echo "live_unit_sums_per_day=$(redis-cli -p "$REDIS_PORT" HLEN hl:mu:2026-10-15)"
# The month counted from the event log alone (no sealed days), in SQL.
t0=$(date +%s.%N)
sql "SELECT count(*) FROM hl_metric_counts('2026-10-01 00:00+08', '2026-11-01 00:00+08', NULL, NULL, NULL, NULL)" >/dev/null
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "exact_month_unsealed_sql_s=%.1f\n", b - a }'
t0=$(date +%s.%N)
"${FIG[@]}" seal --from 2026-10-01 --to 2026-11-07 >"$T/seal.out"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "seal_s=%.1f\n", b - a }'
echo "sealed_rows_per_day=$(sql "SELECT count(*) FROM metric_days WHERE day = '2026-10-15'")"
echo "redis_used_mib=$(redis-cli -p "$REDIS_PORT" INFO memory | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}')"

start_router 1
"$B/workers/hotline-gateway" --config "$T/hotline.conf" 2>"$T/gateway.log" &
GW_PID=$!
hl_wait_port "$HTTP_PORT" 10
TOKEN=$("$B/workers/hotline-token" --config "$T/hotline.conf" create --role supervisor)
U="http://127.0.0.1:$HTTP_PORT/api/v1/stats"
timeit() { # timeit NAME QUERY: the median of RUNS requests, in ms
    local name=$1 q=$2 i
    for i in $(seq 1 "$RUNS"); do
        curl -s -o "$T/stats.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$U?$q"
    done >"$T/times"
    grep -qv '^200 ' "$T/times" && { cat "$T/times" "$T/stats.json"; hl_die "$name: not 200"; }
    sort -k2 -n "$T/times" | awk -v n="$name" '{ t[NR] = $2 } END { printf "%s_ms=%.1f\n", n, t[int((NR + 1) / 2)] * 1000 }'
}
M="from=2026-10-01&to=2026-11-01"
timeit stats_month_live "$M"
echo "month_accepted_live=$(python3 -c "import json; print(json.load(open('$T/stats.json'))['totals']['accepted'])")"
BIG=$(sql "SELECT unit FROM tickets WHERE id >= 500000000000 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
echo "month_unit=$BIG"
timeit stats_month_unit_live "$M&unit=$BIG"
# A month filtered by one category, street or channel: the first read keeps
# each day's sums per counter, unit and that dimension (hl:md[crh]), the
# next ones read those.
once() { # once NAME QUERY: one request, in ms
    curl -s -o "$T/stats.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$U?$2" >"$T/times"
    grep -q '^200 ' "$T/times" || { cat "$T/times" "$T/stats.json"; hl_die "$1: not 200"; }
    awk -v n="$1" '{ printf "%s_ms=%.1f\n", n, $2 * 1000 }' "$T/times"
}
STREET=990105007
once stats_month_category_live_first "$M&category=construction"
timeit stats_month_category_live "$M&category=construction"
echo "month_category_accepted_live=$(python3 -c "import json; print(json.load(open('$T/stats.json'))['totals']['accepted'])")"
echo "live_sums_per_day=$(for k in c r h; do redis-cli -p "$REDIS_PORT" HLEN "hl:md$k:2026-10-15"; done | paste -sd/)"
timeit stats_month_street_live "$M&region=$STREET"
timeit stats_month_channel_live "$M&channel=wechat"
timeit stats_month_category_street_live "$M&category=construction&region=$STREET"
timeit stats_day_live "from=2026-10-15&to=2026-10-16"
timeit stats_month_exact "$M&source=exact"
echo "month_accepted_exact=$(python3 -c "import json; print(json.load(open('$T/stats.json'))['totals']['accepted'])")"
timeit stats_month_unit_exact "$M&unit=$BIG&source=exact"
timeit stats_month_category_exact "$M&category=construction&source=exact"
echo "month_category_accepted_exact=$(python3 -c "import json; print(json.load(open('$T/stats.json'))['totals']['accepted'])")"
timeit stats_month_street_exact "$M&region=$STREET&source=exact"
timeit stats_month_channel_exact "$M&channel=wechat&source=exact"
timeit stats_day_exact "from=2026-10-15&to=2026-10-16&source=exact"
