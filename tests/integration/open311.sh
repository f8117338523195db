#!/usr/bin/env bash
# Open311 GeoReport v2 end to end: discovery, services and definitions, POST
# with api_key errors, GET requests with filters and the 90-day and
# 1,000-request limits, one request, tokens; XML and JSON; nothing personal
# in any answer; errors in the spec's format.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.rate_per_s=1000 gateway.rate_burst=1000
KEY=$(gw_token open311 --name 市民App)
AGENT=$(gw_token agent)
O=/open311/v2
xml_ok() { python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse('$T/r.body')" 2>/dev/null && echo ok || echo bad; }
xq() { python3 -c "import xml.etree.ElementTree as E; r=E.parse('$T/r.body').getroot(); print($1)"; }

echo "# discovery and services"
req GET "$O/discovery.json"
check "discovery" "$ST/$(js 'd["endpoints"][0]["specification"]')" "200/http://wiki.open311.org/GeoReport_v2"
check "both formats declared" "$(js 'd["endpoints"][0]["formats"]')" '["text/xml", "application/json"]'
req GET "$O/discovery.xml"; check "discovery.xml" "$ST/$(xml_ok)/$(xq 'r.tag')" 200/ok/discovery
req GET "$O/services.json"
check "services: our categories" "$(js 'len(d)')" "$(hl_sql "SELECT count(*) FROM categories")"
check "service fields" "$(js 'sorted(d[0].keys())')" '["description", "group", "keywords", "metadata", "service_code", "service_name", "type"]'
check "a subcategory's group is its first-level category" "$(js '[x["group"] for x in d if x["service_code"] == "construction.gas"]')" '["城乡建设"]'
req GET "$O/services.xml"
check "services.xml" "$ST/$(xml_ok)/$(xq 'r.tag + "/" + r[0].tag + "/" + r[0].find("service_code").text')" "200/ok/services/service/commerce"
req GET "$O/services/construction.gas.json"; check "a definition" "$ST/$(js 'd["service_code"]')" 200/construction.gas
req GET "$O/services/nope.xml"
check "an unknown service: 404 in the spec's format" "$ST/$(xq 'r.tag + "/" + r[0].tag + "/" + r[0].find("code").text')" 404/errors/error/404
req GET "$O/services.csv"; check "an unknown format: 404" "$ST" 404

echo "# POST requests"
form() { req POST "$O/requests.$1" - -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$2" "${@:3}"; }
form json "service_code=construction.water&lat=22.54&long=114.05&description=%E5%81%9C%E6%B0%B4"
check "no api_key: 403" "$ST/$(js 'd[0]["code"]')" 403/403
form xml "api_key=nope&service_code=construction.water&lat=22.54&long=114.05&description=x"
check "a bad api_key: 403 (XML)" "$ST/$(xq 'r[0].find("description").text[:15]')" "403/Invalid api_key"
form json "api_key=$AGENT&service_code=construction.water&lat=22.54&long=114.05"
check "a staff token is not an api_key" "$ST" 403
form json "api_key=$KEY&lat=22.54&long=114.05"; check "no service_code: 400" "$ST" 400
form json "api_key=$KEY&service_code=nope&lat=22.54&long=114.05"; check "an unknown service_code: 404" "$ST" 404
form json "api_key=$KEY&service_code=construction.water"; check "no location: 400" "$ST" 400
form json "api_key=$KEY&service_code=construction.water&lat=99&long=114"; check "a bad latitude: 400" "$ST" 400
form json "api_key=$KEY&service_code=x&lat=%ZZ"; check "a broken escape: 400" "$ST" 400
form json "api_key=$KEY&service_code=construction.water&address_string=%FF%FE"; check "not UTF-8: 400" "$ST" 400
req POST "$O/requests.json" - -H 'Content-Type: application/json' --data-binary '{"api_key":"x"}'
check "JSON instead of a form: 415" "$ST" 415
DESC=$(python3 -c "import urllib.parse; print(urllib.parse.quote('小区停水两天了，请尽快处理。联系电话13812345678'))")
form json "api_key=$KEY&service_code=construction.water&lat=22.543123&long=114.057891&address_string=%E5%B9%B8%E7%A6%8F%E5%B0%8F%E5%8C%BA3%E6%A0%8B&address_id=990101001&first_name=%E5%B0%8F%E6%98%8E&last_name=%E7%8E%8B&phone=13812345678&email=a%40b.cn&description=$DESC" \
    -H 'Idempotency-Key: app-42'
check "created" "$ST" 201
R1=$(js 'd[0]["service_request_id"]')
TOK=$(js 'd[0]["token"]')
check "a service notice" "$(js 'd[0]["service_notice"][:3]')" 已受理
check "the requester's choice of service stands" "$(hl_sql "SELECT category || '/' || classifier || '/' || channel FROM tickets WHERE ticket_no = '$R1'")" \
    "construction.water/requester/open311"
check "the name and phone are kept, in the vault" "$(hl_sql "SELECT name || '/' || phone FROM pii_vault v JOIN tickets t ON t.id = v.ticket_id WHERE t.ticket_no = '$R1'")" "王小明/13812345678"
form json "api_key=$KEY&service_code=construction.water&lat=22.54&long=114.05&description=$DESC" -H 'Idempotency-Key: app-42'
check "a retry: the same request" "$ST/$(js 'd[0]["service_request_id"]')" "200/$R1"
form xml "api_key=$KEY&service_code=transport.bus&address_string=12%E8%B7%AF%E7%AB%99%E5%8F%B0&description=%E5%85%AC%E4%BA%A4%E8%BD%A6%E4%B8%8D%E5%81%9C%E7%AB%99"
check "created (XML)" "$ST/$(xml_ok)/$(xq 'r.tag + "/" + r[0].tag')" 201/ok/service_requests/request
R2=$(xq 'r[0].find("service_request_id").text')

echo "# GET requests"
req GET "$O/requests/$R1.json"
check "one request" "$ST/$(js 'd[0]["service_request_id"]')/$(js 'd[0]["status"]')" "200/$R1/open"
check "fields" "$(js 'sorted(d[0].keys())')" '["address", "address_id", "agency_responsible", "description", "expected_datetime", "lat", "long", "media_url", "requested_datetime", "service_code", "service_name", "service_notice", "service_request_id", "status", "status_notes", "updated_datetime", "zipcode"]'
check "no personal data: the phone masked in the description" "$(js 'd[0]["description"]')" "小区停水两天了，请尽快处理。联系电话138****5678"
check "no personal data: the street, not the address" "$(js 'd[0]["address"]')" "滨江街道"
check "no personal data: coordinates coarse" "$(js 'd[0]["lat"]')/$(js 'd[0]["long"]')" "22.54/114.06"
check "no name, phone or e-mail anywhere" "$(grep -c -E '王小明|13812345678|a@b.cn' "$T/r.body")" 0
check "the agency" "$(js 'd[0]["agency_responsible"]')" "示范水务集团有限公司"
check "dates with their offset" "$(js 'd[0]["requested_datetime"][-6:]')/$(js 'd[0]["expected_datetime"][-6:]')" "+08:00/+08:00"
req GET "$O/requests/$R1.xml"; check "one request (XML)" "$(xml_ok)/$(xq 'r[0].find("status").text')" ok/open
req GET "$O/requests/2026010199999999.json"; check "an unknown request: 404" "$ST" 404
req GET "$O/tokens/$TOK.json"; check "tokens" "$ST/$(js 'd[0]["service_request_id"]')" "200/$R1"
req GET "$O/tokens/nope.json"; check "an unknown token: 404" "$ST" 404
req GET "$O/requests.json?service_request_id=$R1,$R2"
check "by ids" "$(js 'sorted(x["service_request_id"] for x in d)')" "$(python3 -c "print(__import__('json').dumps(sorted(['$R1','$R2'])))")"
req GET "$O/requests.json?service_code=transport.bus"
check "by service_code" "$(js '[x["service_request_id"] for x in d]')" "[\"$R2\"]"
req GET "$O/requests.json?service_code=nope"; check "an unknown service_code: 404" "$ST" 404
# Close one: status filters.
$HL_BUILD/workers/hotline-office -c "$T/hotline.conf" --role admin withdraw "$R2" --reason 市民撤回 >/dev/null
req GET "$O/requests.json?status=closed"; check "closed ones" "$(js '[x["service_request_id"] for x in d]')" "[\"$R2\"]"
req GET "$O/requests.json?status=open"; check "open ones" "$(js '[x["service_request_id"] for x in d]')" "[\"$R1\"]"
req GET "$O/requests.json?status=maybe"; check "a bad status: 400" "$ST" 400
req GET "$O/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
check "more than 90 days: 400" "$ST/$(js 'd[0]["description"]')" "400/the date range is over 90 days"
req GET "$O/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"; check "an old range: none" "$ST/$(js 'len(d)')" 200/0
req GET "$O/requests.json?start_date=yesterday"; check "a bad date: 400" "$ST" 400
req GET "$O/requests.json?start_date=&status="; check "empty is absent" "$ST/$(js 'len(d)')" 200/2

echo "# confidential tickets are never published"
post_json /api/v1/tickets "$AGENT" '{"body":"举报隔壁工厂夜间偷排废水","requester":{"name":"赵六","phone":"13700000000","confidential":true},"category":"environment"}'
RC=$(js 'd["ticket"]')
req GET "$O/requests/$RC.json"; check "a confidential ticket: 404" "$ST" 404
req GET "$O/requests.json"; check "nor in lists" "$(grep -c "$RC" "$T/r.body")" 0

echo "# at most 1,000 requests"
hl_loadgen -n 1100 -w 500 --prefix many -q >/dev/null
req GET "$O/requests.json"
check "the first 1,000" "$ST/$(js 'len(d)')" 200/1000
req GET "$O/requests.xml"; check "in XML too" "$(xml_ok)/$(xq 'len(r)')" ok/1000

gw_stop
hl_test_router_stop
