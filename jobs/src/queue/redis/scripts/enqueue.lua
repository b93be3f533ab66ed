-- Stores new jobs and queues them, in order: each on the ready list when it
-- is due now, or on the delayed set when it has a delay. A job with a unique
-- key is stored only when no other job holds the key, and then takes it with
-- no expiry; the first job whose key is held stops the call, and the jobs
-- after it are not stored. Leaves a wake token when a job became ready or
-- became the earliest delayed job.
--
-- KEYS[1]  {p}:seq        STRING counter the ids are drawn from
-- KEYS[2]  {p}:job:       start of the job hash key; the id is appended
-- KEYS[3]  {p}:ready      LIST, new ids pushed at the head
-- KEYS[4]  {p}:delayed    ZSET, id -> due time in epoch seconds
-- KEYS[5]  {p}:unique:    start of the unique-key lock; the key is appended
-- KEYS[6]  {p}:wake       LIST of wake tokens for idle workers
-- ARGV[1]  the number of jobs
-- then, for each job:
--          delay in milliseconds (0 queues the job at once),
--          unique key or '' for none,
--          the number of hash arguments that follow,
--          field, value, field, value, ... of the job hash, without `id`
--
-- Returns one {1, new id} per stored job, and {0, id of the job holding the
-- key} for the job that stopped the call. Ids are formatted with %d, exact up
-- to 2^53.
--
-- The script declares no flags, so Redis rejects it before it writes
-- anything when it is over maxmemory: enqueueing fails while the other
-- scripts, which declare allow-oom, go on draining the queue.

local count = tonumber(ARGV[1])
local replies = {}
local wake = false
local now_ms = nil
local at = 2

for _ = 1, count do
  local delay_ms = tonumber(ARGV[at])
  local unique_key = ARGV[at + 1]
  local field_count = tonumber(ARGV[at + 2])
  local first_field = at + 3
  local last_field = at + 2 + field_count
  at = last_field + 1

  local lock = nil
  if unique_key ~= '' then
    lock = KEYS[5] .. unique_key
    local holder = redis.call('GET', lock)
    -- A lock whose job hash is gone is stale (a svc-infra worker acked the
    -- job without knowing about the lock), so it is taken over.
    if holder and redis.call('EXISTS', KEYS[2] .. holder) == 1 then
      replies[#replies + 1] = {0, holder}
      break
    end
  end

  -- INCR replies with an integer, which Lua holds as a double; %d writes it
  -- without the exponent that tostring would use from 10^14 on.
  local id = string.format('%d', redis.call('INCR', KEYS[1]))
  redis.call('HSET', KEYS[2] .. id, 'id', id, unpack(ARGV, first_field, last_field))
  if lock then
    redis.call('SET', lock, id)
  end

  if delay_ms > 0 then
    -- The due time comes from the server's clock, so every worker compares
    -- it with the same clock.
    if not now_ms then
      local time = redis.call('TIME')
      now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    end
    redis.call('ZADD', KEYS[4], string.format('%.3f', (now_ms + delay_ms) / 1000), id)
    -- Idle workers sleep until the earliest due time, so a new earliest
    -- job wakes one to look again.
    if redis.call('ZRANK', KEYS[4], id) == 0 then
      wake = true
    end
  else
    redis.call('LPUSH', KEYS[3], id)
    wake = true
  end
  replies[#replies + 1] = {1, id}
end

if wake then
  wake_one(KEYS[6])
end
return replies
