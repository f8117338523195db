-- wrk script for tests/bench/http.sh: POST /api/v1/tickets with real message
-- bodies (one JSON object per line in HL_BODIES), a bearer token (HL_TOKEN)
-- and a unique Idempotency-Key per request. With HL_DELAY_MS set, each
-- connection waits an exponentially distributed time of that mean between
-- requests (an open-loop-like pace well below saturation).

-- Each request is built once per body in init() as the text before and
-- after its key, so request() only joins three strings: the load generator
-- shares the machine with what it measures and should cost little.

local heads, tails = {}, {}
local n, i, seq = 0, 0, 0
local run = os.getenv("HL_RUN") or "bench"
local token = os.getenv("HL_TOKEN")
local delay_ms = tonumber(os.getenv("HL_DELAY_MS") or "0")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  local host = wrk.host .. ":" .. wrk.port
  for line in io.lines(os.getenv("HL_BODIES")) do
    n = n + 1
    heads[n] = "POST /api/v1/tickets HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. token ..
               "\r\nContent-Type: application/json\r\nContent-Length: " .. #line .. "\r\nIdempotency-Key: "
    tails[n] = "\r\n\r\n" .. line
  end
  math.randomseed(tid * 7919 + os.time())  -- tid: set by setup()
  i = math.random(n)
end

function request()
  i = i % n + 1
  seq = seq + 1
  return heads[i] .. run .. "-" .. tid .. "-" .. seq .. tails[i]
end

-- Defined only when there is a pause: with a delay() function wrk arms a
-- timer for every request (two more epoll_ctl calls and a scan of all its
-- timers per loop), which at saturation costs the machine it shares.
if delay_ms > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * delay_ms)
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("non_2xx=%d\n", summary.errors.status))
  io.write(string.format("socket_errors=%d\n", summary.errors.connect + summary.errors.read +
                                                summary.errors.write + summary.errors.timeout))
  io.write(string.format("seconds=%.2f\n", summary.duration / 1e6))
  io.write(string.format("rate_per_s=%.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50_ms=%.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms=%.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("max_ms=%.2f\n", latency.max / 1000))
end
