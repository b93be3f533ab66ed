-- Reserves up to ARGV[1] due jobs under new leases, counting one attempt
-- each. Before popping it moves due delayed jobs to the ready list, and jobs
-- whose lease expired back to the ready list or, with their attempts used
-- up, to the dead-letter queue. All times come from the server's clock.
-- A reserved job holds its unique key until its lease deadline; a job whose
-- lease expired holds it again with no expiry, and a dead job releases it.
-- After dead-lettering, the oldest dead jobs beyond the limit are deleted.
--
-- KEYS[1]  {p}:ready           LIST, pushed at the head, popped at the tail
-- KEYS[2]  {p}:processing      LIST of reserved ids
-- KEYS[3]  {p}:processing_vt   ZSET, id -> lease deadline in epoch seconds
-- KEYS[4]  {p}:delayed         ZSET, id -> due time in epoch seconds
-- KEYS[5]  {p}:dlq             LIST of dead ids, newest at the head
-- KEYS[6]  {p}:job:            start of the job hash keys; the id is appended
-- KEYS[7]  {p}:unique:         start of the unique-key lock; the key is appended
-- KEYS[8]  {p}:wake            LIST of wake tokens for idle workers
-- ARGV[1]  maximum number of jobs to reserve
-- ARGV[2]  default visibility timeout in milliseconds
-- ARGV[3]  lease token prefix, unique to this call; a token is prefix .. id
-- ARGV[4]  batch limit: at most this many delayed jobs promoted, expired
--          leases handled and ready entries skipped in one call
-- ARGV[5]  current time as ISO 8601 text, stored as `died_at`
-- ARGV[6]  the maximum number of dead jobs kept
--
-- Returns {more, {{id, token, visibility_timeout_ms, {field, value, ...}}, ...},
-- dead jobs deleted, {message, ...}}. `more` is 1 when the call stopped at the
-- limit of skipped entries, so jobs may still be ready. The messages name each
-- id dropped because its job key has another type than a hash. The field list is the hash as
-- it was before the reservation, followed by the new `attempts` and
-- `max_attempts`, so a reader that keeps the last value of each field sees
-- the hash as it is now.
--
-- Bad entries never fail the call, because an error would lose the reply
-- after jobs were already leased:
-- - An id whose job key has another type than a hash (another program
--   wrote it) is taken off the lists and reported in the reply. The key is
--   left as it is, and since no hash can be written there, the id is not
--   dead-lettered.
-- - An id that is not valid UTF-8 is dead-lettered with a `last_error` that
--   says so, because a worker could not address it: its ack would name
--   another key, and the job would run on every attempt.
--
-- Wake tokens: a call that took a full batch while jobs are still ready
-- leaves a token, so another idle worker takes the rest; a call that left the
-- ready list empty deletes the tokens, which then have nothing to wake for.
--
-- Bounded work: at most ARGV[4] promotions, ARGV[4] expired leases,
-- ARGV[1] reservations and ARGV[4] skipped entries, and at most as many
-- deleted dead jobs as it dead-lettered plus ARGV[4]. The LREMs scan the
-- processing list, which holds only reserved ids, so its length is bounded
-- by the total concurrency of the workers.

local max_jobs = tonumber(ARGV[1])
local default_timeout_ms = tonumber(ARGV[2])
local token_prefix = ARGV[3]
local limit = tonumber(ARGV[4])
local died_at = ARGV[5]
local max_dead = tonumber(ARGV[6])
local dead_lettered = 0
local dropped_ids = {}

-- The maximum lease: 100 years in milliseconds, the crate's MAX_DELAY.
local MAX_LEASE_MS = 3153600000000

local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local now = string.format('%.3f', now_ms / 1000)

-- Parses attempts or max_attempts from `raw`, the field's value or false.
-- A missing or empty field gives the default. A value that is not an integer
-- from 0 to 2^32 - 1 gives nil and a message naming the field and the value,
-- so the job is dead-lettered instead of failing every reservation.
local function counter(id, name, raw, default)
  if not raw or raw == '' then
    return default
  end
  local n = tonumber(raw)
  if n == nil or n ~= math.floor(n) or n < 0 or n > 4294967295 then
    return nil, string.format(
      'job %s is stored with an invalid `%s` field: %q; it must be a non-negative integer',
      id, name, string.sub(raw, 1, 100))
  end
  return n
