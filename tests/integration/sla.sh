#!/usr/bin/env bash
# hotline-sla, the deadline watcher, against a real router, PostgreSQL and
# Redis. Deadlines are moved close to now in PostgreSQL (the watcher reads
# them at start, on SIGHUP, and after events), so a ladder of notices that
# takes days in production takes seconds here:
#  - working days across holidays and a make-up workday: the reply deadline
#    and its warning time match an independent computation in SQL;
#  - the full ladder of a sign-in deadline (warning, reminder, overdue,
#    supervision 1 and 2), each once and never early, across a kill -9 and
#    with two watchers at once;
#  - an extension: the old deadline's later notices are never sent, the new
#    deadline gets its own;
#  - a watcher that gets no events catches up from PostgreSQL;
#  - nowhere a notice twice for the same deadline.
source "$(dirname "$0")/harness.sh"

SLA=$HL_BUILD/workers/hotline-sla
OFFICE=$HL_BUILD/workers/hotline-office
UNIT=$HL_BUILD/workers/hotline-unit

hl_test_stores_up
cp "$T/hotline.conf" "$T/base.conf"
hl_write_conf "$T/hotline.conf" "$T/base.conf" sla.escalate_after_ms=1000 sla.max_level=2 \
    sla.resync_ms=500 sla.retry_ms=500 sla.stats_ms=1000 sla.answer_timeout_ms=3000
hl_test_router_start --set router.min_confidence=1

office() { "$OFFICE" -c "$T/hotline.conf" "$@"; }
unit() { "$UNIT" -c "$T/hotline.conf" "$@"; }
sla_start() { # sla_start NAME [args]: run a watcher in the background, pid in SLA_<NAME>
    local name=$1
    shift
    "$SLA" -c "$T/hotline.conf" "$@" >>"$T/sla-$name.log" 2>&1 &
    eval "SLA_$name=$!"
    hl_wait 10 'grep -q watching "$T/sla-$name.log"' && return 0
    cat "$T/sla-$name.log"
    hl_die "watcher $name did not start"
}
# A new ticket (loadgen), dispatched to a unit by the office: its number.
new_ticket() {
    local key=$1 unit=$2 no
    hl_loadgen -n 1 --prefix "$key" -q >/dev/null
    no=$(hl_sql "SELECT ticket_no FROM tickets t JOIN intake_keys k ON k.ticket_id = t.id WHERE k.key = '$key-0'")
    office dispatch "$no" --to "$unit" >/dev/null
    echo "$no"
}
# wait_for SQL [seconds]: until the query returns t.
wait_for() {
    local sql=$1
    hl_wait "${2:-10}" '[ "$(hl_sql "$sql")" = t ]'
}
notices() { # notices TICKET CLOCK: "notice[/level]" of its notify events, in order
    hl_sql "SELECT string_agg(e.payload->>'notice' || coalesce('/' || (e.payload->>'level'), ''), ' ' ORDER BY e.seq)
            FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
            WHERE t.ticket_no = '$1' AND e.kind = 'notify' AND e.payload->>'clock' = '$2'"
}
ms() { hl_sql "SELECT (extract(epoch FROM $1) * 1000)::bigint FROM tickets WHERE ticket_no = '$2'"; }

echo "# working days across holidays and a make-up workday"
# The two weekdays after tomorrow's are holidays; the first Saturday after
# them a make-up workday (this database only).
hl_sql "INSERT INTO calendar_days (region, day, kind)
        SELECT '*', d, 'holiday' FROM (SELECT d::date FROM generate_series(current_date + 2, current_date + 14, '1 day') d
                                       WHERE extract(isodow FROM d) < 6 ORDER BY d LIMIT 2) h (d)
        ON CONFLICT DO NOTHING" >/dev/null
hl_sql "INSERT INTO calendar_days (region, day, kind)
        SELECT '*', d::date, 'workday' FROM generate_series(current_date + 4, current_date + 20, '1 day') d
        WHERE extract(isodow FROM d) = 6 ORDER BY d LIMIT 1
        ON CONFLICT (region, day) DO UPDATE SET kind = 'workday'" >/dev/null
