-- Moves up to ARGV[1] dead jobs back to the ready list, oldest first, with
-- their attempts reset to 0 and `last_error` kept. Each takes its unique key
-- again unless another job holds it. Ids whose hash is gone are dropped.
-- A call that requeued a job leaves a wake token for an idle worker.
-- Returns {ids removed from the dead-letter queue, jobs requeued}; the caller
-- repeats while the first number equals the limit.
--
-- KEYS[1]  {p}:dlq             LIST of dead ids, newest at the head
-- KEYS[2]  {p}:ready           LIST, new ids pushed at the head
-- KEYS[3]  {p}:job:            start of the job hash keys; the id is appended
-- KEYS[4]  {p}:unique:         start of the unique-key lock; the key is appended
-- KEYS[5]  {p}:wake            LIST of wake tokens for idle workers
-- ARGV[1]  maximum number of ids to take in this call

local limit = tonumber(ARGV[1])
local removed = 0
local requeued = 0
while removed < limit do
  local id = redis.call('RPOP', KEYS[1])
  if not id then
    break
  end
  removed = removed + 1
  local key = KEYS[3] .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'attempts', '0')
    redis.call('HDEL', key, 'died_at')
    redis.call('LPUSH', KEYS[2], id)
    hold_unique(KEYS[4], key, id, nil)
    requeued = requeued + 1
  end
end
if requeued > 0 then
  wake_one(KEYS[5])
end
return {removed, requeued}
