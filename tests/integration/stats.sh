#!/usr/bin/env bash
# The figures (GET /api/v1/stats) counted exactly from the event log, on a
# constructed set of tickets whose figures are worked out by hand: one
# through the whole lifecycle, one returned, re-dispatched and extended,
# two closed at first contact (one citing the knowledge base), one left
# open, one supervised and reopened with a duplicate merged into it, an
# anonymous one, a confidential one; histories written into the log for a
# past month (a make-up working day, deadlines met to the minute and
# missed by one, a day's boundary at local midnight); a ruling that leaves
# a ticket out of the rating figures; other periods; each role's scope;
# bad arguments.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.rate_per_s=1000 gateway.rate_burst=1000
AGENT=$(gw_token agent)
OFFICE=$(gw_token office)
SUPER=$(gw_token supervisor)
act() {
    post_json "/api/v1/tickets/$1/actions" "$2" "$3"
    [ "$ST" = 200 ] || { cat "$T/r.body"; hl_die "$3 on $1: $ST"; }
}
ticket() {
    post_json /api/v1/tickets "$AGENT" "$1"
    [ "$ST" = 201 ] || { cat "$T/r.body"; hl_die "ticket not created ($ST)"; }
    TK=$(js 'd["ticket"]') TU=$(js 'd["unit"]')
}
stats() { req GET "/api/v1/stats$1" "${2:-$OFFICE}"; }
tot() { js "d['totals']['$1']"; }

echo "# a constructed set"
ticket '{"title":"路灯不亮","body":"小区门口的路灯坏了一个星期，晚上很黑","requester":{"name":"张三","phone":"13900000001"}}'
T1=$TK U1=$TU
UT1=$(gw_token unit --unit "$U1")
act "$T1" "$UT1" '{"action":"sign"}'
act "$T1" "$UT1" '{"action":"contact","method":"phone"}'
act "$T1" "$UT1" '{"action":"reply","reason_code":"resolved","text":"已修复"}'
act "$T1" "$OFFICE" '{"action":"review_accept"}'
act "$T1" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"resolved","satisfaction":"satisfied"}'
act "$T1" "$OFFICE" '{"action":"close"}'

ticket '{"title":"停水","body":"家里从早上开始停水，一直没有恢复","requester":{"name":"李四","phone":"13900000002"}}'
T2=$TK U2=$TU
UT2=$(gw_token unit --unit "$U2")
OTHER=$(hl_sql "SELECT code FROM units WHERE code NOT IN ('$U1', '$U2') AND kind = 'department' ORDER BY code LIMIT 1")
act "$T2" "$UT2" '{"action":"return","reason_code":"职能不符","reason":"不属于本单位"}'
act "$T2" "$OFFICE" "{\"action\":\"approve_return\",\"unit\":\"$OTHER\"}"
UT3=$(gw_token unit --unit "$OTHER")
act "$T2" "$UT3" '{"action":"sign"}'
act "$T2" "$UT3" '{"action":"extend","days":3,"reason":"需要协调"}'
act "$T2" "$OFFICE" '{"action":"approve_extension"}'
act "$T2" "$UT3" '{"action":"reply","reason_code":"explained","text":"已协调供水"}'
act "$T2" "$OFFICE" '{"action":"review_accept"}'
act "$T2" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"unresolved","satisfaction":"dissatisfied"}'
act "$T2" "$OFFICE" '{"action":"close"}'

E=$(hl_sql "SELECT id FROM kb_entries WHERE title = '停水了什么时候恢复供水'")
ticket '{"body":"停水了什么时候恢复供水","type":"consultation","hold":true}'
act "$TK" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"已答复\",\"kb_entry\":\"$E\"}"
ticket '{"body":"社保卡补办要带什么","type":"consultation","hold":true}'
act "$TK" "$AGENT" '{"action":"close_direct","reason":"已答复"}'
ticket '{"body":"公园的长椅坏了，请维修","requester":{"phone":"13900000005"}}'
T5=$TK

