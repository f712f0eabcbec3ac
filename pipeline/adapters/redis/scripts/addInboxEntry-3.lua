--[[
  Adds a message to a user's inbox once per decision id, and keeps the newest ones.
  An entry is JSON: { seq, seen, dismissed, marked (the actions marked so far, as keys),
  message (the message's JSON as the caller wrote it: kept as a string, never re-encoded) }.
  KEYS[1]  the user's entries (hash: decision id -> entry)
  KEYS[2]  the user's order (sorted set: decision id scored by seq)
  KEYS[3]  the user's seq counter
  ARGV[1]  the decision id
  ARGV[2]  the message, JSON
  ARGV[3]  entries kept, at most
  ARGV[4]  the entries' and order's time to live from this add, ms
  ARGV[5]  the counter's time to live from this add, ms (longer: a seq is never handed out twice
           while a page may still remember it)
  Output:  { the entry as stored, 1 when added or 0 when the decision id was there already }
]]
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  return { stored, 0 }
end
local seq = redis.call('INCR', KEYS[3])
local entry = cjson.encode({ seq = seq, seen = false, dismissed = false, marked = {}, message = ARGV[2] })
redis.call('HSET', KEYS[1], ARGV[1], entry)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  -- The oldest fall off (one at a time, but for an inbox the size was lowered for).
  local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('HDEL', KEYS[1], unpack(oldest))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return { entry, 1 }
