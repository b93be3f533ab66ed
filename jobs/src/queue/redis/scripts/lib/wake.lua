-- A helper prepended to the scripts that make jobs ready or change the
-- earliest due time.

-- Leaves one wake token on the LIST `wake`, unless one is already there. Idle
-- workers block on that list with BLPOP, so a token wakes one of them at once
-- instead of at its next poll. One token is enough, because a worker that
-- takes a full batch while jobs are still ready leaves a token for the next
-- (see reserve.lua). Returns nothing.
local function wake_one(wake)
  if redis.call('LLEN', wake) == 0 then
    redis.call('LPUSH', wake, '1')
  end
end