# Supervised (督办) and reopened (重办) after an unresolved rating; a
# duplicate merged into it closes with it.
ticket '{"title":"路灯不亮","body":"我们小区北门的路灯一直不亮，已经半个月了","requester":{"name":"王五","phone":"13900000006"}}'
T6=$TK U6=$TU
ticket '{"title":"路灯不亮","body":"小区北门路灯坏了很久，晚上出行不安全","requester":{"name":"赵六","phone":"13900000009"}}'
T9=$TK
act "$T9" "$AGENT" "{\"action\":\"merge\",\"parent\":\"$T6\"}"
UT6=$(gw_token unit --unit "$U6")
act "$T6" "$UT6" '{"action":"sign"}'
DUE=$(hl_sql "SELECT (extract(epoch FROM reply_due) * 1000)::bigint FROM tickets WHERE ticket_no = '$T6'")
act "$T6" "$SUPER" "{\"action\":\"notify\",\"notice\":\"supervision\",\"clock\":\"reply\",\"due\":\"$DUE\",\"level\":1}"
act "$T6" "$UT6" '{"action":"reply","reason_code":"resolved","text":"已报修"}'
act "$T6" "$OFFICE" '{"action":"review_accept"}'
act "$T6" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"unresolved","satisfaction":"dissatisfied"}'
act "$T6" "$OFFICE" '{"action":"reopen","reason":"市民反映仍未修复"}'
act "$T6" "$UT6" '{"action":"reply","reason_code":"resolved","text":"已更换灯具"}'
act "$T6" "$OFFICE" '{"action":"review_accept"}'
act "$T6" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"resolved","satisfaction":"basically"}'
act "$T6" "$OFFICE" '{"action":"close"}'
check "the duplicate closed with it" "$(hl_sql "SELECT state FROM tickets WHERE ticket_no = '$T9'")" CLOSED

# Anonymous: no callback. Confidential: counted like any other.
ticket '{"title":"路灯不亮","body":"街心公园旁边的路灯晚上不亮","requester":{"anonymous":true}}'
T7=$TK
UT7=$(gw_token unit --unit "$TU")
act "$T7" "$UT7" '{"action":"sign"}'
act "$T7" "$UT7" '{"action":"reply","reason_code":"resolved","text":"已修复"}'
act "$T7" "$OFFICE" '{"action":"review_accept"}'
act "$T7" "$OFFICE" '{"action":"close"}'
ticket '{"title":"路灯不亮","body":"单位门口路灯不亮，请保密处理","requester":{"name":"钱七","phone":"13900000008","confidential":true}}'
T8=$TK
UT8=$(gw_token unit --unit "$TU")
act "$T8" "$UT8" '{"action":"sign"}'
act "$T8" "$UT8" '{"action":"contact","method":"phone"}'
check "all dispatched at intake" \
    "$(hl_sql "SELECT count(*) FROM ticket_events WHERE kind = 'intake' AND to_state = 'DISPATCHED'")" 7

stats ""
check "stats" "$ST" 200
check "accepted, dispatched (a re-dispatch counts again)" "$(tot accepted)/$(tot dispatched)" 9/8
check "signed (on time), contacted (on time), replied (on time)" \
    "$(tot signed)/$(tot signed_on_time)/$(tot contacted)/$(tot contacted_on_time)/$(tot replied)/$(tot replied_on_time)" \
    5/5/2/2/5/5
check "closed (not the merged duplicate), at first contact, all finished, citing the KB" \
    "$(tot closed)/$(tot direct_closed)/$(tot finished)/$(tot kb_direct)" 4/2/7/1
check "returns, extensions, reopened, overdue, supervised, merged" \
    "$(tot returned)/$(tot return_approved)/$(tot extension_approved)/$(tot reopened)/$(tot overdue)/$(tot supervised)/$(tot merged)" \
    1/1/1/1/0/1/1
check "callbacks due (not the anonymous one), ratings" \
    "$(tot callback_required)/$(tot callback_rated)/$(tot resolved)/$(tot satisfied)" 4/4/2/2
check "closed first time, by the first unit" "$(tot first_time)/$(tot first_unit_final)" 2/3
check "supervised: rated, resolved" "$(tot supervised_rated)/$(tot supervised_resolved)" 2/1
check "completion_rate (7/9)" "$(tot completion_rate)" 0.7778
check "direct_resolution_rate (2/9)" "$(tot direct_resolution_rate)" 0.2222
check "response_rate (2/8)" "$(tot response_rate)" 0.25
check "on_time_rate (5/5)" "$(tot on_time_rate)" 1.0
check "sign_on_time_rate (5/8)" "$(tot sign_on_time_rate)" 0.625
check "return_rate, extension_rate, overdue_rate (1/8, 1/8, 0/8)" \
    "$(tot return_rate)/$(tot extension_rate)/$(tot overdue_rate)" 0.125/0.125/0.0
