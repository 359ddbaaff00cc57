/**
 * The single-node store: SessionStore and Outbox over one in-process state, so a commit
 * (session change + seen ids + outbox append) is atomic simply by running synchronously.
 * It forgets what the Redis store lets expire, after the same retention (docs/redis-keys.md):
 * an ended session with its indices, seen event ids, a session's forwarded-message results.
 */
import { Context, Duration, Effect, Layer, Option, Stream, SubscriptionRef } from "effect"
import type { LivechatEvent, SessionRecord, SessionStatus } from "../domain/model.js"
import { isOpen } from "../domain/stateMachine.js"
import type { TimelineEntry } from "../domain/timeline.js"
import { defaultAppConfig } from "../services/AppConfig.js"
import { DeadLetterNotFound } from "../services/errors.js"
import { type DeadLetter, Outbox, type OutboxEntry, type OutboxService, partitionOf } from "../services/Outbox.js"
import {
  type CommitResult,
  type CreateResult,
  type MessageReservation,
  type OpenSessionsCursor,
  type OpenSessionsPage,
  SessionStore,
  type SessionStoreService,
  type StatusFilter,
  WEBHOOK_SOURCE_TENANTS,
  withActivity
} from "../services/SessionStore.js"
import { TimelineStore, type TimelineStoreService } from "../services/Timeline.js"

export interface MemoryStoreOptions {
  readonly partitions: number
  /** How long an ended session (with its indices) is kept; 30 days unless given. */
  readonly endedRetention?: Duration.Duration
  /** How long event ids and forwarded message results are remembered; 7 days unless given. */
  readonly dedupRetention?: Duration.Duration
  /** The most entries a session's timeline keeps; 200 unless given. */
  readonly timelineEntries?: number
}

interface Partition {
  /** Unacked entries in append order. */
  readonly entries: Array<OutboxEntry>
  /** Bumped on every append, so consumers wake up. */
  readonly appended: SubscriptionRef.SubscriptionRef<number>
}

interface WaitSample {
  readonly assignedAtMillis: number
  readonly waitMillis: number
}

const DAY = 24 * 60 * 60 * 1000

// Keys of ids that others choose (tenants, subscribers, conversations) are unambiguous whatever the ids hold.
const conversationKey = (provider: string, tenantId: string, conversationId: string) =>
  JSON.stringify([provider, tenantId, conversationId])
const seenKey = (sessionId: string, eventId: string) => `${sessionId}\u0000${eventId}`
const subscriberKey = (tenantId: string, subHandle: string) => JSON.stringify([tenantId, subHandle])
const pendingQueueKey = (record: Pick<SessionRecord, "tenantId" | "queue">) =>
  JSON.stringify([record.tenantId, record.queue ?? ""])

const tenantOpenKey = (tenantId: string, status: "pending" | "active") => JSON.stringify([tenantId, status])

/** Creation order: created-at ms, then session id (as Redis orders keys.tenantOpen's members). */
const isBefore = (a: OpenSessionsCursor, b: OpenSessionsCursor) =>
  a.createdAtMs < b.createdAtMs || (a.createdAtMs === b.createdAtMs && a.sessionId < b.sessionId)

