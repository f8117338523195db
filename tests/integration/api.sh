#!/usr/bin/env bash
# The JSON API end to end against the real stack: tickets created, read,
# listed and acted on through hotline-gateway; idempotent retries; every
# role's allowed and forbidden calls; masking in every output (JSON, CSV,
# the log) and the access log of unmasked reads; the citizen's progress
# query; previews with similar tickets; rate limits.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.rate_per_s=1000 gateway.rate_burst=1000 gateway.progress_per_min=5
AGENT=$(gw_token agent --name 话务员01)
OFFICE=$(gw_token office --name 派单员)
SUPER=$(gw_token supervisor)
ADMIN=$(gw_token admin)
WATER=$(gw_token unit --unit WATER)
GAS=$(gw_token unit --unit GAS)
O311=$(gw_token open311)
SLOW=$(gw_token agent --rate 2)

TICKET='{"title":"楼道灯坏了","body":"幸福小区3栋楼道灯坏了两周，电话13812345678，身份证440305199001011234。",
 "requester":{"name":"王小明","phone":"13812345678","id_number":"440305199001011234"},
 "location":{"region":"990101001","address":"幸福小区3栋","lat":22.5431,"long":114.0579},"type":"help"}'

echo "# health"
req GET /healthz; check "healthz" "$ST" 200
req GET /readyz; check "readyz" "$ST" 200

echo "# a new ticket, and its retry"
post_json /api/v1/tickets "$AGENT" "$TICKET" -H 'Idempotency-Key: call-0001'
check "created" "$ST" 201
T1=$(js 'd["ticket"]')
check "a ticket number" "$(js 'len(d["ticket"])')" 16
check "Location header" "$(header Location)" "/api/v1/tickets/$T1"
check "deadlines in ISO 8601 with offset" "$(js 'd["deadlines"]["reply"][-6:]')" "+08:00"
check "fields" "$(js '",".join(k for k in ("ticket","state","category","confidence","unit","deadlines","duplicates","kb") if k in d)')" \
    "ticket,state,category,confidence,unit,deadlines,duplicates,kb"
post_json /api/v1/tickets "$AGENT" "$TICKET" -H 'Idempotency-Key: call-0001'
check "a retry: 200, the same ticket" "$ST/$(js 'd["ticket"]')/$(js 'd["replayed"]')" "200/$T1/True"
post_json /api/v1/tickets "$OFFICE" "$TICKET" -H 'Idempotency-Key: call-0001'
check "another token's key is its own" "$ST/$([ "$(js 'd["ticket"]')" != "$T1" ] && echo new)" "201/new"
T2=$(js 'd["ticket"]')
check "stored once per key" "$(hl_sql "SELECT count(*) FROM intake_keys WHERE key LIKE '%:call-0001'")" 2
check "the duplicate was found" "$(js '[x["ticket"] for x in d["duplicates"]]')" "[\"$T1\"]"

echo "# previews: category, unit, deadline and similar tickets, nothing stored"
N0=$(hl_sql "SELECT count(*) FROM tickets")
post_json /api/v1/tickets/preview "$AGENT" '{"title":"楼道灯","body":"幸福小区3栋楼道灯坏了","location":{"region":"990101001"}}'
check "preview" "$ST" 200
check "preview: similar open tickets" "$(js 'sorted(x["ticket"] for x in d["similar"])')" "$(python3 -c "print(__import__('json').dumps(sorted(['$T1','$T2'])))")"
check "preview: their requesters stay out" "$(grep -c 13812345678 "$T/r.body")" 0
check "preview: nothing stored" "$(hl_sql "SELECT count(*) FROM tickets")" "$N0"