check "resolution_rate, satisfaction_rate (2/4)" "$(tot resolution_rate)/$(tot satisfaction_rate)" 0.5/0.5
check "callback_rate (4/4), kb_adoption_rate (1/2)" "$(tot callback_rate)/$(tot kb_adoption_rate)" 1.0/0.5
check "first_time_completion_rate (2/4), first_dispatch_accuracy (3/4)" \
    "$(tot first_time_completion_rate)/$(tot first_dispatch_accuracy)" 0.5/0.75
check "repeat_rate (1/9), supervised_resolution_rate (1/2)" \
    "$(tot repeat_rate)/$(tot supervised_resolution_rate)" 0.1111/0.5
check "by unit: the held tickets under no unit" "$(js '[u["accepted"] for u in d["by_unit"] if u["unit"] is None][0]')" 2
check "the street lights are all the first unit's" "$U6/$TU" "$U1/$U1"
check "by unit: the first unit's replies (1, 2 reopened, 1 anonymous)" \
    "$(js "[u['replied'] for u in d['by_unit'] if u['unit'] == '$U1'][0]")" 4
check "by unit: the second unit has the re-dispatched ticket's reply" \
    "$(js "[u['replied'] for u in d['by_unit'] if u['unit'] == '$OTHER'][0]")" 1
check "the rates' definitions" "$(js 'd["rates"]["satisfaction_rate"]["denominator"]')" callback_rated
check "read from the live cells by default, for whole local days" \
    "$(js 'd["source"]')/$(js 'd["from"][10:]')/$(js 'd["to"][10:]')" "live/T00:00:00.000+08:00/T00:00:00.000+08:00"
js 'd["totals"]' >"$T/live_totals.json"
js 'd["by_unit"]' >"$T/live_units.json"
stats "?source=exact"
check "exact: the same totals" "$(js 'd["totals"]')" "$(cat "$T/live_totals.json")"
check "exact: the same units" "$(js 'd["by_unit"]')" "$(cat "$T/live_units.json")"
check "exact: for the period asked" "$(js 'd["source"]')/$(js 'd["from"][10:] != "T00:00:00.000+08:00"')" exact/True
stats "?source=guess"; check "an unknown source: 400" "$ST" 400
stats "?format=csv"
check "CSV" "$ST/$(header Content-Type)" "200/text/csv; charset=utf-8"
check "CSV: a row for all, then one per unit" "$(($(wc -l <"$T/r.body") - 1))" "$(($(python3 -c "import json; print(len(json.load(open('$T/live_units.json'))))") + 1))"
check "CSV: the totals row" "$(python3 - "$T/r.body" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))
t = rows[0]
print(t["unit_name"], t["accepted"], t["completion_rate"], t["satisfaction_rate"])
PY
)" "全部 9 0.7778 0.5000"
check "the export is logged" "$(grep -c 'export: the figures as CSV' "$T/gateway.log")" 1
stats "?format=xml"; check "an unknown format: 400" "$ST" 400

echo "# live: the router counted the same cells in Redis as it went"
TODAY=$(hl_sql "SELECT (now() AT TIME ZONE 'UTC' + interval '480 minutes')::date")
hl_sql "SELECT field || '=' || n FROM hl_metric_cells('$TODAY', '$TODAY'::date + 1, 480) ORDER BY 1" >"$T/exact.txt"
hl_redis HGETALL "hl:m:$TODAY" | paste -d= - - | sort >"$T/live.txt"
check "cells counted" "$(($(wc -l <"$T/exact.txt") > 10))" 1
check "live = exact, cell by cell" "$(diff "$T/exact.txt" "$T/live.txt" && echo same)" same
hl_sql "SELECT u || '=' || sum(n) FROM (SELECT split_part(field, '|', 1) || '|' || split_part(field, '|', 2) u, n FROM hl_metric_cells('$TODAY', '$TODAY'::date + 1, 480)) x GROUP BY u" | sort >"$T/exact_units.txt"
hl_redis HGETALL "hl:mu:$TODAY" | paste -d= - - | sort >"$T/live_units.txt"
check "the day's sums per counter|unit = exact" "$(diff "$T/exact_units.txt" "$T/live_units.txt" && echo same)/$(($(wc -l <"$T/live_units.txt") > 5))" same/1
check "cells are counter|unit|category|region|channel: the held tickets under no unit" \
    "$(grep '^accepted||[a-z.]*|[^|]*|phone=' "$T/live.txt" | cut -d= -f2 | paste -sd+ | bc)" 2

