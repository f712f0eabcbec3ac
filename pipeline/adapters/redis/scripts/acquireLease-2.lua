--[[
  Takes or renews a partition's lease.
  KEYS[1]  the lease (hash: holder, epoch; expires)
  KEYS[2]  the partition's epoch counter (never expires: epochs only grow)
  ARGV[1]  the holder asking
  ARGV[2]  the lease's time to live, ms
  ARGV[3]  the asker's clock, ms: a new epoch is at least this, so that a Redis that lost its data
           (and its counter) does not hand out an epoch it handed out before to someone else
  Output:  the holder's epoch, or -1 when another holder has the lease
]]
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('HGET', KEYS[1], 'epoch'))
end
if holder then
  return -1
end
local epoch = redis.call('INCR', KEYS[2])
if epoch < tonumber(ARGV[3]) then
  epoch = tonumber(ARGV[3])
  redis.call('SET', KEYS[2], epoch)
end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return epoch
