-- wrk script of benchmarks/load.py: one page per wrk run, described by a plan file, and
-- its figures printed as one JSON line at the end.
--
--   wrk -t2 -c20 -d20s --timeout 30s -s benchmarks/wrk_report.lua http://127.0.0.1:PORT -- PLAN
--
-- The plan file has one instruction a line (a tab after the first word):
--   method  GET or POST
--   path    the address; "{id}" in it is replaced by the target's id
--   header  "Name: value", sent on every call (repeatable)
--   cookie  a Cookie header; each call takes the next one in turn (one per signed-in person)
--   target  "<id><tab><body>": each call picks one at random and sends its body (repeatable)
--   think   milliseconds each connection waits before its next call (0: none, a closed loop)
--
-- The last line wrk prints starts with "WRK_JSON " and holds latency percentiles in
-- milliseconds (wrk measures them in microseconds), requests per second and errors.

local plan = { method = "GET", path = "/", headers = {}, cookies = {}, targets = {}, think = 0 }
local calls = 0

local function read_plan(file_name)
  for line in io.lines(file_name) do
    local word, rest = line:match("^(%a+)\t(.*)$")
    if word == "method" then
      plan.method = rest
    elseif word == "path" then
      plan.path = rest
    elseif word == "header" then
      local name, value = rest:match("^([^:]+):%s*(.*)$")
      plan.headers[name] = value
    elseif word == "cookie" then
      table.insert(plan.cookies, rest)
    elseif word == "think" then
      plan.think = tonumber(rest)
    elseif word == "target" then
      local id, body = rest:match("^(%d+)\t(.*)$")
      table.insert(plan.targets, { id = id, body = body })
    end
  end
end

local threads_set_up = 0

function setup(thread)
  threads_set_up = threads_set_up + 1
  thread:set("thread_number", threads_set_up)
end

function init(args)
  read_plan(args[1])
  -- Each thread starts at a different person and draws its own targets (thread_number is
  -- the global that setup gave this thread).
  local number = thread_number or 0
  calls = number * 7
  math.randomseed(os.time() + number * 1000003)
end

function request()
  calls = calls + 1
  local headers = {}
  for name, value in pairs(plan.headers) do
    headers[name] = value
  end
  if #plan.cookies > 0 then
    headers["Cookie"] = plan.cookies[(calls % #plan.cookies) + 1]
  end
  local path, body = plan.path, nil
  if #plan.targets > 0 then
    local target = plan.targets[math.random(#plan.targets)]
    path = path:gsub("{id}", target.id)
    body = target.body
  end
  return wrk.format(plan.method, path, headers, body)
end

-- wrk times a call from when it is sent, so the wait is not in the latency figures.
function delay()
  return plan.think
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "requests_per_s": %.2f, '
      .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f, "max_ms": %.3f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