/** In a list in creation order: the index of the first place `test` is false for (binary search). */
const firstWhereNot = (list: ReadonlyArray<OpenSessionsCursor>, test: (place: OpenSessionsCursor) => boolean) => {
  let low = 0
  let high = list.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (test(list[middle]!)) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * Expiry times by key, kept in expiry order: a key is (re)inserted whenever its expiry moves,
 * and every key of a map expires the same time after it was set, so the expired keys are
 * always at the front.
 */
type Expiries = Map<string, number>

const expireAt = (expiries: Expiries, key: string, at: number) => {
  expiries.delete(key)
  expiries.set(key, at)
}

/** Removes the keys expired by `now` from the front, calling `forget` for each. */
const dropExpired = (expiries: Expiries, now: number, forget?: (key: string) => void) => {
  for (const [key, at] of expiries) {
    if (at > now) return
    expiries.delete(key)
    forget?.(key)
  }
}

export const makeMemoryStore = (options: MemoryStoreOptions) =>
  Effect.gen(function*() {
    const endedRetention = Duration.toMillis(options.endedRetention ?? defaultAppConfig.retention.endedSessions)
    const dedupRetention = Duration.toMillis(options.dedupRetention ?? defaultAppConfig.retention.dedup)
    const timelineEntries = options.timelineEntries ?? defaultAppConfig.timelineEntries
    const sessions = new Map<string, SessionRecord>()
    /** The subscriber's latest session not confined, by subHandle; and in each tenant, by subscriberKey. */
    const latestBySubscriber = new Map<string, string>()
    const latestInTenant = new Map<string, string>()
    const byConversation = new Map<string, string>()
    const counts = new Map<string, number>()
    const pendingByTenant = new Map<string, number>()
    const waitSamples = new Map<string, Array<WaitSample>>()
    /** The pending sessions of each tenant's queue (pendingQueueKey): session id -> created-at ms. */
    const pendingQueues = new Map<string, Map<string, number>>()
    /**
     * Each tenant's open sessions of one status (tenantOpenKey), in creation order: a page of
     * them is a binary search and a slice, as on Redis.
     */
    const tenantOpen = new Map<string, Array<OpenSessionsCursor>>()
    /** Seen event ids (seenKey) until they expire. */
    const seen: Expiries = new Map()
    /** Ended sessions until they are forgotten. */
    const endedExpiry: Expiries = new Map()
    /** Tenants by webhook source (provider and source), with when each was last remembered. */
    const webhookSources = new Map<string, Map<string, number>>()
    /** Forwarded-message reservations and results by session, then message id; a session's expire together, after their last write. */
    const messages = new Map<string, Map<string, MessageReservation>>()
    const messagesExpiry: Expiries = new Map()
    /**
     * The open sessions' last user activity, kept beside their records as the Redis store does
     * (perf: docs/ARCHITECTURE.md#perf-activity-beside-record).
     */
    const activity = new Map<string, string>()
    const read = (sessionId: string | undefined) => {
      const record = sessionId === undefined ? undefined : sessions.get(sessionId)
      return record === undefined ? Option.none() : Option.some(withActivity(record, activity.get(record.sessionId)))
    }
    const deadLetters = new Map<string, DeadLetter>()
    /** Sessions' timelines, forgotten with their session; one of a session the store does not know expires on its own. */
    const timelines = new Map<string, Array<TimelineEntry>>()
    const orphanTimelineExpiry: Expiries = new Map()
    const partitions: Array<Partition> = []
    /** Open session ids per partition: the per-partition workers list them often. */
    const openByPartition: Array<Set<string>> = []
    for (let p = 0; p < options.partitions; p++) {
      partitions.push({ entries: [], appended: yield* SubscriptionRef.make(0) })
      openByPartition.push(new Set())
    }
    let nextEntryId = 0

    const setMessage = (sessionId: string, messageId: string, value: MessageReservation, now: number) => {
      const ofSession = messages.get(sessionId) ?? new Map<string, MessageReservation>()
      ofSession.set(messageId, value)
      messages.set(sessionId, ofSession)
      expireAt(messagesExpiry, sessionId, now + dedupRetention)
    }

    const reserve = (sessionId: string, messageId: string, fingerprint: string, now: number): MessageReservation => {
      const existing = messages.get(sessionId)?.get(messageId)
      if (existing !== undefined) return existing
      // Held as in flight for the requests after this one.
      setMessage(sessionId, messageId, { _tag: "InFlight", fingerprint }, now)
      return { _tag: "Reserved" }
    }

    const bump = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by)

    const countStatus = (record: SessionRecord, by: 1 | -1) => {
      bump(counts, `${record.organizationId}\u0000${record.status}`, by)
      bump(counts, `${record.organizationId}\u0000${record.status}\u0000${record.tenantId}`, by)
      if (record.status === "pending") bump(pendingByTenant, record.tenantId, by)
    }

    const index = (previous: SessionRecord | undefined, next: SessionRecord, now: number) => {
      sessions.set(next.sessionId, next)
      const open = openByPartition[partitionOf(next.sessionId, options.partitions)]!
      if (isOpen(next.status)) open.add(next.sessionId)
      else {
        open.delete(next.sessionId)
        activity.delete(next.sessionId)
      }
      if (next.status === "ended" && previous?.status !== "ended") {
        expireAt(endedExpiry, next.sessionId, now + endedRetention)
      }
      // Only a new session becomes the subscriber's latest; a late change to an older one must not.
      if (previous === undefined) {
        latestInTenant.set(subscriberKey(next.tenantId, next.subHandle), next.sessionId)
        if (next.confined !== true) {
          latestBySubscriber.set(next.subHandle, next.sessionId)
        }
      }
      // Set when the session gets its conversation: a late change to an older session of a
      // conversation the provider reuses (Sunshine) must not take the conversation back.
      if (
        next.providerConversationId !== undefined && previous?.providerConversationId !== next.providerConversationId
      ) {
        byConversation.set(conversationKey(next.provider, next.tenantId, next.providerConversationId), next.sessionId)
      }
      if (previous?.status !== next.status) {
        if (previous) countStatus(previous, -1)
        countStatus(next, 1)
      }
      const queueKey = pendingQueueKey(next)
      if (next.status === "pending") {
        const queue = pendingQueues.get(queueKey) ?? new Map<string, number>()
        queue.set(next.sessionId, Date.parse(next.createdAt))
        pendingQueues.set(queueKey, queue)
      } else {
        const queue = pendingQueues.get(queueKey)
        queue?.delete(next.sessionId)
        if (queue?.size === 0) pendingQueues.delete(queueKey)
      }
      const place: OpenSessionsCursor = { createdAtMs: Date.parse(next.createdAt), sessionId: next.sessionId }
      for (const status of ["pending", "active"] as const) {
        const key = tenantOpenKey(next.tenantId, status)
        const list = tenantOpen.get(key) ?? []
        const at = firstWhereNot(list, (other) => isBefore(other, place))
        const there = list[at]?.sessionId === next.sessionId
        if (next.status === status && !there) {
          list.splice(at, 0, place)
          tenantOpen.set(key, list)
        } else if (next.status !== status && there) {
          list.splice(at, 1)
          if (list.length === 0) tenantOpen.delete(key)
        }
      }
      if (previous?.assignedAt === undefined && next.assignedAt !== undefined) {
        const assignedAtMillis = Date.parse(next.assignedAt)
        const samples = waitSamples.get(next.tenantId) ?? []
        samples.push({ assignedAtMillis, waitMillis: Math.max(0, assignedAtMillis - Date.parse(next.createdAt)) })
        // The longest window asked for is 30 days; older samples can go.
        while (samples.length > 0 && samples[0]!.assignedAtMillis < assignedAtMillis - 31 * DAY) samples.shift()
        waitSamples.set(next.tenantId, samples)
      }
    }

    /** An ended session past its retention: the record, the indices that still name it, and its place in the counts. */
    const forgetSession = (sessionId: string) => {
      const record = sessions.get(sessionId)
      if (record === undefined) return
      sessions.delete(sessionId)
      countStatus(record, -1)
      const unindex = (index: Map<string, string>, key: string) => {
        if (index.get(key) === sessionId) index.delete(key)
      }
      timelines.delete(sessionId)
      unindex(latestBySubscriber, record.subHandle)
      unindex(latestInTenant, subscriberKey(record.tenantId, record.subHandle))
      if (record.providerConversationId !== undefined) {
        unindex(byConversation, conversationKey(record.provider, record.tenantId, record.providerConversationId))
      }
    }

    /**
     * `f` at the Effect clock's time, once everything expired by then is forgotten: as Redis
     * expires keys, whatever looks at the store next never finds them.
     */
    const atNow = <A>(f: (now: number) => A): Effect.Effect<A> =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          dropExpired(seen, now)
          dropExpired(endedExpiry, now, forgetSession)
          dropExpired(messagesExpiry, now, (sessionId) => messages.delete(sessionId))
          dropExpired(orphanTimelineExpiry, now, (sessionId) => {
            if (!sessions.has(sessionId)) timelines.delete(sessionId)
          })
          return f(now)
        })
      )

    const append = (event: LivechatEvent, targets?: OutboxEntry["targets"]) => {
      const partition = partitionOf(event.sessionId, options.partitions)
      const entry: OutboxEntry = {
        id: String(++nextEntryId),
        partition,
        event,
        ...(targets !== undefined ? { targets } : {})
      }
      partitions[partition]!.entries.push(entry)
      return partitions[partition]!
    }

    const wake = (touched: ReadonlyArray<Partition>) =>
      Effect.forEach(new Set(touched), (p) => SubscriptionRef.update(p.appended, (n) => n + 1), { discard: true })

    const store: SessionStoreService = {
      create: (record) =>
        atNow((now): CreateResult => {
          const openOf = (latest: string | undefined) => {
            const session = latest !== undefined ? sessions.get(latest) : undefined
            return session !== undefined && isOpen(session.status) ? session : undefined
          }
          const open = openOf(latestInTenant.get(subscriberKey(record.tenantId, record.subHandle))) ??
            (record.confined === true ? undefined : openOf(latestBySubscriber.get(record.subHandle)))
          if (open !== undefined) return { _tag: "Open", existing: open }
          index(undefined, record, now)
          return { _tag: "Created" }
        }),
      get: (sessionId) => atNow(() => read(sessionId)),
      latestBySubscriber: (subHandle, tenantId) =>
        atNow(() =>
          read(
            tenantId === undefined
              ? latestBySubscriber.get(subHandle)
              : latestInTenant.get(subscriberKey(tenantId, subHandle))
          )
        ),
      byConversation: (provider, tenantId, conversationId) =>
        atNow(() => read(byConversation.get(conversationKey(provider, tenantId, conversationId)))),
      commit: (change) =>
        Effect.flatMap(
          atNow((now): readonly [CommitResult, ReadonlyArray<Partition>] => {
            const previous = sessions.get(change.next.sessionId)
            if (previous === undefined || previous.version !== change.expectedVersion) return ["conflict", []]
            if (
              change.expectedActivity !== undefined &&
              (activity.get(previous.sessionId) ?? "") > change.expectedActivity
            ) {
              return ["conflict", []]
            }
            const seenKeys = (change.seen ?? []).map((id) => seenKey(change.next.sessionId, id))
            if (seenKeys.some((key) => seen.has(key))) return ["duplicate", []]
            for (const key of seenKeys) expireAt(seen, key, now + dedupRetention)
            index(previous, change.next, now)
            return ["committed", (change.events ?? []).map((event) => append(event))]
          }),
          ([result, touched]) => (touched.length === 0 ? Effect.succeed(result) : Effect.as(wake(touched), result))
        ),
      seen: (sessionId, ids) => atNow(() => new Set(ids.filter((id) => seen.has(seenKey(sessionId, id))))),
      count: (organizationId, status: StatusFilter, tenants) =>
        atNow(() => {
          const statuses: ReadonlyArray<SessionStatus> = status === "open" ? ["pending", "active"] : [status]
          const keys = tenants === undefined ? [""] : tenants.map((tenantId) => `\u0000${tenantId}`)
          let total = 0
          for (const s of statuses) {
            for (const key of keys) total += counts.get(`${organizationId}\u0000${s}${key}`) ?? 0
          }
          return total
        }),
      waitingStats: (tenantId, sinceMillis) =>
        Effect.sync(() => {
          const inWindow = (waitSamples.get(tenantId) ?? []).filter((s) => s.assignedAtMillis >= sinceMillis)
          const total = inWindow.reduce((sum, s) => sum + s.waitMillis, 0)
          return {
            averageSeconds: inWindow.length === 0 ? 0 : total / inWindow.length / 1000,
            assigned: inWindow.length,
            pending: pendingByTenant.get(tenantId) ?? 0
          }
        }),
      queuePosition: (session) =>
        Effect.sync(() => {
          const queue = pendingQueues.get(pendingQueueKey(session))
          const createdAt = queue?.get(session.sessionId)
          if (queue === undefined || createdAt === undefined) return Option.none()
          // Ranked as Redis ranks a sorted set: by score, then by member.
          let position = 1
          for (const [id, at] of queue) {
            if (at < createdAt || (at === createdAt && id < session.sessionId)) position++
          }
          return Option.some(position)
        }),
      openSessionsOfTenant: (tenantId, status, after, limit) =>
        atNow((): OpenSessionsPage => {
          const statuses = status === "open" ? (["pending", "active"] as const) : [status]
          const found = statuses.flatMap((s) => {
            const list = tenantOpen.get(tenantOpenKey(tenantId, s)) ?? []
            const from = after === undefined ? 0 : firstWhereNot(list, (place) => !isBefore(after, place))
            return list.slice(from, from + limit + 1)
          }).sort((a, b) => (isBefore(a, b) ? -1 : 1))
          const page = found.slice(0, limit)
          const sessions = page.flatMap(({ sessionId }) => Option.toArray(read(sessionId)))
          return found.length > limit ? { sessions, next: page[page.length - 1]! } : { sessions }
        }),
      openSessions: (partition) =>
        Effect.sync(() =>
          [...(openByPartition[partition] ?? [])].flatMap((sessionId) => Option.toArray(read(sessionId)))
        ),
      reserveMessage: (sessionId, messageId, fingerprint) =>
        atNow((now) => reserve(sessionId, messageId, fingerprint, now)),
      reserveSubscriberMessage: (subHandle, tenantId, messageId, fingerprint) =>
        atNow((now) =>
          Option.map(read(latestInTenant.get(subscriberKey(tenantId, subHandle))), (session) => ({
            session,
            reservation: reserve(session.sessionId, messageId, fingerprint, now)
          }))
        ),
      completeMessage: (sessionId, messageId, fingerprint, result, at) =>
        atNow((now) => {
          setMessage(sessionId, messageId, { _tag: "Forwarded", result, fingerprint }, now)
          const session = sessions.get(sessionId)
          if (session !== undefined && isOpen(session.status) && (activity.get(sessionId) ?? "") < at) {
            activity.set(sessionId, at)
          }
        }),
      releaseMessage: (sessionId, messageId) => atNow(() => void messages.get(sessionId)?.delete(messageId)),
      rememberWebhookSource: (provider, source, tenantId) =>
        atNow((now) => {
          const key = `${provider}\u0000${source}`
          const tenants = webhookSources.get(key) ?? new Map<string, number>()
          tenants.set(tenantId, now)
          webhookSources.set(key, tenants)
        }),
      webhookSourceTenants: (provider, source) =>
        Effect.sync(() =>
          [...(webhookSources.get(`${provider}\u0000${source}`) ?? new Map<string, number>())]
            .sort(([, a], [, b]) => b - a)
            .slice(0, WEBHOOK_SOURCE_TENANTS)
            .map(([tenantId]) => tenantId)
        ),
      ping: Effect.succeed(true)
    }

    const outbox: OutboxService = {
      consume: (partition) => {
        const p = partitions[partition]!
        let delivered = 0
        // `changes` starts with the current value: the backlog first, then every append.
        return p.appended.changes.pipe(
          Stream.mapConcat(() => {
            const fresh = p.entries.filter((e) => Number(e.id) > delivered)
            if (fresh.length > 0) delivered = Number(fresh[fresh.length - 1]!.id)
            return fresh
          })
        )
      },
      ack: (entry) =>
        Effect.sync(() => {
          const entries = partitions[entry.partition]!.entries
          const at = entries.findIndex((e) => e.id === entry.id)
          if (at >= 0) entries.splice(at, 1)
          return "acked" as const
        }),
      deadLetter: (letter) => Effect.sync(() => void deadLetters.set(letter.id, letter)),
      deadLetters: Effect.sync(() => [...deadLetters.values()]),
      replay: (id) =>
        Effect.suspend(() => {
          const letter = deadLetters.get(id)
          if (letter === undefined) {
            return Effect.fail(new DeadLetterNotFound({ message: `no dead letter with id ${id}`, id }))
          }
          deadLetters.delete(id)
          return Effect.as(wake([append(letter.event, [letter.target])]), letter)
        })
    }

    const timelineStore: TimelineStoreService = {
      append: (appends) =>
        atNow((now) => {
          for (const { entries, sessionId } of appends) {
            const timeline = (timelines.get(sessionId) ?? []).concat(entries)
            // The first entry (how the session began) and the newest, as the Redis script keeps them.
            if (timeline.length > timelineEntries) timeline.splice(1, timeline.length - timelineEntries)
            timelines.set(sessionId, timeline)
            // A session's timeline goes with the session (forgetSession); one of a session not (or no longer) kept, after the retention.
            if (!sessions.has(sessionId)) expireAt(orphanTimelineExpiry, sessionId, now + endedRetention)
          }
        }),
      read: (sessionId) => atNow(() => [...(timelines.get(sessionId) ?? [])])
    }

    return { store, outbox, timelineStore }
  })

export const MemoryStoreLive = (options: MemoryStoreOptions) =>
  Layer.effectContext(
    Effect.map(makeMemoryStore(options), ({ outbox, store, timelineStore }) =>
      Context.make(SessionStore, store).pipe(Context.add(Outbox, outbox), Context.add(TimelineStore, timelineStore)))
  )
