-- Moves a lease deadline to now plus the lease's visibility timeout, and the
-- expiry of the job's unique key with it, while the lease token still
-- matches. Returns 1, or 0 when the lease is lost.
--
-- KEYS[1]  {p}:processing_vt   ZSET, id -> lease deadline in epoch seconds
-- KEYS[2]  {p}:job:{id}        the job hash
-- KEYS[3]  {p}:unique:         start of the unique-key lock; the key is appended
-- ARGV[1]  job id
-- ARGV[2]  lease token
-- ARGV[3]  visibility timeout in milliseconds

local id = ARGV[1]
if redis.call('HGET', KEYS[2], 'lease') ~= ARGV[2]
  or not redis.call('ZSCORE', KEYS[1], id) then
  return 0
end

local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline_ms = now_ms + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.3f', deadline_ms / 1000), id)
redis.call('HSET', KEYS[2], 'visible_at', string.format('%d', math.floor(deadline_ms / 1000)))
hold_unique(KEYS[3], KEYS[2], id, deadline_ms)
return 1