echo "# hotline-figures: check and repair"
FIG="$HL_BUILD/workers/hotline-figures --config $T/hotline.conf"
rc=0; out=$($FIG check 2>&1) || rc=$?
check "check: equal" "$rc/$(echo "$out" | tail -1)" "0/days=31 cells_different=0"
hl_redis HINCRBY "hl:m:$TODAY" "accepted|$U1|x|y|z" 5 >/dev/null
hl_redis HINCRBY "hl:m:$TODAY" "$(head -1 "$T/live.txt" | cut -d= -f1)" 1 >/dev/null
hl_redis HINCRBY "hl:mu:$TODAY" "accepted|$U1" 1 >/dev/null
rc=0; out=$($FIG check --from "$TODAY" --to "$TODAY" 2>&1) || rc=$?
check "check: the two wrong cells and the wrong sum listed" "$rc/$(echo "$out" | grep -c ' exact=')/$(echo "$out" | grep -c " units accepted|$U1 ")" 1/3/1
hl_redis DEL "hl:m:$TODAY" "hl:mu:$TODAY" >/dev/null
rc=0; $FIG check --from "$TODAY" >/dev/null 2>&1 || rc=$?
check "check after the day was lost" "$rc" 1
rc=0; out=$($FIG repair --from "$TODAY" 2>&1) || rc=$?
check "repair" "$rc" 0
hl_redis HGETALL "hl:m:$TODAY" | paste -d= - - | sort >"$T/repaired.txt"
check "repaired = exact" "$(diff "$T/exact.txt" "$T/repaired.txt" && echo same)" same
hl_redis HGETALL "hl:mu:$TODAY" | paste -d= - - | sort >"$T/repaired_units.txt"
check "the sums too" "$(diff "$T/exact_units.txt" "$T/repaired_units.txt" && echo same)" same
rc=0; $FIG check >/dev/null 2>&1 || rc=$?
check "check after the repair" "$rc" 0
rc=0; $FIG check --from 2026-13-01 >/dev/null 2>&1 || rc=$?; check "a bad day: usage" "$rc" 2
rc=0; $FIG check --from 2026-02-01 --to 2026-01-01 >/dev/null 2>&1 || rc=$?; check "from after to: usage" "$rc" 2
rc=0; $FIG frobnicate >/dev/null 2>&1 || rc=$?; check "an unknown command: usage" "$rc" 2
post_json /api/v1/tickets "$AGENT" '{"body":"修复之后的新工单也照常计入","hold":true}'
CELL="accepted||$(js 'd["category"]')|$(hl_sql "SELECT coalesce(region, '') FROM tickets WHERE ticket_no = '$(js 'd["ticket"]')'")|phone"
check "counting goes on after a repair" "$(hl_redis HGET "hl:m:$TODAY" "$CELL")" \
    "$(hl_sql "SELECT n FROM hl_metric_cells('$TODAY', '$TODAY'::date + 1, 480) WHERE field = '$CELL'")"
check_ge "... in a cell that exists" "$(hl_redis HGET "hl:m:$TODAY" "$CELL")" 1

echo "# a ruling: ticket 2 was an unreasonable request, out of the rating figures"
hl_sql "INSERT INTO metric_rulings (ticket_id, counters, reason, ruled_by) SELECT id, '{callback_rated,resolved,satisfied}', '不合理诉求（经审核认定）', 'test' FROM tickets WHERE ticket_no = '$T2'" >/dev/null
stats ""
check "ratings without it (2/3)" "$(tot callback_rated)/$(tot satisfaction_rate)/$(tot resolution_rate)" 3/0.6667/0.6667
check "its other figures stay" "$(tot replied)/$(tot returned)" 5/1
js 'd["totals"]' >"$T/live_totals.json"
stats "?source=exact"
check "live less the ruling = exact" "$(js 'd["totals"]')" "$(cat "$T/live_totals.json")"
check "rulings are never rewritten" "$(hl_sql "DELETE FROM metric_rulings" 2>&1 | grep -c 'never deleted')" 1

