-- Completes jobs: for each lease whose token still matches, deletes the job
-- hash, its processing entries and its unique key. Returns one number per
-- lease, in order: 1 when acked, 0 when the lease is lost (the token changed
-- or the job is no longer reserved) and nothing changed for that job.
--
-- KEYS[1]  {p}:processing      LIST of reserved ids
-- KEYS[2]  {p}:processing_vt   ZSET, id -> lease deadline
-- KEYS[3]  {p}:job:            start of the job hash keys; the id is appended
-- KEYS[4]  {p}:unique:         start of the unique-key lock; the key is appended
-- ARGV     job id, lease token, job id, lease token, ...
--
-- Bounded work: the caller sends at most 100 leases per call. Each LREM
-- scans the processing list from its tail, where the oldest reservations
-- sit, so acks in about the order of reservation stop after a few entries.
-- The list holds only reserved ids, one entry per reservation, so its length
-- is bounded by the total concurrency of the workers.

local done = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local key = KEYS[3] .. id
  local fields = redis.call('HMGET', key, 'lease', 'unique_key')
  -- ZREM is both the check that the job is still reserved and its removal
  -- from the lease set, and it runs only once the token matched.
  if fields[1] == ARGV[i + 1] and redis.call('ZREM', KEYS[2], id) == 1 then
    release_unique_key(KEYS[4], fields[2], id)
    redis.call('LREM', KEYS[1], -1, id)
    redis.call('DEL', key)
    done[#done + 1] = 1
  else
    done[#done + 1] = 0
  end
end
return done
