-- Records a failed attempt while the lease token still matches: stores the
-- error in `last_error`, then schedules a retry on the delayed set, or
-- dead-letters the job when the failure is permanent or its attempts are
-- used up. A retried job keeps its unique key with no expiry; a dead job
-- releases it, and the oldest dead jobs beyond the limit are deleted. A retry
-- that becomes the earliest delayed job leaves a wake token, so an idle
-- worker looks again when it is due.
-- Returns {outcome, dead jobs deleted}: outcome 0 when the lease is lost,
-- 1 when retrying, 2 when dead.
--
-- KEYS[1]  {p}:processing      LIST of reserved ids
-- KEYS[2]  {p}:processing_vt   ZSET, id -> lease deadline
-- KEYS[3]  {p}:delayed         ZSET, id -> due time in epoch seconds
-- KEYS[4]  {p}:dlq             LIST of dead ids, newest at the head
-- KEYS[5]  {p}:job:{id}        the job hash
-- KEYS[6]  {p}:unique:         start of the unique-key lock; the key is appended
-- KEYS[7]  {p}:job:            start of the job hash keys, for deleting old dead jobs
-- KEYS[8]  {p}:wake            LIST of wake tokens for idle workers
-- ARGV[1]  job id
-- ARGV[2]  lease token
-- ARGV[3]  error text
-- ARGV[4]  `retry`, or `permanent` to dead-letter whatever attempts remain
-- ARGV[5]  retry delay in milliseconds
-- ARGV[6]  retry time as ISO 8601 text, stored as `available_at`
-- ARGV[7]  current time as ISO 8601 text, stored as `died_at`
-- ARGV[8]  the maximum number of dead jobs kept
-- ARGV[9]  the maximum number of dead jobs deleted beyond this one
--
-- The LREM scans the processing list from its tail, where the oldest
-- reservations sit. The list holds only reserved ids, so its length is
-- bounded by the total concurrency of the workers.

local id = ARGV[1]
local key = KEYS[5]
local fields = redis.call('HMGET', key, 'lease', 'attempts', 'max_attempts', 'unique_key')
if fields[1] ~= ARGV[2] or redis.call('ZREM', KEYS[2], id) == 0 then
  return {0, 0}
end

redis.call('LREM', KEYS[1], -1, id)
redis.call('HSET', key, 'last_error', ARGV[3])
redis.call('HDEL', key, 'lease', 'visible_at')

-- The reserve script wrote both counters as integers, so they parse.
local attempts = tonumber(fields[2]) or 0
local max_attempts = tonumber(fields[3]) or 5

if ARGV[4] == 'retry' and attempts < max_attempts then
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local due_ms = now_ms + tonumber(ARGV[5])
  redis.call('ZADD', KEYS[3], string.format('%.3f', due_ms / 1000), id)
  redis.call('HSET', key, 'available_at', ARGV[6])
  hold_unique_key(KEYS[6], fields[4], id, nil)
  if redis.call('ZRANK', KEYS[3], id) == 0 then
    wake_one(KEYS[8])
  end
  return {1, 0}
end

release_unique_key(KEYS[6], fields[4], id)
redis.call('HSET', key, 'died_at', ARGV[7])
redis.call('LPUSH', KEYS[4], id)
local dropped = trim_dead(KEYS[4], KEYS[7], tonumber(ARGV[8]), 1 + tonumber(ARGV[9]))
return {2, dropped}
