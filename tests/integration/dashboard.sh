#!/usr/bin/env bash
# What the supervisors' dashboard and reports are made of, against the real
# stack: the figures per day (GET /api/v1/stats by_day; live = exact, past
# days rebuilt by hotline-figures repair), the red and yellow lights (GET
# /api/v1/deadlines), hot spots (GET /api/v1/hotspots: a spike of one
# category x region and a cluster of alike open requests), the daily and
# monthly report (Markdown and HTML: the exact figures, nothing personal),
# each role's scope and bad arguments; the hot spots of the real messages of
# ../shared/data/hot_issues.csv (skipped without it); hot spots served again
# within hotspots.cache_s, a refresh made once for asks at once, first asks at
# once made two at a time (gateway.report_workers), the others waiting their turn
# and taking what was made meanwhile, on no more connections (and answered 503
# at once when the gateway stops); then the dashboard
# page in headless Chromium (tests/browser/dashboard_test.py): the numbers it
# shows equal the API's, it refreshes by itself; a screenshot kept in
# <build>/test-artifacts/.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.rate_per_s=1000 gateway.rate_burst=1000 hotspots.cluster_scan=5000 gateway.report_timeout_ms=2000 \
    hotspots.cache_s=3 gateway.report_workers=2
AGENT=$(gw_token agent)
OFFICE=$(gw_token office)
SUPER=$(gw_token supervisor)
ticket() {
    post_json /api/v1/tickets "$AGENT" "$1"
    [ "$ST" = 201 ] || { cat "$T/r.body"; hl_die "ticket not created ($ST)"; }
    TK=$(js 'd["ticket"]') TU=$(js 'd["unit"]')
}
act() {
    post_json "/api/v1/tickets/$1/actions" "$2" "$3"
    [ "$ST" = 200 ] || { cat "$T/r.body"; hl_die "$3 on $1: $ST"; }
}
TODAY=$(hl_sql "SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
DAY() { hl_sql "SELECT ((now() AT TIME ZONE 'Asia/Shanghai')::date - $1)::text"; }

echo "# a day's requests: six alike from one district, three others, one through its lifecycle"
SPIKE=()
for i in 1 2 3 4 5 6; do
    ticket "{\"title\":\"锦绣花园小区门口道路积水\",\"body\":\"锦绣花园小区门口的道路积水严重，下雨以后车辆行人无法通行，请尽快疏通排水（第${i}次反映）\",\"requester\":{\"name\":\"王五\",\"phone\":\"1390000010$i\"},\"location\":{\"region\":\"990101\"}}"
    SPIKE+=("$TK")
done
SU=$TU
ticket '{"title":"公交站牌损坏","body":"人民路公交站的站牌被撞坏了，看不清线路","location":{"region":"990102"}}'
ticket '{"title":"噪音扰民","body":"楼下商铺每天晚上放音乐到十二点，严重影响休息","location":{"region":"990102"}}'
ticket '{"title":"路灯不亮","body":"滨江路东段的路灯坏了一个星期，晚上很黑","requester":{"name":"张三","phone":"13900000001"},"location":{"region":"990102"}}'
T1=$TK U1=$TU
UT1=$(gw_token unit --unit "$U1")
act "$T1" "$UT1" '{"action":"sign"}'
act "$T1" "$UT1" '{"action":"reply","reason_code":"resolved","text":"已修复"}'
act "$T1" "$OFFICE" '{"action":"review_accept"}'
act "$T1" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"resolved","satisfaction":"satisfied"}'
act "$T1" "$OFFICE" '{"action":"close"}'

echo "# earlier days, written into the log (copies of the closed ticket) and rebuilt into Redis"
hl_sql "
CREATE TEMP TABLE past AS SELECT k, date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
    - make_interval(days => 1 + k % 3) + interval '9 hours' AS at0 FROM generate_series(1, 6) k;
