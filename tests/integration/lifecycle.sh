#!/usr/bin/env bash
# The ticket lifecycle end to end: tests/integration/test_lifecycle_bus.c drives
# every transition through the bus; then the tools: hotline-office
# dispatches from its queue, hotline-unit consumes a unit's queue, crashes
# with entries un-acked, and on restart gets them again and handles each
# once; text and JSON output; bad command lines.
source "$(dirname "$0")/harness.sh"

UNIT=$HL_BUILD/workers/hotline-unit
OFFICE=$HL_BUILD/workers/hotline-office

hl_test_stores_up
hl_test_router_start --set router.min_confidence=1

echo "# the lifecycle through the bus"
HL_INTAKE="tcp://127.0.0.1:$INTAKE_PORT" HL_CONNINFO="$CONNINFO" HL_REDIS_PORT="$REDIS_PORT" \
    "$HL_BUILD/tests/test_lifecycle_bus" || FAILED=1

unit() { "$UNIT" -c "$T/hotline.conf" "$@"; }
office() { "$OFFICE" -c "$T/hotline.conf" "$@"; }
export UNIT OFFICE T

echo "# the office dispatches what waits in its queue"
# Drop what the C test left in the queues used here.
hl_redis DEL hl:q:dispatch hl:q:WATER >/dev/null
hl_loadgen -n 10 --prefix cli -q >/dev/null
office consume --count 10 --wait 30 \
    --exec '"$OFFICE" -c "$T/hotline.conf" dispatch "$HL_TICKET" --to WATER --key "$HL_KEY:dispatch" >>"$T/dispatch.out"' \
    >"$T/office.out" 2>&1 || { cat "$T/office.out"; FAILED=1; }
check "dispatched from the queue" "$(grep -c ' DISPATCHED ' "$T/dispatch.out")" 10
check "ten tickets at WATER" "$(hl_sql "SELECT count(*) FROM tickets t JOIN intake_keys k ON k.ticket_id = t.id WHERE k.key LIKE 'cli-%' AND t.unit = 'WATER' AND t.state = 'DISPATCHED'")" 10
check "office queue drained" "$(hl_redis XPENDING hl:q:dispatch hotline | head -1)" 0
check "acked entries deleted" "$(hl_redis XLEN hl:q:dispatch)" 0

echo "# a unit consumer crashes before acking; the entries come back, handled once"
cat >"$T/handler.sh" <<'EOF'
#!/usr/bin/env bash
# Sign the ticket (the idempotency key makes a second delivery harmless),
# log the delivery, and on the fifth ticket die with the entry un-acked.
set -e
"$UNIT" -c "$T/hotline.conf" --unit WATER sign "$HL_TICKET" --key "$HL_KEY:sign" >>"$T/sign.out"
echo "$HL_TICKET $HL_REDELIVERED" >>"$T/deliveries"
if [ "$(wc -l <"$T/deliveries")" -eq 5 ] && [ ! -f "$T/crashed" ]; then
    touch "$T/crashed"
    kill -9 "$(ps -o ppid= -p "$PPID" | tr -d ' ')"
fi
EOF
chmod +x "$T/handler.sh"
rc=0
unit --unit WATER consume --wait 30 --exec "$T/handler.sh" >"$T/consume1.out" 2>&1 || rc=$?
check "the first consumer died" "$rc" 137
check "five delivered before the crash" "$(wc -l <"$T/deliveries")" 5
check "one entry left pending" "$(hl_redis XPENDING hl:q:WATER hotline | head -1)" 1
unit --unit WATER consume --count 6 --wait 30 --exec "$T/handler.sh" >"$T/consume2.out" 2>&1 || { cat "$T/consume2.out"; FAILED=1; }
check "the crashed entry came back first" "$(sed -n 6p "$T/deliveries" | cut -d' ' -f2)" 1
check "it was the fifth ticket" "$(sed -n 6p "$T/deliveries" | cut -d' ' -f1)" "$(sed -n 5p "$T/deliveries" | cut -d' ' -f1)"
check "eleven deliveries of ten tickets" "$(wc -l <"$T/deliveries")/$(cut -d' ' -f1 "$T/deliveries" | sort -u | wc -l)" 11/10
check "each signed once" "$(hl_sql "SELECT count(*) FROM ticket_events e JOIN intake_keys k ON k.ticket_id = e.ticket_id WHERE k.key LIKE 'cli-%' AND e.kind = 'sign'")" 10
check "the second sign was a replay" "$(grep -c 'done earlier' "$T/sign.out")" 1
check "nothing pending" "$(hl_redis XPENDING hl:q:WATER hotline | head -1)" 0

