-- Moves one dead job back to the ready list with its attempts reset to 0,
-- and leaves a wake token for an idle worker. `last_error` is kept. The job takes its unique key again unless another
-- job holds it. Returns 1, or 0 when no dead job has that id (an id in the
-- dead-letter queue whose hash is gone is dropped).
--
-- KEYS[1]  {p}:dlq             LIST of dead ids
-- KEYS[2]  {p}:ready           LIST, new ids pushed at the head
-- KEYS[3]  {p}:job:{id}        the job hash
-- KEYS[4]  {p}:unique:         start of the unique-key lock; the key is appended
-- KEYS[5]  {p}:wake            LIST of wake tokens for idle workers
-- ARGV[1]  job id
--
-- The LREM scans the dead-letter queue, whose length the dead-letter limit bounds.

if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return 0
end

redis.call('HSET', KEYS[3], 'attempts', '0')
redis.call('HDEL', KEYS[3], 'died_at')
redis.call('LPUSH', KEYS[2], ARGV[1])
hold_unique(KEYS[4], KEYS[3], ARGV[1], nil)
wake_one(KEYS[5])
return 1
