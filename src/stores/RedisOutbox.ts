/**
 * The production Outbox on Redis: one Redis Stream per partition, read through a consumer
 * group, so an entry handed out and never acked is reclaimed by the next consumer of its
 * partition. The session store's commit appends (infra/redis/sessionScripts.ts); reads, acks
 * and replays are the scripts of infra/redis/outboxScripts.ts. Key layout: docs/redis-keys.md.
 */
import { Chunk, Duration, Effect, Either, Layer, Queue, Schedule, Schema, Stream } from "effect"
import { LivechatEvent } from "../domain/model.js"
import type { StreamEntry } from "../infra/redis/commands.js"
import { corruptStoreData, redisCall } from "../infra/redis/connection.js"
import { redisKeys } from "../infra/redis/keys.js"
import { DeadLetterNotFound, type StoreUnavailable } from "../services/errors.js"
import {
  type AckResult,
  DeadLetter,
  type DeliveryTarget,
  Outbox,
  type OutboxEntry,
  type OutboxService,
  partitionOf
} from "../services/Outbox.js"
import { RedisStoreConnections, type RedisStoreConnectionsService } from "./RedisStoreConnections.js"

export interface RedisOutboxSettings {
  readonly prefix: string
  readonly partitions: number
  /** This instance's name in the outbox consumer groups (and in partition leases). */
  readonly consumer: string
  /**
   * Outbox reads and acks only while this instance holds the partition's lease (taken by the
   * cluster coordinator), so a stale owner's writes are refused. Off for a store used alone.
   */
  readonly fenced: boolean
}

/** The command connection, and a connection in subscriber mode for the wake-ups. */
export interface RedisOutboxOptions extends RedisOutboxSettings, RedisStoreConnectionsService {}

const GROUP = "delivery"
const READ_BATCH = 200
/** A consumer with nothing to read re-checks this often even without a wake-up (a lost PUBLISH). */
const IDLE_RECHECK = Duration.seconds(1)

// Decoded as an Either: an Effect.map or mapError around a decode was two fiber ops.
// perf: docs/ARCHITECTURE.md#perf-either-decode
const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(LivechatEvent))
const decodeDeadLetter = Schema.decodeUnknown(Schema.parseJson(DeadLetter))

