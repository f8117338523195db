# tests/integration/gateway_lib.sh - the gateway on top of harness.sh.
#
# gw_start [--set k=v ...]: stores, router and gateway up (HTTP_PORT, U);
# gw_token ROLE [args]: a new token the gateway knows; req METHOD PATH [TOKEN] [curl args...]:
# one request, status in $ST, body in $T/r.body, headers in $T/r.head;
# js 'EXPR': a Python expression over the JSON body (d).
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

GATEWAY=$HL_BUILD/workers/hotline-gateway
TOKEN=$HL_BUILD/workers/hotline-token
GW_PID=

gw_start() {
    hl_test_stores_up
    hl_free_port HTTP_PORT
    cp "$T/hotline.conf" "$T/base.conf"
    hl_write_conf "$T/hotline.conf" "$T/base.conf" "gateway.listen=127.0.0.1:$HTTP_PORT" "$@"
    hl_test_router_start
    gw_run
}

gw_run() {
    "$GATEWAY" --config "$T/hotline.conf" >>"$T/gateway.log" 2>&1 &
    GW_PID=$!
    U=http://127.0.0.1:$HTTP_PORT
    local i
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/readyz")" = 200 ] && return 0
        kill -0 "$GW_PID" 2>/dev/null || { cat "$T/gateway.log"; hl_die "gateway exited"; }
        sleep 0.1
    done
    cat "$T/gateway.log"
    hl_die "gateway not ready"
}

# Stops the gateway and checks that it exited cleanly (status 0).
gw_stop() {
    [ -n "$GW_PID" ] || return 0
    local rc=0
    kill -TERM "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || rc=$?
    GW_PID=
    check "the gateway stops cleanly on SIGTERM" "$rc" 0
}

# gw_token ROLE [hotline-token create options]: prints a new token once the
# running gateway knows it (tokens reach it through NOTIFY; on a loaded
# machine a request sent at once could still get 401).
gw_token() {
    local tok
    tok=$("$TOKEN" --config "$T/hotline.conf" create --role "$@") || return 1
    [ -z "$GW_PID" ] || hl_wait 10 '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $tok" "$U/api/v1/me")" != 401 ]' ||
        hl_die "the gateway did not take the new $1 token within 10 s"
    echo "$tok"
}

# req METHOD PATH [TOKEN|-] [curl args...]
req() {
    local method=$1 path=$2 tok=${3:--}
    shift 3 2>/dev/null || shift $#
    local auth=()
    [ "$tok" != - ] && auth=(-H "Authorization: Bearer $tok")
    ST=$(curl -s -X "$method" -o "$T/r.body" -D "$T/r.head" -w '%{http_code}' "${auth[@]}" "$@" "$U$path")
}

# post_json PATH TOKEN JSON [curl args...]
post_json() {
    local path=$1 tok=$2 body=$3
    shift 3
    req POST "$path" "$tok" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

js() { python3 -c "import json,sys; d=json.load(open('$T/r.body')); v=($1); print(v if not isinstance(v,(dict,list)) else json.dumps(v,ensure_ascii=False))"; }

header() { grep -i "^$1:" "$T/r.head" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

gw_cleanup() {
    local rc=$?
    gw_stop
    if grep -E -q '1[3-9][0-9]{9}|[0-9]{17}[0-9Xx]' "$T/gateway.log" 2>/dev/null; then
        echo "FAIL personal data in the gateway's log:"
        grep -E '1[3-9][0-9]{9}|[0-9]{17}[0-9Xx]' "$T/gateway.log" | head -5
        FAILED=1
    fi
    hl_test_cleanup "$rc"
}
trap gw_cleanup EXIT
