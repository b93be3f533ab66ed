-- Helpers for unique keys, prepended to the scripts that move a job between
-- states. The lock of a unique key is the STRING `{p}:unique:{key}`, whose
-- value is the id of the job that holds it. The job hash keeps the key in its
-- `unique_key` field. Each helper reads the lock's value before it changes
-- anything, so a job never changes or deletes a lock that another job holds.

-- Returns the lock key of the job stored at `job_key`, or nil when the job has
-- no unique key. `unique_prefix` is `{p}:unique:`, passed in KEYS.
local function unique_lock_of(unique_prefix, job_key)
  local unique_key = redis.call('HGET', job_key, 'unique_key')
  if not unique_key or unique_key == '' then
    return nil
  end
  return unique_prefix .. unique_key
end

-- Makes job `id` hold its unique key until `deadline_ms` (its lease deadline
-- in epoch milliseconds), or with no expiry when `deadline_ms` is nil because
-- the job is queued. A free key is taken; a key another job holds is left alone.
local function hold_unique(unique_prefix, job_key, id, deadline_ms)
  local lock = unique_lock_of(unique_prefix, job_key)
  if not lock then
    return
  end
  local holder = redis.call('GET', lock)
  if holder and holder ~= id then
    return
  end
  if deadline_ms then
    redis.call('SET', lock, id, 'PXAT', string.format('%d', deadline_ms))
  else
    redis.call('SET', lock, id)
  end
end

-- Deletes job `id`'s unique key if the job holds it: at ack and at dead-lettering.
local function release_unique(unique_prefix, job_key, id)
  local lock = unique_lock_of(unique_prefix, job_key)
  if lock and redis.call('GET', lock) == id then
    redis.call('DEL', lock)
  end
end

