#!/usr/bin/env bash
# Bad input at the bus boundary (tests/integration/test_bus.c) against a real
# router: clear error answers, nothing stored changes, the router keeps serving.
source "$(dirname "$0")/harness.sh"

hl_test_stores_up
hl_test_router_start
HL_INTAKE="tcp://127.0.0.1:$INTAKE_PORT" HL_CONNINFO="$CONNINFO" "$HL_BUILD/tests/test_bus" || FAILED=1
check "broken routing was dropped and logged" "$(grep -c 'dropped a message with unexpected routing frames' "$T/router.log")" 1
check "router still running" "$(kill -0 "$ROUTER_PID" && echo yes)" yes
hl_test_router_stop