const fieldOf = (fields: Array<string>, name: string): string | undefined => {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

export const makeRedisOutbox = (options: RedisOutboxOptions) =>
  Effect.gen(function*() {
    const { redis, subscriber } = options
    const keys = redisKeys(options.prefix)

    // One sliding slot per partition: an append wakes its consumer, and a wake-up that
    // arrives while the consumer is reading is kept for its next wait, so none is missed.
    const wakeups = yield* Effect.forEach(Array.from({ length: options.partitions }), () => Queue.sliding<void>(1))
    // And every IDLE_RECHECK each consumer looks anyway (a wake-up lost with the subscriber's
    // connection costs at most that): one ticker, not a timer raced against every wait.
    // perf: docs/ARCHITECTURE.md#perf-store-round-trips
    yield* Effect.forkScoped(
      Effect.forEach(wakeups, (queue) => Queue.offer(queue, undefined), { discard: true }).pipe(
        Effect.repeat(Schedule.spaced(IDLE_RECHECK))
      )
    )
    const onMessage = (channel: string, message: string) => {
      if (channel !== keys.outboxAppended) return
      const queue = wakeups[Number(message)]
      if (queue !== undefined) Queue.unsafeOffer(queue, undefined)
    }
    subscriber.on("message", onMessage)
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.off("message", onMessage)))
    // Subscribing is queued until the subscriber connects; until then consumers re-check every second.
    subscriber.subscribe(keys.outboxAppended).catch(() => undefined)

    /** An undecodable entry cannot be delivered: logged and acked, and left in the stream for inspection. */
    const setAside = (partition: number, id: string, reason: string) =>
      Effect.logError("undecodable outbox entry left in the stream", { partition, entryId: id, reason }).pipe(
        Effect.zipRight(redisCall("ack", () => redis.xack(keys.outbox(partition), GROUP, id)))
      )

    /**
     * Decoded synchronously, entry by entry: a fiber's worth of ops per entry cost more than
     * the decode (perf: docs/ARCHITECTURE.md#perf-either-decode).
     */
    const toEntries = (partition: number, raw: ReadonlyArray<StreamEntry>) => {
      const entries: Array<OutboxEntry> = []
      const undecodable: Array<[id: string, reason: string]> = []
      for (const [id, fields] of raw) {
        const event = decodeEvent(fieldOf(fields, "e"))
        if (Either.isLeft(event)) {
          undecodable.push([id, event.left.message])
          continue
        }
        const target = fieldOf(fields, "t")
        entries.push(
          target !== undefined
            ? { id, partition, event: event.right, targets: [target as DeliveryTarget] }
            : { id, partition, event: event.right }
        )
      }
      const decoded = Chunk.unsafeFromArray(entries)
      return undecodable.length === 0
        ? Effect.succeed(decoded)
        : Effect.as(
          Effect.forEach(undecodable, ([id, reason]) => setAside(partition, id, reason), { discard: true }),
          decoded
        )
    }

    const ensureGroup = (stream: string) =>
      redisCall("create consumer group", () => redis.xgroup("CREATE", stream, GROUP, "0", "MKSTREAM")).pipe(
        Effect.asVoid,
        Effect.catchIf(
          (e) => e.message.includes("BUSYGROUP"),
          () => Effect.void
        )
      )

    /**
     * After taking over a partition's pending entries, the consumers that held them (earlier
     * processes of this or another instance) hold nothing: drop them so the group stays small.
     */
    const forgetIdleConsumers = (stream: string) =>
      Effect.gen(function*() {
        const consumers = (yield* redisCall("list consumers", () => redis.xinfo("CONSUMERS", stream, GROUP))) as Array<
          Array<string | number>
        >
        for (const fields of consumers) {
          const name = String(fields[fields.indexOf("name") + 1])
          const pending = Number(fields[fields.indexOf("pending") + 1])
          if (name !== options.consumer && pending === 0) {
            yield* redisCall("delete consumer", () => redis.xgroup("DELCONSUMER", stream, GROUP, name))
          }
        }
      })

    const outbox: OutboxService = {
      consume: (partition) =>
        Stream.unwrap(
          Effect.gen(function*() {
            const stream = keys.outbox(partition)
            const wakeup = wakeups[partition]!
            yield* ensureGroup(stream)
            // First whatever is pending in the group (handed out before, never acked, by
            // anyone), in id order; then new entries as they are appended.
            let claimCursor: string | undefined = "0-0"
            let drained = false
            const fence = options.fenced ? "1" : "0"
            const lease = keys.partitionLease(partition)
            // Not the lease holder (any more): nothing to read; the coordinator hands the partition over.
            const notOwner = Effect.zipRight(
              Effect.logDebug("outbox read refused: not the partition's lease holder", { partition }),
              Effect.sleep(IDLE_RECHECK)
            )
            const nextBatch: Effect.Effect<Chunk.Chunk<OutboxEntry>, StoreUnavailable> = Effect.gen(function*() {
              if (claimCursor !== undefined) {
                const from: string = claimCursor
                const claimed = yield* redisCall(
                  "reclaim",
                  () => redis.lcgClaim(2, stream, lease, GROUP, options.consumer, from, READ_BATCH, fence)
                )
                if (claimed === -1) return yield* Effect.zipRight(notOwner, nextBatch)
                const [cursor, entries] = claimed
                claimCursor = cursor === "0-0" ? undefined : cursor
                if (claimCursor === undefined) yield* forgetIdleConsumers(stream)
                if (entries.length > 0) return yield* toEntries(partition, entries)
                return yield* nextBatch
              }
              if (drained) {
                yield* Queue.take(wakeup)
                drained = false
              }
              const read = yield* redisCall(
                "read",
                () => redis.lcgRead(2, stream, lease, GROUP, options.consumer, READ_BATCH, fence)
              )
              if (read === -1) return yield* Effect.zipRight(notOwner, nextBatch)
              const fresh = read?.[0]?.[1] ?? []
              // Fewer than a batch: the stream is read to its end, so the next read waits for a
              // wake-up first rather than finding nothing (one read per append, not two).
              // perf: docs/ARCHITECTURE.md#perf-store-round-trips
              drained = fresh.length < READ_BATCH
              const entries = yield* toEntries(partition, fresh)
              if (Chunk.isNonEmpty(entries)) return entries
              return yield* nextBatch
            })
            return Stream.repeatEffectChunk(nextBatch)
          })
        ),
      // The reply is read in the promise: an Effect.map around the call was three fiber ops per delivered event.
      // perf: docs/ARCHITECTURE.md#perf-fiber-ops
      ack: (entry) =>
        redisCall("ack", () =>
          redis
            .lcgAck(
              2,
              keys.outbox(entry.partition),
              keys.partitionLease(entry.partition),
              GROUP,
              entry.id,
              options.consumer
            )
            .then((reply): AckResult => (reply === -1 ? "not-owner" : "acked"))),
      deadLetter: (letter) =>
        Effect.asVoid(redisCall("dead letter", () => redis.hset(keys.deadLetters, letter.id, JSON.stringify(letter)))),
      deadLetters: Effect.gen(function*() {
        const values = yield* redisCall("dead letters", () => redis.hvals(keys.deadLetters))
        const letters = yield* Effect.forEach(values, (json) =>
          Effect.mapError(decodeDeadLetter(json), corruptStoreData("dead letter")))
        return [...letters].sort((a, b) =>
          a.failedAt.localeCompare(b.failedAt) || a.id.localeCompare(b.id)
        )
      }),
      replay: (id) =>
        Effect.gen(function*() {
          const notFound = new DeadLetterNotFound({ message: `no dead letter with id ${id}`, id })
          const json = yield* redisCall("dead letter", () => redis.hget(keys.deadLetters, id))
          if (json === null) return yield* notFound
          const letter: DeadLetter = yield* Effect.mapError(decodeDeadLetter(json), corruptStoreData("dead letter"))
          const partition = partitionOf(letter.event.sessionId, options.partitions)
          const replayed = yield* redisCall("replay", () =>
            redis.lcgReplay(
              2,
              keys.deadLetters,
              keys.outbox(partition),
              id,
              JSON.stringify(letter.event),
              letter.target,
              keys.outboxAppended,
              String(partition)
            ))
          if (replayed === 0) return yield* notFound
          return letter
        })
    }

    return outbox
  })

/** The Outbox on the Redis store's connections. */
export const redisOutboxLayer = (settings: RedisOutboxSettings) =>
  Layer.scoped(
    Outbox,
    Effect.flatMap(RedisStoreConnections, (connections) => makeRedisOutbox({ ...settings, ...connections }))
  )
