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
 * `max - 1`. The timeline lives as long as its session: no expiry while the session is open,
 * and the session's retention from its end, which the end's commit gives it
 * (sessionScripts.ts). Only a timeline this call creates looks at its session: one created
 * after the end takes the session's remaining time (PTTL 0 is its last millisecond, still an
 * expiry), one whose session is not there at all (an entry after it expired) `retentionMs`.
 * An open session's timeline costs one RPUSH per flush: this script's share of Redis time on
 * the forward path (perf: docs/ARCHITECTURE.md#perf-timeline).
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
  if length == n then
    local ttl = redis.call('PTTL', KEYS[k + 1])
    if ttl >= 0 then
      redis.call('PEXPIRE', KEYS[k], math.max(ttl, 1))
    elseif ttl == -2 then
      redis.call('PEXPIRE', KEYS[k], ARGV[2])
    end
  end
end
return 1
`
