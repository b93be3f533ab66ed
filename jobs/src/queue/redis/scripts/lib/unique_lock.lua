-- Helpers for unique keys, prepended to the scripts that move a job between
-- states. The lock of a unique key is the STRING `{p}:unique:{key}`, whose
-- value is the id of the job that holds it. The job hash keeps the key in its
-- `unique_key` field. Each helper reads the lock's value before it changes
-- anything, so a job never changes or deletes a lock that another job holds.

-- Makes job `id` hold unique key `unique_key` (nil or '' for none) until
-- `deadline_ms` (its lease deadline in epoch milliseconds), or with no expiry
-- when `deadline_ms` is nil because the job is queued. A free key is taken; a
-- key another job holds is left alone. `unique_prefix` is `{p}:unique:`,
-- passed in KEYS.
local function hold_unique_key(unique_prefix, unique_key, id, deadline_ms)
  if not unique_key or unique_key == '' then
    return
  end
  local lock = unique_prefix .. unique_key
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

-- Deletes the lock of `unique_key` (nil or '' for none) if job `id` holds it:
-- at ack and at dead-lettering.
local function release_unique_key(unique_prefix, unique_key, id)
  if not unique_key or unique_key == '' then
    return
  end
  local lock = unique_prefix .. unique_key
  if redis.call('GET', lock) == id then
    redis.call('DEL', lock)
  end
end

-- Like hold_unique_key, reading the key from the job hash at `job_key`.
local function hold_unique(unique_prefix, job_key, id, deadline_ms)
  hold_unique_key(unique_prefix, redis.call('HGET', job_key, 'unique_key'), id, deadline_ms)
end

-- Like release_unique_key, reading the key from the job hash at `job_key`.
local function release_unique(unique_prefix, job_key, id)
  release_unique_key(unique_prefix, redis.call('HGET', job_key, 'unique_key'), id)
end

