#!/usr/bin/env bash
# tests/bench/kb_reports.sh - the knowledge-base reports' queries at a city's scale.
#
# A private PostgreSQL (the test harness's) holds one synthetic month:
# N consultation tickets (default 1,000,000, one every 2.6 s) from N/5
# callers (each calls again ~6 days later, same category), their vault rows,
# and U knowledge-base uses (default 30,000). Times, as the gateway runs them:
# hotline-kb report for the month (report_s: per entry and per category, the
# same queries as the gateway's, with the repeat contacts found) and
# hotline-kb gaps over the last 60 days (gaps_s: the newest 2,000
# consultations not answered from the knowledge base, scored against the
# demo entries and grouped). Prints key=value lines. Not a test: nothing is
# asserted.
#
# Usage: tests/bench/kb_reports.sh [-n TICKETS] [-u USES]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh

N=1000000
USES=30000
while getopts "n:u:" o; do
    case $o in
    n) N=$OPTARG ;;
    u) USES=$OPTARG ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done
hl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
hl_machine
export HL_BUILD=$PWD/build
set +e
source tests/integration/harness.sh
trap 'hl_test_cleanup $?' EXIT
hl_test_stores_up
Q() { PGOPTIONS="-c statement_timeout=600000" hl_psql -h 127.0.0.1 -p "$PG_PORT" -U hotline -d hotline -c "$1"; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
CALLERS=$((N / 5))
STEP=$(python3 -c "print(2678400 / $N)") # one month of seconds over N tickets
Q "SELECT hl_ensure_partitions('2026-10-01', 3)" >/dev/null
t0=$(now)
Q "INSERT INTO tickets (id, created_at, ticket_no, state, channel, request_type, urgency, category, confidence,
                        classifier, body, received_at, idempotency_key)
   SELECT 900000000 + g, timestamptz '2026-10-01 00:00+08' + g * interval '$STEP seconds', 'B' || g, 'CLOSED',
          'phone', 'consultation', 'normal',
          (ARRAY['construction.water','labour','health','transport.bus','environment.noise'])[1 + g % 5], 0.9,
          'bench', 'x', now(), 'bench:' || g
   FROM generate_series(1, $N) g" >/dev/null
Q "INSERT INTO pii_vault (ticket_id, created_at, phone)
   SELECT 900000000 + g, now(), '139' || lpad((g % $CALLERS)::text, 8, '0') FROM generate_series(1, $N) g" >/dev/null
Q "INSERT INTO kb_uses (ticket_id, entry_id, version, kind, at, seq, unit)
   SELECT 900000000 + g * ($N / $USES), 1 + g % 8, 1, 'direct',
          timestamptz '2026-10-01 00:00+08' + g * ($N / $USES) * interval '$STEP seconds' + interval '1 minute', 2, NULL
   FROM generate_series(1, $USES) g" >/dev/null
Q "ANALYZE" >/dev/null
echo "tickets=$N"
echo "callers=$CALLERS"
echo "uses=$USES"
echo "setup_s=$(secs "$t0" "$(now)")"
KB="$HL_BUILD/workers/hotline-kb --config $T/hotline.conf"
t0=$(now)
$KB report --from 2026-10-01 --to 2026-11-01 >"$T/report.txt"
echo "report_s=$(secs "$t0" "$(now)")"
echo "report_uses=$(awk '/^CATEGORY/ {c=1; next} c && NF {u += $2; r += $6} END {print u}' "$T/report.txt")"
echo "report_repeats=$(awk '/^CATEGORY/ {c=1; next} c && NF {r += $6} END {print r}' "$T/report.txt")"
t0=$(now)
$KB -s kb.gap_scan=2000 gaps --days 60 >"$T/gaps.txt"
echo "gaps_s=$(secs "$t0" "$(now)")"
echo "gaps_scanned=$(sed -n 's/^# \([0-9]*\) consultations.*/\1/p' "$T/gaps.txt")"
