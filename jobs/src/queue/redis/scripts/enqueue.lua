-- Stores a new job and queues it: on the ready list when it is due now, on
-- the delayed set when it has a delay. A job with a unique key is stored only
-- when no other job holds the key, and then takes it with no expiry.
-- Returns {1, new id}, or {0, id of the job holding the key}.
--
-- KEYS[1]  {p}:seq        STRING counter the id is drawn from
-- KEYS[2]  {p}:job:       start of the job hash key; the id is appended
-- KEYS[3]  {p}:ready      LIST, new ids pushed at the head
-- KEYS[4]  {p}:delayed    ZSET, id -> due time in epoch seconds
-- KEYS[5]  {p}:unique:    start of the unique-key lock; the key is appended
-- ARGV[1]  delay in milliseconds; 0 queues the job at once
-- ARGV[2]  unique key, or '' for none
-- ARGV[3..] field, value, field, value, ... of the job hash, without `id`

local unique_key = ARGV[2]
local lock = nil
if unique_key ~= '' then
  lock = KEYS[5] .. unique_key
  local holder = redis.call('GET', lock)
  -- A lock whose job hash is gone is stale (a svc-infra worker acked the
  -- job without knowing about the lock), so it is taken over.
  if holder and redis.call('EXISTS', KEYS[2] .. holder) == 1 then
    return {0, holder}
  end
end

local id = tostring(redis.call('INCR', KEYS[1]))
redis.call('HSET', KEYS[2] .. id, 'id', id, unpack(ARGV, 3))
if lock then
  redis.call('SET', lock, id)
end

local delay_ms = tonumber(ARGV[1])
if delay_ms > 0 then
  -- The due time comes from the server's clock, so every worker compares
  -- it with the same clock.
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('ZADD', KEYS[4], string.format('%.3f', (now_ms + delay_ms) / 1000), id)
else
  redis.call('LPUSH', KEYS[3], id)
end
return {1, id}