INSERT INTO tickets SELECT (jsonb_populate_record(t, jsonb_build_object(
    'id', 81000000 + k * 1000, 'ticket_no', '20260101' || lpad((81000000 + k * 1000)::text, 8, '0'),
    'idempotency_key', 'dashboard-' || k, 'state', 'CLOSED', 'created_at', at0, 'received_at', at0))).*
FROM tickets t, past WHERE t.ticket_no = '$T1';
INSERT INTO ticket_events (ticket_id, seq, at, kind, from_state, to_state, actor_role, unit, payload)
SELECT 81000000 + k * 1000, s, at0 + make_interval(hours => s - 1), kind, NULL, st, 'system', '$U1', NULL
FROM past, (VALUES (1, 'intake', 'DISPATCHED'), (2, 'sign', 'SIGNED'), (3, 'close', 'CLOSED')) e (s, kind, st)
WHERE s < 3 OR k % 2 = 0
" >/dev/null
FIG="$HL_BUILD/workers/hotline-figures --config $T/hotline.conf"
rc=0; $FIG repair --from "$(DAY 4)" >/dev/null 2>&1 || rc=$?
check "repair of the earlier days" "$rc" 0

echo "# figures per day"
FROM=$(DAY 4)
TOMORROW=$(DAY -1)
req GET "/api/v1/stats?from=$FROM" "$OFFICE"
check "live: one entry per local day, today last" "$ST/$(js 'len(d["by_day"])')/$(js 'd["by_day"][-1]["day"]')" "200/5/$TODAY"
check "accepted per day" "$(js '[x["accepted"] for x in d["by_day"]]')" "[0, 2, 2, 2, 9]"
check "finished per day (closed copies: k even)" "$(js '[x["finished"] for x in d["by_day"]]')" "[0, 1, 1, 1, 1]"
check "the days add up to the totals" "$(js 'sum(x["accepted"] for x in d["by_day"]) == d["totals"]["accepted"] and sum(x["finished"] for x in d["by_day"]) == d["totals"]["finished"]')" True
check "a day's rates" "$(js 'd["by_day"][1]["completion_rate"]')/$(js 'd["by_day"][0]["completion_rate"]')" 0.5/None
js 'd["by_day"]' >"$T/live_days.json"
js 'd["counters"]["accepted"]["label"]' >"$T/label.txt"
check "counters carry their labels" "$(cat "$T/label.txt")" 受理
req GET "/api/v1/stats?from=$FROM&to=$TOMORROW&source=exact" "$OFFICE"
check "exact per day = live per day" "$(js 'd["by_day"]')" "$(cat "$T/live_days.json")"
req GET "/api/v1/stats?from=$FROM&unit=$U1" "$UT1"
check "a unit's own days" "$ST/$(js '[x["accepted"] for x in d["by_day"]]')" "200/[0, 2, 2, 2, 1]"

echo "# red and yellow lights"
RED=${SPIKE[0]} YELLOW=${SPIKE[1]}
hl_sql "UPDATE tickets SET reply_due = now() - interval '90 minutes' WHERE ticket_no = '$RED'" >/dev/null
hl_sql "UPDATE tickets SET sla_progress = 1 WHERE ticket_no = '$YELLOW'" >/dev/null
# A closed ticket past its deadline, and a stopped clock's old notice: no light.
hl_sql "UPDATE tickets SET reply_due = now() - interval '1 day', sla_progress = 2 WHERE ticket_no = '$T1'" >/dev/null
req GET /api/v1/deadlines "$SUPER"
check "one red, one yellow" "$ST/$(js 'd["red"]')/$(js 'd["yellow"]')" 200/1/1
check "red first: overdue on the reply deadline" \
    "$(js '[(t["ticket"], t["light"], t["clock"], t["notice"]) for t in d["tickets"]]')" \
    "[[\"$RED\", \"red\", \"reply\", null], [\"$YELLOW\", \"yellow\", \"sign\", \"warning\"]]"
