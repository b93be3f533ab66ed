-- Stores a new job and queues it: on the ready list when it is due now, on
-- the delayed set when it has a delay. Returns the new job id.
--
-- KEYS[1]  {p}:seq        STRING counter the id is drawn from
-- KEYS[2]  {p}:job:       start of the job hash key; the id is appended
-- KEYS[3]  {p}:ready      LIST, new ids pushed at the head
-- KEYS[4]  {p}:delayed    ZSET, id -> due time in epoch seconds
-- ARGV[1]  delay in milliseconds; 0 queues the job at once
-- ARGV[2..] field, value, field, value, ... of the job hash, without `id`

local id = tostring(redis.call('INCR', KEYS[1]))
redis.call('HSET', KEYS[2] .. id, 'id', id, unpack(ARGV, 2))

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
return id
