-- A helper prepended to the scripts that dead-letter jobs.

-- Deletes the oldest dead jobs, ids and hashes, while the dead-letter queue
-- `dlq` holds more than `max_dead` ids, but at most `budget` in one call, so
-- the work stays bounded when the limit was lowered or svc-infra workers
-- filled the queue. Dead jobs hold no unique key, so there is no lock to
-- release. Returns how many jobs it deleted.
local function trim_dead(dlq, job_prefix, max_dead, budget)
  local dropped = 0
  local excess = redis.call('LLEN', dlq) - max_dead
  while dropped < excess and dropped < budget do
    local id = redis.call('RPOP', dlq)
    if not id then
      break
    end
    redis.call('DEL', job_prefix .. id)
    dropped = dropped + 1
  end
  return dropped
end