check "how long overdue" "$(js '89 <= d["tickets"][0]["minutes"] <= 91')" True
check "unit names, categories, titles" "$(js 'd["tickets"][0]["unit_name"] != "" and d["tickets"][0]["title"] == "锦绣花园小区门口道路积水"')" True
req GET "/api/v1/deadlines?light=yellow" "$OFFICE"
check "yellow only" "$(js '[t["ticket"] for t in d["tickets"]]')/$(js 'd["red"]')" "[\"$YELLOW\"]/1"
SUT=$(gw_token unit --unit "$SU")
req GET /api/v1/deadlines "$SUT"; check "their unit sees them" "$ST/$(js 'd["red"]')" 200/1
OTHER=$(hl_sql "SELECT code FROM units WHERE code <> '$SU' AND kind = 'department' ORDER BY code LIMIT 1")
OT=$(gw_token unit --unit "$OTHER")
req GET /api/v1/deadlines "$OT"; check "another unit does not" "$ST/$(js 'd["red"]')/$(js 'd["tickets"]')" "200/0/[]"
req GET "/api/v1/deadlines?unit=$SU" "$OT"; check "nor by asking: 403" "$ST" 403
req GET /api/v1/deadlines "$AGENT"; check "agents: 403" "$ST" 403
req GET "/api/v1/deadlines?light=green" "$OFFICE"; check "light=green: 400" "$ST" 400
req GET "/api/v1/deadlines?limit=0" "$OFFICE"; check "limit=0: 400" "$ST" 400
req POST /api/v1/deadlines "$OFFICE"; check "POST: 405" "$ST" 405

echo "# a read PostgreSQL does not finish within gateway.report_timeout_ms (2 s): 503, then served again"
hl_sql "BEGIN; LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;" >/dev/null &
LOCKER=$!
hl_wait 5 '[ "$(hl_sql "SELECT count(*) FROM pg_locks WHERE relation = '"'tickets'::regclass"' AND granted AND mode = '"'AccessExclusiveLock'"'")" = 1 ]' ||
    echo "# (the lock was not seen taken)"
req GET /api/v1/deadlines "$SUPER"
check "canceled at the statement timeout: 503 unavailable" "$ST/$(js 'd["error"]')" 503/unavailable
check "with Retry-After" "$(grep -ci '^retry-after: 1' "$T/r.head")" 1
check "logged as a warning, not an error" \
    "$(grep -c ' W deadlines:' "$T/gateway.log")/$(grep -c ' E deadlines:' "$T/gateway.log")" 1/0
wait "$LOCKER"
req GET /api/v1/deadlines "$SUPER"
check "served again once the lock is gone" "$ST/$(js 'd["red"]')" 200/1

echo "# hot spots"
# Asked twice at once: the second, within hotspots.cache_s (3 s here) of the
# first, gets the answer made for the first (checked below; each js call
# starts a Python, seconds in all on a busy machine).
t0=$(date +%s.%N)
req GET /api/v1/hotspots "$SUPER"; cp "$T/r.body" "$T/hot1.body"; ST1=$ST
req GET /api/v1/hotspots "$SUPER"; cp "$T/r.body" "$T/hot2.body"; ST2=$ST
again=$(python3 -c "import time; print('%.2f' % (time.time() - $t0))")
cp "$T/hot1.body" "$T/r.body"; ST=$ST1
check "a spike: six in one category and district, usually none" \
    "$ST/$(js 'd["spikes"][0]["region"]')/$(js 'd["spikes"][0]["count"]')/$(js 'd["spikes"][0]["usual"]')/$(js 'len(d["spikes"])')" \
    "200/990101/6/0.0/1"
check "with examples, newest first" "$(js '[x["ticket"] for x in d["spikes"][0]["examples"]]')" \
    "[\"${SPIKE[5]}\", \"${SPIKE[4]}\", \"${SPIKE[3]}\"]"
check "a cluster: the six alike open requests" "$(js 'len(d["clusters"])')/$(js 'sorted(d["clusters"][0]["tickets"])')" \
    "1/$(printf '%s\n' "${SPIKE[@]}" | sort | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin]))')"
