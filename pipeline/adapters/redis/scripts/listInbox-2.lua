--[[
  A user's inbox, newest first: the entries with a seq above a given one.
  KEYS[1]  the user's entries (hash: decision id -> entry)
  KEYS[2]  the user's order (sorted set: decision id scored by seq)
  ARGV[1]  the seq the entries come after (0 for all)
  ARGV[2]  entries, at most
  Output:  the entries, newest first
]]
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[2], '+inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids == 0 then
  return {}
end
return redis.call('HMGET', KEYS[1], unpack(ids))
