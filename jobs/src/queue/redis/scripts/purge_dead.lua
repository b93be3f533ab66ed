-- Deletes up to ARGV[1] dead jobs, oldest first: their ids and their hashes.
-- Returns {ids removed from the dead-letter queue, hashes deleted}; the caller
-- repeats while the first number equals the limit.
--
-- KEYS[1]  {p}:dlq             LIST of dead ids, newest at the head
-- KEYS[2]  {p}:job:            start of the job hash keys; the id is appended
-- ARGV[1]  maximum number of ids to take in this call

local limit = tonumber(ARGV[1])
local removed = 0
local deleted = 0
while removed < limit do
  local id = redis.call('RPOP', KEYS[1])
  if not id then
    break
  end
  removed = removed + 1
  deleted = deleted + redis.call('DEL', KEYS[2] .. id)
end
return {removed, deleted}
