#!/usr/bin/env bash
# Bad input at the gateway: malformed JSON, wrong types, invalid UTF-8,
# 10 MB bodies, slow clients, header floods, SQL metacharacters in every
# field, path traversal on the console's files, hostile tokens, keys and
# query strings, raw garbage on the socket. Each gets the right status with a
# JSON error body; nothing is stored wrongly; the gateway keeps serving.
source "$(dirname "$0")/gateway_lib.sh"

gw_start gateway.idle_timeout_s=2 gateway.max_connections_per_ip=64 gateway.rate_per_s=1000 gateway.rate_burst=1000
AGENT=$(gw_token agent)
TICKETS0=$(hl_sql "SELECT count(*) FROM tickets")
EVENTS0=$(hl_sql "SELECT count(*) FROM ticket_events")

# bad CASE STATUS [ERROR_CODE] -- curl args: a POST of a body as the agent.
send() { req POST /api/v1/tickets "$AGENT" "$@"; }
error_is() {
    check "$1" "$ST/$(js 'd["error"] + ("" if d["message"] else "(no message)")' 2>/dev/null || echo not-json)" "$2"
}
alive() { check "still serving ($1)" "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" 200; }

echo "# malformed JSON and wrong types"
J=(-H 'Content-Type: application/json')
send "${J[@]}" --data-binary '{"body":'; error_is "truncated JSON" 400/bad_json
send "${J[@]}" --data-binary '{"body":"x",}'; error_is "a trailing comma" 400/bad_json
send "${J[@]}" --data-binary ''; error_is "an empty body" 400/bad_json
send "${J[@]}" --data-binary '[1,2]'; error_is "an array" 400/bad_json
send "${J[@]}" --data-binary '"body"'; error_is "a string" 400/bad_json
send "${J[@]}" --data-binary '{"body":"a","body":"b"}'; error_is "a repeated member" 400/bad_json
send "${J[@]}" --data-binary '{"body":42}'; error_is "body a number" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","requester":"张三"}'; error_is "requester a string" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","requester":{"anonymous":"yes"}}'; error_is "anonymous a string" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","location":{"lat":"22.5","long":114}}'; error_is "lat a string" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","location":{"lat":22.5}}'; error_is "lat without long" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","urgency":"now!"}'; error_is "an unknown urgency" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","type":["help"]}'; error_is "type an array" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","received_at":"yesterday"}'; error_is "a bad time" 400/invalid
send "${J[@]}" --data-binary '{"body":"x","admin":true}'; error_is "an unknown member" 400/invalid
send "${J[@]}" --data-binary '{"title":"x"}'; error_is "no body" 400/invalid
python3 -c "print('['*100000 + ']'*100000)" >"$T/deep.json"
send "${J[@]}" --data-binary @"$T/deep.json"; error_is "100,000 levels deep" 413/too_large
python3 -c "print('{\"body\":\"x\",\"location\":{\"lat\":1e999,\"long\":1}}')" >"$T/big.json"
send "${J[@]}" --data-binary @"$T/big.json"; check "a number out of range" "$ST" 400
alive "after malformed JSON"

echo "# invalid UTF-8 and NUL"
printf '{"body":"\xff\xfe"}' >"$T/bad.json"; send "${J[@]}" --data-binary @"$T/bad.json"; error_is "bytes that are not UTF-8" 400/bad_json
printf '{"body":"\xc0\xaf"}' >"$T/bad.json"; send "${J[@]}" --data-binary @"$T/bad.json"; error_is "an overlong encoding" 400/bad_json
printf '{"body":"\xed\xa0\x80"}' >"$T/bad.json"; send "${J[@]}" --data-binary @"$T/bad.json"; error_is "an encoded surrogate" 400/bad_json
send "${J[@]}" --data-binary '{"body":"\ud800"}'; error_is "a lone surrogate escape" 400/bad_json
send "${J[@]}" --data-binary '{"body":"a\u0000b"}'; error_is "an escaped NUL" 400/bad_json
printf '{"body":"a\x00b"}' >"$T/bad.json"; send "${J[@]}" --data-binary @"$T/bad.json"; error_is "a raw NUL" 400/bad_json
send -H 'Content-Type: application/json; charset=gbk' --data-binary '{"body":"x"}'; error_is "another charset" 415/unsupported_media_type

echo "# sizes"
head -c 10485760 /dev/zero | tr '\0' 'a' >"$T/10mb"
send "${J[@]}" --data-binary @"$T/10mb"; error_is "10 MB with its length" 413/too_large
send "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/10mb"; error_is "10 MB chunked, no length" 413/too_large
python3 -c "import json; print(json.dumps({'body': '长' * 30000}))" >"$T/long.json"
send "${J[@]}" --data-binary @"$T/long.json"; error_is "a body over max_body (90,000 bytes)" 413/too_large
python3 -c "import json; print(json.dumps({'body': 'x', 'title': 't' * 600}))" >"$T/long.json"
send "${J[@]}" --data-binary @"$T/long.json"; error_is "a title over 512 bytes" 413/too_large
alive "after 10 MB bodies"

