-- wrk script for the benchmarks: POST a JSON body (streamed or not) and print a JSON summary.
-- Environment: WRK_BODY_FILE (request body), WRK_AUTH (optional bearer key).
-- wrk reads a chunked (SSE) answer to its end, so the latency of a stream is its full duration.
local body_file = os.getenv("WRK_BODY_FILE")
local auth = os.getenv("WRK_AUTH")

local f = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end

done = function(summary, latency, requests)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)),
  }
  io.write("WRKJSON {" .. table.concat(parts, ",") .. "}\n")
end