echo "# reading: masked, unmasked with a reason (logged), unit rules"
req GET "/api/v1/tickets/$T1" "$AGENT"
check "read" "$ST" 200
check "phone masked" "$(js 'd["requester"]["phone"]')" "138****5678"
check "name masked" "$(js 'd["requester"]["name"]')" "王**"
check "id number masked" "$(js 'd["requester"]["id_number"]')" "440305********1234"
check "history" "$(js 'd["history"][0]["kind"]')" intake
LOGGED=$(hl_sql "SELECT count(*) FROM pii_access_log")
req GET "/api/v1/tickets/$T1?reveal=%E5%9B%9E%E8%AE%BF%E6%A0%B8%E5%AE%9E" "$OFFICE"
check "office reveals" "$ST/$(js 'd["requester"]["phone"]')" "200/13812345678"
check "the reveal is logged" "$(hl_sql "SELECT count(*) - $LOGGED || ' ' || max(why) FROM pii_access_log")" "1 回访核实"
UNIT=$(js 'd["unit"]')
UTOK=$(gw_token unit --unit "$UNIT")
req GET "/api/v1/tickets/$T1" "$UTOK"; check "the lead unit reads" "$ST" 200
req GET "/api/v1/tickets/$T1?reveal=call" "$UTOK"; check "the lead unit reveals" "$(js 'd["requester"]["phone"]')" 13812345678
OTHER=$([ "$UNIT" = GAS ] && echo "$WATER" || echo "$GAS")
req GET "/api/v1/tickets/$T1" "$OTHER"; check "another unit: 403" "$ST" 403
req GET "/api/v1/tickets?unit=$UNIT" "$OTHER"; check "another unit's list: 403" "$ST" 403
req GET "/api/v1/tickets/2026010199999999" "$AGENT"; check "unknown ticket: 404" "$ST" 404
req GET "/api/v1/tickets/not-a-number" "$AGENT"; check "not a number: 404" "$ST" 404
req GET "/api/v1/tickets/$T1?reveal=" "$OFFICE"; check "a reveal without a reason: 400" "$ST" 400

echo "# lists and the CSV export"
hl_loadgen -n 30 --prefix list -q >/dev/null
req GET "/api/v1/tickets?limit=5" "$OFFICE"
check "a list" "$ST/$(js 'd["count"]')" 200/5
req GET "/api/v1/tickets?state=DISPATCHED&limit=500" "$OFFICE"
check "by state" "$(js 'set(x["state"] for x in d["tickets"])')" "{'DISPATCHED'}"
req GET "/api/v1/tickets?category=construction&limit=500" "$OFFICE"
check "by category (and its subcategories)" "$(js 'all(x["category"].split(".")[0] == "construction" for x in d["tickets"])')" True
req GET "/api/v1/tickets?from=2020-01-01&to=2020-02-01" "$OFFICE"; check "by dates" "$(js 'd["count"]')" 0
req GET "/api/v1/tickets?from=yesterday" "$OFFICE"; check "a bad date: 400" "$ST" 400
req GET "/api/v1/tickets?limit=9999" "$OFFICE"; check "a bad limit: 400" "$ST" 400
req GET "/api/v1/tickets?state=NOPE" "$OFFICE"; check "a bad state: 400" "$ST" 400
req GET "/api/v1/tickets" "$WATER"
check "a unit lists its own" "$(js 'set(x["unit"] for x in d["tickets"]) <= {"WATER"}')" True
req GET "/api/v1/tickets?format=csv&limit=1000" "$OFFICE"
check "CSV" "$ST/$(header Content-Type)" "200/text/csv; charset=utf-8"
check "CSV: a row per ticket" "$(($(wc -l <"$T/r.body") - 1))" "$(hl_sql "SELECT count(*) FROM tickets")"
check "CSV: no phone or id number in the clear" "$(grep -c -E '1[3-9][0-9]{9}|[0-9]{17}' "$T/r.body")" 0
check "CSV: masked phones" "$(grep -c '138\*\*\*\*5678' "$T/r.body")" 2
check "the export is logged" "$(grep -c 'export: .* tickets as CSV by office' "$T/gateway.log")" 1

