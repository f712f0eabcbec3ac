--[[
  Records the user attribute keys of a batch of identify entries: a key already kept, or a new one
  while fewer than the bound are kept, gets its latest time (ZADD GT), its types (HSETNX) and its
  users (PFADD); a new key past the bound gets nothing. Every write is idempotent and the kept keys
  only grow, so a batch recorded twice changes nothing.
  KEYS[1]     the keys kept (sorted set: attribute key -> latest received_at, ms)
  KEYS[2]     the types seen (hash: JSON [attribute key, type] -> 1)
  KEYS[3..]   one HyperLogLog of user ids per attribute, in the order of the attributes in ARGV
  ARGV[1]     the bound: attribute keys kept at most
  ARGV[2..]   per attribute, one after the other: its key, its latest received_at, the count of its
              type fields and the fields, the count of its user ids and the ids (flat, not JSON: an
              id is any string, which cjson could refuse)
  Output:     how many attribute keys were not recorded (new ones past the bound)
]]
local bound = tonumber(ARGV[1])
-- unpack() is limited by Lua's C stack (8000 values): user ids go to PFADD in chunks.
local CHUNK = 1000
local at = 2
local dropped = 0
for i = 3, #KEYS do
  local key, latest = ARGV[at], ARGV[at + 1]
  local types = tonumber(ARGV[at + 2])
  local typesFrom = at + 3
  local users = tonumber(ARGV[typesFrom + types])
  local usersFrom = typesFrom + types + 1
  at = usersFrom + users
  if redis.call('ZSCORE', KEYS[1], key) or redis.call('ZCARD', KEYS[1]) < bound then
    redis.call('ZADD', KEYS[1], 'GT', latest, key)
    for t = typesFrom, typesFrom + types - 1 do
      redis.call('HSETNX', KEYS[2], ARGV[t], '1')
    end
    for from = usersFrom, at - 1, CHUNK do
      redis.call('PFADD', KEYS[i], unpack(ARGV, from, math.min(from + CHUNK - 1, at - 1)))
    end
  else
    dropped = dropped + 1
  end
end
return dropped