hl_wait 5 '[ "$(grep -c "reference data loaded" "$T/router.log")" -ge 2 ]' || true
check "the router took the calendar" "$(grep -c 'reference data loaded' "$T/router.log")" 2
T3=$(new_ticket cal GAS)
"$SLA" -c "$T/hotline.conf" --once --dump "$T/dump.txt" >"$T/sla-once.log" 2>&1 || { cat "$T/sla-once.log"; FAILED=1; }
# The counted days, in SQL: from the day after receipt, weekdays that are
# not holidays plus make-up workdays.
COUNTED="WITH t AS (SELECT received_at, reply_due FROM tickets WHERE ticket_no = '$T3'),
  days AS (SELECT d::date AS d FROM t, generate_series(((received_at AT TIME ZONE 'UTC') + interval '8 hours')::date + 1,
                                                       ((reply_due AT TIME ZONE 'UTC') + interval '8 hours')::date, '1 day') d),
  work AS (SELECT d, row_number() OVER (ORDER BY d) - 1 AS i FROM days
           WHERE (extract(isodow FROM d) < 6 AND d NOT IN (SELECT day FROM calendar_days WHERE region = '*' AND kind = 'holiday'))
              OR d IN (SELECT day FROM calendar_days WHERE region = '*' AND kind = 'workday'))"
check "reply due at the end of the 10th counted day" \
    "$(hl_sql "$COUNTED SELECT count(*) || '/' || (max(d) = (SELECT ((reply_due AT TIME ZONE 'UTC') + interval '8 hours')::date FROM t)) FROM work")" 10/true
check "the span holds the two holidays and the make-up day" \
    "$(hl_sql "$COUNTED SELECT string_agg(kind, ',' ORDER BY day) FROM calendar_days, t WHERE region = '*' AND day BETWEEN ((received_at AT TIME ZONE 'UTC') + interval '8 hours')::date + 1 AND ((reply_due AT TIME ZONE 'UTC') + interval '8 hours')::date")" holiday,holiday,workday
WANT=$(hl_sql "$COUNTED SELECT (extract(epoch FROM ((SELECT d FROM work WHERE i = 7)::timestamp - interval '8 hours') AT TIME ZONE 'UTC') * 1000)::bigint + 43200000")
check "warning at 75 %: noon of the 8th counted day" "$(grep "^$T3 reply " "$T/dump.txt" | grep -o 'at_ms=[0-9]*' | cut -d= -f2)" "$WANT"
check "nothing sent for it yet" "$(notices "$T3" reply)" ""

echo "# the whole ladder of a sign-in deadline, across a kill -9, with two watchers"
T1=$(new_ticket ladder WATER)
# Started 20 s ago, due in 4 s (24 s): warning now, reminder in 1.6 s, overdue
# in 4 s, supervision 1 and 2 one and two seconds later.
hl_sql "UPDATE tickets SET dispatched_at = now() - interval '20 seconds', sign_due = now() + interval '4 seconds'
        WHERE ticket_no = '$T1'" >/dev/null
sla_start A
wait_for "SELECT count(*) = 1 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T1' AND e.kind = 'notify'" 5 ||
    { echo "FAIL no warning"; FAILED=1; }
kill -9 "$SLA_A"; wait "$SLA_A" 2>/dev/null || true
check "warning sent before the crash" "$(notices "$T1" sign)" "warning"
sla_start B
sla_start C
wait_for "SELECT count(*) = 5 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T1' AND e.kind = 'notify' AND e.payload->>'clock' = 'sign'" 15 || true
sleep 1.5
check "each notice once, in order" "$(notices "$T1" sign)" "warning reminder overdue supervision/1 supervision/2"
check "none early: overdue and supervision after the deadline" \
    "$(hl_sql "SELECT bool_and(e.at > t.sign_due) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T1' AND e.kind = 'notify' AND e.payload->>'notice' IN ('overdue', 'supervision')")" t
check "supervision level on the ticket" "$(hl_sql "SELECT supervision FROM tickets WHERE ticket_no = '$T1'")" 2
check "the unit was told from the reminder on" \
    "$(hl_redis XRANGE hl:q:WATER - + | grep -c '^notice$')" 4
check "the second watcher's copies were answered as done" \
    "$(cat "$T/sla-B.log" "$T/sla-C.log" | grep -c 'refused:')" 0
