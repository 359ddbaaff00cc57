/**
 * The timeline's script (docs/redis-keys.md): sessions' entries appended and trimmed to the
 * newest, each timeline with its session's life. One call appends a whole batch (every
 * session the recorder has entries for), so a busy instance sends one script per flush, not
 * one per session.
 */

/**
 * KEYS: (timeline, session) per session. ARGV: max, retentionMs, then per session the number
 * of its entries followed by the entries. RPUSH the entries and keep the newest `max`. The
 * timeline lives as long as its session: no expiry while the session is open (its key has
 * none), the session's remaining time once it ended (the end sets one), and `retentionMs`
 * when the session is not there at all (an entry after it expired).
 */
export const appendTimelines = `
local max = tonumber(ARGV[1])
local at = 3
for k = 1, #KEYS, 2 do
  local n = tonumber(ARGV[at])
  redis.call('RPUSH', KEYS[k], unpack(ARGV, at + 1, at + n))
  at = at + n + 1
  redis.call('LTRIM', KEYS[k], -max, -1)
  local ttl = redis.call('PTTL', KEYS[k + 1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[k], ttl)
  elseif ttl == -2 then
    redis.call('PEXPIRE', KEYS[k], ARGV[2])
  else
    redis.call('PERSIST', KEYS[k])
  end
end
return 1
`
