#!/usr/bin/env bash
# The knowledge base judged by outcomes: answers at first contact and
# replies citing entries are recorded with the entry's version; the
# effectiveness report counts uses, direct closures, reply citations,
# repeat contacts by the same phone number on the same category within 7
# days (one at 6 days counts, one at 10 does not, anonymous requests are
# left out), ratings, and flags failing and past-review entries, per entry
# and per category, with each role's scope; gaps are found on a constructed
# set of consultations (two unanswered topics, one answered, singletons);
# a unit's accepted reply becomes a draft; bad input at every new door.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.rate_per_s=1000 gateway.rate_burst=1000 kb.fail_min=2 kb.gap_min_size=3
AGENT=$(gw_token agent)
OFFICE=$(gw_token office)
SUPER=$(gw_token supervisor)
WATER=$(gw_token unit --unit WATER)
GAS=$(gw_token unit --unit GAS)

act() { post_json "/api/v1/tickets/$1/actions" "$2" "$3"; }
# ticket JSON: a new ticket; sets TK (number) and CAT (category)
ticket() {
    post_json /api/v1/tickets "$AGENT" "$1"
    [ "$ST" = 201 ] || { cat "$T/r.body"; hl_die "ticket not created ($ST)"; }
    TK=$(js 'd["ticket"]')
    CAT=$(js 'd["category"]')
}
# entry TITLE: the id of the demo entry with this title
entry() { hl_sql "SELECT id FROM kb_entries WHERE title = '$1'"; }
report() { req GET "/api/v1/kb/reports/effectiveness$1" "${2:-$OFFICE}"; }
# of ID FIELD: FIELD of entry ID in the last report
of() { js "[e for e in d['entries'] if e['id'] == $1][0]['$2']"; }

E1=$(entry '停水了什么时候恢复供水')
E2=$(entry '公司拖欠工资怎么办')
V1=$(hl_sql "SELECT version FROM kb_entries WHERE id = $E1")
WATER_Q='{"title":"停水","body":"家里从早上开始停水了，自来水什么时候恢复供水？","type":"consultation","hold":true'

echo "# answers at first contact citing an entry"
ticket "$WATER_Q"',"requester":{"name":"王五","phone":"13900000001"}}'
A=$TK ACAT=$CAT
act "$A" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"已告知恢复供水时间\",\"kb_entry\":$E1,\"satisfaction\":\"satisfied\",\"resolution\":\"resolved\"}"
check "close_direct citing an entry by id" "$ST/$(js 'd["state"]')" 200/CLOSED_DIRECT
check "the use is recorded with the version served" \
    "$(hl_sql "SELECT kind || ':' || version FROM kb_uses WHERE entry_id = $E1 AND ticket_id = (SELECT id FROM tickets WHERE ticket_no = '$A')")" "direct:$V1"
check "the one-call rating is kept" "$(hl_sql "SELECT satisfaction || '/' || resolution FROM tickets WHERE ticket_no = '$A'")" satisfied/resolved
ticket "$WATER_Q"',"requester":{"name":"王五","phone":"13900000001"}}'
check "the same requester calls again on the same category" "$CAT" "$ACAT"

