-- wrk script for tests/bench/http.sh: POST /api/v1/tickets with real message
-- bodies (one JSON object per line in HL_BODIES), a bearer token (HL_TOKEN)
-- and a unique Idempotency-Key per request. With HL_DELAY_MS set, each
-- connection waits an exponentially distributed time of about that mean
-- between requests (an open-loop-like pace of HL_RATE requests/s per thread,
-- well below saturation).

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
-- A connection waits for its answer before its pause, so the pauses alone
-- would offer less than HL_RATE (requests/s, this thread's share) by the
-- answers' time and wrk's late timers (5-12 % less at half rate). So once a
-- second, from the third on, the pauses are scaled by the square root of the
-- requests answered in the second before over HL_RATE, by 3 % at most: a
-- slow second moves the pace a little, as clients that neither slow down with
-- the service nor rush to make up for it.
if delay_ms > 0 then
  local rate = tonumber(os.getenv("HL_RATE") or "0")
  local scale, sec, cnt, seconds = 1.0, 0, 0, 0
  function delay()
    local t = os.time()
    if t ~= sec then
      seconds = seconds + 1
      if seconds > 2 and rate > 0 then
        local f = math.sqrt(cnt / rate)
        if f < 0.97 then f = 0.97 elseif f > 1.03 then f = 1.03 end
        scale = math.max(scale * f, 0.05)
      end
      sec, cnt = t, 0
    end
    cnt = cnt + 1
    return math.floor(-math.log(1 - math.random()) * delay_ms * scale)
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
