/**
 * The session store's Lua scripts (src/stores/RedisSessionStore.ts): they make every
 * multi-key change of a session atomic, its commit with the outbox append among them. Key
 * layout: docs/redis-keys.md. Every key a script touches is passed in KEYS.
 */

/**
 * Keeps the indices, counters and retention of one session in step with its record. The
 * org counts hash holds each open status for the org and, as `{status}:{tenantId}`, per tenant.
 * KEYS: 1 session, 2 subscriber index (the latest session not `confined`), 3 conversation index
 * (the tenant's own), 4 open set, 5 org counts, 6 org ended zset, 7 tenant waits hash, 8 tenant
 * wait log, 9 activity, 10 the tenant's ended zset in the org, 11 the tenant's subscriber index,
 * 12 the tenant's pending queue (the record's queue), 13 the tenant's pending sessions, 14 its
 * active sessions (both `{createdAt ms, 13 digits}:{id}` members of score 0, in creation order),
 * 15 the session's timeline (given the session's retention when it ends: timelineScripts.ts).
 * ARGV (from 2): 2 record JSON, 3 session id, 4 now ms, 5 ended retention ms,
 * 6 assignedAt ms or "", 7 wait ms or "", 8 "1" if the record names a provider conversation,
 * 9 createdAt ms.
 */
const indexChange = `
local WAIT_LOG_KEEP_MS = 31 * 24 * 3600 * 1000
local function isOpen(status) return status == 'pending' or status == 'active' end

local function indexChange(old, new)
  local id, now, retention = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local endsNow = new.status == 'ended' and (old == nil or old.status ~= 'ended')
  if old ~= nil and old.status == 'ended' then
    redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  else
    redis.call('SET', KEYS[1], ARGV[2])
  end
  if old == nil then
    redis.call('SET', KEYS[11], id)
    if not new.confined then redis.call('SET', KEYS[2], id) end
  end
  if ARGV[8] == '1' and (old == nil or old.providerConversationId ~= new.providerConversationId) then
    redis.call('SET', KEYS[3], id)
  end

  local oldStatus = old and old.status or nil
  if oldStatus ~= new.status then
    if isOpen(oldStatus) then
      redis.call('HINCRBY', KEYS[5], oldStatus, -1)
      -- Never below 0: a session opened before the tenant counts were kept was never counted in them.
      local tenantField = oldStatus .. ':' .. old.tenantId
      if redis.call('HINCRBY', KEYS[5], tenantField, -1) < 0 then redis.call('HSET', KEYS[5], tenantField, 0) end
    end
    if oldStatus == 'pending' then redis.call('HINCRBY', KEYS[7], 'pending', -1) end
    if isOpen(new.status) then
      redis.call('HINCRBY', KEYS[5], new.status, 1)
      redis.call('HINCRBY', KEYS[5], new.status .. ':' .. new.tenantId, 1)
      redis.call('SADD', KEYS[4], id)
    end
    if new.status == 'pending' then redis.call('HINCRBY', KEYS[7], 'pending', 1) end
  end
  -- The queue positions: a pending request is ranked by creation time, and leaves when it is no
  -- longer pending. Both on every change, whatever the old status: a session an instance of an
  -- older version changed (during a rolling upgrade) is put right at its next change here.
  if new.status == 'pending' then
    redis.call('ZADD', KEYS[12], tonumber(ARGV[9]), id)
  else
    redis.call('ZREM', KEYS[12], id)
  end

  -- The tenant's open sessions by status, for the admin listing; kept as the queue positions are.
  local created = string.rep('0', 13 - #ARGV[9]) .. ARGV[9] .. ':' .. id
  if new.status == 'pending' then
    redis.call('ZADD', KEYS[13], 0, created)
    redis.call('ZREM', KEYS[14], created)
  elseif new.status == 'active' then
    redis.call('ZADD', KEYS[14], 0, created)
    redis.call('ZREM', KEYS[13], created)
  else
    redis.call('ZREM', KEYS[13], created)
    redis.call('ZREM', KEYS[14], created)
  end

  if endsNow then
    redis.call('SREM', KEYS[4], id)
    redis.call('ZADD', KEYS[6], now, id)
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. (now - retention))
    redis.call('ZADD', KEYS[10], now, id)
    redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', '(' .. (now - retention))
    redis.call('PEXPIRE', KEYS[1], retention)
    if redis.call('GET', KEYS[2]) == id then redis.call('PEXPIRE', KEYS[2], retention) end
    if redis.call('GET', KEYS[11]) == id then redis.call('PEXPIRE', KEYS[11], retention) end
    if ARGV[8] == '1' then redis.call('PEXPIRE', KEYS[3], retention) end
    redis.call('PEXPIRE', KEYS[15], retention)
    redis.call('DEL', KEYS[9])
  end

  -- First assignment: a cumulative (count, sum) sample, so an average over any window is two look-ups.
  if (old == nil or old.assignedAt == nil) and ARGV[6] ~= '' then
    local assignedAt = tonumber(ARGV[6])
    local n = redis.call('HINCRBY', KEYS[7], 'n', 1)
    local sum = redis.call('HINCRBY', KEYS[7], 'sum', tonumber(ARGV[7]))
    redis.call('ZADD', KEYS[8], assignedAt, n .. ':' .. sum .. ':' .. id)
    -- Trim samples older than any window, keeping the newest of them as the baseline.
    local stale = redis.call('ZCOUNT', KEYS[8], '-inf', '(' .. (assignedAt - WAIT_LOG_KEEP_MS))
    if stale > 1 then redis.call('ZREMRANGEBYRANK', KEYS[8], 0, stale - 2) end
  end
end
`