ticket "$WATER_Q"',"requester":{"name":"赵六","phone":"13900000002"}}'
C=$TK
act "$C" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"已答复\",\"kb_entry\":\"$E1\",\"kb_version\":\"$V1\",\"satisfaction\":\"dissatisfied\",\"resolution\":\"unresolved\"}"
check "close_direct with the version given" "$ST" 200
ticket "$WATER_Q"',"requester":{"anonymous":true}}'
D=$TK
act "$D" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"已答复\",\"kb_entry\":\"$E1\"}"
check "an anonymous request answered from the KB" "$ST" 200
ticket "$WATER_Q"',"requester":{"name":"钱七","phone":"13900000003"}}'
E=$TK
act "$E" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"已答复\",\"kb_entry\":\"$E1\"}"
check "a fourth use" "$ST" 200
# Constructed history: C's answer 10 days ago, E's 6 days ago; both callers
# come back now on the same category.
hl_sql "UPDATE kb_uses SET at = at - interval '10 days' WHERE ticket_id = (SELECT id FROM tickets WHERE ticket_no = '$C')" >/dev/null
hl_sql "UPDATE kb_uses SET at = at - interval '6 days' WHERE ticket_id = (SELECT id FROM tickets WHERE ticket_no = '$E')" >/dev/null
ticket "$WATER_Q"',"requester":{"name":"赵六","phone":"13900000002"}}'
ticket "$WATER_Q"',"requester":{"name":"钱七","phone":"13900000003"}}'
# Another category from the same phone does not count.
ticket '{"body":"公司拖欠工资三个月了怎么办","type":"consultation","hold":true,"requester":{"phone":"13900000002"}}'
check "a ticket of another category" "$([ "$CAT" != "$ACAT" ] && echo yes)" yes

echo "# a unit's reply citing an entry, rated at callback"
ticket '{"title":"拖欠工资","body":"公司拖欠我两个月工资，请劳动部门处理","requester":{"name":"孙八","phone":"13900000004"}}'
R=$TK RUNIT=$(js 'd["unit"]')
UT=$(gw_token unit --unit "$RUNIT")
act "$R" "$UT" '{"action":"sign"}'; check "sign" "$ST" 200
act "$R" "$OFFICE" '{"action":"from_ticket"}'; check "an unknown action: 400" "$ST" 400
act "$R" "$UT" "{\"action\":\"reply\",\"reason_code\":\"resolved\",\"text\":\"已督促公司结清工资，并告知投诉和仲裁途径。\",\"kb_entry\":\"$E2\"}"
check "a reply citing an entry" "$ST/$(js 'd["state"]')" 200/REPLIED
post_json /api/v1/kb "$OFFICE" "{\"from_ticket\":\"$R\"}"
check "no draft before the reply is accepted: 409" "$ST" 409
act "$R" "$OFFICE" '{"action":"review_accept"}'; check "review_accept" "$ST" 200
act "$R" "$OFFICE" '{"action":"callback","outcome":"rated","resolution":"resolved","satisfaction":"satisfied"}'
check "callback" "$ST" 200
check "reply use recorded" "$(hl_sql "SELECT kind || ':' || coalesce(unit, '') FROM kb_uses WHERE entry_id = $E2")" "reply:$RUNIT"

echo "# the effectiveness report"
report ""
check "report" "$ST" 200
check "E1 uses/direct/replies" "$(of "$E1" uses)/$(of "$E1" direct_closures)/$(of "$E1" reply_citations)" 4/4/0
check "E1 identified (anonymous left out)" "$(of "$E1" identified)" 3
check "E1 repeats: the same day and 6 days count, 10 days does not" "$(of "$E1" repeats)" 2
check "E1 repeat rate" "$(of "$E1" repeat_rate)" 0.6667
check "E1 ratings" "$(of "$E1" rated)/$(of "$E1" satisfied)/$(of "$E1" dissatisfied)/$(of "$E1" resolved)/$(of "$E1" unresolved)" 2/1/1/1/1
check "E1 satisfaction rate" "$(of "$E1" satisfaction_rate)" 0.5
check "E1 flags" "$(of "$E1" flags)" '["failing_repeats", "failing_ratings"]'
check "E2 counts" "$(of "$E2" uses)/$(of "$E2" reply_citations)/$(of "$E2" identified)/$(of "$E2" repeats)/$(of "$E2" rated)/$(of "$E2" satisfaction_rate)" 1/1/1/0/1/1.0
check "E2 not flagged" "$(of "$E2" flags)" '[]'
check "per category" "$(js "[c['uses'] for c in d['categories'] if c['category'] == '$ACAT'][0]")" 4
check "totals" "$(js 'd["totals"]["uses"]')/$(js 'd["totals"]["direct_closures"]')" 5/4
check "rules shown" "$(js 'd["rules"]["repeat_days"]')/$(js 'd["rules"]["min"]')" 7/2
report "?from=2020-01-01&to=2020-02-01"
check "another period: nothing used" "$ST/$(js 'd["totals"]["uses"]')" 200/0
report "?unit=WATER"
check "one unit's entries" "$(js 'sorted(set(e["unit"] for e in d["entries"]))')" '["WATER"]'
report "" "$WATER"
check "a unit sees its own entries" "$ST/$(js 'sorted(set(e["unit"] for e in d["entries"]))')" '200/["WATER"]'
report "?unit=GAS" "$WATER"; check "a unit asking for another's: 403" "$ST" 403
report "" "$AGENT"; check "agents do not read reports: 403" "$ST" 403
report "" "$SUPER"; check "supervisors do" "$ST" 200
report "?from=2026-02-01&to=2026-01-01"; check "from after to: 400" "$ST" 400
report "?limit=0"; check "limit 0: 400" "$ST" 400
report "?from=%FF"; check "a bad date: 400" "$ST" 400
report "?category=%FF%FE"; check "a category not UTF-8: 400" "$ST" 400
req POST /api/v1/kb/reports/effectiveness "$OFFICE"; check "POST: 405" "$ST" 405

