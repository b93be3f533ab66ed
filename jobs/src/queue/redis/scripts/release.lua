-- Hands a reserved job back without counting the attempt, while the lease
-- token still matches: attempts - 1, and the id goes to the tail of the
-- ready list, so it is the next job popped, and a wake token is left for an
-- idle worker. Its unique key, held until the lease deadline while it ran,
-- no longer expires. Returns 1, or 0 when the lease is lost.
--
-- KEYS[1]  {p}:processing      LIST of reserved ids
-- KEYS[2]  {p}:processing_vt   ZSET, id -> lease deadline
-- KEYS[3]  {p}:ready           LIST, popped at the tail
-- KEYS[4]  {p}:job:{id}        the job hash
-- KEYS[5]  {p}:unique:         start of the unique-key lock; the key is appended
-- KEYS[6]  {p}:wake            LIST of wake tokens for idle workers
-- ARGV[1]  job id
-- ARGV[2]  lease token
--
-- The LREM scans the processing list from its tail, where the oldest
-- reservations sit. The list holds only reserved ids, so its length is
-- bounded by the total concurrency of the workers.

local id = ARGV[1]
local key = KEYS[4]
local fields = redis.call('HMGET', key, 'lease', 'attempts', 'unique_key')
if fields[1] ~= ARGV[2] or redis.call('ZREM', KEYS[2], id) == 0 then
  return 0
end

local attempts = tonumber(fields[2]) or 0
if attempts > 0 then
  attempts = attempts - 1
end
redis.call('HSET', key, 'attempts', string.format('%d', attempts))
redis.call('HDEL', key, 'lease', 'visible_at')
redis.call('LREM', KEYS[1], -1, id)
redis.call('RPUSH', KEYS[3], id)
hold_unique_key(KEYS[5], fields[3], id, nil)
wake_one(KEYS[6])
return 1
