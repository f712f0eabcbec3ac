--[[
  Marks what a user did with an inbox entry: every action implies `seen`, `dismissed` sets
  `dismissed` too. The entry keeps the actions marked, to tell the first mark of each from repeats.
  KEYS[1]  the user's entries (hash: decision id -> entry, as addInboxEntry writes it)
  ARGV[1]  the decision id
  ARGV[2]  the action: seen, dismissed or clicked
  Output:  nil when the entry is not in the inbox, else
           { 1 when this action was not marked before or 0, the entry as stored now }
]]
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then
  return false
end
local entry = cjson.decode(stored)
local action = ARGV[2]
if entry.marked[action] then
  return { 0, stored }
end
entry.marked[action] = true
entry.seen = true
if action == 'dismissed' then
  entry.dismissed = true
end
stored = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], stored)
return { 1, stored }