/**
 * Inserts a session unless its subscriber has an open one in its tenant or, for a session not
 * `confined`, an open one not confined in any tenant. Returns {"created"} or {"open", record}.
 * KEYS and ARGV 2..9 as indexChange; ARGV 10 the session key prefix (the subscriber's latest
 * sessions are the keys found through an index rather than passed in).
 */
export const createSession = `${indexChange}
local function openAt(indexKey)
  local latest = redis.call('GET', indexKey)
  if not latest then return nil end
  local existing = redis.call('GET', ARGV[10] .. latest)
  if existing and isOpen(cjson.decode(existing).status) then return existing end
  return nil
end
local record = cjson.decode(ARGV[2])
local own = openAt(KEYS[11])
if own then return {'open', own} end
if not record.confined then
  local elsewhere = openAt(KEYS[2])
  if elsewhere then return {'open', elsewhere} end
end
indexChange(nil, record)
return {'created'}
`

/**
 * Compare-and-set on version + de-duplication + outbox append, all or nothing.
 * KEYS 1..15 as indexChange, 16 outbox stream, 17 the session's seen ids (a hash of
 * `seenField`s), 18.. the seen keys an earlier version wrote, one per id (`seenBefore`:
 * checked, never written).
 * ARGV 1 expected version, 2..9 as indexChange, 10 de-duplication TTL ms, 11 wake-up channel,
 * 12 partition, 13 the activity the change was decided on ("" = any: refused as a conflict
 * when the activity key holds a later one), 14 the number n of seen ids, 15..14+n their
 * fields (in KEYS 18..'s order), then the event JSONs.
 */
export const commitChange = `${indexChange}
local current = redis.call('GET', KEYS[1])
if not current then return 'conflict' end
local old = cjson.decode(current)
if tostring(old.version) ~= ARGV[1] then return 'conflict' end
if ARGV[13] ~= '' then
  local activity = redis.call('GET', KEYS[9])
  if activity and activity > ARGV[13] then return 'conflict' end
end
local seen = tonumber(ARGV[14])
for i = 1, seen do
  if redis.call('HEXISTS', KEYS[17], ARGV[14 + i]) == 1 or redis.call('EXISTS', KEYS[17 + i]) == 1 then
    return 'duplicate'
  end
end
if seen > 0 then
  for i = 1, seen do redis.call('HSET', KEYS[17], ARGV[14 + i], '') end
  redis.call('PEXPIRE', KEYS[17], ARGV[10])
end
indexChange(old, cjson.decode(ARGV[2]))
for i = 15 + seen, #ARGV do redis.call('XADD', KEYS[16], '*', 'e', ARGV[i]) end
if #ARGV >= 15 + seen then redis.call('PUBLISH', ARGV[11], ARGV[12]) end
return 'committed'
`

/**
 * The session an index key (subscriber, conversation) points to: its id, record and activity
 * (false when not set), or nil when the index or the record is gone.
 */
const sessionAt = `
local function sessionAt(indexKey, sessionPrefix, activityPrefix)
  local id = redis.call('GET', indexKey)
  if not id then return nil end
  local record = redis.call('GET', sessionPrefix .. id)
  if not record then return nil end
  return id, record, redis.call('GET', activityPrefix .. id)
end
`

/**
 * The session of an index key (sessionAt). KEYS: 1 index key; ARGV: 1 session key prefix,
 * 2 activity key prefix. Returns nil or {record, activity or nil}.
 */
export const sessionByIndex = `${sessionAt}
local id, record, activity = sessionAt(KEYS[1], ARGV[1], ARGV[2])
if not id then return false end
return {record, activity}
`

/**
 * A page of a tenant's open sessions from each index in KEYS (its pending or active sessions,
 * or both for `open`). ARGV: 1 session key prefix, 2 activity key prefix, 3 where the page
 * starts (a ZRANGEBYLEX bound: "-", or "(" and the last member of the page before), 4 how many
 * sessions to read from each index (the page + 1, to tell whether more follow), then the status
 * of each index in KEYS' order. A member whose session is gone or no longer in the index's
 * status (an older version ended or took it without the index) is removed as it is met, and
 * the reading goes on, up to 4 × ARGV[4] members per index. Returns per index the member it
 * stopped at because of that bound (false when it did not), then the number of its sessions,
 * then flat (member, record, activity or false) in the index's order; the caller merges the
 * indices in byte order (Lua compares strings by the locale's collation, which may skip punctuation).
 */