check "its district and unit" "$(js 'd["clusters"][0]["region_name"]')/$(js 'd["clusters"][0]["unit"]')" "江北区/$SU"
TO1=$(js 'd["to"]')
cp "$T/hot2.body" "$T/r.body"; ST=$ST2
check "asked again ${again} s after (within hotspots.cache_s): the answer made then" \
    "$ST/$(js 'd["to"]')/$(js 'len(d["spikes"])')" "200/$TO1/1"
req GET "/api/v1/hotspots?unit=$SU" "$SUPER"; TO2=$(js 'd["to"]')
check "another unit or limit: an answer of its own" "$ST/$([ "$TO2" != "$TO1" ] && echo new)/$(js 'len(d["clusters"])')" 200/new/1
sleep 3.1
req GET /api/v1/hotspots "$SUPER"
check "after hotspots.cache_s: made again" "$ST/$([ "$(js 'd["to"]')" != "$TO1" ] && echo new)/$(js 'len(d["spikes"])')" 200/new/1
req GET /api/v1/hotspots "$OT"; check "another unit: none of them" "$ST/$(js 'len(d["spikes"])')/$(js 'len(d["clusters"])')" 200/0/0
req GET /api/v1/hotspots "$AGENT"; check "agents: 403" "$ST" 403
req GET "/api/v1/hotspots?limit=x" "$OFFICE"; check "limit=x: 400" "$ST" 400

echo "# reports"
req GET "/api/v1/report?day=$TODAY" "$OFFICE"
check "the daily report: Markdown" "$ST/$(header Content-Type)" "200/text/markdown; charset=utf-8"
check "its title" "$(head -1 "$T/r.body")" "# 12345 热线日报（$TODAY）"
check "the day's volume and figures" "$(grep -c '受理诉求 9 件，派单 9 件，办结 1 件；办结率 11.1%' "$T/r.body")" 1
check "channels, types, rates, categories, hot spots, units" \
    "$(grep -c '^## ' "$T/r.body")/$(grep -c '^| 办结率 | 11.1% |' "$T/r.body")/$(grep -c '| 江北区 | 6 | 0.0 | 新出现 |' "$T/r.body")" 6/1/1
