--[[
  Puts back part of a partition's states rebuilt from the audit, if the restorer's epoch holds
  the lease and no applied position is stored; the last part also writes the position.
  KEYS[1]     the lease (hash: holder, epoch)
  KEYS[2]     the partition's applied position
  KEYS[3..]   one key per user state
  ARGV[1]     the restorer's epoch
  ARGV[2]     the applied position to write with this part, or 0 for a part before the last
  ARGV[3..]   the states, as JSON, in the order of their keys
  Output:     1 restored, 0 fenced, -1 stale (a position is stored: restored already, or committed)
]]
if tonumber(redis.call('HGET', KEYS[1], 'epoch')) ~= tonumber(ARGV[1]) then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i])
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
