#!/usr/bin/env bash
# The non-blocking PostgreSQL connection (common/pg.c) against a real server:
# multi-COPY requests with COPY data sent ahead and not, megabyte payloads,
# errors mid-stream, requests queued behind them (tests/integration/test_pg.c).
source "$(dirname "$0")/harness.sh"

hl_test_stores_up
HL_CONNINFO="$CONNINFO" "$HL_BUILD/tests/test_pg" || FAILED=1