kill "$SLA_C"; wait "$SLA_C" 2>/dev/null || true

echo "# an extension: the old deadline's notices stop, the new one starts afresh"
hl_sql "UPDATE deadline_policy SET reply_limit = 24, reply_unit = 'hours', extension_limit = 24, extension_unit = 'hours'" >/dev/null
hl_wait 5 '[ "$(grep -c "reference data loaded" "$T/router.log")" -ge 3 ]' || true
hl_wait 5 'grep -q "rebuilding the index" "$T/sla-B.log"' || true
check_ge "the running watcher took the new policy" "$(grep -c "rebuilding the index" "$T/sla-B.log")" 1
T2=$(new_ticket ext POWER)
unit --unit POWER sign "$T2" >/dev/null
# The reply clock: 80 s long, 70 s gone; warning now, reminder in 2 s.
hl_sql "UPDATE tickets SET reply_start = now() - interval '70 seconds', reply_due = now() + interval '10 seconds'
        WHERE ticket_no = '$T2'" >/dev/null
kill -HUP "$SLA_B"
wait_for "SELECT count(*) = 1 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T2' AND e.kind = 'notify'" 5 ||
    { echo "FAIL no warning on the reply deadline"; FAILED=1; }
OLD=$(ms reply_due "$T2")
unit --unit POWER extend "$T2" --days 1 --reason "需要协调施工队" >/dev/null
office approve_extension "$T2" >/dev/null
NEW=$(ms reply_due "$T2")
check "the deadline moved by an hour" "$((NEW - OLD))" 3600000
sleep 12 # past the old reminder and overdue times
check "only the warning for the old deadline" \
    "$(hl_sql "SELECT string_agg(e.payload->>'notice', ' ') FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T2' AND e.kind = 'notify' AND e.payload->>'due' = '$OLD'")" warning
# Move the new deadline's start back: its own warning comes.
# 20 hours long, an hour to go: the reminder's time has passed too, so the
# reminder goes alone (a warning after it would say less).
hl_sql "UPDATE tickets SET reply_start = reply_due - interval '20 hours' WHERE ticket_no = '$T2'" >/dev/null
kill -HUP "$SLA_B"
wait_for "SELECT count(*) = 1 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T2' AND e.kind = 'notify' AND e.payload->>'due' = '$NEW'" 5 ||
    { echo "FAIL no notice on the new deadline"; FAILED=1; }
check "the new deadline's notice" \
    "$(hl_sql "SELECT string_agg(e.payload->>'notice', ' ') FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T2' AND e.kind = 'notify' AND e.payload->>'due' = '$NEW'")" reminder

echo "# a watcher that gets no events catches up from PostgreSQL"
hl_free_port NOWHERE
sla_start D --set "zmq.events=tcp://127.0.0.1:$NOWHERE"
kill "$SLA_B"; wait "$SLA_B" 2>/dev/null || true
T5=$(new_ticket deaf TRANSIT)
hl_sql "UPDATE tickets SET dispatched_at = now() - interval '3 hours', sign_due = now() + interval '1 hour'
        WHERE ticket_no = '$T5'" >/dev/null
# An event in PostgreSQL (a notice on another clock) marks it changed.
office notify "$T5" --notice warning --clock contact --due "$(ms contact_due "$T5")" >/dev/null
wait_for "SELECT count(*) = 1 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_no = '$T5' AND e.kind = 'notify' AND e.payload->>'clock' = 'sign'" 10 ||
    { echo "FAIL the deaf watcher did not catch up"; FAILED=1; }
check "caught up: the sign warning" "$(notices "$T5" sign)" warning
kill "$SLA_D"; wait "$SLA_D" 2>/dev/null || true

echo "# never twice"
check "no notice twice for one deadline" \
    "$(hl_sql "SELECT count(*) FROM (SELECT 1 FROM ticket_events WHERE kind = 'notify' GROUP BY ticket_id, payload->>'clock', payload->>'due', payload->>'notice', payload->>'level' HAVING count(*) > 1) d")" 0
check "the watchers stopped cleanly" "$(grep -c 'I stopped' "$T"/sla-[BCD].log | awk -F: '{s += $2} END {print s}')" 3
hl_test_router_stop
