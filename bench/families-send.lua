-- wrk script for bench/families-load.sh: one family's SMS send shape, every request with its
-- own recipient. Arguments (after `--`): METHOD PATH BODY [HEADER: VALUE]...; `{n}` in PATH
-- and BODY is replaced by a per-request counter. Prints the same RESULT line as
-- sensor-send-sms.lua.
local counter = 0
local thread_id = 0
local threads = {}
local method, path, body = "GET", "/", ""

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   thread_id = id
   method, path, body = args[1], args[2], args[3] or ""
   for i = 4, #args do
      local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
   end
end

function request()
   counter = counter + 1
   local n = string.format("%d%06d", thread_id, counter % 1000000)
   local p = string.gsub(path, "{n}", n)
   local b = string.gsub(body, "{n}", n)
   if b == "" then b = nil end
   return wrk.format(method, p, nil, b)
end

function done(summary, latency, requests)
   io.write(string.format(
      "RESULT requests=%d duration_us=%d non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
      summary.errors.read, summary.errors.write, summary.errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