export const openSessionsPage = `
local want = tonumber(ARGV[4])
local reply = {}
for i = 1, #KEYS do
  local status = ARGV[4 + i]
  local found, examined, from, last = {}, 0, ARGV[3], nil
  local stoppedAt = false
  while #found < want * 3 do
    if examined >= want * 4 then
      stoppedAt = last
      break
    end
    local asked = math.min(want - #found / 3, want * 4 - examined)
    local members = redis.call('ZRANGEBYLEX', KEYS[i], from, '+', 'LIMIT', 0, asked)
    for _, member in ipairs(members) do
      examined = examined + 1
      last = member
      local id = string.sub(member, 15)
      local record = redis.call('GET', ARGV[1] .. id)
      if record and cjson.decode(record).status == status then
        found[#found + 1] = member
        found[#found + 1] = record
        found[#found + 1] = redis.call('GET', ARGV[2] .. id) or false
      else
        redis.call('ZREM', KEYS[i], member)
      end
    end
    if #members < asked then break end
    from = '(' .. last
  end
  reply[#reply + 1] = stoppedAt
  reply[#reply + 1] = #found / 3
  for _, v in ipairs(found) do reply[#reply + 1] = v end
end
return reply
`

/**
 * Average waiting time since a moment: the cumulative (count, sum) now minus the last sample
 * before the window. KEYS: 1 tenant waits hash, 2 wait log. ARGV: 1 since ms. Returns {n, sum ms, pending}.
 */
export const waitingStats = `
local totals = redis.call('HMGET', KEYS[1], 'n', 'sum', 'pending')
local n, sum = tonumber(totals[1] or '0'), tonumber(totals[2] or '0')
local before = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '-inf', 'LIMIT', 0, 1)[1]
if before then
  local bn, bsum = string.match(before, '^(%d+):(%d+):')
  n, sum = n - tonumber(bn), sum - tonumber(bsum)
end
return {n, sum, tonumber(totals[3] or '0')}
`

/**
 * Claims a user message for forwarding in a session's message hash: "reserved", "inflight:"
 * and the claim's fingerprint (another request holds an unexpired reservation), or the
 * forwarded result as "f:<json>" (its fingerprint inside the JSON). A reservation is
 * "r:<expiry>" with its fingerprint in the field beside it (the message id and a newline, which
 * no message id holds): the values keep the shape instances from before fingerprints read.
 */
const reserveIn = `
local function reserveIn(key, messageId, now, lease, retention, fingerprint)
  local v = redis.call('HGET', key, messageId)
  if v then
    if string.sub(v, 1, 2) == 'f:' then return v end
    if tonumber(string.sub(v, 3)) > tonumber(now) then
      return 'inflight:' .. (redis.call('HGET', key, messageId .. '\\n') or '')
    end
  end
  redis.call('HSET', key, messageId, 'r:' .. (tonumber(now) + tonumber(lease)), messageId .. '\\n', fingerprint)
  redis.call('PEXPIRE', key, retention)
  return 'reserved'
end
`

/**
 * Claims a user message for forwarding (reserveIn). KEYS: 1 the session's message hash.
 * ARGV: 1 message id, 2 now ms, 3 reservation lease ms, 4 retention ms, 5 fingerprint.
 */
export const reserveMessage = `${reserveIn}
return reserveIn(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
`

/**
 * The forward path's one round trip before the provider call: the subscriber's latest session
 * (sessionAt), with the message claimed in it (reserveIn)
 * (perf: docs/ARCHITECTURE.md#perf-store-round-trips). KEYS: 1 subscriber index. ARGV: 1
 * session key prefix, 2 activity key prefix, 3 message hash prefix, 4 message id, 5 now ms, 6
 * reservation lease ms, 7 retention ms, 8 fingerprint. Returns nil or {record, activity or nil,
 * reservation}.
 */
export const reserveSubscriberMessage = `${sessionAt}${reserveIn}
local id, record, activity = sessionAt(KEYS[1], ARGV[1], ARGV[2])
if not id then return false end
return {record, activity, reserveIn(ARGV[3] .. id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])}
`

/**
 * Remembers what forwarding a user message returned, and counts it as the session's activity
 * while the session is open (a message that raced the session's end leaves no activity key
 * behind) (perf: docs/ARCHITECTURE.md#perf-activity-beside-record).
 * KEYS: 1 the session's message hash, 2 its partition's open set, 3 its activity key.
 * ARGV: 1 message id, 2 "f:<result json>" (the fingerprint inside), 3 retention ms, 4 session id,
 * 5 activity (ISO time).
 */
export const completeMessage = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[1] .. '\\n')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 1 then
  local current = redis.call('GET', KEYS[3])
  if not current or current < ARGV[5] then redis.call('SET', KEYS[3], ARGV[5]) end
end
return 1
`