echo "# actions"
act() { post_json "/api/v1/tickets/$1/actions" "$2" "$3" "${@:4}"; }
act "$T1" "$UTOK" '{"action":"sign"}'
check "sign" "$ST/$(js 'd["state"]')" 200/SIGNED
V=$(js 'd["version"]')
act "$T1" "$UTOK" '{"action":"sign"}'
check "sign again: 409" "$ST/$(js 'd["error"]')" 409/conflict
check "409 lists what is allowed" "$(js '"reply" in d["allowed"]')" True
act "$T1" "$UTOK" "{\"action\":\"contact\",\"method\":\"phone\",\"expected_version\":$((V - 1))}"
check "a stale version: 409" "$ST" 409
act "$T1" "$UTOK" '{"action":"extend","days":3,"reason":"需要更换线路"}' -H 'Idempotency-Key: ext-1'
check "extend (a number in the details)" "$ST/$(js 'd["state"]')" 200/EXTENSION_REQUESTED
act "$T1" "$UTOK" '{"action":"extend","days":3,"reason":"需要更换线路"}' -H 'Idempotency-Key: ext-1'
check "the same key again: done once" "$ST/$(js 'd["replayed"]')" 200/True
act "$T1" "$OTHER" '{"action":"reply","reason_code":"resolved","text":"x"}'
check "another unit: 403" "$ST" 403
act "$T1" "$UTOK" '{"action":"approve_extension"}'
check "a unit may not approve: 403" "$ST" 403
act "$T1" "$OFFICE" '{"action":"approve_extension"}'
check "the office approves" "$ST/$(js 'd["state"]')" 200/SIGNED
act "$T1" "$UTOK" '{"action":"fly"}'; check "an unknown action: 400" "$ST" 400
act "$T1" "$UTOK" '{"action":"reply","reason_code":"resolved","text":["a"]}'; check "a detail of a wrong type: 400" "$ST" 400
act 2026010199999999 "$OFFICE" '{"action":"sign"}'; check "an unknown ticket: 404" "$ST/$(js 'd["error"]')" 404/not_found
act "$T1" "$O311" '{"action":"sign"}'; check "an Open311 key on the API: 403" "$ST" 403
req GET "/api/v1/tickets/$T1" "$OFFICE"
check "a ticket lists what this token may do now" "$(js 'd["actions"]')" '["withdraw", "transfer_emergency"]'
req GET "/api/v1/tickets/$T1" "$UTOK"
check "... and for its unit" "$(js 'd["actions"]')" '["return", "extend", "contact", "reply"]'
req GET "/api/v1/tickets/$T1" "$OTHER"
check "... nothing for another unit" "$ST/$(js 'd.get("actions", [])')" "403/[]"

echo "# an answer at first contact (直接办结)"
post_json /api/v1/tickets "$AGENT" '{"body":"请问社保卡补办需要带什么材料？","type":"consultation","hold":true}'
check "held: accepted, not routed" "$ST/$(js 'd["state"]')/$(js 'd["unit"]')" "201/ACCEPTED/None"
TH=$(js 'd["ticket"]')
check "held tickets wait in the dispatch queue, in case" "$(hl_redis XREVRANGE hl:q:dispatch + - COUNT 1 | grep -c "$TH")" 1
act "$TH" "$AGENT" '{"action":"close_direct","reason":"已告知补办所需材料：身份证原件。"}'
check "closed at first contact" "$ST/$(js 'd["state"]')" 200/CLOSED_DIRECT
post_json /api/v1/tickets "$AGENT" '{"body":"x","hold":"yes"}'; check "hold must be a boolean: 400" "$ST" 400

echo "# roles"
post_json /api/v1/tickets "$WATER" "$TICKET"; check "a unit may not create tickets" "$ST" 403
post_json /api/v1/tickets "$O311" "$TICKET"; check "an Open311 key may not either" "$ST" 403
for t in AGENT OFFICE SUPER ADMIN; do
    post_json /api/v1/tickets "${!t}" '{"body":"小区门口路面坑洼，雨天积水严重。"}'
    check "$t creates" "$ST" 201
