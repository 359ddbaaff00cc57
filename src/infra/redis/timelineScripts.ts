/**
 * The timeline's script (docs/redis-keys.md): a session's entries appended and trimmed to
 * the newest, with the session's own life. Called as (2, timelineKey, sessionKey, max, retentionMs, ...entries).
 */

/**
 * RPUSH the entries and keep the newest `max`. The timeline lives as long as its session: no
 * expiry while the session is open (its key has none), the session's remaining time once it
 * ended (the end sets one), and `retentionMs` when the session is not there at all (an entry
 * after it expired, or of a request the store never kept).
 */
export const appendTimeline = `
local max = tonumber(ARGV[1])
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('LTRIM', KEYS[1], -max, -1)
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif ttl == -2 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('PERSIST', KEYS[1])
end
return 1
`