echo "# content types and methods"
send -H 'Content-Type: text/plain' --data-binary '{"body":"x"}'; error_is "text/plain" 415/unsupported_media_type
send -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'body=x'; error_is "a form on the JSON API" 415/unsupported_media_type
send --data-binary '{"body":"x"}' -H 'Content-Type:'; error_is "no content type" 415/unsupported_media_type
req PUT /api/v1/tickets "$AGENT"; error_is "PUT" 405/method_not_allowed
check "405 says what is allowed" "$(header Allow)" "GET, POST"
req DELETE /console/ -; check "DELETE on the console" "$ST/$(header Allow)" "405/GET, HEAD"
req GET /api/v2/tickets "$AGENT"; error_is "an unknown path" 404/not_found
req GET /api/v1/tickets/1%27%20OR%20%271%27=%271 "$AGENT"; error_is "a ticket number with SQL" 404/not_found
req GET "/api/v1/tickets/$(printf '9%.0s' $(seq 1 200))" "$AGENT"; error_is "a 200-digit ticket number" 404/not_found

echo "# tokens and keys"
req GET /api/v1/tickets -; error_is "no token" 401/unauthorized
req GET /api/v1/tickets - -H 'Authorization: Bearer'; error_is "an empty bearer" 401/unauthorized
req GET /api/v1/tickets - -H "Authorization: Basic $(echo -n a:b | base64)"; error_is "basic auth" 401/unauthorized
req GET /api/v1/tickets - -H "Authorization: Bearer hlt_$(head -c 8000 /dev/zero | tr '\0' 'f')"; error_is "an 8 KB token" 401/unauthorized
req GET /api/v1/tickets - -H "Authorization: Bearer ${AGENT}' OR '1'='1"; error_is "a token with SQL" 401/unauthorized
send "${J[@]}" --data-binary '{"body":"x"}' -H "Idempotency-Key: $(printf 'k%.0s' $(seq 1 101))"; error_is "a 101-byte key" 400/invalid
send "${J[@]}" --data-binary '{"body":"x"}' -H "Idempotency-Key: a b"; error_is "a key with a space" 400/invalid
send "${J[@]}" --data-binary '{"body":"x"}' -H "$(printf 'Idempotency-Key: \x01\x7f')"; error_is "a key with control bytes" 400/invalid

echo "# query strings"
req GET "/api/v1/tickets?limit=-1" "$AGENT"; error_is "a negative limit" 400/invalid
req GET "/api/v1/tickets?limit=1e9" "$AGENT"; error_is "limit 1e9" 400/invalid
req GET "/api/v1/tickets?from=2026-13-45" "$AGENT"; error_is "month 13" 400/invalid
req GET "/api/v1/tickets?state=%27%20OR%201=1--" "$AGENT"; error_is "a state with SQL" 400/invalid
req GET "/api/v1/tickets?unit=%27%20OR%20%271%27=%271" "$AGENT"; check "a unit with SQL: nothing matches" "$ST/$(js 'd["count"]')" 200/0
req GET "/api/v1/tickets?category=%25" "$AGENT"; check "a LIKE wildcard is a plain character" "$ST/$(js 'd["count"]')" 200/0
req GET "/api/v1/tickets?format=xml" "$AGENT"; error_is "an unknown format" 400/invalid
req GET "/api/v1/progress?ticket=1&phone_tail=%27--%20" -; error_is "a phone tail with SQL" 400/invalid
check "nothing stored so far" "$(hl_sql "SELECT count(*) FROM tickets")/$(hl_sql "SELECT count(*) FROM ticket_events")" "$TICKETS0/$EVENTS0"

echo "# SQL metacharacters in every field are stored verbatim"
python3 - "$T/meta.json" <<'PY'
import json, sys
m = "'; DROP TABLE tickets; --\\ \" %_ $1 E'\\x00' /* */ ; DELETE FROM pii_vault"
json.dump({"channel": "web", "title": "T" + m, "body": "B" + m,
           "requester": {"name": "N" + m[:40], "phone": "1381234'5678", "id_number": "X' OR 1=1", "anonymous": False},
           "location": {"address": "A" + m}, "type": "help", "urgency": "normal"},
          open(sys.argv[1], "w"), ensure_ascii=False)
PY
send "${J[@]}" --data-binary @"$T/meta.json" -H "Idempotency-Key: k';--"
check "stored" "$ST" 201
TM=$(js 'd["ticket"]')
python3 - "$T/meta.json" "$T/want" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write("\n".join([d["title"], d["body"], d["location"]["address"], d["requester"]["name"],
                                        d["requester"]["phone"], d["requester"]["id_number"]]) + "\n")
