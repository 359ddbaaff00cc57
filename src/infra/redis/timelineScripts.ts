/**
 * The timeline's script (docs/redis-keys.md): sessions' entries appended and trimmed to the
 * first (the session's `created`) and the newest, each timeline with its session's life. One call appends a whole batch (every
 * session the recorder has entries for), so a busy instance sends one script per flush, not
 * one per session.
 */

/**
 * KEYS: (timeline, session) per session. ARGV: max, retentionMs, then per session the number
 * of its entries followed by the entries. RPUSH the entries and keep `max`: the first entry
 * (how the session began, which a long chat would otherwise push out first) and the newest
 * `max - 1`. The timeline lives as long as its session: no expiry while the session is open
 * (its key has none), the session's remaining time once it ended (the end sets one; PTTL 0 is
 * its last millisecond, still an expiry), and `retentionMs` when the session is not there at
 * all (an entry after it expired).
 */
export const appendTimelines = `
local max = tonumber(ARGV[1])
local at = 3
for k = 1, #KEYS, 2 do
  local n = tonumber(ARGV[at])
  local length = redis.call('RPUSH', KEYS[k], unpack(ARGV, at + 1, at + n))
  at = at + n + 1
  if length > max then
    if max == 1 then
      redis.call('LTRIM', KEYS[k], 0, 0)
    else
      local first = redis.call('LINDEX', KEYS[k], 0)
      redis.call('LTRIM', KEYS[k], 1 - max, -1)
      redis.call('LPUSH', KEYS[k], first)
    end
  end
  local ttl = redis.call('PTTL', KEYS[k + 1])
  if ttl >= 0 then
    redis.call('PEXPIRE', KEYS[k], math.max(ttl, 1))
  elseif ttl == -2 then
    redis.call('PEXPIRE', KEYS[k], ARGV[2])
  else
    redis.call('PERSIST', KEYS[k])
  end
end
return 1
`
