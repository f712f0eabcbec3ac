--[[
  Counts requests in a fixed window, as @fastify/rate-limit's own Redis store does, for several
  requests at once.
  KEYS[1]  the counter of one rate-limit key (expires with its window)
  ARGV[1]  how many requests to count
  ARGV[2]  the window, ms
  Output:  { the count after these requests, ms until the window ends }
]]
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A new window (or a counter left without one): it starts now.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return { count, ttl }