echo "# reading and acting from the shell"
TK=$(head -1 "$T/dispatch.out" | cut -d' ' -f1)
unit --unit WATER show "$TK" >"$T/show.out"
check "show: the state" "$(grep -c "^ticket    $TK  v[0-9]*  SIGNED" "$T/show.out")" 1
check "show: the history" "$(grep -c -E '^ +[0-9]+ .* (intake|dispatch|sign) ' "$T/show.out")" 3
check "show: no phone number in the clear" "$(grep -c -E '1[3-9][0-9]{9}' "$T/show.out")" 0
unit --unit WATER show "$TK" --reveal "回电核实" >"$T/reveal.out"
check "reveal: logged" "$(hl_sql "SELECT count(*) FROM pii_access_log WHERE who LIKE 'unit/WATER:%' AND why = '回电核实'")" 1
check "reveal: the phone number" "$(grep -c '13[0-9]\{9\}' "$T/reveal.out")" 1
unit --unit WATER --json list --state SIGNED --limit 3 >"$T/list.json"
check "list --json: one object" "$(wc -l <"$T/list.json")" 1
check "list --json: three tickets" "$(grep -o '"ticket":' "$T/list.json" | wc -l)" 3
unit --unit WATER list --state open >"$T/list.txt"
check "list: header and ten tickets" "$(wc -l <"$T/list.txt")" 11
unit --unit WATER contact "$TK" --method phone --note "已联系" >"$T/contact.out"
check "contact: in progress" "$(cut -d' ' -f2 "$T/contact.out")" IN_PROGRESS
unit --unit WATER --json reply "$TK" --code resolved --text "已修复" >"$T/reply.json"
check "reply --json: the state" "$(grep -c '"state":"REPLIED"' "$T/reply.json")" 1
check "reply --json: status ok" "$(grep -c '"status":"ok"' "$T/reply.json")" 1
rc=0; unit --unit WATER sign "$TK" 2>"$T/refused.err" || rc=$?
check "refused: exit 1" "$rc" 1
check "refused: names the state and what it allows" "$(grep -c "conflict: ticket $TK is REPLIED: 'sign' is not allowed (allowed for unit: nothing)" "$T/refused.err")" 1
rc=0; unit --unit WATER --json sign "$TK" >"$T/refused.json" || rc=$?
check "refused --json: exit 1, status in JSON" "$rc/$(grep -c '"status":"conflict"' "$T/refused.json")" 1/1
office review_accept "$TK" >/dev/null
office callback "$TK" --outcome rated --resolution resolved --satisfaction satisfied >/dev/null
office close "$TK" >"$T/close.out"
check "closed from the shell" "$(cut -d' ' -f2 "$T/close.out")" CLOSED
rc=0; unit --unit WATER next 2>/dev/null >/dev/null || rc=$?
check "next on an empty queue: exit 4" "$rc" 4

echo "# bad command lines: a clear message, exit 2, nothing sent"
EV=$(hl_sql "SELECT count(*) FROM ticket_events")
bad() {
    local what=$1 want=$2 rc=0
    shift 2
    "$@" >"$T/bad.out" 2>&1 || rc=$?
    check "$what: exit" "$rc" 2
    check "$what: says why" "$(grep -c -- "$want" "$T/bad.out")" 1
}
bad "no unit" "unit CODE is required" "$UNIT" -c "$T/hotline.conf" sign "$TK"
bad "unknown command" "unknown command 'fly'" "$UNIT" -c "$T/hotline.conf" --unit WATER fly
bad "missing ticket" "'sign' needs an argument" "$UNIT" -c "$T/hotline.conf" --unit WATER sign
bad "extra argument" "unexpected argument" "$UNIT" -c "$T/hotline.conf" --unit WATER sign "$TK" more
bad "bad payload" "KEY=VALUE" "$UNIT" -c "$T/hotline.conf" --unit WATER reply "$TK" --payload novalue
bad "payload twice" "given twice" "$UNIT" -c "$T/hotline.conf" --unit WATER reply "$TK" --text a --text b
bad "bad limit" "bad number" "$UNIT" -c "$T/hotline.conf" --unit WATER list --limit 0
bad "bad version" "bad number" "$UNIT" -c "$T/hotline.conf" --unit WATER sign "$TK" --version x
bad "office role" "--role must be" "$OFFICE" -c "$T/hotline.conf" --role unit list
bad "bad config" "unknown" "$UNIT" -c "$T/hotline.conf" --set nosuch.key=1 --unit WATER list
bad "unknown option" "Try" "$UNIT" -c "$T/hotline.conf" --unit WATER list --frobnicate
check "nothing written" "$(hl_sql "SELECT count(*) FROM ticket_events")" "$EV"
rc=0; "$UNIT" --set zmq.intake=tcp://127.0.0.1:1 --unit WATER --timeout 200 show "$TK" 2>"$T/down.err" || rc=$?
check "router unreachable: exit 3" "$rc" 3
check "router unreachable: says so" "$(grep -c 'no answer from the router' "$T/down.err")" 1
check "--help lists the unit's actions" "$("$UNIT" --help | grep -c -E '^  (sign|return|extend|contact|reply) ')" 5
check "--help of a unit lists no office action" "$("$UNIT" --help | grep -c '^  approve_return ')" 0
check "--help of the office lists its actions" "$("$OFFICE" --help | grep -c '^  approve_return ')" 1

hl_test_router_stop
