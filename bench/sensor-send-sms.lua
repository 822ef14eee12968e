-- wrk script for bench/sensor-load.sh and bench/sensor-instructions.sh: POSTs dialect-A
-- send_sms bodies to /cgi, each with a different recipient.
--
-- Timed runs (sensor-load.sh) print latency percentiles in a machine-readable line at the end.
-- Counted runs set SMISHTRAP_REQUESTS=N: the thread stops after N answers, so a run serves a
-- fixed number of requests whatever the speed (the sensor may run under valgrind). Run those
-- with one thread (-t1): the first thread to reach the count ends wrk.
local counter = 0
local thread_id = 0
local threads = {}
local limit = tonumber(os.getenv("SMISHTRAP_REQUESTS") or "")

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   thread_id = id
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"id":"%d","execute":1,"function":"send_sms","values":[{"base":"api_sms","phone_number":"+3247%d%06d","content":"Uw eBox-bericht wacht: hxxps://example[.]invalid/%d"}]}',
      counter, thread_id, counter % 1000000, counter)
   return wrk.format("POST", "/cgi", nil, body)
end

-- Defined only for counted runs: a `response` callback costs wrk time on every answer.
if limit then
   local answered = 0
   function response(status, headers, body)
      answered = answered + 1
      if answered >= limit then
         -- thread:stop() would leave wrk sleeping out its -d duration; one thread: end here
         os.exit(0)
      end
   end
end

function done(summary, latency, requests)
   local non2xx = summary.errors.status
   io.write(string.format(
      "RESULT requests=%d duration_us=%d non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
      summary.requests, summary.duration, non2xx, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
