-- wrk script for bench/gateway_bench.sh: POST /v1/chat/completions with the 1,024-byte body of
-- chat_1k.json (benign text: nothing for the scanners to block or redact), same for every target.
--   BENCH_BODY       the body file (default bench/gateway/chat_1k.json)
--   BENCH_KEY        bearer key sent on every request (default rk-bench-key).

local key = os.getenv("BENCH_KEY") or "rk-bench-key"
local body_file = os.getenv("BENCH_BODY") or "bench/gateway/chat_1k.json"
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
assert(#wrk.body == 1024)

function done(summary, latency, requests)
  local s = summary
  local non2xx = s.errors.status
  local sockerr = s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout
  io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "non2xx=%d sockerr=%d\n",
      s.requests, s.duration, s.requests / (s.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      non2xx, sockerr))
end
