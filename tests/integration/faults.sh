#!/usr/bin/env bash
# Faults under load: the router killed with SIGKILL, Redis stopped, Redis hung
# (SIGSTOP: its stream writes time out), PostgreSQL stopped, each in the
# middle of 20,000 intakes sent with retries. Afterwards every acked ticket is
# stored once, as acked, and in its unit stream; nothing is stored twice;
# while PostgreSQL is down intakes are refused, not acked.
source "$(dirname "$0")/harness.sh"

N=${HL_FAULT_COUNT:-20000}
hl_test_stores_up
hl_test_router_start -s router.stats_ms=500

# wait_rows SQL MIN: wait (up to 30 s) until the query returns at least MIN.
wait_rows() {
    local sql=$1 min=$2
    hl_wait 30 '[ "$(hl_sql "$sql")" -ge "$min" ]'
}

verify_run() {
    local out=$1 what=$2
    check "$what: all acked" "$(kv "$out" acked)" "$N"
    check "$what: none failed" "$(kv "$out" failed)" 0
    check "$what: lost" "$(kv "$out" lost)" 0
    check "$what: undelivered" "$(kv "$out" undelivered)" 0
    check "$what: mismatched" "$(kv "$out" mismatched)" 0
    check "$what: duplicated" "$(kv "$out" duplicated)" 0
    check "$what: stored once" "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE '$3-%'")" "$N"
}

echo "# kill -9 the router in the middle of $N intakes, then restart it"
hl_loadgen -n "$N" -w 500 --retries 1000 --timeout 1000 --prefix kill --verify -q >"$T/kill.out" &
LG=$!
wait_rows "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'kill-%'" $((N / 4)) ||
    echo "note: load was slower than expected"
hl_test_router_kill9
echo "killed the router with $(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'kill-%'") of $N stored"
sleep 0.5
mv "$T/router.log" "$T/router-killed.log"
hl_test_router_start -s router.stats_ms=500
wait $LG || true
verify_run "$T/kill.out" "after kill -9" kill
check_ge "retries were needed" "$(kv "$T/kill.out" retries)" 1

echo "# stop Redis in the middle of $N intakes, start it again later"
hl_loadgen -n "$N" -w 500 --retries 1000 --timeout 2000 --prefix redis --verify -q >"$T/redis.out" &
LG=$!
wait_rows "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'redis-%'" $((N / 4)) || true
hl_redis_stop "$T/redis"
stored_down=$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'redis-%'")
sleep 1.5
stored_later=$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'redis-%'")
check "tickets still stored while Redis is down" "$([ "$stored_later" -gt "$stored_down" ] && echo yes || echo "no ($stored_down -> $stored_later)")" yes
check_ge "undelivered batches wait in the outbox" "$(hl_sql "SELECT count(*) FROM outbox")" 1
hl_redis_start "$T/redis" "$REDIS_PORT"
wait $LG || true
verify_run "$T/redis.out" "after the Redis outage" redis
check "the sweep re-sent them" "$(grep -c 'outbox sweep re-sent' "$T/router.log" | awk '{print ($1 > 0)}')" 1

echo "# Redis hangs (SIGSTOP) in the middle of $N intakes: the stream writes time out"
# The connection stays open but nothing is answered: after redis.timeout_ms
# (2 s) the router's watchdog drops the connection, the waiting batches
# complete as not delivered (their tickets stay in the outbox), and once Redis
# runs again the sweep sends them.
hl_loadgen -n "$N" -w 500 --retries 1000 --timeout 2000 --prefix hang --verify -q >"$T/hang.out" &
LG=$!
wait_rows "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'hang-%'" $((N / 4)) || true
log0=$(wc -l <"$T/router.log")
kill -STOP "$(cat "$T/redis/redis.pid")"
sleep 4
kill -CONT "$(cat "$T/redis/redis.pid")"
wait $LG || true
verify_run "$T/hang.out" "after Redis hung" hang
check "the watchdog dropped the hung connection" \
    "$(tail -n +"$((log0 + 1))" "$T/router.log" | grep -c 'stream writes timed out' | awk '{print ($1 > 0)}')" 1
hl_wait 30 '[ "$(hl_sql "SELECT count(*) FROM outbox")" -eq 0 ]' || true
check "the outbox emptied" "$(hl_sql "SELECT count(*) FROM outbox")" 0

