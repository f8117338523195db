#!/usr/bin/env bash
# Live figures = exact figures after a randomized run: N tickets (50,000 by
# default; HL_FIGURES_N) through the whole lifecycle on seeded random paths
# (tests/bench/lifecycle.c --mixed: returns, extensions, contacts,
# supervision, ratings at random or declined, reopens, merges, answers at
# first contact, anonymous callers), every action through the router as
# fast as it answers. Then the router's cells in Redis must equal the event
# log's, cell by cell (hotline-figures check) and through /api/v1/stats;
# after Redis is flushed, hotline-figures repair must restore the same
# figures.
source "$(dirname "$0")/gateway_lib.sh"

N=${HL_FIGURES_N:-50000}
gw_start router.min_confidence=1 gateway.rate_per_s=1000 gateway.rate_burst=1000
SUPER=$(gw_token supervisor)
FIG="$HL_BUILD/workers/hotline-figures --config $T/hotline.conf"

echo "# $N tickets, every one waiting for the office"
hl_loadgen -q -w 2000 -n "$N" --prefix mix >"$T/loadgen.out"
check "all taken in" "$(kv "$T/loadgen.out" acked)" "$N"
rc=0
"$HL_BUILD/tests/bench/bench_lifecycle" -c "$T/hotline.conf" --prefix mix --window 1000 --mixed 20261122 \
    --returns 0.05 --extensions 0.04 >"$T/drive.out" 2>"$T/drive.err" || rc=$?
cat "$T/drive.out" "$T/drive.err"
check "every path driven to its end, nothing refused" "$rc/$(kv "$T/drive.out" refused)" 0/0
for k in direct merged reopened supervised returned extended; do
    check_ge "some $k" "$(kv "$T/drive.out" "$k")" $((N / 100))
done
check "every ticket finished" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE state IN ('CLOSED', 'CLOSED_DIRECT')")" "$N"
check "the duplicates closed with their parents" \
    "$(hl_sql "SELECT count(*) FROM tickets WHERE parent_id IS NOT NULL AND state = 'CLOSED'")" \
    "$(kv "$T/drive.out" merged)"
check "the router counted everything (none uncounted)" \
    "$(grep -c 'uncounted [1-9]' "$T/router.log" || true)" 0

check "the marks the router wrote on each event agree with the log" \
    "$(hl_sql "SELECT count(*) FROM hl_metric_marks_check(now() - interval '1 day', now() + interval '1 day')")" 0
check "... and there are marks of every kind to check (returned 1, reopened 2, supervised 4, merged 8)" \
    "$(hl_sql "SELECT bit_or(marks) FROM ticket_events")" 15

echo "# live = exact"
rc=0; $FIG check >"$T/check.out" 2>&1 || rc=$?
check "hotline-figures check: every cell equal" "$rc/$(tail -1 "$T/check.out")" "0/days=31 cells_different=0"
req GET /api/v1/stats "$SUPER"; check "live figures" "$ST" 200
js 'd["totals"]' >"$T/live.json"
js 'd["by_unit"]' >"$T/live_units.json"
check "... of every ticket" "$(js 'd["totals"]["accepted"]')" "$N"
req GET "/api/v1/stats?source=exact&from=$(js 'd["from"]' | sed 's/+/%2B/')&to=$(js 'd["to"]' | sed 's/+/%2B/')" "$SUPER"
check "exact figures" "$ST" 200
same() { [ "$1" = "$(cat "$2")" ] && echo same || { echo "$1"; cat "$2"; }; }
check "live totals = exact totals" "$(same "$(js 'd["totals"]')" "$T/live.json")" same
check "live per unit = exact per unit" "$(same "$(js 'd["by_unit"]')" "$T/live_units.json")" same
check "the rates are all there" "$(js 'sum(1 for k, v in d["totals"].items() if k.endswith(("_rate", "_accuracy")) and v is not None)')" \
    "$(hl_sql "SELECT count(*) FROM metric_rates")"

echo "# Redis flushed, then repaired from PostgreSQL"
hl_redis FLUSHALL >/dev/null
req GET /api/v1/stats "$SUPER"
check "after the flush: nothing live" "$ST/$(js 'd["totals"]["accepted"]')" 200/0
rc=0; $FIG check >/dev/null 2>&1 || rc=$?
check "check finds the loss" "$rc" 1
rc=0; $FIG repair >"$T/repair.out" 2>&1 || rc=$?
check "repair" "$rc" 0
rc=0; $FIG check >"$T/check.out" 2>&1 || rc=$?
check "check after the repair" "$rc/$(tail -1 "$T/check.out")" "0/days=31 cells_different=0"
req GET /api/v1/stats "$SUPER"
check "the same live figures again" "$(same "$(js 'd["totals"]')" "$T/live.json")" same
check "... per unit" "$(same "$(js 'd["by_unit"]')" "$T/live_units.json")" same
gw_stop
