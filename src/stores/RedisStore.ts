/**
 * The production store: SessionStore and Outbox on Redis, shared by every instance and
 * durable across restarts. Every multi-key change is one Lua script (infra/redis/sessionScripts.ts); the
 * outbox is one Redis Stream per partition read through a consumer group, so an entry
 * handed out and never acked is reclaimed by the next consumer of its partition.
 * Key layout: docs/redis-keys.md.
 */
import { Chunk, Clock, Context, Duration, Effect, Either, Layer, Option, Queue, type Redacted, Schedule, Schema, Stream } from "effect"
import type { Redis } from "ioredis"
import { LivechatEvent, SessionRecord } from "../domain/model.js"
import { AppConfig } from "../services/AppConfig.js"
import { DeadLetterNotFound, StoreUnavailable } from "../services/errors.js"
import {
  type AckResult,
  DeadLetter,
  type DeliveryTarget,
  Outbox,
  type OutboxEntry,
  type OutboxService,
  partitionOf
} from "../services/Outbox.js"
import {
  type CreateResult,
  MESSAGE_CLAIM_LEASE,
  type MessageReservation,
  SessionStore,
  type SessionStoreService,
  WEBHOOK_SOURCE_TENANTS,
  withActivity
} from "../services/SessionStore.js"
import type { StreamEntry } from "../infra/redis/commands.js"
import { redisCall, redisConnection } from "../infra/redis/connection.js"
import { redisKeys } from "../infra/redis/keys.js"

export interface RedisStoreOptions {
  /** The command connection (no blocking commands are ever sent on it; it knows the gateway's scripts). */
  readonly redis: Redis
  /** A connection in subscriber mode, for the outbox's wake-ups. */
  readonly subscriber: Redis
  readonly prefix: string
  readonly partitions: number
  /** This instance's name in the outbox consumer groups (and in partition leases). */
  readonly consumer: string
  /**
   * Outbox reads and acks only while this instance holds the partition's lease (taken by the
   * cluster coordinator), so a stale owner's writes are refused. Off for a store used alone.
   */
  readonly fenced: boolean
  /** How long an ended session (with its indices) is kept. */
  readonly endedRetention: Duration.Duration
  /** How long event ids and forwarded message ids are remembered. */
  readonly dedupRetention: Duration.Duration
}

const GROUP = "delivery"
const RESERVATION_LEASE_MS = Duration.toMillis(MESSAGE_CLAIM_LEASE)
const READ_BATCH = 200
/** How many decoded session records are kept for reads of an unchanged record (a few MB at most). */
const DECODED_RECORDS = 2_000
/** A consumer with nothing to read re-checks this often even without a wake-up (a lost PUBLISH). */
const IDLE_RECHECK = Duration.seconds(1)

// Decoded as Eithers and mapped with Either's own functions: each Effect.map or mapError around a decode was two fiber ops.
const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(SessionRecord))
const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(LivechatEvent))
const decodeDeadLetter = Schema.decodeUnknown(Schema.parseJson(DeadLetter))
const decodeForwarded = Schema.decodeUnknownEither(
  Schema.parseJson(Schema.Struct({ providerMessageId: Schema.optionalWith(Schema.String, { exact: true }) }))
)

const corrupt = (what: string) => (e: unknown) =>
  new StoreUnavailable({ message: `corrupt ${what} in the store: ${e instanceof Error ? e.message : String(e)}` })


