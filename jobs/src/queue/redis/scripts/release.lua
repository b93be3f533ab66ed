-- Hands a reserved job back without counting the attempt, while the lease
-- token still matches: attempts - 1, and the id goes to the tail of the
-- ready list, so it is the next job popped. Its unique key, held until the
-- lease deadline while it ran, no longer expires. Returns 1, or 0 when the
-- lease is lost.
--
-- KEYS[1]  {p}:processing      LIST of reserved ids
-- KEYS[2]  {p}:processing_vt   ZSET, id -> lease deadline
-- KEYS[3]  {p}:ready           LIST, popped at the tail
-- KEYS[4]  {p}:job:{id}        the job hash
-- KEYS[5]  {p}:unique:         start of the unique-key lock; the key is appended
-- ARGV[1]  job id
-- ARGV[2]  lease token
--
-- The LREM scans the processing list, which holds only reserved ids, so its
-- length is bounded by the total concurrency of the workers.

local id = ARGV[1]
local key = KEYS[4]
if redis.call('HGET', key, 'lease') ~= ARGV[2]
  or not redis.call('ZSCORE', KEYS[2], id) then
  return 0
end

local attempts = tonumber(redis.call('HGET', key, 'attempts')) or 0
if attempts > 0 then
  attempts = attempts - 1
end
redis.call('HSET', key, 'attempts', string.format('%d', attempts))
redis.call('HDEL', key, 'lease', 'visible_at')
redis.call('LREM', KEYS[1], 0, id)
redis.call('ZREM', KEYS[2], id)
redis.call('RPUSH', KEYS[3], id)
hold_unique(KEYS[5], key, id, nil)
return 1
