--[[
  Commits a batch: user states and the partition's applied position, atomically, if the
  committer's epoch still holds the lease (fencing) and the position moves forward.
  KEYS[1]     the lease (hash: holder, epoch)
  KEYS[2]     the partition's applied position
  KEYS[3..]   one key per user state
  ARGV[1]     the committer's epoch
  ARGV[2]     the new applied position (a stream sequence)
  ARGV[3..]   the states, as JSON, in the order of their keys
  Output:     1 committed, 0 fenced (the lease is gone or has another epoch), -1 stale position
]]
if tonumber(redis.call('HGET', KEYS[1], 'epoch')) ~= tonumber(ARGV[1]) then
  return 0
end
if tonumber(ARGV[2]) <= tonumber(redis.call('GET', KEYS[2]) or '0') then
  return -1
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i])
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