echo "# past review"
post_json /api/v1/kb "$OFFICE" '{"title":"旧政策问答","answer":"这条答复需要复核。","review_at":"2020-01-01","unit":"WATER"}'
OLD=$(js 'd["id"]')
post_json "/api/v1/kb/$OLD/publish" "$OFFICE" '{"version":1}'; check "published" "$ST" 200
report ""
check "an unused entry past its review date is listed" "$(of "$OLD" uses)/$(of "$OLD" flags)" '0/["past_review"]'

echo "# citing entries: bad input"
ticket "$WATER_Q"'}'
X=$TK
act "$X" "$AGENT" '{"action":"close_direct","reason":"x","kb_entry":"999999"}'
check "an unknown entry: 400" "$ST" 400
act "$X" "$AGENT" '{"action":"close_direct","reason":"x","kb_entry":"12abc"}'; check "not a number: 400" "$ST" 400
act "$X" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"x\",\"kb_entry\":\"$OLD\",\"kb_version\":\"1,2\"}"
check "versions not matching the entries: refused by the router" "$ST/$(js '"kb_entry" in d["message"]')" 400/True
act "$X" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"x\",\"kb_entry\":\"$E1,$E1,$E1,$E1,$E1,$E1,$E1,$E1,$E1\"}"
check "more than 8 entries: 400" "$ST" 400
act "$X" "$AGENT" '{"action":"close_direct","reason":"x","satisfaction":"great","resolution":"resolved"}'
check "a bad one-call rating: 400" "$ST" 400
check "nothing recorded for the refused" "$(hl_sql "SELECT count(*) FROM kb_uses u JOIN tickets t ON t.id = u.ticket_id WHERE t.ticket_no = '$X'")/$(hl_sql "SELECT state FROM tickets WHERE ticket_no = '$X'")" 0/ACCEPTED
act "$X" "$AGENT" "{\"action\":\"close_direct\",\"reason\":\"x\",\"kb_entry\":\"$E1\",\"kb_version\":\"999\"}"
check "a version that never existed: closed, but no use counted" "$ST/$(hl_sql "SELECT count(*) FROM kb_uses u JOIN tickets t ON t.id = u.ticket_id WHERE t.ticket_no = '$X'")" 200/0

echo "# over the bus, an entry cited without a version: the last published one"
ticket "$WATER_Q"'}'
BUS=$TK
rc=0; $HL_BUILD/workers/hotline-office -c "$T/hotline.conf" --role admin close_direct "$BUS" --reason 已答复 \
    --kb-entry "$E2" >/dev/null || rc=$?
