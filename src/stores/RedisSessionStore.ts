/**
 * The production SessionStore on Redis, shared by every instance and durable across
 * restarts. Every multi-key change is one Lua script (infra/redis/sessionScripts.ts); a
 * commit appends its events to the outbox stream in the same script. Key layout:
 * docs/redis-keys.md.
 */
import { Clock, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import type { Redis } from "ioredis"
import { MessageDelivery, SessionRecord } from "../domain/model.js"
import { corruptStoreData, redisCall } from "../infra/redis/connection.js"
import { redisKeys, seenField } from "../infra/redis/keys.js"
import type { StoreUnavailable } from "../services/errors.js"
import { partitionOf } from "../services/Outbox.js"
import {
  type CreateResult,
  MESSAGE_CLAIM_LEASE,
  type MessageReservation,
  type OpenSessionsCursor,
  type OpenSessionsPage,
  SessionStore,
  type SessionStoreService,
  WEBHOOK_SOURCE_TENANTS,
  withActivity
} from "../services/SessionStore.js"
import { RedisStoreConnections } from "./RedisStoreConnections.js"

export interface RedisSessionStoreSettings {
  readonly prefix: string
  readonly partitions: number
  /** How long an ended session (with its indices) is kept. */
  readonly endedRetention: Duration.Duration
  /** How long event ids and forwarded message ids are remembered. */
  readonly dedupRetention: Duration.Duration
}

export interface RedisSessionStoreOptions extends RedisSessionStoreSettings {
  /** The command connection (no blocking commands are ever sent on it). */
  readonly redis: Redis
}

/** A session's member in its tenant's open indices (keys.tenantOpen): creation order is byte order. */
const creationMember = ({ createdAtMs, sessionId }: OpenSessionsCursor) =>
  `${String(createdAtMs).padStart(13, "0")}:${sessionId}`

const cursorOf = (member: string): OpenSessionsCursor => ({
  createdAtMs: Number(member.slice(0, 13)),
  sessionId: member.slice(14)
})

const RESERVATION_LEASE_MS = Duration.toMillis(MESSAGE_CLAIM_LEASE)
/** How many decoded session records are kept for reads of an unchanged record (a few MB at most). */
const DECODED_RECORDS = 2_000

// Decoded as Eithers and mapped with Either's own functions: each Effect.map or mapError around a decode was two fiber ops.
// perf: docs/ARCHITECTURE.md#perf-either-decode
const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(SessionRecord))
/**
 * A forwarded message's result with its fingerprint (none in results written before fingerprints
 * were kept) and delivery (none in results written before deliveries were kept).
 */
const decodeForwarded = Schema.decodeUnknownEither(
  Schema.parseJson(Schema.Struct({
    providerMessageId: Schema.optionalWith(Schema.String, { exact: true }),
    delivery: Schema.optionalWith(MessageDelivery, { exact: true }),
    fingerprint: Schema.optionalWith(Schema.String, { exact: true })
  }))
)

/** The field beside a message's claim that holds the fingerprint of a reservation (see sessionScripts.ts). */
const reservedFingerprintField = (messageId: string) => `${messageId}\n`

/** A claim's fingerprint as read back; an empty one is a claim from before fingerprints were kept: none. */
const withFingerprint = <R extends MessageReservation>(reservation: R, fingerprint: string): R =>
  fingerprint === "" ? reservation : { ...reservation, fingerprint }