echo "# histories written into the log: October 2026, Saturday the 10th a make-up working day (调休)"
# Three tickets of the first unit, shaped as the router writes them (rows
# copied from ticket 1, then changed): 1 taken in at 23:59 on Friday the
# 9th, signed and replied on the make-up Saturday exactly at its deadlines;
# 2 taken in at midnight, signed and replied a minute late, an overdue
# notice; 3 anonymous and confidential, its reply accepted (no callback).
hl_sql "
INSERT INTO tickets SELECT (jsonb_populate_record(t, jsonb_build_object(
    'id', 80000000 + k * 1000, 'ticket_no', '20261009' || lpad((80000000 + k * 1000)::text, 8, '0'),
    'idempotency_key', 'constructed-' || k, 'created_at', c, 'received_at', c, 'anonymous', k = 3,
    'region', CASE WHEN k = 2 THEN '990101002' ELSE '990101001' END,
    'confidential', k = 3, 'state', 'REPLIED', 'parent_id', NULL))).*
FROM tickets t, (VALUES (1, timestamptz '2026-10-09 23:59+08'), (2, '2026-10-10 00:00+08'),
                        (3, '2026-10-10 08:00+08')) v (k, c)
WHERE t.ticket_no = '$T1';
INSERT INTO ticket_events (ticket_id, seq, at, kind, from_state, to_state, actor_role, unit, sign_due,
                           contact_due, reply_due, callback_due, payload)
SELECT 80000000 + k * 1000, seq, at::timestamptz, kind, NULL, to_state, 'system', '$U1',
       '2026-10-10 10:00+08', '2026-10-10 12:00+08', '2026-10-10 18:00+08', NULL, payload::jsonb
FROM (VALUES (1, 1, '2026-10-09 23:59+08', 'intake', 'DISPATCHED', NULL),
             (1, 2, '2026-10-10 10:00+08', 'sign', 'SIGNED', NULL),
             (1, 3, '2026-10-10 18:00+08', 'reply', 'REPLIED', NULL),
             (2, 1, '2026-10-10 00:00+08', 'intake', 'DISPATCHED', NULL),
             (2, 2, '2026-10-10 10:01+08', 'sign', 'SIGNED', NULL),
             (2, 3, '2026-10-10 18:01+08', 'notify', 'SIGNED', '{\"notice\": \"overdue\", \"clock\": \"reply\"}'),
             (2, 4, '2026-10-10 18:01+08', 'reply', 'REPLIED', NULL),
             (3, 1, '2026-10-10 08:00+08', 'intake', 'DISPATCHED', NULL),
             (3, 2, '2026-10-10 09:00+08', 'sign', 'SIGNED', NULL),
             (3, 3, '2026-10-10 17:00+08', 'reply', 'REPLIED', NULL),
             (3, 4, '2026-10-10 19:00+08', 'review_accept', 'CALLBACK', NULL)) e (k, seq, at, kind, to_state, payload)
" >/dev/null
stats "?from=2026-10-10&to=2026-10-11&source=exact"
check "the make-up Saturday: taken in (not the one at 23:59 the day before), dispatched" \
    "$(tot accepted)/$(tot dispatched)" 2/2
check "signed, on time (at the deadline: yes; a minute after: no)" "$(tot signed)/$(tot signed_on_time)" 3/2
check "replied, on time" "$(tot replied)/$(tot replied_on_time)" 3/2
check "overdue, callbacks due (none: anonymous)" "$(tot overdue)/$(tot callback_required)" 1/0
check "on_time_rate, sign_on_time_rate, overdue_rate" \
    "$(tot on_time_rate)/$(tot sign_on_time_rate)/$(tot overdue_rate)" 0.6667/1.0/0.5
stats "?from=2026-10-09&to=2026-10-10&source=exact"
check "Friday the 9th: the one taken in at 23:59" "$(tot accepted)/$(tot signed)" 1/0
stats "?from=2026-10-01&to=2026-11-01&source=exact&unit=$U1"
check "the month, of the first unit" "$(tot accepted)/$(tot replied)/$(tot on_time_rate)" 3/3/0.6667