check "small counts suppressed (<5)" "$(grep -c '^| 电话 | 9 | 100.0% |' "$T/r.body")/$(grep -c '| <5 |' "$T/r.body")" 1/2
check "nothing personal, no request text" "$(grep -c '王五\|1390000010\|张三\|锦绣花园' "$T/r.body")" 0
req GET "/api/v1/report?month=${TODAY:0:7}&format=html" "$SUPER"
check "the monthly report: HTML" "$ST/$(header Content-Type)/$(grep -c '<table>' "$T/r.body")" "200/text/html; charset=utf-8/6"
check "its title" "$(grep -c "<h1>12345 热线月报（${TODAY:0:4} 年 $((10#${TODAY:5:2})) 月）</h1>" "$T/r.body")" 1
req GET "/api/v1/report?day=$TODAY" "$UT1"
check "a unit's own report" "$ST/$(grep -c '受理诉求 1 件' "$T/r.body")" 200/1
req GET "/api/v1/report" "$OFFICE"; check "default: yesterday" "$ST/$(head -1 "$T/r.body")" "200/# 12345 热线日报（$(DAY 1)）"
for bad in "day=2026-02-30" "day=2026-2-3" "day=20261122" "month=2026-13" "month=2026-11-01" "day=$TODAY&month=2026-11" \
    "format=pdf" "from=2026-11-02&to=2026-11-01" "day=%FF"; do
    req GET "/api/v1/report?$bad" "$OFFICE"
    check "report?$bad: 400" "$ST/$(js 'd["error"]')" 400/invalid
done
req GET /api/v1/report "$AGENT"; check "agents: 403" "$ST" 403
req GET "/api/v1/report?unit=$OTHER" "$UT1"; check "a unit asking for another's: 403" "$ST" 403

if [ -f "$HL_ROOT/../shared/data/hot_issues.csv" ]; then
    echo "# the real messages of hot_issues.csv (4,326 from one board): clusters of the same place and problem"
    hl_loadgen -q --in-order -n 4326 --csv "$HL_ROOT/../shared/data/hot_issues.csv" >"$T/load.out" 2>&1 || { cat "$T/load.out"; hl_die "load"; }
    t0=$(date +%s%N)
    req GET "/api/v1/hotspots?limit=100" "$SUPER"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "hot spots over $(hl_sql "SELECT count(*) FROM tickets WHERE state NOT IN ('CLOSED', 'CLOSED_DIRECT')") open requests: ${ms} ms"
    check "answered" "$ST" 200
    js 'd["clusters"]' >"$T/clusters.json"
    # Messages posted more than once (the same title and text): each such
    # group found together in one cluster.
    hl_sql "SELECT json_agg(g) FROM (SELECT json_agg(ticket_no) g FROM tickets WHERE state <> 'CLOSED' GROUP BY title, body HAVING count(*) >= 3) x" \
        >"$T/groups.json"
    check "repeated messages clustered together" "$(python3 - "$T/clusters.json" "$T/groups.json" <<'EOF'
import json, sys
clusters = [set(c["tickets"]) for c in json.load(open(sys.argv[1]))]
groups = json.load(open(sys.argv[2])) or []
ok = sum(any(set(g) <= c for c in clusters) for g in groups)
print("%d of %d" % (ok, len(groups)) if groups else "none")
EOF
)" "$(hl_sql "SELECT count(*) || ' of ' || count(*) FROM (SELECT 1 FROM tickets WHERE state <> 'CLOSED' GROUP BY title, body HAVING count(*) >= 3) x")"
    check "clusters listed, largest first" "$(js 'len(d["clusters"]) >= 10 and all(a["size"] >= b["size"] for a, b in zip(d["clusters"], d["clusters"][1:]))')" True
    js '"\n".join("%d %s" % (c["size"], c["examples"][0]["title"]) for c in d["clusters"][:5])'
    pg_conns() { hl_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"; }
    # six_asks NAME QUERY: six GET /api/v1/hotspots?QUERY at once, answers in
    # $T/NAME1..6.json and .code (status and seconds); the most PostgreSQL
    # connections seen meanwhile in $conns.
    six_asks() {
        local pids=() i n
        for i in 1 2 3 4 5 6; do
            curl -s -H "Authorization: Bearer $SUPER" -o "$T/$1$i.json" -w '%{http_code} %{time_total}\n' \
                "$U/api/v1/hotspots?$2" >"$T/$1$i.code" &
            pids+=($!)
        done
        conns=0
        while kill -0 "${pids[@]}" 2>/dev/null; do # till the last of them ends
            n=$(pg_conns)
            [ "$n" -gt "$conns" ] && conns=$n
            sleep 0.05
        done
        wait "${pids[@]}"
    }
    echo "# a refresh is made once: asks while it is being made get the answer before"
    sleep 3.1
    t0=$(date +%s.%N)
    req GET "/api/v1/hotspots?limit=100" "$SUPER"; TOA=$(js 'd["to"]')
    # The six ask 3.1 s after that answer's "to" (its ask), not after its
    # reply: making it can take ~2 s here, and an answer older than twice
    # hotspots.cache_s is no longer served while a new one is made.
    sleep "$(python3 -c "import time; print(max(0.0, $t0 + 3.1 - time.time()))")"
    six_asks hot limit=100
    check "six asks at once after hotspots.cache_s: all answered" "$(cut -d' ' -f1 "$T"/hot?.code | sort -u | tr '\n' ' ')" "200 "
    made=$(python3 -c 'import json,sys; print(len({json.load(open(f))["to"] for f in sys.argv[2:]} - {sys.argv[1]}))' \
        "$TOA" "$T"/hot?.json)
    check "one new answer made for all of them" "$made" 1
    echo "(the answer before served to $(grep -l "\"to\":\"$TOA\"" "$T"/hot?.json | wc -l) of 6)"
    echo "# first asks at once (nothing kept): two made at a time (gateway.report_workers=2), the others"
    echo "# wait their turn and take what was made meanwhile"
    conns0=$(pg_conns)
    six_asks first limit=99
    check "six first asks at once: all answered" "$(cut -d' ' -f1 "$T"/first?.code | sort -u | tr '\n' ' ')" "200 "
    made=$(python3 -c 'import json,sys; print(len({json.load(open(f))["to"] for f in sys.argv[1:]}))' "$T"/first?.json)
    # One that waited takes an answer made meanwhile: fresh as of its own
    # ask, however long making it took (~1.3-2.8 s in sanitizer builds).
    check "at most two answers made for six" "$([ "$made" -le 2 ] && echo yes || echo "no: $made")" yes
    echo "(the slowest ask took $(cut -d' ' -f2 "$T"/first?.code | sort -n | tail -1) s)"
    echo "(PostgreSQL connections: $conns0 before, at most $conns during the asks)"
    check "at most two more connections to PostgreSQL meanwhile" "$([ "$conns" -le $((conns0 + 2)) ] && echo yes || echo "no: $conns")" yes