end

-- Returns attempts, max_attempts and an error message for either being invalid.
local function counters(id, attempts_raw, max_raw)
  local attempts, attempts_error = counter(id, 'attempts', attempts_raw, 0)
  local max_attempts, max_error = counter(id, 'max_attempts', max_raw, 5)
  return attempts, max_attempts, attempts_error or max_error
end

-- Returns `id` with each byte other than printable ASCII written as \xHH
-- and each backslash doubled, the form in which the dead-letter listing
-- shows an id that is not valid UTF-8.
local function escape_id(id)
  return (string.gsub(id, '.', function(char)
    local byte = string.byte(char)
    if byte == 92 then
      return '\\\\'
    elseif byte < 32 or byte > 126 then
      return string.format('\\x%02x', byte)
    end
  end))
end

-- Whether `text` is valid UTF-8: no stray continuation byte, overlong form,
-- surrogate or code point above U+10FFFF.
local function is_utf8(text)
  if not string.find(text, '[\128-\255]') then
    return true
  end
  local i, n = 1, #text
  while i <= n do
    local c = string.byte(text, i)
    local length, low, high = 1, 0x80, 0xBF
    if c < 0x80 then
      length = 1
    elseif c >= 0xC2 and c <= 0xDF then
      length = 2
    elseif c >= 0xE0 and c <= 0xEF then
      length = 3
      if c == 0xE0 then low = 0xA0 elseif c == 0xED then high = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      length = 4
      if c == 0xF0 then low = 0x90 elseif c == 0xF4 then high = 0x8F end
    else
      return false
    end
    for k = 1, length - 1 do
      local next_byte = string.byte(text, i + k)
      if not next_byte or next_byte < low or next_byte > high then
        return false
      end
      low, high = 0x80, 0xBF
    end
    i = i + length
  end
  return true
end

-- Records that `id` was dropped because its job key has the type `key_type`.
local function report_wrong_type(id, key, key_type)
  dropped_ids[#dropped_ids + 1] = string.format(
    'dropped job id %s from the queue because its key %s is a %s, not a hash; the key was left as it is',
    escape_id(id), escape_id(key), key_type)
end

-- The caller has already taken the id off the ready and processing lists.
local function dead_letter(id, key, unique_key, message)
  release_unique_key(KEYS[7], unique_key, id)
  redis.call('HSET', key, 'last_error', message, 'died_at', died_at)
  redis.call('HDEL', key, 'lease', 'visible_at')
  redis.call('LPUSH', KEYS[5], id)
  dead_lettered = dead_lettered + 1
end

local function promote_due()
  local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    -- Only the caller that removed the id pushes it, so a Python worker
    -- promoting at the same time cannot queue it twice.
    if redis.call('ZREM', KEYS[4], id) == 1 then
      redis.call('LPUSH', KEYS[1], id)
    end
  end
end

-- A job whose lease expired goes to the head of the ready list, behind the
-- jobs already waiting, as svc-infra and the in-memory queue do.
local function requeue_expired()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[3], id)
    redis.call('LREM', KEYS[2], 0, id)
    local key = KEYS[6] .. id
    local fields = redis.pcall('HMGET', key, 'attempts', 'max_attempts', 'unique_key')
    if fields.err then
      report_wrong_type(id, key, redis.call('TYPE', key)['ok'])
    elseif redis.call('EXISTS', key) == 1 then
      local attempts, max_attempts, invalid = counters(id, fields[1], fields[2])
      if invalid then
        dead_letter(id, key, fields[3], invalid)
      elseif attempts >= max_attempts then
        dead_letter(id, key, fields[3], string.format(
          'lease expired on attempt %d of %d: the worker neither acked nor failed the job within its visibility timeout',
          attempts, max_attempts))
      else
        redis.call('HDEL', key, 'lease', 'visible_at')
        redis.call('LPUSH', KEYS[1], id)
        hold_unique_key(KEYS[7], fields[3], id, nil)
      end
    end
  end
end

