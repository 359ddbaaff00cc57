/**
 * The outbox's Lua scripts (src/stores/RedisOutbox.ts): one Redis Stream per partition, read
 * through a consumer group. Appends are the session store's commit (sessionScripts.ts) and a
 * dead letter's replay. Key layout: docs/redis-keys.md; every key a script touches is in KEYS.
 */

/** The outbox calls below are fenced: refused (-1) unless ARGV fence is "0" or this consumer holds the partition's lease. */
const fence = (consumerArg: number, fenceArg: number) => `
if ARGV[${fenceArg}] == '1' and redis.call('GET', KEYS[2]) ~= ARGV[${consumerArg}] then return -1 end
`

/** Takes over pending entries. KEYS: 1 stream, 2 partition lease. ARGV: 1 group, 2 consumer, 3 cursor, 4 count, 5 fence. */
export const claimPending = `${fence(2, 5)}
return redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'COUNT', ARGV[4])
`

/** Reads new entries (nil when there are none). KEYS: 1 stream, 2 partition lease. ARGV: 1 group, 2 consumer, 3 count, 4 fence. */
export const readNew = `${fence(2, 4)}
return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
`

/**
 * Ack = forget: XACK and XDEL together, so the stream only holds undelivered entries.
 * Never refused: the entry was delivered, and leaving it pending would only have the
 * partition's next owner deliver it again. Returns 1, or -1 when another instance holds
 * the partition now (its lanes stop: that instance works the rest).
 * KEYS: 1 stream, 2 partition lease. ARGV: 1 group, 2 id, 3 consumer.
 */
export const ackEntry = `
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then return -1 end
return 1
`

/**
 * Moves a dead letter back into its partition's stream, for its target only. Returns 0 if it
 * was already gone. KEYS: 1 dead-letter hash, 2 stream. ARGV: 1 letter id, 2 event JSON,
 * 3 target, 4 wake-up channel, 5 partition.
 */
export const replayDeadLetter = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2], 't', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`