echo "# sealed days: the same exact figures, read from metric_days (a ruling on October included)"
FIG="$HL_BUILD/workers/hotline-figures --config $T/hotline.conf"
hl_sql "INSERT INTO metric_rulings (ticket_id, counters, reason, ruled_by) VALUES (80002000, '{overdue,signed}', '系统故障导致超期（经审核认定）', 'test')" >/dev/null
stats "?from=2026-10-10&to=2026-10-11&source=exact"
check "the ruling taken out" "$(tot overdue)/$(tot signed)" 0/2
CAT=$(hl_sql "SELECT category FROM tickets WHERE ticket_no = '$T1'")
M="from=2026-10-01&to=2026-11-01"
# 1-6 as they are; 5, 7-11 and 13 filter one category, region or channel
# (the day's sums serve), 12 and 14 two of them (the cells); 13 a district
# (its streets within), 14 the city.
for q in "$M" "from=2026-10-10&to=2026-10-11" "from=2026-10-09T12:00:00%2B08:00&to=2026-10-10T12:00:00%2B08:00" \
    "$M&unit=$U1" "$M&channel=phone" "from=$TODAY" "$M&category=$CAT" "$M&category=${CAT%%.*}" \
    "$M&region=990101001" "$M&region=990101002&unit=$U1" "$M&category=nothing.here" "$M&category=$CAT&region=990101002" \
    "$M&region=990101" "$M&region=990100&channel=phone"; do
    stats "?$q&source=exact"; js '[d["totals"], d["by_unit"], d["by_day"]]' >"$T/before.json"
    echo "$q" >>"$T/queries.txt"
    cp "$T/before.json" "$T/before-$(wc -l <"$T/queries.txt").json"
done
check "October by category (and its parent), street, street and unit, both, another category, district, city" \
    "$(for i in 7 8 9 10 12 11 13 14; do python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['accepted'])" "$T/before-$i.json"; done | paste -sd/)" \
    3/3/2/1/1/0/3/3
rc=0; out=$($FIG seal --from 2026-10-01 --to 2026-10-31 2>&1) || rc=$?
check "seal October" "$rc/$(echo "$out" | tail -1 | cut -d' ' -f1)" 0/days_sealed=31
check "its rows, their sums per counter and unit, and per counter, unit and category, region, channel" \
    "$(hl_sql "SELECT sum(n) FROM metric_days WHERE counter = 'accepted' AND day BETWEEN '2026-10-01' AND '2026-10-31'")/$(hl_sql "SELECT sum(n) FROM metric_days_units WHERE counter = 'accepted' AND day BETWEEN '2026-10-01' AND '2026-10-31'")/$(hl_sql "SELECT string_agg(s::text, '/' ORDER BY dim) FROM (SELECT dim, sum(n) s FROM metric_days_dims WHERE counter = 'accepted' AND day BETWEEN '2026-10-01' AND '2026-10-31' GROUP BY dim) x")" 3/3/3/3/3
i=0
while read -r q; do
    i=$((i + 1))
    stats "?$q&source=exact"
    js '[d["totals"], d["by_unit"], d["by_day"]]' >"$T/sealed.json"
    check "exact, sealed = counted: $q" "$(cmp "$T/sealed.json" "$T/before-$i.json" && echo same)" same
done <"$T/queries.txt"
rc=0; out=$($FIG seal 2>&1) || rc=$?
check "seal: the days not sealed yet of the last 30" "$rc/$(echo "$out" | tail -1 | cut -d' ' -f1)" \
    "0/days_sealed=$(hl_sql "SELECT count(*) FROM generate_series('$TODAY'::date - 30, '$TODAY'::date - 1, interval '1 day') d WHERE d::date NOT BETWEEN '2026-10-01' AND '2026-10-31'")"
rc=0; out=$($FIG seal 2>&1) || rc=$?
check "again: nothing left" "$rc/$(echo "$out" | tail -1 | cut -d' ' -f1)" 0/days_sealed=0
rc=0; $FIG seal --to "$TODAY" >/dev/null 2>&1 || rc=$?; check "today is not over: usage" "$rc" 2
stats "?from=$TODAY&source=exact"
check "today, after sealing the days before" "$(js '[d["totals"], d["by_unit"], d["by_day"]]')" "$(cat "$T/before-6.json")"

echo "# live: a day over keeps its sums per counter, unit and category, region or channel (hl:md[crh])"
rc=0; $FIG repair --from 2026-10-01 --to 2026-10-31 >/dev/null 2>&1 || rc=$?
check "October's cells into Redis (repair)" "$rc/$(hl_redis EXISTS hl:m:2026-10-10 hl:mdc:2026-10-10)" 0/1
live_same() { # live_same WHAT: each query but today's, live = exact
    local i=0 q
    while read -r q; do
        i=$((i + 1))
        case $i in 3 | 6) continue ;; esac # live counts whole days; today differs
        stats "?$q"
        js '[d["totals"], d["by_unit"], d["by_day"]]' >"$T/live.json"
        check "$1: $q" "$(cmp "$T/live.json" "$T/before-$i.json" && echo same)" same
    done <"$T/queries.txt"
}
live_same "live (first read) = exact"
check "the sums kept for each day read that has cells" \
    "$(hl_redis KEYS 'hl:md*:2026-10-*' | sort | paste -sd' ')" \
    "hl:mdc:2026-10-09 hl:mdc:2026-10-10 hl:mdh:2026-10-09 hl:mdh:2026-10-10 hl:mdr:2026-10-09 hl:mdr:2026-10-10"