-- Returns the values of attempts, max_attempts, visibility_timeout_ms and
-- unique_key in a flat HGETALL reply, false where a field is missing.
local function lease_fields(flat)
  local attempts, max_attempts, timeout, unique_key = false, false, false, false
  for i = 1, #flat, 2 do
    local name = flat[i]
    if name == 'attempts' then
      attempts = flat[i + 1]
    elseif name == 'max_attempts' then
      max_attempts = flat[i + 1]
    elseif name == 'visibility_timeout_ms' then
      timeout = flat[i + 1]
    elseif name == 'unique_key' then
      unique_key = flat[i + 1]
    end
  end
  return attempts, max_attempts, timeout, unique_key
end

local function lease(id, key, flat, attempts, max_attempts, timeout_raw, unique_key)
  local timeout_ms = tonumber(timeout_raw)
  if not timeout_ms or timeout_ms < 1 or timeout_ms ~= math.floor(timeout_ms) then
    timeout_ms = default_timeout_ms
  end
  timeout_ms = math.min(timeout_ms, MAX_LEASE_MS)
  local deadline_ms = now_ms + timeout_ms
  local token = token_prefix .. id
  -- Both counters are written back as plain integers, so later scripts and
  -- svc-infra's int() parse them.
  local attempts_text = string.format('%d', attempts)
  local max_text = string.format('%d', max_attempts)
  redis.call('HSET', key,
    'attempts', attempts_text,
    'max_attempts', max_text,
    'lease', token,
    'visible_at', string.format('%d', math.floor(deadline_ms / 1000)))
  redis.call('ZADD', KEYS[3], string.format('%.3f', deadline_ms / 1000), id)
  hold_unique_key(KEYS[7], unique_key, id, deadline_ms)
  flat[#flat + 1] = 'attempts'
  flat[#flat + 1] = attempts_text
  flat[#flat + 1] = 'max_attempts'
  flat[#flat + 1] = max_text
  return {id, token, timeout_ms, flat}
end

-- Pops one id and reserves it. Returns the reservation, or nil when the id
-- was skipped; the second result is false when the ready list is empty.
local function reserve_next()
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then
    return nil, false
  end
  local key = KEYS[6] .. id

  if redis.call('ZSCORE', KEYS[3], id) then
    -- A second copy of an id that is already leased: drop only this copy,
    -- which LMOVE just put at the head of the processing list.
    redis.call('LREM', KEYS[2], 1, id)
    return nil, true
  end
  local flat = redis.pcall('HGETALL', key)
  if flat.err then
    redis.call('LREM', KEYS[2], 0, id)
    report_wrong_type(id, key, redis.call('TYPE', key)['ok'])
    return nil, true
  end
  if #flat == 0 then
    -- An id without a hash (acked elsewhere, or garbage) is dropped.
    redis.call('LREM', KEYS[2], 0, id)
    return nil, true
  end

  local attempts_raw, max_raw, timeout_raw, unique_key = lease_fields(flat)
  if not is_utf8(id) then
    redis.call('LREM', KEYS[2], 0, id)
    dead_letter(id, key, unique_key, string.format(
      'job id %s is not valid UTF-8, so no worker can run it; `dlq show` and `dlq requeue` accept the id as written here, and `dlq purge` deletes it',
      escape_id(id)))
    return nil, true
  end
  local attempts, max_attempts, invalid = counters(id, attempts_raw, max_raw)
  if invalid then
    redis.call('LREM', KEYS[2], 0, id)
    dead_letter(id, key, unique_key, invalid)
    return nil, true
  end
  if attempts >= max_attempts then
    -- Another worker used the last attempt (a svc-infra worker requeues an
    -- expired lease without checking attempts).
    redis.call('LREM', KEYS[2], 0, id)
    dead_letter(id, key, unique_key, string.format(
      'attempts exhausted: the job was reserved %d times and allows %d',
      attempts, max_attempts))
    return nil, true
  end
  return lease(id, key, flat, attempts + 1, max_attempts, timeout_raw, unique_key), true
end

promote_due()
requeue_expired()

local reserved = {}
local skipped = 0
local more = 0
while #reserved < max_jobs do
  if skipped >= limit then
    more = 1
    break
  end
  local job, popped = reserve_next()
  if not popped then
    break
  end
  if job then
    reserved[#reserved + 1] = job
  else
    skipped = skipped + 1
  end
end

if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[8])
else
  wake_one(KEYS[8])
end

local dropped = 0
if dead_lettered > 0 then
  dropped = trim_dead(KEYS[5], KEYS[6], max_dead, dead_lettered + limit)
end
return {more, reserved, dropped, dropped_ids}
