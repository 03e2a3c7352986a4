-- wrk script for tools/bench-apache: every request GETs a random file of a
-- set of numbered files, /DIR/fNNNN.html for NNNN in [0, COUNT).
--
-- usage: wrk ... -s bench-apache-random.lua URL -- DIR COUNT

local thread_number = 0

-- Runs once per thread in the main Lua state: give each thread its own seed.
function setup(thread)
  thread_number = thread_number + 1
  thread:set("seed", thread_number)
end

function init(args)
  dir = args[1] or error("bench-apache-random.lua: missing DIR argument")
  count = tonumber(args[2]) or error("bench-apache-random.lua: missing COUNT argument")
  math.randomseed(os.time() + (seed or 0) * 7919)
end

function request()
  local path = string.format("/%s/f%04d.html", dir, math.random(0, count - 1))
  return wrk.format("GET", path)
end