check "hotline-office close_direct --kb-entry" "$rc" 0
check "recorded at the published version" \
    "$(hl_sql "SELECT u.version FROM kb_uses u JOIN tickets t ON t.id = u.ticket_id WHERE t.ticket_no = '$BUS'")" \
    "$(hl_sql "SELECT version FROM kb_entries WHERE id = $E2")"

echo "# a draft from an accepted reply"
GASU=$([ "$RUNIT" = GAS ] && echo "$WATER" || echo "$GAS")
post_json /api/v1/kb "$GASU" "{\"from_ticket\":\"$R\"}"; check "another unit's ticket: 403" "$ST" 403
post_json /api/v1/kb "$UT" "{\"from_ticket\":\"$R\"}"
check "the replying unit drafts an entry" "$ST/$(js 'd["status"]')" 201/draft
DR=$(js 'd["id"]')
req GET "/api/v1/kb/$DR" "$OFFICE"
check "question, answer, category, owner and source" \
    "$(js 'd["title"]')|$(js 'd["answer"]')|$(js 'd["unit"]')|$(js 'd["source_ticket"]')" \
    "拖欠工资|已督促公司结清工资，并告知投诉和仲裁途径。|$RUNIT|$R"
post_json /api/v1/kb "$OFFICE" "{\"from_ticket\":\"$R\",\"title\":\"工资被拖欠怎么投诉\"}"
check "the office, with its own question" "$ST/$(hl_sql "SELECT title FROM kb_entries WHERE id = $(js 'd["id"]')")" "201/工资被拖欠怎么投诉"
post_json /api/v1/kb "$OFFICE" '{"from_ticket":"2026010199999999"}'; check "an unknown ticket: 404" "$ST" 404
post_json /api/v1/kb "$OFFICE" '{"from_ticket":"../etc"}'; check "not a ticket number: 400" "$ST" 400
post_json /api/v1/kb "$OFFICE" "{\"from_ticket\":\"$R\",\"answer\":\"x\"}"; check "other fields: 400" "$ST" 400
post_json /api/v1/kb "$AGENT" "{\"from_ticket\":\"$R\"}"; check "agents do not draft: 403" "$ST" 403

echo "# gaps: consultations nobody's entry answers"
gap() { ticket "{\"title\":\"$1\",\"body\":\"$2\",\"type\":\"consultation\",\"hold\":true}"; }
gap "健身器材开放时间" "请问公园里新装的健身器材什么时候开放使用？"
gap "公园健身器材" "公园新装的健身器材什么时候可以开放使用"
gap "健身器材什么时候开放" "我们这边公园里的健身器材装好了，请问什么时候开放使用"
gap "新健身器材开放" "公园里新装了健身器材，什么时候开放给市民使用？"
gap "健身器材" "请问公园里新装的健身器材什么时候开放，能不能早点用"
P1=$TK
gap "养犬登记材料" "办理养犬登记证需要带什么材料？"
gap "养犬登记证" "请问申请养犬登记证需要准备哪些材料"
gap "狗证办理" "给狗办养犬登记证要带什么材料去哪里办"
gap "养犬登记" "养犬登记证办理需要什么材料和费用"
gap "垃圾分类时间" "小区垃圾分类定时投放是几点到几点"
gap "驾照换证" "驾驶证到期换证在哪里办理"
req GET /api/v1/kb/reports/gaps "$OFFICE"
check "gaps" "$ST" 200
check "two clusters of at least 3" "$(js '[g["size"] for g in d["gaps"]]')" "[5, 4]"
check "examples are the cluster's tickets, newest first" "$(js 'd["gaps"][0]["examples"][0]["ticket"]')" "$P1"
check "at most 5 examples" "$(js 'len(d["gaps"][0]["examples"])')" 5
check "the answered topic is no gap" "$(js 'any("停水" in e["title"] for g in d["gaps"] for e in g["examples"])')" False
check "each gap names its category and how close the KB came" \
    "$(js 'all(g["category"] and g["mean_score"] < 0.3 for g in d["gaps"])')" True