const fieldOf = (fields: Array<string>, name: string): string | undefined => {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

export const makeRedisStore = (options: RedisStoreOptions) =>
  Effect.gen(function* () {
    const { redis, subscriber } = options
    const keys = redisKeys(options.prefix)
    const endedRetentionMs = Duration.toMillis(options.endedRetention)
    const dedupMs = Duration.toMillis(options.dedupRetention)

    // One sliding slot per partition: an append wakes its consumer, and a wake-up that
    // arrives while the consumer is reading is kept for its next wait, so none is missed.
    const wakeups = yield* Effect.forEach(Array.from({ length: options.partitions }), () => Queue.sliding<void>(1))
    // And every IDLE_RECHECK each consumer looks anyway (a wake-up lost with the subscriber's
    // connection costs at most that): one ticker, not a timer raced against every wait.
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

    /** KEYS 1..11 and ARGV 2..8 of the index scripts, for this record. */
    const indexArgs = (record: SessionRecord, now: number) => {
      const assignedAt = record.assignedAt !== undefined ? Date.parse(record.assignedAt) : undefined
      const waitMs = assignedAt !== undefined ? Math.max(0, assignedAt - Date.parse(record.createdAt)) : undefined
      const keyList = [
        keys.session(record.sessionId),
        keys.subscriber(record.subHandle),
        keys.conversation(record.provider, record.tenantId, record.providerConversationId ?? ""),
        keys.open(partitionOf(record.sessionId, options.partitions)),
        keys.orgCounts(record.organizationId),
        keys.orgEnded(record.organizationId),
        keys.tenantWaits(record.tenantId),
        keys.tenantWaitLog(record.tenantId),
        keys.activity(record.sessionId),
        keys.tenantEnded(record.organizationId, record.tenantId),
        keys.tenantSubscriber(record.tenantId, record.subHandle)
      ]
      const argList = [
        JSON.stringify(record),
        record.sessionId,
        String(now),
        String(endedRetentionMs),
        assignedAt !== undefined ? String(assignedAt) : "",
        waitMs !== undefined ? String(waitMs) : "",
        record.providerConversationId !== undefined ? "1" : "0"
      ]
      return { keyList, argList }
    }

    /**
     * Records decoded for user messages, by the exact JSON they were decoded from. A chat's
     * record is read unchanged for every user message (the activity is a key of its own), and
     * decoding it again cost ~6 KB of garbage and several µs per message. Keyed by content, an
     * entry can never be stale; the oldest go first. Other reads look here but do not add: an
     * agent's event changes the record it read, and keeping those would only age garbage.
     */
    const decodedRecords = new Map<string, SessionRecord>()
    const decodeStoredRecord = (json: string, remember: boolean): Either.Either<SessionRecord, StoreUnavailable> => {
      const known = decodedRecords.get(json)
      if (known !== undefined) return Either.right(known)
      const decoded = Either.mapLeft(decodeRecord(json), corrupt("session record"))
      if (remember && Either.isRight(decoded)) {
        if (decodedRecords.size >= DECODED_RECORDS) decodedRecords.delete(decodedRecords.keys().next().value!)
        decodedRecords.set(json, decoded.right)
      }
      return decoded
    }

    /** A stored session record, if there is one, with its activity key's time: decoded here, at the boundary. */
    const recordFrom = (
      json: string | null,
      activity: string | null,
      remember = false
    ): Either.Either<Option.Option<SessionRecord>, StoreUnavailable> =>
      json === null
        ? Either.right(Option.none())
        : Either.map(decodeStoredRecord(json, remember), (record) => Option.some(withActivity(record, activity)))

    const reservationFrom = (reply: string): Either.Either<MessageReservation, StoreUnavailable> => {
      if (reply === "reserved") return Either.right({ _tag: "Reserved" })
      if (reply === "inflight") return Either.right({ _tag: "InFlight" })
      return Either.map(Either.mapLeft(decodeForwarded(reply.slice(2)), corrupt("forwarded message")), (result) => ({ _tag: "Forwarded", result }))
    }

    const sessionByIndex = (indexKey: string) =>
      Effect.flatMap(
        redisCall("get session", () => redis.lcgSessionByIndex(1, indexKey, keys.sessionPrefix, keys.activityPrefix)),
        (reply) => (reply === null ? Effect.succeedNone : recordFrom(reply[0], reply[1]))
      )

    const store: SessionStoreService = {
      create: (record) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const { argList, keyList } = indexArgs(record, now)
          const reply = yield* redisCall("create session", () =>
            redis.lcgCreate(keyList.length, ...keyList, "", ...argList, keys.sessionPrefix)
          )
          if (reply[0] === "created") return { _tag: "Created" } satisfies CreateResult
          const existing = yield* decodeStoredRecord(reply[1], false)
          return { _tag: "Open", existing } satisfies CreateResult
        }),
      get: (sessionId) =>
        Effect.flatMap(
          redisCall("get session", () => redis.mget(keys.session(sessionId), keys.activity(sessionId))),
          ([json, activity]) => recordFrom(json ?? null, activity ?? null)
        ),
      latestBySubscriber: (subHandle, tenantId) =>
        sessionByIndex(tenantId === undefined ? keys.subscriber(subHandle) : keys.tenantSubscriber(tenantId, subHandle)),
      byConversation: (provider, tenantId, conversationId) => sessionByIndex(keys.conversation(provider, tenantId, conversationId)),
      commit: (change) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const { argList, keyList } = indexArgs(change.next, now)
          const partition = partitionOf(change.next.sessionId, options.partitions)
          const seenKeys = (change.seen ?? []).map((id) => keys.seen(change.next.sessionId, id))
          const events = (change.events ?? []).map((e) => JSON.stringify(e))
          const reply = yield* redisCall("commit", () =>
            redis.lcgCommit(
              keyList.length + 1 + seenKeys.length,
              ...keyList,
              keys.outbox(partition),
              ...seenKeys,
              String(change.expectedVersion),
              ...argList,
              String(dedupMs),
              keys.outboxAppended,
              String(partition),
              change.expectedActivity ?? "",
              ...events
            )
          )
          return reply as "committed" | "conflict" | "duplicate"
        }),
      seen: (sessionId, ids) =>
        ids.length === 0
          ? Effect.succeed(new Set<string>())
          : Effect.map(
              redisCall("seen", () => redis.mget(ids.map((id) => keys.seen(sessionId, id)))),
              (values) => new Set(ids.filter((_, i) => values[i] !== null))
            ),
      count: (organizationId, status, tenants) =>
        Effect.gen(function* () {
          if (status === "ended") {
            const since = (yield* Clock.currentTimeMillis) - endedRetentionMs
            if (tenants === undefined) {
              return yield* redisCall("count", () => redis.zcount(keys.orgEnded(organizationId), since, "+inf"))
            }
            const counts = yield* redisCall("count", () =>
              Promise.all(tenants.map((tenantId) => redis.zcount(keys.tenantEnded(organizationId, tenantId), since, "+inf")))
            )
            return counts.reduce((sum, n) => sum + n, 0)
          }
          const statuses = status === "open" ? ["pending", "active"] : [status]
          const fields = tenants === undefined ? statuses : tenants.flatMap((tenantId) => statuses.map((s) => `${s}:${tenantId}`))
          if (fields.length === 0) return 0
          const values = yield* redisCall("count", () => redis.hmget(keys.orgCounts(organizationId), ...fields))
          return values.reduce((sum, n) => sum + Number(n ?? 0), 0)
        }),
      waitingStats: (tenantId, sinceMillis) =>
        Effect.map(
          redisCall("waiting stats", () =>
            redis.lcgWaitingStats(2, keys.tenantWaits(tenantId), keys.tenantWaitLog(tenantId), String(sinceMillis))
          ),
          ([assigned, sumMs, pending]) => ({
            averageSeconds: assigned === 0 ? 0 : sumMs / assigned / 1000,
            assigned,
            pending
          })
        ),
      openSessions: (partition) =>
        Effect.gen(function* () {
        const ids = yield* redisCall("open sessions", () => redis.smembers(keys.open(partition)))
        const records: Array<SessionRecord> = []
        for (let i = 0; i < ids.length; i += 500) {
          const batch = ids.slice(i, i + 500)
          const values = yield* redisCall("open sessions", () => redis.mget(batch.flatMap((id) => [keys.session(id), keys.activity(id)])))
          for (let j = 0; j < values.length; j += 2) {
            const record = yield* recordFrom(values[j] ?? null, values[j + 1] ?? null)
            if (Option.isSome(record)) records.push(record.value)
          }
        }
        return records
        }),
      reserveMessage: (sessionId, messageId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.flatMap(
            redisCall("reserve message", () => redis.lcgReserveMessage(1, keys.messages(sessionId), messageId, now, RESERVATION_LEASE_MS, dedupMs)),
            reservationFrom
          )
        ),
      reserveSubscriberMessage: (subHandle, tenantId, messageId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.flatMap(
            redisCall("reserve message", () =>
              redis.lcgReserveSubscriberMessage(
                1,
                keys.tenantSubscriber(tenantId, subHandle),
                keys.sessionPrefix,
                keys.activityPrefix,
                keys.messagesPrefix,
                messageId,
                now,
                RESERVATION_LEASE_MS,
                dedupMs
              )
            ),
            (reply) =>
              reply === null
                ? Effect.succeedNone
                : Either.zipWith(recordFrom(reply[0], reply[1], true), reservationFrom(reply[2]), (session, reservation) =>
                    Option.map(session, (session) => ({ session, reservation }))
                  )
          )
        ),
      completeMessage: (sessionId, messageId, result, at) =>
        redisCall("complete message", () =>
          redis.lcgCompleteMessage(
            3,
            keys.messages(sessionId),
            keys.open(partitionOf(sessionId, options.partitions)),
            keys.activity(sessionId),
            messageId,
            `f:${JSON.stringify(result)}`,
            dedupMs,
            sessionId,
            at
          )
        ).pipe(Effect.asVoid),
      releaseMessage: (sessionId, messageId) =>
        Effect.asVoid(redisCall("release message", () => redis.hdel(keys.messages(sessionId), messageId))),
      rememberWebhookSource: (provider, source, tenantId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.asVoid(redisCall("remember webhook source", () => redis.hset(keys.webhookSource(provider, source), tenantId, now)))
        ),
      webhookSourceTenants: (provider, source) =>
        Effect.map(redisCall("webhook source", () => redis.hgetall(keys.webhookSource(provider, source))), (remembered) =>
          Object.entries(remembered)
            .sort(([, a], [, b]) => Number(b) - Number(a))
            .slice(0, WEBHOOK_SOURCE_TENANTS)
            .map(([tenantId]) => tenantId)
        ),
      ping: redisCall("ping", () => redis.ping()).pipe(
        Effect.timeout(Duration.seconds(1)),
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
    }

    /** An undecodable entry cannot be delivered: logged and acked, and left in the stream for inspection. */
    const setAside = (partition: number, id: string, reason: string) =>
      Effect.logError("undecodable outbox entry left in the stream", { partition, entryId: id, reason }).pipe(
        Effect.zipRight(redisCall("ack", () => redis.xack(keys.outbox(partition), GROUP, id)))
      )

    /** Decoded synchronously, entry by entry: a fiber's worth of ops per entry cost more than the decode. */
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
        entries.push(target !== undefined ? { id, partition, event: event.right, targets: [target as DeliveryTarget] } : { id, partition, event: event.right })
      }
      const decoded = Chunk.unsafeFromArray(entries)
      return undecodable.length === 0
        ? Effect.succeed(decoded)
        : Effect.as(Effect.forEach(undecodable, ([id, reason]) => setAside(partition, id, reason), { discard: true }), decoded)
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
      Effect.gen(function* () {
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
          Effect.gen(function* () {
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
            const nextBatch: Effect.Effect<Chunk.Chunk<OutboxEntry>, StoreUnavailable> = Effect.gen(function* () {
              if (claimCursor !== undefined) {
                const from: string = claimCursor
                const claimed = yield* redisCall("reclaim", () =>
                  redis.lcgClaim(2, stream, lease, GROUP, options.consumer, from, READ_BATCH, fence)
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
              const read = yield* redisCall("read", () =>
                redis.lcgRead(2, stream, lease, GROUP, options.consumer, READ_BATCH, fence)
              )
              if (read === -1) return yield* Effect.zipRight(notOwner, nextBatch)
              const fresh = read?.[0]?.[1] ?? []
              // Fewer than a batch: the stream is read to its end, so the next read waits for a
              // wake-up first rather than finding nothing (one read per append, not two).
              drained = fresh.length < READ_BATCH
              const entries = yield* toEntries(partition, fresh)
              if (Chunk.isNonEmpty(entries)) return entries
              return yield* nextBatch
            })
            return Stream.repeatEffectChunk(nextBatch)
          })
        ),
      // The reply is read in the promise: an Effect.map around the call was three fiber ops per delivered event.
      ack: (entry) =>
        redisCall("ack", () =>
          redis
            .lcgAck(2, keys.outbox(entry.partition), keys.partitionLease(entry.partition), GROUP, entry.id, options.consumer)
            .then((reply): AckResult => (reply === -1 ? "not-owner" : "acked"))
        ),
      deadLetter: (letter) =>
        Effect.asVoid(redisCall("dead letter", () => redis.hset(keys.deadLetters, letter.id, JSON.stringify(letter)))),
      deadLetters: Effect.gen(function* () {
        const values = yield* redisCall("dead letters", () => redis.hvals(keys.deadLetters))
        const letters = yield* Effect.forEach(values, (json) =>
          Effect.mapError(decodeDeadLetter(json), corrupt("dead letter"))
        )
        return [...letters].sort((a, b) => a.failedAt.localeCompare(b.failedAt) || a.id.localeCompare(b.id))
      }),
      replay: (id) =>
        Effect.gen(function* () {
          const notFound = new DeadLetterNotFound({ message: `no dead letter with id ${id}`, id })
          const json = yield* redisCall("dead letter", () => redis.hget(keys.deadLetters, id))
          if (json === null) return yield* notFound
          const letter: DeadLetter = yield* Effect.mapError(decodeDeadLetter(json), corrupt("dead letter"))
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
            )
          )
          if (replayed === 0) return yield* notFound
          return letter
        })
    }

    return { store, outbox }
  })

