-- wrk script for bench/sensor-instructions.sh: the same send_sms bodies as
-- sensor-send-sms.lua, but each thread stops after SMISHTRAP_REQUESTS answers, so a run serves
-- a fixed number of requests whatever the speed (the sensor may run under valgrind). Run it
-- with one thread (-t1): the first thread to reach the count ends wrk.
local counter = 0
local answered = 0
local limit = tonumber(os.getenv("SMISHTRAP_REQUESTS") or "1000")
local thread_id = 0
local threads = {}

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

function response(status, headers, body)
   answered = answered + 1
   if answered >= limit then
      -- thread:stop() would leave wrk sleeping out its -d duration; one thread: end here
      os.exit(0)
   end
end