PY
hl_sql "SELECT t.title || chr(10) || t.body || chr(10) || t.address || chr(10) || v.name || chr(10) || v.phone || chr(10) || v.id_number FROM tickets t JOIN pii_vault v ON v.ticket_id = t.id WHERE t.ticket_no = '$TM'" >"$T/got"
check "every field verbatim" "$(cmp -s "$T/got" "$T/want" && echo same || diff "$T/got" "$T/want")" same
send "${J[@]}" --data-binary '{"body":"x","location":{"region":"'"'"' OR 1=1 --"}}'
error_is "a region with SQL: the router says what a region is" 400/invalid
send "${J[@]}" --data-binary @"$T/meta.json" -H "Idempotency-Key: k';--"
check "the key with SQL replays" "$ST/$(js 'd["ticket"]')" "200/$TM"
check "the tables are all there" "$(hl_sql "SELECT count(*) FROM tickets")/$(hl_sql "SELECT count(*) > 0 FROM pii_vault")" "$((TICKETS0 + 1))/t"
req POST "/api/v1/tickets/$TM/actions" "$AGENT" "${J[@]}" --data-binary '{"action":"withdraw","reason":"R'"'"'); DELETE FROM tickets; --"}'
check "an action's reason with SQL, verbatim" "$ST/$(hl_sql "SELECT reason FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$TM' AND kind = 'withdraw'")" "200/R'); DELETE FROM tickets; --"

echo "# path traversal on the console's files"
for p in "/console/../../../../etc/passwd" "/console/..%2f..%2f..%2fetc%2fpasswd" "/console/%2e%2e/%2e%2e/etc/passwd" \
    "/console//etc/passwd" "/console/app.js%00.html" "/console/.%2e/CMakeLists.txt" "/console/../gateway.h" \
    "/console/%252e%252e/etc/passwd" "/console/index.html/" "/console/..\\..\\etc\\passwd"; do
    ST=$(curl -s --path-as-is -o "$T/r.body" -w '%{http_code}' "$U$p")
    check "$p" "$ST/$(grep -c -E 'root:|#include' "$T/r.body")" 404/0
done
req GET /console/app.js -; check "the console's own file" "$ST/$(header Content-Type)" "200/text/javascript; charset=utf-8"
check "with a content security policy" "$(header Content-Security-Policy | cut -d';' -f1)" "default-src 'self'"

echo "# header floods"
HDRS=()
for i in $(seq 1 400); do HDRS+=(-H "X-Flood-$i: $(printf 'v%.0s' $(seq 1 100))"); done
ST=$(curl -s -o /dev/null -w '%{http_code}' "${HDRS[@]}" "$U/healthz")
check "400 headers of 100 bytes: refused" "$([ "$ST" = 431 ] || [ "$ST" = 413 ] && echo refused || echo "$ST")" refused
ST=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Long: $(head -c 100000 /dev/zero | tr '\0' 'x')" "$U/healthz")
check "one 100 KB header: refused" "$([ "$ST" = 431 ] || [ "$ST" = 413 ] && echo refused || echo "$ST")" refused
alive "after header floods"

echo "# slow clients and garbage on the socket"
python3 - "$HTTP_PORT" "$U" <<'PY' >"$T/slow.out"
import socket, sys, time, urllib.request
port, url = int(sys.argv[1]), sys.argv[2]
slow = []
for i in range(40):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n")   # and never the rest
    slow.append(s)
junk = socket.create_connection(("127.0.0.1", port))
junk.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n")  # a TLS hello
# Others are served while the slow ones hang.
worst = 0.0
for i in range(10):
    t = time.monotonic()
    urllib.request.urlopen(url + "/healthz", timeout=5).read()
    worst = max(worst, time.monotonic() - t)
    time.sleep(0.1)
print("served_during=%s" % ("yes" if worst < 1.0 else "slow %.2f s" % worst))
time.sleep(3.5)  # past idle_timeout_s = 2
closed = 0
for s in slow:
    s.settimeout(1)
    try:
        closed += s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        closed += 1 if not isinstance(sys.exc_info()[1], socket.timeout) else 0
print("closed=%d" % closed)
junk.settimeout(2)
got = junk.recv(12)
print("junk=%s" % ("refused" if got in (b"", b"HTTP/1.1 400") else got.decode(errors="replace")))
PY
check "others served while 40 clients hang" "$(sed -n 's/^served_during=//p' "$T/slow.out")" yes
check "the slow ones closed after idle_timeout_s" "$(sed -n 's/^closed=//p' "$T/slow.out")" 40
check "a TLS hello on the plain port: 400 or closed" "$(sed -n 's/^junk=//p' "$T/slow.out")" refused
alive "after slow clients"