check "... per category, region and channel" "$(hl_redis HGET hl:mdc:2026-10-10 "accepted|$U1|$CAT")/$(hl_redis HGET hl:mdr:2026-10-10 "accepted|$U1|990101002")/$(hl_redis HGET hl:mdh:2026-10-10 "accepted|$U1|phone")" 2/1/2
live_same "live (the sums) = exact"
rc=0; out=$($FIG check --from 2026-10-01 --to 2026-10-31 2>&1) || rc=$?
check "check: the sums equal too" "$rc/$(echo "$out" | tail -1)" "0/days=31 cells_different=0"
hl_redis HINCRBY hl:mdc:2026-10-10 "accepted|$U1|$CAT" 5 >/dev/null
stats "?$M&category=$CAT"
check "a wrong sum shows (the sums are what is read)" "$(tot accepted)" 8
rc=0; out=$($FIG check --from 2026-10-10 --to 2026-10-10 2>&1) || rc=$?
check "check lists it" "$rc/$(echo "$out" | grep -c "^2026-10-10 sums c accepted|$U1|$CAT exact=2 live=7$")" 1/1
rc=0; $FIG repair --from 2026-10-10 --to 2026-10-10 >/dev/null 2>&1 || rc=$?
check "repair drops the day's sums" "$rc/$(hl_redis EXISTS hl:mdc:2026-10-10 hl:mdr:2026-10-10 hl:mdh:2026-10-10)" 0/0
rc=0; out=$($FIG seal --from 2026-10-10 --to 2026-10-10 2>&1) || rc=$?
check "sealing the day keeps them again" "$rc/$(echo "$out" | tail -1 | cut -d' ' -f3)/$(hl_redis EXISTS hl:mdc:2026-10-10 hl:mdr:2026-10-10 hl:mdh:2026-10-10)" 0/live_sums_kept=1/3
live_same "after the repair, live = exact"
check "kept again" "$(hl_redis EXISTS hl:mdc:2026-10-10 hl:mdr:2026-10-10 hl:mdh:2026-10-10)" 3
check "today's are not kept (not over)" "$(hl_redis EXISTS "hl:mdc:$TODAY")" 0

echo "# periods, filters and roles"
stats "?from=2020-01-01&to=2020-02-01"
check "another period: nothing, rates null" "$(tot accepted)/$(tot completion_rate)" 0/None
stats "?unit=$U1"
check "one unit" "$(js '[u["unit"] for u in d["by_unit"]]')" "[\"$U1\"]"
stats "?channel=web"
check "another channel: nothing" "$(tot accepted)" 0
stats "" "$UT1"
check "a unit sees its own figures" "$ST/$(js '[u["unit"] for u in d["by_unit"]]')" "200/[\"$U1\"]"
stats "?unit=$OTHER" "$UT1"; check "a unit asking for another's: 403" "$ST" 403
stats "" "$SUPER"; check "supervisors read them" "$ST" 200
stats "" "$AGENT"; check "agents: 403" "$ST" 403
stats "?from=2026-02-01&to=2026-01-01"; check "from after to: 400" "$ST" 400
stats "?from=yesterday"; check "a bad date: 400" "$ST" 400
stats "?category=%FF"; check "a category not UTF-8: 400" "$ST" 400
stats "?region=$(printf 'x%.0s' $(seq 1 100))"; check "an oversized code: 400" "$ST" 400
stats "?unit=x'%3B%20DROP%20TABLE%20tickets%3B--"; check "SQL in a filter: nothing found" "$ST/$(tot accepted)" 200/0
req POST /api/v1/stats "$OFFICE"; check "POST: 405" "$ST" 405
check "the tickets are all there" "$(hl_sql "SELECT count(*) FROM tickets WHERE id < 80000000")" 10

echo "# /metrics for Prometheus"
stats ""
DRR=$(python3 -c "print('%.6g' % ($(tot direct_closed) / $(tot accepted)))")
req GET /metrics "$SUPER"
check "/metrics" "$ST/$(header Content-Type)" "200/text/plain; version=0.0.4; charset=utf-8"
if command -v promtool >/dev/null; then
    rc=0; promtool check metrics <"$T/r.body" >"$T/promtool.out" 2>&1 || rc=$?
    check "promtool check metrics: valid" "$rc" 0
    sed 's/^/  promtool: /' "$T/promtool.out" | head -5