echo "# stop PostgreSQL in the middle of $N intakes, start it again later"
hl_loadgen -n "$N" -w 500 --retries 1000 --timeout 1000 --prefix pg --verify -q >"$T/pg.out" &
LG=$!
wait_rows "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'pg-%'" $((N / 4)) || true
hl_pg_stop "$T/pg" immediate
sleep 0.5
# While it is down: clear refusals, nothing acked.
hl_loadgen -n 20 --retries 0 --prefix probe -q >"$T/probe.out" || true
check "refused while PostgreSQL is down: acked" "$(kv "$T/probe.out" acked)" 0
check "refused while PostgreSQL is down: TRY_LATER" "$(kv "$T/probe.out" try_later)" 20
hl_pg_start "$T/pg" "$PG_PORT"
wait $LG || true
verify_run "$T/pg.out" "after the PostgreSQL outage" pg
check "no probe stored" "$(hl_sql "SELECT count(*) FROM tickets WHERE idempotency_key LIKE 'probe-%'")" 0

echo "# the router kept serving throughout"
hl_loadgen -n 100 --prefix end --verify -q >"$T/end.out"
check "a final run" "$(kv "$T/end.out" acked)/$(kv "$T/end.out" lost)" 100/0

echo "# a batch held up by a row lock: a lone intake does not wait for it (router.batch_wait_ms)"
# While one writer's batch is in flight, the other holds back fewer than
# router.batch_min intakes for a bigger batch, but no longer than
# router.batch_wait_ms (50 ms): an action stuck on a locked ticket must not
# keep a new intake waiting until the lock goes.
hl_loadgen -n 1 --prefix locked --verify -q >"$T/locked.out"
TK=$(hl_sql "SELECT ticket_no FROM tickets WHERE idempotency_key LIKE 'locked-%'")
# The ticket stays locked until the test cancels the holder (a fixed sleep
# could run out first on a loaded machine). The intake's 3 s are well short
# of what an unbounded hold would cost it: ~5 s, until the writer's request
# times out (the harness's postgres.request_timeout_ms) or the intake's own.
sleeping() { hl_sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"; }
lock_waits() { hl_sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"; }
hl_sql "SELECT 1 FROM tickets WHERE ticket_no = '$TK' FOR UPDATE; SELECT pg_sleep(120)" >/dev/null 2>&1 &
LOCK=$!
hl_wait 30 '[ "$(sleeping)" -ge 1 ]' || true
"$HL_BUILD/workers/hotline-office" -c "$T/hotline.conf" --timeout 60000 close "$TK" --key "locked:close" >/dev/null 2>&1 &
ACT=$!
hl_wait 30 '[ "$(lock_waits)" -ge 1 ]' || true
check "the action's batch waits on the lock" "$(lock_waits)" 1
hl_loadgen -n 1 --prefix besides --retries 0 --timeout 3000 --verify -q >"$T/besides.out" || true
check "an intake stored on the other writer meanwhile" "$(kv "$T/besides.out" acked)/$(kv "$T/besides.out" lost)" 1/0
check "... while the lock was still held" "$(sleeping)/$(lock_waits)" 1/1
hl_sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
wait "$LOCK" || true
wait "$ACT" || true
check "the action answered once the lock went" "$(lock_waits)" 0

echo "# the stats line (every router.stats_ms): counters, then the batches' times"
grep 'stats: received' "$T/router.log" >"$T/stats.lines" || true
check_ge "stats lines logged" "$(wc -l <"$T/stats.lines")" 2
check "wait_ms, store_ms and queue_ms read average/worst, the average never above the worst, some batch timed" \
    "$(python3 - "$T/stats.lines" <<'PY'
import re, sys
seen, bad = 0, []
for line in open(sys.argv[1]):
    m = re.search(r"stored (\d+) .* wait_ms ([\d.]+)/([\d.]+) store_ms ([\d.]+)/([\d.]+)"
                  r" queue_ms ([\d.]+)/([\d.]+)$", line.strip())
    if not m:
        bad.append(line.strip()[-80:])
        continue
    wa, ww, sa, sw, qa, qw = map(float, m.groups()[1:])
    if wa > ww or sa > sw or qa > qw:
        bad.append(line.strip()[-80:])
    seen += sw > 0 and qw > 0
print("ok" if seen and not bad else "timed %d, bad %s" % (seen, bad[:2]))
PY
)" ok