export interface RedisStoreSettings extends Omit<RedisStoreOptions, "redis" | "subscriber"> {
  readonly url: Redacted.Redacted<string>
}

/** SessionStore + Outbox on their own command and subscriber connections. */
export const redisStoreLayer = (settings: RedisStoreSettings) =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const [redis, subscriber] = yield* Effect.all(
        [
          redisConnection({ url: settings.url, name: "store" }),
          redisConnection({ url: settings.url, name: "outbox-subscriber", subscriber: true })
        ],
        { concurrency: 2 }
      )
      const { outbox, store } = yield* makeRedisStore({ ...settings, redis, subscriber })
      return Context.make(SessionStore, store).pipe(Context.add(Outbox, outbox))
    })
  )

/** The store on the Redis of `config.redis`. */
export const RedisStoreLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* AppConfig
    if (config.redis === undefined) return yield* Effect.dieMessage("RedisStoreLive needs REDIS_URL")
    return redisStoreLayer({
      url: config.redis.url,
      prefix: config.redis.prefix,
      partitions: config.partitions,
      consumer: config.instanceId,
      endedRetention: config.retention.endedSessions,
      dedupRetention: config.retention.dedup,
      // Partition leases are held by the Redis coordinator that always runs with this store.
      fenced: true
    })
  })
)
