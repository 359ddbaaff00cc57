/** The cluster's Lua scripts (src/cluster/RedisCoordinator.ts); every key they touch is in KEYS. */

/**
 * One heartbeat: the member key (with TTL), membership, the leases of the partitions this
 * instance holds, and a message on the cluster channel. KEYS: 1 member, 2 members set,
 * 3.. partition leases. ARGV: 1 instance id, 2 member JSON, 3 member TTL ms, 4 lease TTL ms,
 * 5 channel, 6 message. Returns the 0-based indexes (among the leases) not held any more.
 */
export const heartbeat = `
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
local lost = {}
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
  else
    table.insert(lost, i - 3)
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return lost
`

/**
 * Takes or renews the leader lease. A new term increments the epoch (the fencing number of
 * the assignments it writes). KEYS: 1 leader, 2 epoch counter. ARGV: 1 instance id, 2 TTL ms.
 * Returns the epoch while leading, 0 otherwise.
 */
export const lead = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return 0
`

/**
 * Replaces the assignment, only while the caller still leads. KEYS: 1 leader, 2 assignment.
 * ARGV: 1 instance id, 2 epoch, 3 channel, 4.. partition, owner pairs. Returns 1 if written.
 */
export const writeAssignment = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'epoch', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PUBLISH', ARGV[3], cjson.encode({type = 'assignment', from = ARGV[1]}))
return 1
`

/** Takes a partition lease if free (or renews it if already ours). KEYS: 1 lease. ARGV: 1 instance id, 2 TTL ms. */
export const takeLease = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

/** Deletes a lease (partition or leader) only if this instance holds it. KEYS: 1 key. ARGV: 1 instance id. */
export const dropIfMine = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