else
    echo "SKIP promtool is not installed (./deploy/test.sh installs it: Debian's prometheus)"
fi
check "today's intakes of no unit, as in the live cells" \
    "$(grep -F 'hotline_events_today{counter="accepted",unit=""}' "$T/r.body" | cut -d' ' -f2)" \
    "$(hl_redis HGETALL "hl:m:$TODAY" | paste -d= - - | grep '^accepted||' | cut -d= -f2 | paste -sd+ | bc)"
check "a 30-day rate, as /api/v1/stats" \
    "$(grep -F 'hotline_rate_30d_all{rate="direct_resolution_rate"}' "$T/r.body" | cut -d' ' -f2)" "$DRR"
check "nothing personal" "$(grep -c -E '1[3-9][0-9]{9}|张三|李四' "$T/r.body")" 0
check "bounded labels: counter, rate, unit, channel, le" \
    "$(grep -v '^#' "$T/r.body" | grep -o '[a-z]*="' | sort -u | tr -d '="' | paste -sd,)" "channel,counter,le,rate,unit"
check "request durations: cumulative buckets, +Inf = count = the requests answered before" "$(python3 - "$T/r.body" \
    "$(grep '^hotline_gateway_requests_total ' "$T/r.body" | cut -d' ' -f2)" <<'PY'
import re, sys
text, took = open(sys.argv[1]).read(), int(sys.argv[2])
b = [(float(le), int(n)) for le, n in
     re.findall(r'^hotline_gateway_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$', text, re.M)]
count = int(re.search(r'^hotline_gateway_request_duration_seconds_count (\d+)$', text, re.M).group(1))
total = float(re.search(r'^hotline_gateway_request_duration_seconds_sum (\S+)$', text, re.M).group(1))
# every request taken before this scrape was answered, not the scrape itself (nor, just
# possibly, the one before it if the other loop thread took the scrape first)
ok = (len(b) == 15 and b[-1][0] == float("inf") and b[-1][1] == count
      and all(x[0] < y[0] and x[1] <= y[1] for x, y in zip(b, b[1:]))
      and took - 2 <= count <= took - 1 and total > 0)
print("yes" if ok else f"no: {b} count {count} took {took} sum {total}")
PY
)" yes
check "the Grafana dashboard uses only metrics /metrics has" "$(python3 - "$HL_ROOT/deploy/grafana/hotline-dashboard.json" "$T/r.body" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
types = dict(re.findall(r"^# TYPE (\S+) (\S+)", open(sys.argv[2]).read(), re.M))
have = set(types) | {n + s for n, t in types.items() if t == "histogram" for s in ("_bucket", "_sum", "_count")}
used = {m for p in d["panels"] for t in p["targets"] for m in re.findall(r"hotline_[a-z_0-9]+", t["expr"])}
print(sorted(used - have) if used - have else "yes" if used else "no metrics")
PY
)" yes
if command -v promtool >/dev/null; then
    echo "token" >"$T/prom.token"
    sed "s|/etc/prometheus/hotline.token|$T/prom.token|" "$HL_ROOT/deploy/grafana/prometheus.yml" >"$T/prom.yml"
    rc=0; promtool check config "$T/prom.yml" >/dev/null 2>&1 || rc=$?
    check "the sample scrape job is a valid Prometheus config" "$rc" 0
fi
req GET /metrics "$AGENT"; check "/metrics: agents 403" "$ST" 403
req GET /metrics; check "/metrics: a token is needed" "$ST" 401

echo "# Redis down: live figures unavailable (503), exact ones still served"
hl_redis SHUTDOWN NOSAVE >/dev/null 2>&1 || true
stats ""; check "live: 503" "$ST/$(header Retry-After)" 503/1
stats "?source=exact"; check "exact: 200" "$ST/$(tot accepted)" 200/10
req GET /metrics "$SUPER"; check "/metrics: 503" "$ST" 503
rc=0; out=$($HL_BUILD/workers/hotline-figures --config "$T/hotline.conf" seal --from 2026-10-12 --to 2026-10-12 2>&1) || rc=$?
check "seal goes on without Redis, saying the live sums wait" \
    "$rc/$(echo "$out" | grep -c 'live sums not kept')/$(echo "$out" | tail -1)" "0/1/days_sealed=1 rows_written=0 live_sums_kept=0"
