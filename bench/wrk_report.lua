-- wrk script for bench/run.sh. Request shape from the environment:
--   BENCH_METHOD (GET), BENCH_BODY (none); headers come from wrk -H.
-- done() writes one JSON object to BENCH_OUT (stdout when unset): throughput, errors and
-- latency percentiles in milliseconds. wrk is closed-loop, so these latencies are those of a
-- saturated server (see loadgen.c for latency at a fixed rate).
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
   wrk.body = body
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   local function ms(us) return us / 1000.0 end
   local s = string.format(
      '{\n  "tool": "wrk",\n  "method": "%s",\n  "requests": %d,\n  "duration_s": %.3f,\n' ..
      '  "rps": %.1f,\n  "bytes": %d,\n' ..
      '  "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d},\n' ..
      '  "latency_ms": {"mean": %.3f, "stdev": %.3f, "min": %.3f, "p50": %.3f, "p90": %.3f, ' ..
      '"p99": %.3f, "p999": %.3f, "max": %.3f}\n}\n',
      wrk.method, summary.requests, secs, summary.requests / secs, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      ms(latency.mean), ms(latency.stdev), ms(latency.min),
      ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
      ms(latency:percentile(99.9)), ms(latency.max))
   local out = os.getenv("BENCH_OUT")
   if out and out ~= "" then
      local f = assert(io.open(out, "w"))
      f:write(s)
      f:close()
   else
      io.write(s)
   end
end
