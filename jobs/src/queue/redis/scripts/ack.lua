-- Completes a job: deletes its hash, its processing entries and its unique
-- key, while the lease token still matches. Returns 1, or 0 when the lease is
-- lost (the token changed or the job is no longer reserved) and nothing changed.
--
-- KEYS[1]  {p}:processing      LIST of reserved ids
-- KEYS[2]  {p}:processing_vt   ZSET, id -> lease deadline
-- KEYS[3]  {p}:job:{id}        the job hash
-- KEYS[4]  {p}:unique:         start of the unique-key lock; the key is appended
-- ARGV[1]  job id
-- ARGV[2]  lease token
--
-- The LREM scans the processing list, which holds only reserved ids, so its
-- length is bounded by the total concurrency of the workers.

if redis.call('HGET', KEYS[3], 'lease') ~= ARGV[2]
  or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end

release_unique(KEYS[4], KEYS[3], ARGV[1])
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