GUNIT=$(js 'd["gaps"][0]["unit"]')
req GET "/api/v1/kb/reports/gaps?min_size=1" "$OFFICE"; check "an unknown argument is ignored" "$ST" 200
req GET "/api/v1/kb/reports/gaps?days=0" "$OFFICE"; check "days 0: 400" "$ST" 400
req GET "/api/v1/kb/reports/gaps?days=abc" "$OFFICE"; check "days not a number: 400" "$ST" 400
req GET /api/v1/kb/reports/gaps "$AGENT"; check "agents: 403" "$ST" 403
if [ "$GUNIT" != None ]; then
    GT=$(gw_token unit --unit "$GUNIT")
    req GET /api/v1/kb/reports/gaps "$GT"
    check "a unit sees the gaps it owns" "$ST/$(js 'all(g["unit"] == "'"$GUNIT"'" for g in d["gaps"]) and len(d["gaps"]) > 0')" 200/True
fi
req GET "/api/v1/kb/reports/gaps?days=1&category=nothing" "$OFFICE"
check "a category without gaps" "$(js 'd["gaps"]')" "[]"

echo "# hotline-kb: the same reports from a shell"
KB=$HL_BUILD/workers/hotline-kb
rc=0; out=$("$KB" --config "$T/hotline.conf" -s kb.fail_min=2 report 2>&1) || rc=$?
check "report" "$rc" 0
check "report: E1 failing" "$(echo "$out" | grep -c "^$E1 .*failing_repeats,failing_ratings")" 1
rc=0; out=$("$KB" --config "$T/hotline.conf" -s kb.gap_min_size=3 gaps 2>&1) || rc=$?
check "gaps" "$rc/$(echo "$out" | grep -c '^gap ')" 0/2
rc=0; out=$("$KB" --config "$T/hotline.conf" history "$OLD" 2>&1) || rc=$?
check "history" "$rc/$(echo "$out" | grep -c -E '^[0-9]+ +(draft|published)')" 0/2
rc=0; out=$("$KB" --config "$T/hotline.conf" retire "$OLD" --by 运维 2>&1) || rc=$?
check "retire" "$rc/$(hl_sql "SELECT status || '/' || version || '/' || updated_by FROM kb_entries WHERE id = $OLD")" "0/retired/3/运维"
rc=0; "$KB" --config "$T/hotline.conf" retire "$OLD" >/dev/null 2>&1 || rc=$?
check "retire again: refused" "$rc" 1
rc=0; "$KB" --config "$T/hotline.conf" publish "$OLD" --version 2 >/dev/null 2>&1 || rc=$?
check "publish at a stale version: refused" "$rc/$(hl_sql "SELECT status FROM kb_entries WHERE id = $OLD")" 1/retired
rc=0; "$KB" --config "$T/hotline.conf" publish "$OLD" --version 3 >/dev/null 2>&1 || rc=$?
check "publish again" "$rc/$(hl_sql "SELECT status || '/' || version FROM kb_entries WHERE id = $OLD")" 0/published/4
rc=0; "$KB" --config "$T/hotline.conf" publish 999999 >/dev/null 2>&1 || rc=$?
check "publish an unknown entry" "$rc" 1
rc=0; "$KB" --config "$T/hotline.conf" publish 12 --version x >/dev/null 2>&1 || rc=$?
check "a bad --version: usage error" "$rc" 2
rc=0; "$KB" --config "$T/hotline.conf" report --from 2026-02-01 --to 2026-01-01 >/dev/null 2>&1 || rc=$?
check "report: from after to: usage error" "$rc" 2
rc=0; "$KB" --config "$T/hotline.conf" history abc >/dev/null 2>&1 || rc=$?
check "history of a non-number: usage error" "$rc" 2