/** Built in an Effect: each store keeps a cache of its own (decodedRecords). */
export const makeRedisSessionStore = (options: RedisSessionStoreOptions) =>
  Effect.sync((): SessionStoreService => {
    const { redis } = options
    const keys = redisKeys(options.prefix)
    const endedRetentionMs = Duration.toMillis(options.endedRetention)
    const dedupMs = Duration.toMillis(options.dedupRetention)

    /** KEYS 1..15 and ARGV 2..9 of the index scripts, for this record. */
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
        keys.tenantSubscriber(record.tenantId, record.subHandle),
        keys.pendingQueue(record.tenantId, record.queue),
        keys.tenantOpen(record.tenantId, "pending"),
        keys.tenantOpen(record.tenantId, "active"),
        keys.timeline(record.sessionId)
      ]
      const argList = [
        JSON.stringify(record),
        record.sessionId,
        String(now),
        String(endedRetentionMs),
        assignedAt !== undefined ? String(assignedAt) : "",
        waitMs !== undefined ? String(waitMs) : "",
        record.providerConversationId !== undefined ? "1" : "0",
        String(Date.parse(record.createdAt))
      ]
      return { keyList, argList }
    }

    /**
     * Records decoded for user messages, by the exact JSON they were decoded from. A chat's
     * record is read unchanged for every user message (the activity is a key of its own), and
     * decoding it again cost ~6 KB of garbage and several µs per message. Keyed by content, an
     * entry can never be stale; the oldest go first. Other reads look here but do not add: an
     * agent's event changes the record it read, and keeping those would only age garbage
     * (perf: docs/ARCHITECTURE.md#perf-decoded-record-cache).
     */
    const decodedRecords = new Map<string, SessionRecord>()
    const decodeStoredRecord = (json: string, remember: boolean): Either.Either<SessionRecord, StoreUnavailable> => {
      const known = decodedRecords.get(json)
      if (known !== undefined) return Either.right(known)
      const decoded = Either.mapLeft(decodeRecord(json), corruptStoreData("session record"))
      if (remember && Either.isRight(decoded)) {
        if (decodedRecords.size >= DECODED_RECORDS) decodedRecords.delete(decodedRecords.keys().next().value!)
        decodedRecords.set(json, decoded.right)
      }
      return decoded
    }

    /**
     * A stored session record, if there is one, with its activity key's time: decoded here, at
     * the boundary (perf: docs/ARCHITECTURE.md#perf-either-decode).
     */
    const recordFrom = (
      json: string | null,
      activity: string | null,
      remember = false
    ): Either.Either<Option.Option<SessionRecord>, StoreUnavailable> =>
      json === null
        ? Either.right(Option.none())
        : Either.map(decodeStoredRecord(json, remember), (record) => Option.some(withActivity(record, activity)))

    // perf: docs/ARCHITECTURE.md#perf-either-decode
    const reservationFrom = (reply: string): Either.Either<MessageReservation, StoreUnavailable> => {
      if (reply === "reserved") return Either.right({ _tag: "Reserved" })
      if (reply.startsWith("inflight")) return Either.right(withFingerprint({ _tag: "InFlight" }, reply.slice(9)))
      return Either.map(
        Either.mapLeft(decodeForwarded(reply.slice(2)), corruptStoreData("forwarded message")),
        ({ fingerprint, ...result }) => withFingerprint({ _tag: "Forwarded", result }, fingerprint ?? "")
      )
    }

    const sessionByIndex = (indexKey: string) =>
      Effect.flatMap(
        redisCall("get session", () => redis.lcgSessionByIndex(1, indexKey, keys.sessionPrefix, keys.activityPrefix)),
        (reply) => (reply === null ? Effect.succeedNone : recordFrom(reply[0], reply[1]))
      )

    const store: SessionStoreService = {
      create: (record) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const { argList, keyList } = indexArgs(record, now)
          const reply = yield* redisCall(
            "create session",
            () => redis.lcgCreate(keyList.length, ...keyList, "", ...argList, keys.sessionPrefix)
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
        sessionByIndex(
          tenantId === undefined ? keys.subscriber(subHandle) : keys.tenantSubscriber(tenantId, subHandle)
        ),
      byConversation: (provider, tenantId, conversationId) =>
        sessionByIndex(keys.conversation(provider, tenantId, conversationId)),
      commit: (change) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const { argList, keyList } = indexArgs(change.next, now)
          const partition = partitionOf(change.next.sessionId, options.partitions)
          const seen = change.seen ?? []
          const { sessionId } = change.next
          const events = (change.events ?? []).map((e) => JSON.stringify(e))
          const reply = yield* redisCall("commit", () =>
            redis.lcgCommit(
              keyList.length + 2 + seen.length,
              ...keyList,
              keys.outbox(partition),
              keys.seen(sessionId),
              ...seen.map((id) => keys.seenBefore(sessionId, id)),
              String(change.expectedVersion),
              ...argList,
              String(dedupMs),
              keys.outboxAppended,
              String(partition),
              change.expectedActivity ?? "",
              String(seen.length),
              ...seen.map(seenField),
              ...events
            ))
          return reply as "committed" | "conflict" | "duplicate"
        }),
      seen: (sessionId, ids) =>
        ids.length === 0
          ? Effect.succeed(new Set<string>())
          : Effect.map(
            redisCall("seen", () =>
              Promise.all([
                redis.hmget(keys.seen(sessionId), ...ids.map(seenField)),
                redis.mget(ids.map((id) => keys.seenBefore(sessionId, id)))
              ])),
            ([fields, before]) => new Set(ids.filter((_, i) => fields[i] !== null || before[i] !== null))
          ),
      count: (organizationId, status, tenants) =>
        Effect.gen(function*() {
          if (status === "ended") {
            const since = (yield* Clock.currentTimeMillis) - endedRetentionMs
            if (tenants === undefined) {
              return yield* redisCall("count", () => redis.zcount(keys.orgEnded(organizationId), since, "+inf"))
            }
            const counts = yield* redisCall(
              "count",
              () =>
                Promise.all(
                  tenants.map((tenantId) => redis.zcount(keys.tenantEnded(organizationId, tenantId), since, "+inf"))
                )
            )
            return counts.reduce((sum, n) => sum + n, 0)
          }
          const statuses = status === "open" ? ["pending", "active"] : [status]
          const fields = tenants === undefined
            ? statuses
            : tenants.flatMap((tenantId) => statuses.map((s) => `${s}:${tenantId}`))
          if (fields.length === 0) return 0
          const values = yield* redisCall("count", () => redis.hmget(keys.orgCounts(organizationId), ...fields))
          return values.reduce((sum, n) => sum + Number(n ?? 0), 0)
        }),
      queuePosition: (session) =>
        Effect.map(
          redisCall(
            "queue position",
            () => redis.zrank(keys.pendingQueue(session.tenantId, session.queue), session.sessionId)
          ),
          (rank) => (rank === null ? Option.none() : Option.some(rank + 1))
        ),
      waitingStats: (tenantId, sinceMillis) =>
        Effect.map(
          redisCall(
            "waiting stats",
            () =>
              redis.lcgWaitingStats(2, keys.tenantWaits(tenantId), keys.tenantWaitLog(tenantId), String(sinceMillis))
          ),
          ([assigned, sumMs, pending]) => ({
            averageSeconds: assigned === 0 ? 0 : sumMs / assigned / 1000,
            assigned,
            pending
          })
        ),
      openSessionsOfTenant: (tenantId, status, after, limit) =>
        Effect.gen(function*() {
          const statuses = status === "open" ? (["pending", "active"] as const) : [status]
          const indexKeys = statuses.map((s) => keys.tenantOpen(tenantId, s))
          const reply = yield* redisCall("open sessions of tenant", () =>
            redis.lcgOpenSessionsPage(
              indexKeys.length,
              ...indexKeys,
              keys.sessionPrefix,
              keys.activityPrefix,
              after === undefined ? "-" : `(${creationMember(after)}`,
              limit + 1,
              ...statuses
            ))
          let found: Array<{ member: string; json: string; activity: string | null }> = []
          // Where an index's reading stopped short of a page (too many stale members removed): the
          // page ends there, at the earliest such member, and the next one starts after it.
          let stoppedAt: string | undefined
          for (let i = 0; i < reply.length;) {
            const stopped = reply[i]
            const n = Number(reply[i + 1])
            if (typeof stopped === "string" && (stoppedAt === undefined || stopped < stoppedAt)) stoppedAt = stopped
            for (let j = i + 2; j < i + 2 + n * 3; j += 3) {
              found.push({
                member: String(reply[j]),
                json: String(reply[j + 1]),
                activity: reply[j + 2] as string | null
              })
            }
            i += 2 + n * 3
          }
          if (stoppedAt !== undefined) found = found.filter(({ member }) => member <= stoppedAt!)
          // Merged in byte order, as Redis orders each index (the ids are ASCII).
          found.sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0))
          const page = found.slice(0, limit)
          const sessions: Array<SessionRecord> = []
          for (const { activity, json } of page) {
            const record = yield* recordFrom(json, activity)
            if (Option.isSome(record)) sessions.push(record.value)
          }
          const last = found.length > limit ? page[page.length - 1]!.member : stoppedAt
          return last === undefined
            ? { sessions } satisfies OpenSessionsPage
            : { sessions, next: cursorOf(last) } satisfies OpenSessionsPage
        }),
      openSessions: (partition) =>
        Effect.gen(function*() {
          const ids = yield* redisCall("open sessions", () => redis.smembers(keys.open(partition)))
          const records: Array<SessionRecord> = []
          for (let i = 0; i < ids.length; i += 500) {
            const batch = ids.slice(i, i + 500)
            const values = yield* redisCall(
              "open sessions",
              () => redis.mget(batch.flatMap((id) => [keys.session(id), keys.activity(id)]))
            )
            for (let j = 0; j < values.length; j += 2) {
              const record = yield* recordFrom(values[j] ?? null, values[j + 1] ?? null)
              if (Option.isSome(record)) records.push(record.value)
            }
          }
          return records
        }),
      reserveMessage: (sessionId, messageId, fingerprint) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.flatMap(
            redisCall(
              "reserve message",
              () =>
                redis.lcgReserveMessage(
                  1,
                  keys.messages(sessionId),
                  messageId,
                  now,
                  RESERVATION_LEASE_MS,
                  dedupMs,
                  fingerprint
                )
            ),
            reservationFrom
          )),
      // perf: docs/ARCHITECTURE.md#perf-store-round-trips
      reserveSubscriberMessage: (subHandle, tenantId, messageId, fingerprint) =>
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
                dedupMs,
                fingerprint
              )),
            (reply) =>
              reply === null
                ? Effect.succeedNone
                : Either.zipWith(
                  recordFrom(reply[0], reply[1], true),
                  reservationFrom(reply[2]),
                  (session, reservation) => Option.map(session, (session) => ({ session, reservation }))
                )
          )),
      // perf: docs/ARCHITECTURE.md#perf-activity-beside-record
      completeMessage: (sessionId, messageId, fingerprint, result, at) =>
        redisCall("complete message", () =>
          redis.lcgCompleteMessage(
            3,
            keys.messages(sessionId),
            keys.open(partitionOf(sessionId, options.partitions)),
            keys.activity(sessionId),
            messageId,
            `f:${JSON.stringify({ ...result, fingerprint })}`,
            dedupMs,
            sessionId,
            at
          )).pipe(Effect.asVoid),
      releaseMessage: (sessionId, messageId) =>
        Effect.asVoid(
          redisCall(
            "release message",
            () => redis.hdel(keys.messages(sessionId), messageId, reservedFingerprintField(messageId))
          )
        ),
      rememberWebhookSource: (provider, source, tenantId) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) =>
            Effect.asVoid(
              redisCall(
                "remember webhook source",
                () => redis.hset(keys.webhookSource(provider, source), tenantId, now)
              )
            )
        ),
      webhookSourceTenants: (provider, source) =>
        Effect.map(
          redisCall("webhook source", () => redis.hgetall(keys.webhookSource(provider, source))),
          (remembered) =>
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

    return store
  })

/** The SessionStore on the Redis store's command connection. */
export const redisSessionStoreLayer = (settings: RedisSessionStoreSettings) =>
  Layer.effect(
    SessionStore,
    Effect.flatMap(RedisStoreConnections, ({ redis }) => makeRedisSessionStore({ ...settings, redis }))
  )