done
req GET /api/v1/tickets -; check "no token: 401" "$ST" 401
check "401 says how" "$(header WWW-Authenticate)" 'Bearer realm="hotline"'
req GET /api/v1/tickets "hlt_0000000000000000000000000000000000000000"; check "an unknown token: 401" "$ST" 401
req GET /api/v1/me "$WATER"; check "me" "$(js 'd["role"] + "/" + d["unit"]')" unit/WATER
"$TOKEN" --config "$T/hotline.conf" revoke "$(echo "$SUPER" | cut -c1-8)" >/dev/null
hl_wait 3 'req GET /api/v1/me "$SUPER"; [ "$ST" = 401 ]' || true
check "a revoked token: 401 within a moment" "$ST" 401
req GET /api/v1/reference "$AGENT"
check "reference names" "$(js 'len(d["units"]) > 20 and len(d["categories"]) > 5 and len(d["regions"]) > 5')" True

echo "# a citizen's progress query"
req GET "/api/v1/progress?ticket=$T1&phone_tail=5678"
check "progress" "$ST/$(js 'd["state"]')" 200/SIGNED
check "progress: nothing personal or internal" "$(grep -c -E '王|1381234|requester|reason|actor' "$T/r.body")" 0
check "progress: no deadline notices" "$(js 'all(h["event"] != "notify" for h in d["history"])')" True
req GET "/api/v1/progress?ticket=$T1&phone_tail=0000"; check "a wrong phone: 404" "$ST" 404
req GET "/api/v1/progress?ticket=2026010199999999&phone_tail=5678"; check "no such ticket: the same 404" "$ST" 404
req GET "/api/v1/progress?ticket=$T1&phone_tail=56"; check "a bad tail: 400" "$ST" 400
for _ in 1 2 3; do req GET "/api/v1/progress?ticket=$T1&phone_tail=5678"; [ "$ST" = 429 ] && break; done
check "rate limited per address (5 a minute)" "$ST" 429
check "Retry-After" "$([ -n "$(header Retry-After)" ] && echo yes)" yes

echo "# a token's rate"
# Five requests on one connection, a few ms apart (five curls took over half a second on a
# loaded machine, and the bucket refilled in between).
codes=$(curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $SLOW" \
    "$U/api/v1/me" "$U/api/v1/me" "$U/api/v1/me" "$U/api/v1/me" "$U/api/v1/me")
check "2 per second: the rest 429" "$(echo "$codes" | grep -o 429 | wc -l)" 3

echo "# confidential tickets"
post_json /api/v1/tickets "$AGENT" '{"body":"举报某餐馆后厨卫生很差，联系电话13912345678","requester":{"name":"李四","phone":"13912345678","confidential":true},"type":"report","category":"commerce"}'
T3=$(js 'd["ticket"]')
U3=$(js 'd["unit"]')
U3TOK=$(gw_token unit --unit "$U3")
req GET "/api/v1/tickets/$T3" "$U3TOK"
check "a unit sees no requester and no number in the text" "$(js 'd["requester"]["name"] + d["requester"]["phone"]')/$(grep -c 13912345678 "$T/r.body")" "/0"
req GET "/api/v1/tickets/$T3?reveal=x" "$U3TOK"; check "nor by asking" "$ST" 403

echo "# duplicates right after a router restart: the intake waits for its district's candidates"
hl_test_router_stop
hl_test_router_start
sleep 1.5
post_json /api/v1/tickets "$AGENT" "$TICKET" -H 'Idempotency-Key: call-after-restart'
check "created" "$ST" 201
check "open duplicates found, read from PostgreSQL" \
    "$(js 'any(x["title"] == "楼道灯坏了" and x["state"] not in ("CLOSED", "ARCHIVED") for x in d["duplicates"])')" True
check "not itself" "$(js 'd["ticket"] in [x["ticket"] for x in d["duplicates"]]')" False

echo "# the gateway's log holds nothing personal (checked at exit)"
gw_stop
check "stopped cleanly" "$(grep -c 'I stopped' "$T/gateway.log")" 1
hl_test_router_stop
