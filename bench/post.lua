-- wrk script: POSTs the file named by BODY_FILE, and prints a JSON summary line.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
   local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                  summary.errors.status + summary.errors.timeout
   io.write(string.format(
      '{"requests":%d,"seconds":%.3f,"errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration / 1e6, errors,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
