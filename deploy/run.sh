#!/usr/bin/env bash
# deploy/run.sh - run the hotline service on this machine, in the foreground.
#
# Installs missing Debian packages (as root), builds, starts a private
# PostgreSQL and Redis on 127.0.0.1 with their data under var/, applies the
# migrations and the demo city, starts the router, the deadline watcher and
# the HTTP gateway (JSON API, Open311, the agents' console), writes demo
# tokens to var/demo.env, prints what runs where, and stops everything it
# started on Ctrl-C. Nothing
# system-wide is configured. Data in var/ survives restarts; `rm -rf var`
# starts afresh.
#
# Usage: ./deploy/run.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh

demo=--demo
for arg in "$@"; do
    case $arg in
    --no-demo) demo= ;;
    -h | --help) hl_usage "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) hl_die "unknown argument $arg (try --help)" ;;
    esac
done

hl_install_deps
hl_say "building"
hl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
BIN=$PWD/build

VAR=$PWD/var
mkdir -p "$VAR/log"

# Stable ports from one run to the next, unless something else holds them.
pick_port() {
    local want=$1 var=$2
    if [ -f "$VAR/ports" ] && grep -q "^$var=" "$VAR/ports"; then
        want=$(grep "^$var=" "$VAR/ports" | cut -d= -f2)
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$want") 2>/dev/null; then
        hl_free_port "$var"
    else
        printf -v "$var" '%s' "$want"
    fi
}
pick_port 54320 PG_PORT
pick_port 63790 REDIS_PORT
pick_port 7701 INTAKE_PORT
pick_port 7702 EVENTS_PORT
pick_port 8080 HTTP_PORT
printf 'PG_PORT=%s\nREDIS_PORT=%s\nINTAKE_PORT=%s\nEVENTS_PORT=%s\nHTTP_PORT=%s\n' \
    "$PG_PORT" "$REDIS_PORT" "$INTAKE_PORT" "$EVENTS_PORT" "$HTTP_PORT" >"$VAR/ports"

# Services run in their own sessions, so a Ctrl-C reaches only this script,
# which stops them in order: the gateway, the watcher and the router first (the router
# finishes what is in flight), then Redis, then PostgreSQL.
pids=()
tailpid=
interrupted=
stopped=
stop_all() {
    [ -n "$stopped" ] && return
    stopped=1
    hl_say "stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
    [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
    hl_redis_stop "$VAR/redis"
    hl_pg_stop "$VAR/pg"
    hl_say "stopped"
}
trap stop_all EXIT
trap 'interrupted=1' INT TERM
# Output may go to a pipe (run.sh | tee) whose reader a Ctrl-C also stops:
# writing to it then must not kill the script before it has stopped everything.
trap '' PIPE

hl_say "starting PostgreSQL on 127.0.0.1:$PG_PORT (data in var/pg)"
hl_pg_start "$VAR/pg" "$PG_PORT" durable
hl_say "starting Redis on 127.0.0.1:$REDIS_PORT (data in var/redis)"
hl_redis_start "$VAR/redis" "$REDIS_PORT"

CONF=$VAR/hotline.conf
URL=http://127.0.0.1:$HTTP_PORT
hl_write_conf "$CONF" deploy/hotline.conf.example "classify.model=\"$PWD/deploy/models/hotline.model\"" \
    "gateway.listen=127.0.0.1:$HTTP_PORT" "gateway.public_url=\"$URL\""

hl_say "applying migrations"
"$BIN/workers/hotline-migrate" --config "$CONF" $demo

LOG=$VAR/log/router.log
touch "$LOG"
tail -c +$(($(stat -c %s "$LOG") + 1)) -F "$LOG" 2>/dev/null &
tailpid=$!
setsid "$BIN/router/hotline-router" --config "$CONF" 2>>"$LOG" &
pids+=($!)
hl_wait_port "$INTAKE_PORT" 10 || hl_die "the router did not start; see var/log/router.log"
setsid "$BIN/workers/hotline-sla" --config "$CONF" 2>>"$VAR/log/sla.log" &
pids+=($!)
setsid "$BIN/workers/hotline-gateway" --config "$CONF" 2>>"$VAR/log/gateway.log" &
pids+=($!)
hl_wait_port "$HTTP_PORT" 10 || hl_die "the gateway did not start; see var/log/gateway.log"
# Demo tokens, one per role and per unit (each run revokes the last ones).
"$BIN/workers/hotline-token" --config "$CONF" demo --env "$VAR/demo.env" --url "$URL" >/dev/null
# The knowledge base: the demo entries come with the demo city; the official
# replies of ../shared/data where they are (development; a second run skips them).
REPLIES=$PWD/../shared/data/official_replies.csv
if [ -r "$REPLIES" ]; then
    "$BIN/workers/hotline-kb" --config "$CONF" import "$REPLIES" >"$VAR/log/kb-import.log" 2>&1 ||
        echo "[hotline] some official replies were not imported; see var/log/kb-import.log" >&2
fi

cat <<EOF

  hotline is running (Ctrl-C stops everything started here)

  agents' console   $URL/console/      (log in with a token from var/demo.env)
  dashboard         $URL/console/dashboard.html   (supervisors: figures, trends, red/yellow lights, hot spots)
  daily report      $URL/api/v1/report?format=html   (yesterday; ?day=, ?month=)
  JSON API          $URL/api/v1/        (Authorization: Bearer <token>)
  Open311 GeoReport $URL/open311/v2/discovery.json
  health            $URL/healthz, $URL/readyz
  demo tokens       $VAR/demo.env       (source it: HOTLINE_URL, HOTLINE_TOKEN_AGENT, ...)

  router intake (ZeroMQ ROUTER, Intake/Action envelopes)  tcp://127.0.0.1:$INTAKE_PORT
  router events (ZeroMQ PUB, Event envelopes)             tcp://127.0.0.1:$EVENTS_PORT
  PostgreSQL   psql -h 127.0.0.1 -p $PG_PORT -U hotline hotline
  Redis        redis-cli -p $REDIS_PORT     (unit queues: XRANGE hl:q:<UNIT> - +)
  settings     $CONF
  logs         var/log/router.log, var/log/sla.log (the deadline watcher), var/log/gateway.log

  take a call over the API:
    . $VAR/demo.env; curl -s -H "Authorization: Bearer \$HOTLINE_TOKEN_AGENT" -H 'Content-Type: application/json' \\
      -d '{"body":"小区路灯坏了一周，晚上很黑"}' \$HOTLINE_URL/api/v1/tickets

  send 100 demo requests and check them:
    $BIN/workers/hotline-loadgen --config $CONF -n 100 --verify
  the office's queue (tickets to dispatch, returns, extensions, replies to review):
    $BIN/workers/hotline-office --config $CONF next
  a unit's queue and tickets (e.g. the water company):
    $BIN/workers/hotline-unit --config $CONF --unit WATER list --state open

EOF

# Stay in the foreground until a service exits or we are interrupted.
set +e
wait -n "${pids[@]}"
status=$?
if [ -n "$interrupted" ]; then exit 0; fi
hl_say "a service exited (status $status); see var/log/"
exit "$status"
