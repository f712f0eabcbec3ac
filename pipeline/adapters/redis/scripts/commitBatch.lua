--[[
  Commits a batch: user states and the partition's applied position, atomically, if the
  committer's epoch still holds the lease (fencing) and the stored position is the one the batch
  was read from (compare and set: a store that lost writes is found out, never written over).
  KEYS[1]     the lease (hash: holder, epoch)
  KEYS[2]     the partition's applied position
  KEYS[3..]   one key per user state
  ARGV[1]     the committer's epoch
  ARGV[2]     the position the batch was read from (0: none yet)
  ARGV[3]     the new applied position (a stream sequence)
  ARGV[4..]   the states, as JSON, in the order of their keys
  Output:     1 committed, 0 fenced (the lease is gone or has another epoch), -1 stale (the
              position moved beyond ARGV[2]), -2 lost (the store holds less than ARGV[2])
]]
if tonumber(redis.call('HGET', KEYS[1], 'epoch')) ~= tonumber(ARGV[1]) then
  return 0
end
local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
if stored > tonumber(ARGV[2]) then
  return -1
end
if stored < tonumber(ARGV[2]) then
  return -2
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[3])
return 1