echo "# nothing stored wrongly; the gateway still runs"
check "one ticket stored (the one with SQL in it), nothing else" "$(hl_sql "SELECT count(*) FROM tickets")" "$((TICKETS0 + 1))"
check "the gateway process" "$(kill -0 "$GW_PID" && echo alive)" alive
post_json /api/v1/tickets "$AGENT" '{"body":"路灯不亮，晚上出行不便"}'
check "a good request still works" "$ST" 201

echo "# the router down under 400 requests at once: the queue to it is full, nothing lost"
# Each loop's queue to the router holds zmq.hwm envelopes while the router is
# away; the requests beyond it are answered 503 try_later at once (never
# sent, so never stored), the queued ones are stored and answered when the
# router is back (it reads none before it can store), and a retry of each
# refusal with its Idempotency-Key stores it once.
gw_stop
hl_write_conf "$T/hotline.conf" "$T/base.conf" "gateway.listen=127.0.0.1:$HTTP_PORT" zmq.hwm=100 \
    gateway.max_connections_per_ip=1024 gateway.request_timeout_ms=60000 gateway.rate_per_s=100000 \
    gateway.rate_burst=100000
gw_run
FLOOD=$(gw_token agent)
BEFORE=$(hl_sql "SELECT count(*) FROM tickets")
hl_test_router_stop
cat >"$T/flood.py" <<'PY'
import json, sys, threading, time, urllib.error, urllib.request
url, token, mark, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
status, errors = {}, {}
lock = threading.Lock()
def post(i):
    req = urllib.request.Request(url + "/api/v1/tickets", method="POST",
        data=json.dumps({"body": "水管漏水第%d号，请派人维修" % i}, ensure_ascii=False).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json",
                 "Idempotency-Key": "flood-%d" % i})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            st, body = r.status, json.load(r)
    except urllib.error.HTTPError as e:
        st, body = e.code, json.load(e)
    with lock:
        status[i], errors[i] = st, body.get("error", "")
todo = [int(k) for k in keys] if keys else range(400)
threads = [threading.Thread(target=post, args=(i,)) for i in todo]
for t in threads: t.start()
if mark != "-":
    # Settled: the refusals are in, and nothing more comes while the router is away.
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 2:
        time.sleep(0.2)
        with lock: n = len(status)
        if n != last: last, since = n, time.monotonic()
    with lock: early = dict(status)
    open(mark, "w").write("%d\n" % len(early))
for t in threads: t.join()
print("answered=%d" % len(status))
print("created=%d" % sum(1 for s in status.values() if s == 201))
print("statuses=%s" % ",".join(sorted(set("%d/%s" % (status[i], errors[i]) for i in status))))
print("not_created=%s" % " ".join(str(i) for i in sorted(status) if status[i] != 201))
if mark != "-":
    print("early=%s" % ",".join(sorted(set("%d/%s" % (status[i], errors[i]) for i in early))))
    print("refused_early=%d" % len(early))
PY
python3 "$T/flood.py" "$U" "$FLOOD" "$T/flood" >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
hl_wait 60 '[ -s "$T/flood" ]' || true
hl_test_router_start -s zmq.hwm=100000 # the gateway's queue is the one under test
wait "$FLOOD_PID" || true
sed 's/^not_created=.*/not_created=.../; s/^/  /' "$T/flood.out"
check "every request answered" "$(kv "$T/flood.out" answered)" 400
check "while the router was away: only refusals, 503 try_later" "$(kv "$T/flood.out" early)" 503/try_later
check_ge "  and some" "$(kv "$T/flood.out" refused_early)" 1
check "all others created once it was back" "$(kv "$T/flood.out" statuses)" "201/,503/try_later"
check "  that is, all but the refused" "$(kv "$T/flood.out" created)" "$((400 - $(kv "$T/flood.out" refused_early)))"
check "stored: the 201s, nothing refused" "$(hl_sql "SELECT count(*) FROM tickets")" \
    "$((BEFORE + $(kv "$T/flood.out" created)))"
# shellcheck disable=SC2046 # one argument per key
python3 "$T/flood.py" "$U" "$FLOOD" - $(kv "$T/flood.out" not_created) >"$T/retry.out" 2>&1
check "each refusal retried with its key: created" "$(kv "$T/retry.out" statuses)" 201/
check "one ticket per request" "$(hl_sql "SELECT count(*) FROM tickets")" "$((BEFORE + 400))"
check "one per key" \
    "$(hl_sql "SELECT count(DISTINCT idempotency_key) FROM tickets WHERE idempotency_key LIKE '%:flood-%'")" 400
alive "after the router came back"

gw_stop
hl_test_router_stop