else
    echo "SKIP: hot_issues.csv: ../shared/data is absent"
fi

if command -v chromium >/dev/null; then
    echo "# the dashboard in headless Chromium"
    python3 "$HL_ROOT/tests/browser/dashboard_test.py" --url "$U" --supervisor "$SUPER" --agent "$AGENT" \
        --unit "$U1" --artifacts "$HL_BUILD/test-artifacts" | tee "$T/browser.out"
    check "the browser test passed" "$(grep -c '^FAIL' "$T/browser.out")/$(grep -c '^ok' "$T/browser.out")" \
        "0/$(grep -c '^ok' "$T/browser.out")"
    check "the browser test ran" "$(grep -c '^done' "$T/browser.out")" 1
    check "a screenshot kept" "$([ -s "$HL_BUILD/test-artifacts/dashboard.png" ] && echo yes)" yes
else
    echo "SKIP: the dashboard in the browser: chromium is not installed (./deploy/test.sh installs it)"
fi

if [ -f "$HL_ROOT/../shared/data/hot_issues.csv" ]; then
    echo "# stopping while hot spots wait their turn: the waiting ones answered 503 at once, not made"
    # The tickets held locked for 4 s: the two asks being made wait for it
    # (and meet gateway.report_timeout_ms, 2 s, here), the others their turn.
    hl_sql "BEGIN; LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" >/dev/null &
    locker=$!
    hl_wait 10 '[ "$(hl_sql "SELECT count(*) FROM pg_locks WHERE relation = '\''tickets'\''::regclass AND granted")" -ge 1 ]' ||
        hl_die "tickets not locked"
    pids=()
    for i in $(seq 10 21); do
        curl -s -H "Authorization: Bearer $SUPER" -o "$T/stop$i.json" -w '%{http_code}\n' \
            "$U/api/v1/hotspots?limit=$((70 + i))" >"$T/stop$i.code" &
        pids+=($!)
    done
    hl_wait 10 '[ "$(ss -Htn state established "( sport = :$HTTP_PORT )" | wc -l)" -ge 12 ]' || hl_die "asks not connected"
    sleep 0.05
    gw_stop
    wait "${pids[@]}" "$locker"
    answered=$(sort "$T"/stop??.code | uniq -c | awk '{printf "%sx%s ", $2, $1}')
    echo "(twelve asks, two made at a time, then SIGTERM: $answered)"
    check "each answered 200 or 503" "$(grep -cvxE '200|503' "$T"/stop??.code | awk -F: '{n += $2} END {print n}')" 0
    check "the ten waiting 503 at once, not made" "$([ "$(grep -lx 503 "$T"/stop??.code | wc -l)" -ge 10 ] && echo yes)" yes
fi
gw_stop
hl_test_router_stop
